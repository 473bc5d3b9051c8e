"""Every failure, whoever raises it, leaves through here as the envelope with a fitting status."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tokenledger.api.envelope import fail
from tokenledger.domain.errors import Invalid, LedgerError, RateLimited

logger = logging.getLogger("tokenledger.api")


def describe_validation(errors: list[Any]) -> str:
    """The first problem of a pydantic validation, as `field: what is wrong`."""
    if not errors:
        return "request is not valid"
    first = errors[0]
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    message = str(first.get("msg", "is not valid"))
    if first.get("type") == "json_invalid":
        return "request body is not valid JSON"
    if first.get("type") == "missing":
        message = "is required"
    if first.get("type") == "model_attributes_type":
        return "request body must be a JSON object"
    return f"{'.'.join(location)}: {message}" if location else message


def invalid_from(error: ValidationError) -> Invalid:
    return Invalid(describe_validation(list(error.errors())))


def install(app: FastAPI) -> None:
    @app.exception_handler(LedgerError)
    async def _ledger_error(_request: Request, exc: LedgerError) -> JSONResponse:
        headers = {"Retry-After": "60"} if isinstance(exc, RateLimited) else None
        return fail(exc.message, exc.http_status, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return fail(describe_validation(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            message = f"no such route: {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        return fail(message, exc.status_code, dict(exc.headers) if exc.headers else None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return fail("internal server error: the failure was logged; try again or contact the operator", 500)
