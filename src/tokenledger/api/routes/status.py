"""Public server facts (`GET /api/status`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from tokenledger import __version__
from tokenledger.api.envelope import ok
from tokenledger.domain.numbers import QUOTA_PER_UNIT

router = APIRouter(tags=["status"])


@router.get("/api/status", summary="Server facts")
def status(request: Request) -> dict[str, Any]:
    return ok(
        {
            "system_name": "tokenledger",
            "version": __version__,
            "start_time": request.app.state.start_time,
            "quota_per_unit": QUOTA_PER_UNIT,
            "display_in_currency": True,
            "api_key_log_scope": request.app.state.settings.api_key_log_scope,
            "max_items_per_page": request.app.state.settings.max_items_per_page,
        }
    )
