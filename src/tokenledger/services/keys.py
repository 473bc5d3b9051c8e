"""API keys: created by their owner, shown in full once, masked afterwards."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tokenledger.domain import credentials, log, timestamps
from tokenledger.domain.apikey import NEVER_EXPIRES, ApiKey, KeyStatus
from tokenledger.domain.errors import Forbidden, Invalid, NotFound
from tokenledger.domain.filters import Page, PageRequest
from tokenledger.domain.numbers import MAX_ID, MAX_QUOTA
from tokenledger.domain.user import User
from tokenledger.store import apikeys
from tokenledger.store.database import Database


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    name: str = Field("", max_length=log.MAX_TOKEN_NAME)
    expired_time: int = Field(NEVER_EXPIRES, ge=NEVER_EXPIRES, le=timestamps.MAX_SECONDS)
    remain_quota: int = Field(0, ge=0, le=MAX_QUOTA)
    unlimited_quota: bool = False
    group: str = Field("", max_length=log.MAX_GROUP)
    ingest: bool = False


class KeyUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    id: int = Field(ge=1, le=MAX_ID)
    name: str | None = Field(None, max_length=log.MAX_TOKEN_NAME)
    status: int | None = None
    expired_time: int | None = Field(None, ge=NEVER_EXPIRES, le=timestamps.MAX_SECONDS)
    remain_quota: int | None = Field(None, ge=0, le=MAX_QUOTA)
    unlimited_quota: bool | None = None
    group: str | None = Field(None, max_length=log.MAX_GROUP)


def create_key(db: Database, owner: User, body: KeyCreate) -> tuple[ApiKey, str]:
    """Create a key for `owner`. Returns the key and its full `sk-` secret (never readable again).
    Only admins may create ingest keys, which can push logs through /api/log/ingest."""
    if body.ingest and not owner.is_admin:
        raise Forbidden("insufficient privileges: only admins may create ingest keys")
    secret = credentials.new_api_key()
    now = timestamps.now()
    with db.write() as conn:
        key = apikeys.insert_key(
            conn,
            user_id=owner.id,
            name=body.name,
            key_hash=credentials.digest(secret),
            key_hint=credentials.mask(secret),
            status=int(KeyStatus.ENABLED),
            created_at=now,
            accessed_at=now,
            expired_time=body.expired_time,
            remain_quota=body.remain_quota,
            unlimited_quota=body.unlimited_quota,
            group=body.group,
            ingest=body.ingest,
        )
    return key, secret


def get_key(db: Database, owner: User, key_id: int) -> ApiKey:
    with db.read() as conn:
        key = apikeys.get(conn, key_id, owner.id)
    if key is None:
        raise NotFound(f"API key {key_id} does not exist")
    return key


def update_key(db: Database, owner: User, body: KeyUpdate, status_only: bool = False) -> ApiKey:
    if body.status is not None and body.status not in (KeyStatus.ENABLED, KeyStatus.DISABLED):
        raise Invalid("status must be 1 (enabled) or 2 (disabled)")
    if status_only and body.status is None:
        raise Invalid("status is required with status_only=true")
    fields = (
        ("status",) if status_only else ("name", "status", "expired_time", "remain_quota", "unlimited_quota", "group")
    )
    changes = {name: getattr(body, name) for name in fields if getattr(body, name) is not None}
    with db.write() as conn:
        if apikeys.get(conn, body.id, owner.id) is None:
            raise NotFound(f"API key {body.id} does not exist")
        apikeys.update_key(conn, body.id, owner.id, **changes)
        key = apikeys.get(conn, body.id, owner.id)
    assert key is not None
    return key


def delete_key(db: Database, owner: User, key_id: int) -> None:
    with db.write() as conn:
        if not apikeys.delete_key(conn, key_id, owner.id):
            raise NotFound(f"API key {key_id} does not exist")


def list_keys(db: Database, owner: User, page: PageRequest) -> Page[ApiKey]:
    with db.read() as conn:
        return apikeys.list_page(conn, owner.id, page)
