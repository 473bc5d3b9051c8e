"""Test data builders: users with access tokens, API keys, and log records, made through the services."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from tokenledger.domain import credentials
from tokenledger.domain.user import Role
from tokenledger.services import accounts, auth, keys
from tokenledger.store import users
from tokenledger.store.database import Database

ROOT_TOKEN = "root-access-token-for-tests-0000"
PASSWORD = "correct-horse-battery"

_names = itertools.count(1)


@dataclass
class Account:
    """A user as tests use it: id, name, access token, and ready-made headers."""

    id: int
    username: str
    token: str
    role: int = int(Role.COMMON)
    password: str = PASSWORD
    keys: dict[str, tuple[int, str]] = field(default_factory=dict)  # name -> (key id, full sk- secret)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def key_headers(self, name: str = "default") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[name][1]}"}


def root_account(db: Database) -> Account:
    accounts.ensure_root(db, password=PASSWORD, access_token=ROOT_TOKEN)
    return Account(id=1, username="root", token=ROOT_TOKEN, role=int(Role.ROOT))


def make_user(db: Database, username: str | None = None, role: Role = Role.COMMON, group: str = "default") -> Account:
    """A new enabled user with an access token (created directly: bcrypt cost kept out of every test)."""
    name = username or f"user{next(_names)}"
    with db.write() as conn:
        user = users.insert_user(
            conn,
            username=name,
            password_hash=_password_hash(),
            display_name=name,
            role=int(role),
            quota=0,
            group=group,
            created_at=1_700_000_000,
        )
    token = auth.issue_access_token(db, user.id)
    return Account(id=user.id, username=name, token=token, role=int(role))


def make_key(db: Database, account: Account, name: str = "default", **options: Any) -> str:
    """Create an API key for the account, remember it under `name`, and return its full secret."""
    with db.read() as conn:
        owner = users.get(conn, account.id)
    assert owner is not None
    key, secret = keys.create_key(db, owner, keys.KeyCreate(name=name, **options))
    account.keys[name] = (key.id, secret)
    return secret


_hash_cache: list[str] = []


def _password_hash() -> str:
    if not _hash_cache:
        _hash_cache.append(credentials.hash_password(PASSWORD))
    return _hash_cache[0]


def record(account: Account, **fields: Any) -> dict[str, Any]:
    """An ingest record for the account; a consume row unless `type` says otherwise."""
    base: dict[str, Any] = {
        "user_id": account.id,
        "type": 2,
        "model_name": "gpt-4o-mini",
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "quota": 150,
        "content": "model ratio 0.08, completion ratio 4.00",
        "other": json.dumps({"model_ratio": 0.08, "admin_info": {"use_channel": ["1"]}}),
    }
    base.update(fields)
    return base
