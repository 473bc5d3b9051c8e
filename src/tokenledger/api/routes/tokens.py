"""The caller's own API keys (New API's `/api/token` routes)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tokenledger.api.deps import CurrentUser, DatabaseDep
from tokenledger.api.envelope import ok, page_payload
from tokenledger.api.params import Paging, PathId
from tokenledger.services import keys

router = APIRouter(tags=["API keys"])


@router.get("/api/token/", summary="List own API keys (masked)")
@router.get("/api/token", include_in_schema=False)
def list_keys(caller: CurrentUser, db: DatabaseDep, page: Paging) -> dict[str, Any]:
    found = keys.list_keys(db, caller.user, page)
    return ok(page_payload(found.with_items([key.public() for key in found.items])))


@router.post("/api/token/", summary="Create an API key: the only time its full sk- key is shown")
@router.post("/api/token", include_in_schema=False)
def create_key(caller: CurrentUser, db: DatabaseDep, body: keys.KeyCreate) -> dict[str, Any]:
    key, secret = keys.create_key(db, caller.user, body)
    return ok(key.public() | {"key": secret})


@router.put("/api/token/", summary="Update an API key, or only its status with ?status_only=true")
@router.put("/api/token", include_in_schema=False)
def update_key(caller: CurrentUser, db: DatabaseDep, body: keys.KeyUpdate, status_only: str = "") -> dict[str, Any]:
    only = status_only.strip().lower() in ("true", "1", "yes")
    return ok(keys.update_key(db, caller.user, body, status_only=only).public())


@router.get("/api/token/{key_id}", summary="One own API key (masked)")
def get_key(caller: CurrentUser, db: DatabaseDep, key_id: PathId) -> dict[str, Any]:
    return ok(keys.get_key(db, caller.user, key_id).public())


@router.delete("/api/token/{key_id}", summary="Delete (revoke) an own API key")
def delete_key(caller: CurrentUser, db: DatabaseDep, key_id: PathId) -> dict[str, Any]:
    keys.delete_key(db, caller.user, key_id)
    return ok()
