"""The error hierarchy every layer raises; the API maps each class to one HTTP status and the envelope."""

from __future__ import annotations


class LedgerError(Exception):
    """Base class: a stable machine `code` and a message safe to show to the caller."""

    code = "error"
    http_status = 200

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class Invalid(LedgerError):
    """The caller sent something malformed or out of range (a business failure: HTTP 200)."""

    code = "invalid"


class NotFound(LedgerError):
    code = "not_found"


class Conflict(LedgerError):
    code = "conflict"


class Unauthorized(LedgerError):
    code = "unauthorized"
    http_status = 401


class Forbidden(LedgerError):
    code = "forbidden"
    http_status = 403


class Busy(LedgerError):
    """More rows are waiting to be written than the ledger holds in memory: retry shortly."""

    code = "busy"
    http_status = 503


class RateLimited(LedgerError):
    code = "rate_limited"
    http_status = 429
