"""An API key's own logs as JSON text (`ledger.recent_user_logs_json`, which SQLite writes itself) say
exactly what `to_user_row` says: every field in its order, request ids left out when empty, text JSON must
escape, and `other` stripped of its admin-only keys however they are spelled, on every backend."""

from __future__ import annotations

import itertools
import json
from typing import Any

from tokenledger.domain.filters import LogFilters
from tokenledger.domain.log import LogEntry, LogType, View, render
from tokenledger.services import ledger
from tokenledger.store import logs
from tokenledger.store.database import Database

T0 = 1_790_899_200
USER, KEY = 7, 70
BIG = 5_000_000_000

OTHERS = (
    "",
    '{"model_ratio":0.075,"frt":840,"admin_info":{"use_channel":["1"]}}',
    '{"a": 1, "audit_info": {"by": "x"}, "admin_info": 2}',
    '{"a": 1}',  # names no admin-only key: kept as written, spaces and all
    '{"note": "see admin_info"}',
    '{"admin_info": 1, "admin_info": 2, "a": 3}',  # only the first is removed by json_remove
    '{"admin\\u005finfo": {"use_channel": ["3"]}, "\\u0061udit_info": 1, "a": 1}',  # keys spelled with escapes
    '{"audit_info": 1, "a": NaN}',  # JSON that SQLite refuses and pydantic-core reads
    '["admin_info", {"admin_info": 1}]',  # not an object: kept as it is
    "admin_info, and not JSON",
    '{"tier": {"name": "金", "ratios": [1, 2.5]}, "admin_info": {}, "say": "tab\\there"}',
    '{"a":1.50,"b":1e5,"admin_info":1}',  # SQLite keeps the numbers' spelling, to_user_row writes 1.5
)
CONTENTS = ("", 'quo"ted', "back\\slash", "模型 🚀", "tab\tnew\nline", "bell\x07", "mentions admin_info")


def _entries() -> list[LogEntry]:
    found = []
    for n, (other, content, request_ids) in enumerate(
        itertools.product(OTHERS, CONTENTS, (("", ""), ("req-1", ""), ("", "up-1"), ("req-2", "up-2")))
    ):
        found.append(
            LogEntry(
                id=0,
                user_id=USER if n % 5 else USER + 1,  # another user's rows under the same key id
                token_id=KEY,
                created_at=T0 + n // 3,
                type=int(LogType.CONSUME if n % 7 else LogType.ERROR),
                content=content,
                username="ünï",
                token_name='k"1',
                model_name="gpt-4o",
                quota=BIG if n % 11 == 0 else n,
                prompt_tokens=n,
                completion_tokens=2 * n,
                use_time=n % 9,
                is_stream=n % 2 == 0,
                channel=n % 4,
                group="vip",
                ip="10.0.0.1",
                request_id=request_ids[0],
                upstream_request_id=request_ids[1],
                other=other,
            )
        )
    return found


def _comparable(row: dict[str, Any]) -> list[tuple[str, Any]]:
    """The row's fields in order, `other` written again by the json module where it parses: the spelling
    of its numbers (`1.50`, `1.5`) aside, the same value reads the same (NaN included)."""
    try:
        other = json.dumps(json.loads(row["other"]))
    except ValueError:
        other = row["other"]
    return [(name, other if name == "other" else field) for name, field in row.items()]


def test_a_keys_logs_as_json_equal_the_user_view(db: Database) -> None:
    with db.write_logs() as conn:
        logs.insert_logs(conn, _entries())
    scope = LogFilters().scoped_to_key(USER, KEY)
    owned = sum(1 for entry in _entries() if entry.user_id == USER)
    for limit in (1000, 17):
        with db.read_logs() as conn:
            expected = render(logs.list_recent(conn, scope, limit), View.USER, {})
        answered = json.loads(ledger.recent_user_logs_json(db, scope, limit))
        assert len(expected) == min(limit, owned)
        assert [_comparable(row) for row in answered] == [_comparable(row) for row in expected]
    with db.read_logs() as conn:
        written = logs.list_recent_user_json(conn, scope, 1000)
    # SQLite writes the rows itself, stripping `other` too (its spelling of the numbers shows it did, not
    # to_user_row); the others leave it to to_user_row.
    assert (written is not None) == (db.log_backend == "sqlite")
    if written is not None:
        assert any('"other":"{\\"a\\":1.50,\\"b\\":1e5}"' in row for row in written)
