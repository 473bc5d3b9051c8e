"""The application factory: everything is built from the settings passed in, nothing at import time."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from itsdangerous import Signer

from tokenledger import __version__
from tokenledger.api import errors
from tokenledger.api.cors import OpenCorsMiddleware
from tokenledger.api.ratelimit import RateLimiter
from tokenledger.api.routes import channels, data, export, logs, status, system_tasks, tokens, usage, users
from tokenledger.domain import timestamps
from tokenledger.services.cleanup import CleanupRunner
from tokenledger.services.writer import LogWriter
from tokenledger.settings import Settings
from tokenledger.store.database import Database


def create_app(settings: Settings, db: Database | None = None) -> FastAPI:
    """Build the ASGI app. The database must already be migrated; pass `db` to share one (tests, CLI),
    otherwise one is opened from `settings.sql_dsn` and closed at shutdown."""
    database = db or Database(settings.sql_dsn, settings.log_sql_dsn)

    writer = LogWriter(database, max_queued_rows=settings.ingest_queue_rows)
    cleaner = CleanupRunner(
        database,
        retention_days=settings.log_retention_days,
        check_interval=settings.log_retention_check_seconds,
        batch_rows=settings.log_cleanup_batch_rows,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await writer.start()
        await cleaner.start()
        try:
            yield
        finally:
            await cleaner.stop()
            # Rows already accepted are written before the process goes.
            await writer.stop()
            if db is None:
                database.dispose()

    app = FastAPI(
        title="tokenledger",
        version=__version__,
        description="Usage ledger for LLM API gateways, speaking New API's log API.",
        redirect_slashes=False,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.writer = writer
    app.state.cleanup_runner = cleaner
    app.state.limiter = RateLimiter(settings.rate_limit_enabled)
    app.state.start_time = timestamps.now()
    # Without a configured secret, sessions are signed with a per-process key and end at restart.
    app.state.cookie_signer = Signer(settings.session_secret or secrets.token_urlsafe(32), salt="session")
    errors.install(app)
    app.add_middleware(OpenCorsMiddleware)
    for module in (logs, export, data, usage, users, tokens, channels, status, system_tasks):
        app.include_router(module.router)
    return app
