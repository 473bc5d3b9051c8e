"""Log export (`/api/log/export`, `/api/log/self/export`): the list filters, streamed as CSV or JSONL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from tokenledger.api.deps import Admin, AnyCaller, DatabaseDep, SettingsDep
from tokenledger.api.params import AdminFilters, SelfFilters
from tokenledger.domain import timestamps, timezones
from tokenledger.domain.export import export_filename, parse_format
from tokenledger.domain.log import View
from tokenledger.services import export, ledger

router = APIRouter(tags=["logs"])


async def export_options(
    format: Annotated[str | None, Query(description="csv (default) or jsonl.")] = None,
    tz: Annotated[
        str | None, Query(description=f"Time zone of the CSV time column: {timezones.HELP}. Default UTC.")
    ] = None,
) -> export.ExportOptions:
    return export.ExportOptions(format=parse_format(format), tz=timezones.parse(tz))


Options = Annotated[export.ExportOptions, Depends(export_options)]


def _download(chunks: Iterator[bytes], options: export.ExportOptions) -> StreamingResponse:
    filename = export_filename(options.format, timestamps.now())
    # A sync iterator: Starlette pulls each chunk in its threadpool, so the reads never block the loop.
    return StreamingResponse(
        chunks,
        media_type=options.format.media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/api/log/export", summary="Export all logs as CSV or JSONL (admin)", response_class=StreamingResponse)
def export_all_logs(_admin: Admin, db: DatabaseDep, filters: AdminFilters, options: Options) -> StreamingResponse:
    return _download(export.stream_logs(db, filters, View.ADMIN, options), options)


@router.get(
    "/api/log/self/export",
    summary="Export own logs as CSV or JSONL (user or API key)",
    response_class=StreamingResponse,
)
def export_own_logs(
    caller: AnyCaller, db: DatabaseDep, settings: SettingsDep, filters: SelfFilters, options: Options
) -> StreamingResponse:
    scoped = ledger.scope_to_caller(filters, caller, settings.api_key_log_scope)
    return _download(export.stream_logs(db, scoped, View.USER, options), options)
