"""The one response shape: `{"success", "message", "data"}` (New API's), built only here."""

from __future__ import annotations

from typing import Any

import pydantic_core
from fastapi.responses import JSONResponse, Response

from tokenledger.domain.filters import Page


def ok(data: Any = None, message: str = "") -> dict[str, Any]:
    return {"success": True, "message": message, "data": data}


def ok_response(data: Any) -> Response:
    """`ok(data)` as a Response, written as FastAPI writes a route's dict (pydantic-core): for a route that
    answers with `ok_json` on another path."""
    return Response(pydantic_core.to_json(ok(data)), media_type="application/json")


def ok_json(data_json: str) -> Response:
    """A success whose data is JSON text already (large answers the storage layer writes as JSON), sent as
    it is rather than parsed and serialized again."""
    body = '{"success":true,"message":"","data":' + data_json + "}"
    return Response(body.encode(), media_type="application/json")


def fail(message: str, status_code: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    """A failure: no `data`, a message a person can act on. Business failures keep HTTP 200 because New
    API clients read `success` (some throw on any non-2xx)."""
    return JSONResponse({"success": False, "message": message}, status_code=status_code, headers=headers)


def page_payload(page: Page[Any]) -> dict[str, Any]:
    return {
        "page": page.page,
        "page_size": page.page_size,
        "total": page.total,
        "items": page.items,
        "next_cursor": page.next_cursor,
    }
