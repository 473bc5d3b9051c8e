"""Hourly usage data (New API's `/api/data` routes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from tokenledger.api.deps import Admin, AnyCaller, DatabaseDep
from tokenledger.api.envelope import ok_json
from tokenledger.api.params import TimeWindow
from tokenledger.domain import log
from tokenledger.domain.errors import Invalid
from tokenledger.services import ledger

router = APIRouter(tags=["usage data"])


@router.get("/api/data/", summary="Hourly usage of all users (admin)")
@router.get("/api/data", include_in_schema=False)
def all_usage(
    _admin: Admin,
    db: DatabaseDep,
    window: TimeWindow,
    username: Annotated[str | None, Query(description="One user's buckets, with user fields.")] = None,
) -> Response:
    if username is not None and len(username) > log.MAX_USERNAME:
        raise Invalid(f"username is too long: at most {log.MAX_USERNAME} characters")
    start, end = window
    return ok_json(ledger.usage_data(db, start, end, username=username or None))


@router.get("/api/data/self", summary="Own hourly usage (at most 30 days)")
def own_usage(caller: AnyCaller, db: DatabaseDep, window: TimeWindow) -> Response:
    start, end = ledger.self_data_window(*window)
    return ok_json(ledger.usage_data(db, start, end, user_id=caller.user.id))
