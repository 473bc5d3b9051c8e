"""The log routes of New API (`/api/log/...`) plus ingest."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from tokenledger.api.deps import (
    Admin,
    AnyCaller,
    DatabaseDep,
    IngestCaller,
    LimiterDep,
    SettingsDep,
    WriterDep,
    check_admin,
)
from tokenledger.api.envelope import ok, ok_json, ok_response, page_payload
from tokenledger.api.params import AdminFilters, AdminStatFilters, Paging, SelfFilters, SelfStatFilters
from tokenledger.domain import timestamps
from tokenledger.domain.errors import Invalid
from tokenledger.domain.filters import TOKEN_LOG_LIMIT, LogFilters, parse_keyword
from tokenledger.domain.log import LogStat, View
from tokenledger.domain.numbers import is_decimal
from tokenledger.services import auth, cleanup, ingest, ledger

router = APIRouter(tags=["logs"])

MAX_INGEST_BYTES = 32 * 1024 * 1024
TOKEN_PAGING_PARAMS = ("p", "page_size", "ps", "size", "cursor", "start_timestamp", "end_timestamp")


def _stat_payload(stat: LogStat) -> dict[str, int]:
    return {"quota": stat.quota, "rpm": stat.rpm, "tpm": stat.tpm}


@router.get("/api/log/", summary="All logs (admin)")
@router.get("/api/log", include_in_schema=False)
def list_all_logs(_admin: Admin, db: DatabaseDep, filters: AdminFilters, page: Paging) -> dict[str, Any]:
    return ok(page_payload(ledger.list_logs(db, filters, page, View.ADMIN)))


@router.get("/api/log/self", summary="Own logs (user or API key)")
def list_own_logs(
    caller: AnyCaller, db: DatabaseDep, settings: SettingsDep, filters: SelfFilters, page: Paging
) -> dict[str, Any]:
    scoped = ledger.scope_to_caller(filters, caller, settings.api_key_log_scope)
    return ok(page_payload(ledger.list_logs(db, scoped, page, View.USER)))


@router.get("/api/log/stat", summary="Quota, RPM and TPM of all logs (admin; an API key gets its own)")
def stat_all_logs(
    caller: AnyCaller, db: DatabaseDep, settings: SettingsDep, filters: AdminStatFilters, own: SelfStatFilters
) -> dict[str, Any]:
    # The reseller document calls this route with an API key; such a caller gets exactly the self stat.
    if caller.via_api_key:
        return ok(_stat_payload(ledger.log_stat(db, ledger.scope_to_caller(own, caller, settings.api_key_log_scope))))
    check_admin(caller)
    return ok(_stat_payload(ledger.log_stat(db, filters)))


@router.get("/api/log/self/stat", summary="Quota, RPM and TPM of own logs")
def stat_own_logs(
    caller: AnyCaller, db: DatabaseDep, settings: SettingsDep, filters: SelfStatFilters
) -> dict[str, Any]:
    scoped = ledger.scope_to_caller(filters, caller, settings.api_key_log_scope)
    return ok(_stat_payload(ledger.log_stat(db, scoped)))


@router.get("/api/log/search", summary="Search all logs by content or type (admin)")
def search_all_logs(
    admin: Admin, db: DatabaseDep, settings: SettingsDep, limiter: LimiterDep, keyword: str | None = None
) -> dict[str, Any]:
    limiter.hit("search", str(admin.user.id), settings.search_rate_limit)
    return ok(ledger.search_logs(db, parse_keyword(keyword), View.ADMIN, LogFilters()))


@router.get("/api/log/self/search", summary="Search own logs by content or type")
def search_own_logs(
    caller: AnyCaller, db: DatabaseDep, settings: SettingsDep, limiter: LimiterDep, keyword: str | None = None
) -> dict[str, Any]:
    limiter.hit("search", str(caller.user.id), settings.search_rate_limit)
    scope = ledger.scope_to_caller(LogFilters(), caller, settings.api_key_log_scope)
    return ok(ledger.search_logs(db, parse_keyword(keyword), View.USER, scope))


@router.delete("/api/log/", summary="Delete logs older than a timestamp (admin)")
@router.delete("/api/log", include_in_schema=False)
def delete_old_logs(
    admin: Admin, db: DatabaseDep, settings: SettingsDep, target_timestamp: str | None = None
) -> dict[str, Any]:
    target = timestamps.parse("target_timestamp", target_timestamp)
    return ok(cleanup.delete_now(db, target, admin.user.username, batch_rows=settings.log_cleanup_batch_rows))


@router.get("/api/log/token", summary="Logs of the calling API key (open CORS, see api/cors.py)")
def list_key_logs(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    filters: SelfFilters,
    page: Paging,
    key: Annotated[str | None, Query(description="The API key, for clients that cannot send headers.")] = None,
) -> Response:
    caller = auth.authenticate_api_key(db, request.headers.get("authorization") or key or "")
    assert caller.api_key is not None
    limiter.hit("token", str(caller.api_key.id), settings.token_log_rate_limit)
    scoped = filters.scoped_to_key(caller.user.id, caller.api_key.id)
    if any(name in request.query_params for name in TOKEN_PAGING_PARAMS):
        return ok_response(page_payload(ledger.list_logs(db, scoped, page, View.USER)))
    return ok_json(ledger.recent_user_logs_json(db, scoped, TOKEN_LOG_LIMIT))


@router.post("/api/log/ingest", summary="Push usage records (admin or ingest key)")
async def ingest_logs(request: Request, _caller: IngestCaller, db: DatabaseDep, writer: WriterDep) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    too_large = Invalid(f"ingest body is too large: at most {MAX_INGEST_BYTES // (1024 * 1024)} MiB per request")
    if declared and is_decimal(declared) and int(declared) > MAX_INGEST_BYTES:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_INGEST_BYTES:
            raise too_large
    entries = await run_in_threadpool(ingest.prepare, db, bytes(body))
    # Acknowledged once committed, in a transaction shared with whatever other requests arrived meanwhile.
    inserted = await writer.write(entries)
    return ok({"inserted": inserted})
