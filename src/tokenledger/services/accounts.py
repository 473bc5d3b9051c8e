"""Users: first-start bootstrap, creation, changes by admins (with their audit logs), access tokens."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tokenledger.domain import credentials, log, timestamps
from tokenledger.domain.errors import Forbidden, Invalid, NotFound
from tokenledger.domain.filters import Page, PageRequest
from tokenledger.domain.log import LogEntry, LogType
from tokenledger.domain.numbers import MAX_ID, MAX_QUOTA
from tokenledger.domain.user import DEFAULT_GROUP, ROOT_USER_ID, Role, User, UserStatus
from tokenledger.services import auth
from tokenledger.store import logs, sessions, users
from tokenledger.store.database import Connection, Database


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    username: str = Field(min_length=1, max_length=log.MAX_USERNAME, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str
    display_name: str = Field("", max_length=64)
    role: int = int(Role.COMMON)
    quota: int = Field(0, ge=0, le=MAX_QUOTA)
    group: str = Field(DEFAULT_GROUP, min_length=1, max_length=log.MAX_GROUP)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    id: int = Field(ge=1, le=MAX_ID)
    status: int | None = None
    role: int | None = None
    quota: int | None = Field(None, ge=0, le=MAX_QUOTA)
    group: str | None = Field(None, min_length=1, max_length=log.MAX_GROUP)
    display_name: str | None = Field(None, max_length=64)
    password: str | None = None


@dataclass(frozen=True, slots=True)
class Bootstrap:
    """What the first start created; the generated secrets are readable only here, once."""

    created: bool
    root_password: str | None = None
    root_access_token: str | None = None


def ensure_root(db: Database, password: str | None, access_token: str | None) -> Bootstrap:
    """On an empty users table create root (id 1, role 100). Later starts change nothing."""
    with db.write() as conn:
        if users.count_all(conn) > 0:
            return Bootstrap(created=False)
        root_password = password or secrets.token_urlsafe(12)
        token = access_token or credentials.new_access_token()
        users.insert_user(
            conn,
            user_id=ROOT_USER_ID,
            username="root",
            password_hash=credentials.hash_password(root_password),
            display_name="Root User",
            role=int(Role.ROOT),
            quota=0,
            group=DEFAULT_GROUP,
            created_at=timestamps.now(),
        )
        users.set_access_token(conn, ROOT_USER_ID, credentials.digest(token))
    return Bootstrap(
        created=True,
        root_password=None if password else root_password,
        root_access_token=None if access_token else token,
    )


def _require_target(conn: Connection, user_id: int) -> User:
    user = users.get(conn, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user


def _require_outranks(actor: User, target: User) -> None:
    """Admins act only on users of a lower role; root on everyone but itself for demotions."""
    if actor.id != target.id and target.role >= actor.role:
        raise Forbidden("insufficient privileges: you cannot change a user of your own role or higher")


def _quota_log(target: User, actor: User, kind: LogType, content: str, quota: int = 0) -> LogEntry:
    return LogEntry(
        id=0,
        user_id=target.id,
        created_at=timestamps.now(),
        type=int(kind),
        content=content,
        username=target.username,
        quota=quota,
        group=target.group,
        other=json.dumps({"admin_info": {"admin_id": actor.id, "admin_username": actor.username}}),
    )


def create_user(db: Database, actor: User, body: UserCreate) -> User:
    if body.role not in (Role.COMMON, Role.ADMIN):
        raise Invalid("role must be 1 (common user) or 10 (admin)")
    if body.role >= Role.ADMIN and not actor.is_root:
        raise Forbidden("insufficient privileges: only root may create admins")
    credentials.check_new_password(body.password)
    with db.write() as conn:
        return users.insert_user(
            conn,
            username=body.username,
            password_hash=credentials.hash_password(body.password),
            display_name=body.display_name or body.username,
            role=body.role,
            quota=body.quota,
            group=body.group,
            created_at=timestamps.now(),
        )


def update_user(db: Database, actor: User, body: UserUpdate) -> User:
    """Apply admin changes. A quota change writes a manage log (type 3) naming old and new quota."""
    if body.status is not None and body.status not in (UserStatus.ENABLED, UserStatus.DISABLED):
        raise Invalid("status must be 1 (enabled) or 2 (disabled)")
    if body.role is not None:
        if body.role not in (Role.COMMON, Role.ADMIN):
            raise Invalid("role must be 1 (common user) or 10 (admin)")
        if not actor.is_root:
            raise Forbidden("insufficient privileges: only root may change roles")
    password_hash = None
    if body.password:
        credentials.check_new_password(body.password)
        password_hash = credentials.hash_password(body.password)
    with db.write_with_logs() as (conn, log_conn):
        target = _require_target(conn, body.id)
        _require_outranks(actor, target)
        if target.is_root and (body.role is not None or body.status == UserStatus.DISABLED):
            raise Forbidden("root cannot be demoted or disabled")
        changes: dict[str, Any] = {
            name: value
            for name, value in (
                ("status", body.status),
                ("role", body.role),
                ("quota", body.quota),
                ("group", body.group),
                ("display_name", body.display_name),
                ("password_hash", password_hash),
            )
            if value is not None
        }
        users.update_user(conn, target.id, **changes)
        if body.quota is not None and body.quota != target.quota:
            content = (
                f"Admin {actor.username} changed the quota of {target.username} from {target.quota} to {body.quota}"
            )
            logs.insert_logs(log_conn, [_quota_log(target, actor, LogType.MANAGE, content)])
        # A disabled user's sessions are kept: authentication refuses them with 403 (API.md §2: "a disabled
        # user → 403 even with an old session"), and they would otherwise turn into a misleading 401.
        if password_hash:
            sessions.delete_for_user(conn, target.id)
        updated = users.get(conn, target.id)
    assert updated is not None
    return updated


def topup(db: Database, actor: User, user_id: int, amount: int) -> User:
    """Add quota and write a top-up log (type 1) on the user."""
    if amount <= 0 or amount > MAX_QUOTA:
        raise Invalid(f"quota must be a positive integer up to {MAX_QUOTA}")
    with db.write_with_logs() as (conn, log_conn):
        target = _require_target(conn, user_id)
        _require_outranks(actor, target)
        users.add_quota(conn, target.id, amount)
        content = f"Admin {actor.username} topped up {amount} quota ({target.quota} → {target.quota + amount})"
        logs.insert_logs(log_conn, [_quota_log(target, actor, LogType.TOPUP, content, quota=amount)])
        updated = users.get(conn, target.id)
    assert updated is not None
    return updated


MANAGE_ACTIONS = ("disable", "enable", "promote", "demote", "delete")


def manage(db: Database, actor: User, user_id: int, action: str) -> User | None:
    """New API's user actions. Returns the user after the action (None after delete)."""
    if action not in MANAGE_ACTIONS:
        raise Invalid(f"unknown action {action!r}: use one of {', '.join(MANAGE_ACTIONS)}")
    if action in ("promote", "demote") and not actor.is_root:
        raise Forbidden("insufficient privileges: only root may promote or demote")
    with db.write() as conn:
        target = _require_target(conn, user_id)
        _require_outranks(actor, target)
        if target.is_root and action != "enable":
            raise Forbidden("root cannot be disabled, demoted or deleted")
        if action == "delete":
            if target.id == actor.id:
                raise Invalid("you cannot delete yourself")
            users.soft_delete(conn, target.id, timestamps.now())
            sessions.delete_for_user(conn, target.id)
            return None
        changes = {
            "disable": {"status": int(UserStatus.DISABLED)},
            "enable": {"status": int(UserStatus.ENABLED)},
            "promote": {"role": int(Role.ADMIN)},
            "demote": {"role": int(Role.COMMON)},
        }[action]
        if action == "promote" and target.role >= Role.ADMIN:
            raise Invalid("user is already an admin")
        if action == "demote" and target.role == Role.COMMON:
            raise Invalid("user is already a common user")
        users.update_user(conn, target.id, **changes)
        return users.get(conn, target.id)


def delete_user(db: Database, actor: User, user_id: int) -> None:
    manage(db, actor, user_id, "delete")


def get_user(db: Database, actor: User, user_id: int) -> User:
    with db.read() as conn:
        target = _require_target(conn, user_id)
    if actor.id != target.id and target.role >= actor.role:
        raise Forbidden("insufficient privileges: you cannot view a user of your own role or higher")
    return target


def list_users(db: Database, page: PageRequest, keyword: str | None = None) -> Page[User]:
    with db.read() as conn:
        return users.list_page(conn, page, keyword)


def issue_access_token_for(db: Database, username: str) -> str:
    """A new access token for the named user (the CLI's way back in when a token is lost)."""
    with db.read() as conn:
        user = users.get_by_username(conn, username)
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return auth.issue_access_token(db, user.id)
