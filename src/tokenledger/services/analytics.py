"""Usage analytics: scoping a query to its caller, reading hourly totals in one log read transaction, and
naming the groups from the core database (see tokenledger.domain.analytics for the rules)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tokenledger.domain import analytics
from tokenledger.domain.analytics import Dimension, Labels, UsageQuery
from tokenledger.domain.errors import Invalid
from tokenledger.domain.filters import LogFilters
from tokenledger.domain.principal import Principal
from tokenledger.services.ledger import KeyScope, scope_to_caller
from tokenledger.store import analytics as store
from tokenledger.store import channels
from tokenledger.store.database import Database


def usage(db: Database, query: UsageQuery) -> dict[str, Any]:
    """Every user's usage (admin): a `username` filter is resolved to its user; an unknown one, or one
    that names another user than `user_id`, answers no usage."""
    username = query.filters.username
    if username is not None:
        with db.read() as conn:
            user_id = store.user_id_by_username(conn, username)
        if user_id is None or query.filters.user_id not in (None, user_id):
            return analytics.report(query, [], Labels(channel_names={}))
        query = replace(query, filters=replace(query.filters, user_id=user_id, username=None))
    return _report(db, query, admin=True)


def own_usage(db: Database, query: UsageQuery, caller: Principal, key_scope: KeyScope) -> dict[str, Any]:
    """The caller's own usage, scoped exactly as `/api/log/self`: their user, or only their API key when
    they came with one and the operator chose the `token` scope."""
    if Dimension.USER in query.group_by:
        raise Invalid("group_by=user is for admins: your usage is your own")
    scoped = scope_to_caller(LogFilters(token_id=query.filters.token_id), caller, key_scope)
    filters = replace(query.filters, user_id=scoped.user_id, token_id=scoped.token_id, username=None)
    return _report(db, replace(query, filters=filters), admin=False)


def _report(db: Database, query: UsageQuery, *, admin: bool) -> dict[str, Any]:
    with db.read_logs() as conn:
        # Whole buckets summed by the database where it can, else hours folded by the domain.
        hours = store.hourly_totals(conn, query, analytics.bucket_firsts(query))
        key_ids = analytics.key_ids(hours, query)
        key_names = store.key_names(conn, query, key_ids) if key_ids else {}
    user_ids = analytics.user_ids(hours, query)
    name_channels = admin and Dimension.CHANNEL in query.group_by
    usernames: dict[int, str] = {}
    # None: not an admin, so channel groups carry no channel_name at all.
    channel_names: dict[int, str] | None = {} if admin else None
    if user_ids or name_channels:
        with db.read() as conn:
            if user_ids:
                usernames = store.usernames(conn, user_ids)
            if name_channels:
                channel_names = channels.names(conn)
    return analytics.report(query, hours, Labels(key_names, usernames, channel_names))
