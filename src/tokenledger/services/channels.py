"""Upstream channels, managed by admins."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tokenledger.domain import timestamps
from tokenledger.domain.channel import Channel, ChannelStatus
from tokenledger.domain.errors import Invalid, NotFound
from tokenledger.domain.filters import Page, PageRequest
from tokenledger.domain.numbers import MAX_ID
from tokenledger.store import channels
from tokenledger.store.database import Database


class ChannelCreate(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    name: str = Field(min_length=1, max_length=128)
    type: int = Field(1, ge=0, le=10_000)
    base_url: str = Field("", max_length=255)
    key: str = Field("", max_length=65_535)
    models: str = Field("", max_length=65_535)
    group: str = Field("default", max_length=255)
    status: int = int(ChannelStatus.ENABLED)


class ChannelUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    id: int = Field(ge=1, le=MAX_ID)
    name: str | None = Field(None, min_length=1, max_length=128)
    type: int | None = Field(None, ge=0, le=10_000)
    base_url: str | None = Field(None, max_length=255)
    key: str | None = Field(None, max_length=65_535)
    models: str | None = Field(None, max_length=65_535)
    group: str | None = Field(None, max_length=255)
    status: int | None = None


def unwrap(body: Any) -> Any:
    """Accept New API's `{"mode": "single", "channel": {...}}` wrapper as well as a flat object."""
    if isinstance(body, dict) and isinstance(body.get("channel"), dict):
        return body["channel"]
    return body


def _check_status(status: int | None) -> None:
    if status is not None and status not in tuple(ChannelStatus):
        raise Invalid("status must be 1 (enabled), 2 (disabled) or 3 (auto-disabled)")


def create_channel(db: Database, body: ChannelCreate) -> Channel:
    _check_status(body.status)
    with db.write() as conn:
        return channels.insert_channel(conn, **body.model_dump(), created_at=timestamps.now())


def update_channel(db: Database, body: ChannelUpdate) -> Channel:
    _check_status(body.status)
    changes = body.model_dump(exclude={"id"}, exclude_none=True)
    with db.write() as conn:
        if channels.get(conn, body.id) is None:
            raise NotFound(f"channel {body.id} does not exist")
        channels.update_channel(conn, body.id, **changes)
        updated = channels.get(conn, body.id)
    assert updated is not None
    return updated


def get_channel(db: Database, channel_id: int) -> Channel:
    with db.read() as conn:
        channel = channels.get(conn, channel_id)
    if channel is None:
        raise NotFound(f"channel {channel_id} does not exist")
    return channel


def delete_channel(db: Database, channel_id: int) -> None:
    with db.write() as conn:
        if not channels.delete_channel(conn, channel_id):
            raise NotFound(f"channel {channel_id} does not exist")


def list_channels(db: Database, page: PageRequest) -> Page[Channel]:
    with db.read() as conn:
        return channels.list_page(conn, page)
