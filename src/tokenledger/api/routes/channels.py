"""Upstream channels (admin; New API's `/api/channel` routes)."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body
from pydantic import ValidationError

from tokenledger.api.deps import Admin, DatabaseDep
from tokenledger.api.envelope import ok, page_payload
from tokenledger.api.errors import invalid_from
from tokenledger.api.params import Paging, PathId
from tokenledger.services import channels
from tokenledger.services.channels import ChannelCreate, ChannelUpdate

router = APIRouter(tags=["channels"])

M = TypeVar("M", ChannelCreate, ChannelUpdate)

JsonBody = Annotated[Any, Body(description="Flat channel fields, or New API's {mode, channel: {...}}")]


def _parse(model: type[M], body: Any) -> M:
    try:
        return model.model_validate(channels.unwrap(body))
    except ValidationError as exc:
        raise invalid_from(exc) from None


@router.get("/api/channel/", summary="List channels")
@router.get("/api/channel", include_in_schema=False)
def list_channels(_admin: Admin, db: DatabaseDep, page: Paging) -> dict[str, Any]:
    found = channels.list_channels(db, page)
    return ok(page_payload(found.with_items([channel.public() for channel in found.items])))


@router.post("/api/channel/", summary="Create a channel")
@router.post("/api/channel", include_in_schema=False)
def create_channel(_admin: Admin, db: DatabaseDep, body: JsonBody) -> dict[str, Any]:
    return ok(channels.create_channel(db, _parse(ChannelCreate, body)).public())


@router.put("/api/channel/", summary="Update a channel")
@router.put("/api/channel", include_in_schema=False)
def update_channel(_admin: Admin, db: DatabaseDep, body: JsonBody) -> dict[str, Any]:
    return ok(channels.update_channel(db, _parse(ChannelUpdate, body)).public())


@router.get("/api/channel/{channel_id}", summary="One channel")
def get_channel(_admin: Admin, db: DatabaseDep, channel_id: PathId) -> dict[str, Any]:
    return ok(channels.get_channel(db, channel_id).public())


@router.delete("/api/channel/{channel_id}", summary="Delete a channel")
def delete_channel(_admin: Admin, db: DatabaseDep, channel_id: PathId) -> dict[str, Any]:
    channels.delete_channel(db, channel_id)
    return ok()
