"""Ingest's preparation: a batch's users resolved in bulk, and the one-pass validation of a JSON array
giving exactly what record-by-record validation gives."""

from __future__ import annotations

import json

import pytest

from tokenledger.domain.errors import Invalid
from tokenledger.services import ingest
from tokenledger.store import users
from tokenledger.store.database import Database

USERS = 1_050  # more than one lookup chunk


def _insert_users(db: Database, count: int) -> list[int]:
    with db.write() as conn:
        return [
            users.insert_user(
                conn,
                username=f"bulk{index}",
                password_hash="not-a-hash",
                display_name="",
                role=1,
                quota=0,
                group="default",
                created_at=1_700_000_000,
            ).id
            for index in range(count)
        ]


def test_a_batch_from_many_users_resolves_each_by_id_or_by_name(db: Database) -> None:
    ids = _insert_users(db, USERS)
    records = [
        {"user_id": user_id, "created_at": 1_700_000_000 + index}
        if index % 2
        else {"username": f"bulk{index}", "created_at": 1_700_000_000 + index}
        for index, user_id in enumerate(ids)
    ]
    entries = ingest.prepare(db, json.dumps(records).encode())
    assert [(entry.user_id, entry.username) for entry in entries] == [
        (user_id, f"bulk{index}") for index, user_id in enumerate(ids)
    ]

    with db.write() as conn:
        users.soft_delete(conn, ids[-1], 1_700_000_001)
    for gone in ({"user_id": ids[-1]}, {"username": f"bulk{USERS - 1}"}):
        with pytest.raises(Invalid, match=f"record {USERS}: "):
            ingest.prepare(db, json.dumps([*records[:-1], records[0], gone]).encode())


RICH_RECORDS = [
    {
        "user_id": 1,
        "created_at": 1_700_000_000_123,
        "type": 5,
        "content": '上游错误 "quoted" \\ back',
        "token_name": "prod",
        "model_name": "gpt-4o",
        "quota": 2**40,
        "prompt_tokens": 12,
        "completion_tokens": 0,
        "use_time": 3,
        "is_stream": True,
        "channel_id": 4,
        "token_id": 9,
        "group": "vip",
        "ip": "10.0.0.1",
        "request_id": "r-1",
        "upstream_request_id": "u-1",
        "other": {"cache_tokens": 5, "ratio": 0.25, "nested": {"a": [1, None, "ü"]}},
    },
    {"username": "root", "other": '{"model_ratio": 1.5}', "id": 77, "channel_name": "ignored"},
    {"user_id": 1},
]


def test_the_one_pass_validation_equals_record_by_record_validation() -> None:
    body = json.dumps(RICH_RECORDS, ensure_ascii=False).encode()
    assert ingest.read_records(body) == ingest.validate_records(ingest.parse_body(body))
    assert ingest.read_records(b"  \n" + body) == ingest.validate_records(ingest.parse_body(body))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[]", "holds no records"),
        (b"[1]", "record 0: must be a JSON object"),
        (b'[{"user_id": 1}, {"user_id": 1, "quota": "3"}]', "record 1: quota"),
        (b'[{"user_id": 1, "bogus": 1}]', "record 0: bogus: unknown field"),
        (b'[{"user_id": 1}', "not valid JSON"),
        (json.dumps([{"user_id": 1}] * (ingest.MAX_RECORDS + 1)).encode(), "too many records"),
    ],
)
def test_a_body_the_one_pass_rejects_is_explained_record_by_record(body: bytes, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        ingest.read_records(body)
