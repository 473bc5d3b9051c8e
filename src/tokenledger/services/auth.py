"""Authentication: sessions, access tokens and API keys, checked in that order."""

from __future__ import annotations

from dataclasses import dataclass

from tokenledger.domain import credentials, timestamps
from tokenledger.domain.errors import Forbidden, Unauthorized
from tokenledger.domain.numbers import is_decimal
from tokenledger.domain.principal import Credential, Principal
from tokenledger.domain.user import User
from tokenledger.store import apikeys, sessions, users
from tokenledger.store.database import Connection, Database

NOT_LOGGED_IN = "not logged in and no access token provided: log in, or send Authorization: Bearer <token>"


@dataclass(frozen=True, slots=True)
class RequestCredentials:
    """What a request carried: the session id from its cookie, the Authorization header (with or without
    `Bearer`), and the optional New-Api-User header."""

    session_id: str | None = None
    authorization: str | None = None
    new_api_user: str | None = None

    @property
    def bearer(self) -> str | None:
        return strip_bearer(self.authorization or "") or None


def strip_bearer(value: str) -> str:
    """`Bearer x` → `x`; a bare value is returned trimmed."""
    value = value.strip()
    scheme, _, rest = value.partition(" ")
    return rest.strip() if scheme.lower() == "bearer" else value


def parse_new_api_user(raw: str) -> int:
    """The New-Api-User header: a bare user id (`Bearer <id>` tolerated, as one source document writes it)."""
    value = strip_bearer(raw)
    if not is_decimal(value) or len(value) > 18:
        raise Unauthorized(f"New-Api-User header must be your numeric user id, got {raw!r}")
    return int(value)


def _check_user(user: User | None, message: str) -> User:
    if user is None:
        raise Unauthorized(message)
    if not user.enabled:
        raise Forbidden("user is disabled: ask an administrator to enable the account")
    return user


def authenticate(db: Database, request: RequestCredentials) -> Principal:
    """Resolve the caller. Raises Unauthorized (no or bad credential, New-Api-User mismatch) or Forbidden
    (disabled user)."""
    now = timestamps.now()
    principal: Principal | None = None
    with db.read() as conn:
        if request.session_id:
            user_id = sessions.get_user_id(conn, credentials.digest(request.session_id), now)
            if user_id is not None:
                user = _check_user(users.get(conn, user_id), "session has ended: log in again")
                principal = Principal(user, Credential.SESSION)
        token = request.bearer
        if principal is None and token:
            if token.startswith(credentials.API_KEY_PREFIX):
                principal = _api_key_principal(conn, token, now)
            else:
                if len(token) > credentials.MAX_SECRET_LENGTH:
                    raise Unauthorized("invalid access token")
                user = _check_user(
                    users.get_by_access_token(conn, credentials.digest(token)),
                    "invalid access token: generate one with GET /api/user/token",
                )
                principal = Principal(user, Credential.ACCESS_TOKEN)
    if principal is None:
        raise Unauthorized(NOT_LOGGED_IN)
    if request.new_api_user is not None and parse_new_api_user(request.new_api_user) != principal.user.id:
        raise Unauthorized("New-Api-User header does not match the authenticated user's id")
    return principal


def _api_key_principal(conn: Connection, key: str, now: int) -> Principal:
    if len(key) > credentials.MAX_SECRET_LENGTH:
        raise Unauthorized("invalid API key")
    api_key = apikeys.get_by_digest(conn, credentials.digest(key))
    if api_key is None:
        raise Unauthorized("invalid API key: it does not exist or was deleted")
    if not api_key.usable_at(now):
        raise Unauthorized("API key is disabled or expired")
    user = _check_user(users.get(conn, api_key.user_id), "invalid API key: its owner no longer exists")
    return Principal(user, Credential.API_KEY, api_key)


def authenticate_api_key(db: Database, credential: str) -> Principal:
    """For routes that take only an API key (`/api/log/token`): `Bearer sk-…`, `sk-…`, or the key without
    its `sk-` prefix."""
    key = strip_bearer(credential)
    if not key:
        raise Unauthorized("an API key is required: send Authorization: Bearer sk-… or ?key=sk-…")
    with db.read() as conn:
        return _api_key_principal(conn, key, timestamps.now())


def login(db: Database, username: str, password: str, max_age_seconds: int) -> tuple[User, str]:
    """Check a password and open a session. Returns the user and the new session id (for the cookie)."""
    with db.read() as conn:
        user = users.get_by_username(conn, username)
    if not credentials.verify_password(password, user.password_hash if user else None) or user is None:
        raise Unauthorized("wrong username or password")
    if not user.enabled:
        raise Forbidden("user is disabled: ask an administrator to enable the account")
    session_id = credentials.new_session_id()
    now = timestamps.now()
    with db.write() as conn:
        sessions.delete_expired(conn, now)
        sessions.insert_session(conn, credentials.digest(session_id), user.id, now, now + max_age_seconds)
    return user, session_id


def logout(db: Database, session_id: str | None) -> None:
    if session_id:
        with db.write() as conn:
            sessions.delete_session(conn, credentials.digest(session_id))


def issue_access_token(db: Database, user_id: int) -> str:
    """Replace the user's access token with a fresh one and return it (the only time it is readable)."""
    token = credentials.new_access_token()
    with db.write() as conn:
        users.set_access_token(conn, user_id, credentials.digest(token))
    return token
