"""Usage analytics for charts **[ext]**: `/api/usage` (admin) and `/api/usage/self` (user or API key).
Parameters are declared here for the OpenAPI docs and parsed by tokenledger.domain.analytics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from tokenledger.api.deps import Admin, AnyCaller, DatabaseDep, SettingsDep
from tokenledger.api.envelope import ok
from tokenledger.api.params import TS
from tokenledger.domain import analytics, timestamps
from tokenledger.domain.filters import Scope
from tokenledger.services import analytics as service

router = APIRouter(tags=["usage analytics"])


async def _self_params(
    group_by: Annotated[
        str | None,
        Query(description="Up to two of model, key (alias token), channel, group, type; comma-separated."),
    ] = None,
    bucket: Annotated[str | None, Query(description="hour, day (default), week (from Monday) or month.")] = None,
    tz: Annotated[
        str | None, Query(description="IANA zone (Asia/Shanghai) or UTC offset (+08:00); default UTC.")
    ] = None,
    range: Annotated[
        str | None,
        Query(description="today, yesterday, 7d (default), 30d, this_month, last_month; in tz."),
    ] = None,
    start_timestamp: Annotated[str | None, Query(description=TS + " Wins over range.")] = None,
    end_timestamp: Annotated[str | None, Query(description=TS + " Absent: now.")] = None,
    model_name: Annotated[str | None, Query(description="Model, exact.")] = None,
    channel: Annotated[str | None, Query(description="Channel id.")] = None,
    group: Annotated[str | None, Query(description="Group, exact.")] = None,
    token_id: Annotated[str | None, Query(description="API key id.")] = None,
    type: Annotated[
        str | None,
        Query(description="Log type; default: consume (2) and error (5) rows count."),
    ] = None,
) -> None:
    """Declares the parameters for the OpenAPI docs; parsing happens in the domain."""


async def _admin_params(
    _self: Annotated[None, Depends(_self_params)],
    user_id: Annotated[str | None, Query(description="One user's usage, by id.")] = None,
    username: Annotated[str | None, Query(description="One user's usage, by exact username.")] = None,
) -> None:
    """Declares the admin-only parameters (group_by also takes `user`)."""


@router.get("/api/usage", summary="Usage per time bucket and group, for charts (admin)")
@router.get("/api/usage/", include_in_schema=False)
def all_usage(
    request: Request, _admin: Admin, db: DatabaseDep, _docs: Annotated[None, Depends(_admin_params)]
) -> dict[str, Any]:
    query = analytics.parse_query(request.query_params, Scope.ADMIN, timestamps.now())
    return ok(service.usage(db, query))


@router.get("/api/usage/self", summary="Own usage per time bucket and group, for charts (user or API key)")
def own_usage(
    request: Request,
    caller: AnyCaller,
    db: DatabaseDep,
    settings: SettingsDep,
    _docs: Annotated[None, Depends(_self_params)],
) -> dict[str, Any]:
    query = analytics.parse_query(request.query_params, Scope.SELF, timestamps.now())
    return ok(service.own_usage(db, query, caller, settings.api_key_log_scope))
