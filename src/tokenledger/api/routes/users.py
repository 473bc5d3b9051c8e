"""Login, sessions, access tokens and user administration (New API's `/api/user` routes)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tokenledger.api.deps import (
    SESSION_COOKIE,
    Admin,
    CurrentUser,
    DatabaseDep,
    SettingsDep,
    cookie_signer,
    session_id,
)
from tokenledger.api.envelope import ok, page_payload
from tokenledger.api.params import Paging, PathId
from tokenledger.domain import log
from tokenledger.domain.errors import Invalid
from tokenledger.domain.numbers import MAX_ID
from tokenledger.services import accounts, auth

router = APIRouter(tags=["users"])


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    username: str = Field(min_length=1, max_length=log.MAX_USERNAME)
    password: str = Field(min_length=1, max_length=1024)


class ManageBody(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    id: int = Field(ge=1, le=MAX_ID)
    action: str


class TopupBody(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    quota: int


@router.post("/api/user/login", summary="Log in; sets the session cookie")
def login(
    request: Request, response: Response, body: LoginBody, db: DatabaseDep, settings: SettingsDep
) -> dict[str, Any]:
    max_age = settings.session_max_age_days * 86_400
    user, new_session = auth.login(db, body.username, body.password, max_age)
    response.set_cookie(
        SESSION_COOKIE,
        cookie_signer(request).sign(new_session).decode("ascii"),
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return ok(user.public())


@router.get("/api/user/logout", summary="End the session")
def logout(request: Request, response: Response, db: DatabaseDep) -> dict[str, Any]:
    auth.logout(db, session_id(request))
    response.delete_cookie(SESSION_COOKIE)
    return ok()


@router.get("/api/user/self", summary="The calling user")
def get_self(caller: CurrentUser) -> dict[str, Any]:
    return ok(caller.user.public())


@router.get("/api/user/token", summary="Generate a new access token (replaces the old one)")
def generate_access_token(caller: CurrentUser, db: DatabaseDep) -> dict[str, Any]:
    return ok(auth.issue_access_token(db, caller.user.id))


@router.get("/api/user/", summary="List users (admin)")
@router.get("/api/user", include_in_schema=False)
def list_users(_admin: Admin, db: DatabaseDep, page: Paging, keyword: str | None = None) -> dict[str, Any]:
    if keyword is not None and len(keyword) > log.MAX_USERNAME:
        raise Invalid(f"keyword is too long: at most {log.MAX_USERNAME} characters")
    found = accounts.list_users(db, page, keyword)
    return ok(page_payload(found.with_items([user.public() for user in found.items])))


@router.post("/api/user/", summary="Create a user (admin; admins only by root)")
@router.post("/api/user", include_in_schema=False)
def create_user(admin: Admin, db: DatabaseDep, body: accounts.UserCreate) -> dict[str, Any]:
    return ok(accounts.create_user(db, admin.user, body).public())


@router.put("/api/user/", summary="Update a user (admin); a quota change writes a manage log")
@router.put("/api/user", include_in_schema=False)
def update_user(admin: Admin, db: DatabaseDep, body: accounts.UserUpdate) -> dict[str, Any]:
    return ok(accounts.update_user(db, admin.user, body).public())


@router.post("/api/user/manage", summary="disable | enable | promote | demote | delete a user (admin)")
def manage_user(admin: Admin, db: DatabaseDep, body: ManageBody) -> dict[str, Any]:
    user = accounts.manage(db, admin.user, body.id, body.action)
    return ok(user.public() if user else None)


@router.post("/api/user/{user_id}/topup", summary="Add quota and write a top-up log (admin)")
def topup_user(admin: Admin, db: DatabaseDep, user_id: PathId, body: Annotated[TopupBody, Body()]) -> dict[str, Any]:
    return ok(accounts.topup(db, admin.user, user_id, body.quota).public())


@router.get("/api/user/{user_id}", summary="One user (admin)")
def get_user(admin: Admin, db: DatabaseDep, user_id: PathId) -> dict[str, Any]:
    return ok(accounts.get_user(db, admin.user, user_id).public())


@router.delete("/api/user/{user_id}", summary="Delete a user (admin)")
def delete_user(admin: Admin, db: DatabaseDep, user_id: PathId) -> dict[str, Any]:
    accounts.delete_user(db, admin.user, user_id)
    return ok()
