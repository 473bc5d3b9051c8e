"""Secrets: API keys, access tokens, session ids and passwords.

Keys and tokens are long random strings, so a fast SHA-256 digest is enough to make a leaked database
useless: only the digest and a masked hint are stored. Passwords are low-entropy and get bcrypt, which is
also what New API stores, so imported users keep their passwords.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import string

import bcrypt

from tokenledger.domain.errors import Invalid

API_KEY_PREFIX = "sk-"
_ALPHABET = string.ascii_letters + string.digits
API_KEY_LENGTH = 48
ACCESS_TOKEN_LENGTH = 32
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_BYTES = 72  # bcrypt ignores anything past 72 bytes; refuse rather than silently truncate
MAX_SECRET_LENGTH = 256
# bcrypt's cost factor (2^12 rounds, bcrypt's default). The test suite lowers it to stay fast; verification
# reads the cost from each stored hash, so hashes of any cost keep working.
BCRYPT_ROUNDS = 12


@functools.cache
def _dummy_hash() -> bytes:
    """A valid hash of a random password, checked when the user does not exist, so that a login for an
    unknown username takes as long as one with a wrong password. Made on first use, not at import."""
    return bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds=BCRYPT_ROUNDS))


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_api_key() -> str:
    """A fresh `sk-` key, shown to its owner once."""
    return API_KEY_PREFIX + _random(API_KEY_LENGTH)


def new_access_token() -> str:
    return _random(ACCESS_TOKEN_LENGTH)


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """The stored form of a key, token or session id. New API stores keys without `sk-`; so do we."""
    if secret.startswith(API_KEY_PREFIX):
        secret = secret[len(API_KEY_PREFIX) :]
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def mask(secret: str) -> str:
    """`sk-abcd…wxyz`: enough to recognise a key in a listing, useless to an attacker."""
    prefix = API_KEY_PREFIX if secret.startswith(API_KEY_PREFIX) else ""
    body = secret[len(prefix) :]
    if len(body) <= 8:
        return prefix + "…"
    return f"{prefix}{body[:4]}…{body[-4:]}"


def check_new_password(password: str) -> None:
    """Raise Invalid unless the password is acceptable for a new account or a change."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise Invalid(f"password must be at most {MAX_PASSWORD_BYTES} bytes")


def hash_password(password: str) -> str:
    if not password or len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise Invalid(f"password must be 1 to {MAX_PASSWORD_BYTES} bytes")
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode("ascii")


def verify_password(password: str, password_hash: str | None) -> bool:
    """Constant-effort check: an unknown user (no hash) still costs one bcrypt comparison."""
    candidate = password.encode("utf-8")
    if len(candidate) > MAX_PASSWORD_BYTES:
        return False
    if not password_hash:
        bcrypt.checkpw(candidate, _dummy_hash())
        return False
    try:
        return bcrypt.checkpw(candidate, password_hash.encode("ascii"))
    except ValueError:
        return False
