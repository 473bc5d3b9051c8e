"""Request dependencies: the database, the settings, and who is calling (with role checks in one place).

FastAPI runs a plain `def` dependency on a worker thread and an `async def` one on the event loop. Those
that only read app state or check the caller are `async def`: a hop to a worker thread and back costs more
than they do, and an admin list took eight of them. `authenticate` reads the database, so it keeps its
thread."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from itsdangerous import BadSignature, Signer

from tokenledger.api.ratelimit import RateLimiter
from tokenledger.domain.errors import Forbidden, Unauthorized
from tokenledger.domain.principal import Principal
from tokenledger.services import auth
from tokenledger.services.writer import LogWriter
from tokenledger.settings import Settings
from tokenledger.store.database import Database

SESSION_COOKIE = "session"
KEYS_NOT_ACCEPTED = "API keys are not accepted on this route: use an access token or log in"


async def get_db(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


async def get_writer(request: Request) -> LogWriter:
    writer: LogWriter = request.app.state.writer
    return writer


DatabaseDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]
WriterDep = Annotated[LogWriter, Depends(get_writer)]


def cookie_signer(request: Request) -> Signer:
    signer: Signer = request.app.state.cookie_signer
    return signer


def session_id(request: Request) -> str | None:
    """The session id from the signed cookie, or None when absent or forged."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        return cookie_signer(request).unsign(cookie).decode("ascii")
    except (BadSignature, UnicodeDecodeError):
        return None


def authenticate(request: Request, db: DatabaseDep) -> Principal:
    """Any credential: session, access token, or API key."""
    return auth.authenticate(
        db,
        auth.RequestCredentials(
            session_id=session_id(request),
            authorization=request.headers.get("authorization"),
            new_api_user=request.headers.get("new-api-user"),
        ),
    )


async def require_user(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    """A logged-in user or access token; API keys are refused."""
    if principal.via_api_key:
        raise Unauthorized(KEYS_NOT_ACCEPTED)
    return principal


def check_admin(principal: Principal) -> Principal:
    """The caller, if an admin; raises Forbidden otherwise. For routes that decide by the credential."""
    if not principal.user.is_admin:
        raise Forbidden("insufficient privileges: this route needs an admin")
    return principal


async def require_admin(principal: Annotated[Principal, Depends(require_user)]) -> Principal:
    return check_admin(principal)


async def require_root(principal: Annotated[Principal, Depends(require_user)]) -> Principal:
    if not principal.user.is_root:
        raise Forbidden("insufficient privileges: this route needs root")
    return principal


async def require_ingest(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    """An admin, or an ingest key (an API key created with `ingest: true` by a user who is still an admin)."""
    if principal.api_key is not None and not principal.api_key.ingest:
        raise Unauthorized('this API key may not ingest: create one with "ingest": true as an admin')
    if not principal.user.is_admin:
        raise Forbidden("insufficient privileges: ingesting logs needs an admin or an ingest key")
    return principal


AnyCaller = Annotated[Principal, Depends(authenticate)]
CurrentUser = Annotated[Principal, Depends(require_user)]
Admin = Annotated[Principal, Depends(require_admin)]
Root = Annotated[Principal, Depends(require_root)]
IngestCaller = Annotated[Principal, Depends(require_ingest)]
