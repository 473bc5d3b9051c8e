"""Query parameters of the log routes. They are declared here for the OpenAPI docs, but parsed by the
domain's rules (`tokenledger.domain.filters`), so that garbage paging falls back to defaults and a bad
filter gets a message naming it, exactly as the wire contract says."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request

from tokenledger.api.deps import SettingsDep
from tokenledger.domain import timestamps
from tokenledger.domain.errors import Invalid
from tokenledger.domain.filters import LogFilters, PageRequest, Scope, parse_filters, parse_page
from tokenledger.domain.numbers import MAX_ID

TS = "Unix seconds or milliseconds (values ≥ 10^11 are ms); inclusive; 0 or absent: unbounded."


async def _self_params(
    type: Annotated[
        str | None,
        Query(description="Log type: 0 all, 1 top-up, 2 consume, 3 manage, 4 system, 5 error, 6 refund, 7 login."),
    ] = None,
    start_timestamp: Annotated[str | None, Query(description=TS)] = None,
    end_timestamp: Annotated[str | None, Query(description=TS)] = None,
    token_name: Annotated[str | None, Query(description="API key name, exact.")] = None,
    model_name: Annotated[str | None, Query(description="Exact, or a LIKE pattern when it holds %.")] = None,
    group: Annotated[str | None, Query(description="Group, exact.")] = None,
    request_id: Annotated[str | None, Query(description="Request id, exact.")] = None,
    upstream_request_id: Annotated[str | None, Query(description="Upstream request id, exact.")] = None,
) -> None:
    """Declares the self filters for the OpenAPI docs; parsing happens in the functions below."""


async def _admin_params(
    _self: Annotated[None, Depends(_self_params)],
    username: Annotated[str | None, Query(description="Username, exact, or a LIKE pattern with %.")] = None,
    channel: Annotated[str | None, Query(description="Channel id.")] = None,
) -> None:
    """Declares the admin-only filters for the OpenAPI docs."""


async def self_filters(request: Request, _docs: Annotated[None, Depends(_self_params)]) -> LogFilters:
    return parse_filters(request.query_params, Scope.SELF)


async def admin_filters(request: Request, _docs: Annotated[None, Depends(_admin_params)]) -> LogFilters:
    return parse_filters(request.query_params, Scope.ADMIN)


async def self_stat_filters(request: Request, _docs: Annotated[None, Depends(_self_params)]) -> LogFilters:
    """The stat routes ignore `type` altogether: they always total consume rows."""
    return parse_filters(request.query_params, Scope.SELF, with_type=False)


async def admin_stat_filters(request: Request, _docs: Annotated[None, Depends(_admin_params)]) -> LogFilters:
    return parse_filters(request.query_params, Scope.ADMIN, with_type=False)


async def page_request(
    request: Request,
    settings: SettingsDep,
    p: Annotated[str | None, Query(description="1-based page; missing or garbage: 1.")] = None,
    page_size: Annotated[
        str | None,
        Query(description="Rows per page (aliases ps, size); default 10, capped at MAX_ITEMS_PER_PAGE."),
    ] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page: keyset paging.")] = None,
) -> PageRequest:
    return parse_page(request.query_params, settings.max_items_per_page)


async def time_window(
    start_timestamp: Annotated[str | None, Query(description=TS)] = None,
    end_timestamp: Annotated[str | None, Query(description=TS)] = None,
) -> tuple[int, int]:
    start = timestamps.parse("start_timestamp", start_timestamp)
    end = timestamps.parse("end_timestamp", end_timestamp)
    if start and end and start > end:
        raise Invalid("start_timestamp must not be after end_timestamp")
    return start, end


SelfFilters = Annotated[LogFilters, Depends(self_filters)]
SelfStatFilters = Annotated[LogFilters, Depends(self_stat_filters)]
AdminStatFilters = Annotated[LogFilters, Depends(admin_stat_filters)]
AdminFilters = Annotated[LogFilters, Depends(admin_filters)]
Paging = Annotated[PageRequest, Depends(page_request)]
TimeWindow = Annotated[tuple[int, int], Depends(time_window)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID, description="A numeric id.")]
