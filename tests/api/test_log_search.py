"""GET /api/log/search (admin) and /api/log/self/search: full-text keyword search, newest 100, bare array."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import ADMIN_ROW_KEYS, T0, Ingest, assert_user_view, data_of, failure, rids
from tests.factories import Account, make_key, record
from tokenledger.store.database import Database

SEARCH = "/api/log/search"
SELF_SEARCH = "/api/log/self/search"


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text.lower())


def _matches(keyword: str, row: dict[str, Any]) -> bool:
    """Reference semantics: every word of the keyword is a word or word prefix of the content, or the
    keyword is a number equal to the row's type."""
    keyword = keyword.strip()
    if keyword.isdigit() and int(keyword) == row["type"]:
        return True
    tokens = _words(row["content"])
    words = _words(keyword)
    return bool(words) and all(any(token.startswith(word) for token in tokens) for word in words)


def _expected(keyword: str, records: list[dict[str, Any]], limit: int = 100) -> list[str]:
    """request ids of the matching records, newest first (records were ingested in list order)."""
    hits = [(r["created_at"], index, r) for index, r in enumerate(records) if _matches(keyword, r)]
    hits.sort(key=lambda hit: (hit[0], hit[1]), reverse=True)
    return [hit[2]["request_id"] for hit in hits[:limit]]


CONTENTS = [
    "upstream timeout error",
    "Upstream OK",
    "timeout only",
    "model ratio 0.08, completion ratio 4.00",
    "upstreaming TIMEOUTS galore",
    "the stream timed out",
    "retry 5 times",
    "code 50x from provider",
    "Ünïcode Straße upstream",
]


def _corpus(alice: Account, bob: Account) -> list[dict[str, Any]]:
    rows = []
    for i, content in enumerate(CONTENTS * 2):
        owner = alice if i % 2 else bob
        rows.append(record(owner, created_at=T0 + i // 3, content=content, request_id=f"c{i}", type=2))
    rows.append(record(alice, created_at=T0 + 50, type=5, content="boom", request_id="err-a"))
    rows.append(record(bob, created_at=T0 + 51, type=5, content="kaboom", request_id="err-b"))
    rows.append(record(alice, created_at=T0 + 52, type=3, content="quota changed", request_id="manage-a"))
    return rows


KEYWORDS = [
    "upstream timeout",
    "UPSTREAM",
    "upstr",  # prefix
    "timeout",
    "TimeOut Upstream",  # order and case do not matter
    "stream",  # a word prefix, not a substring: "upstream" does not match
    "  timeout   only  ",  # trimmed
    "ratio completion",
    "5",  # content word and type 5
    "3",  # type 3 only
    "2",  # every consume row
    "straße",
    "nomatch",
    "upstream nomatch",
]


def test_admin_search_matches_every_word_case_insensitively_by_prefix(
    client: TestClient, root: Account, alice: Account, bob: Account, ingest: Ingest
) -> None:
    records = _corpus(alice, bob)
    ingest(records)
    for keyword in KEYWORDS:
        rows = data_of(client.get(SEARCH, headers=root.headers, params={"keyword": keyword}))
        assert isinstance(rows, list), keyword  # a bare array, not a page
        assert rids(rows) == _expected(keyword, records), keyword
        for row in rows:
            assert list(row) == [key for key in ADMIN_ROW_KEYS if key in row]
            assert "admin_info" in row["other"]  # admin view


def test_search_spot_checks(client: TestClient, root: Account, alice: Account, bob: Account, ingest: Ingest) -> None:
    """A few hand-computed answers, independent of the reference matcher."""
    ingest(_corpus(alice, bob))

    def found(keyword: str) -> set[str]:
        rows = data_of(client.get(SEARCH, headers=root.headers, params={"keyword": keyword}))
        return {row["content"] for row in rows}

    assert found("upstr") == {"upstream timeout error", "Upstream OK", "upstreaming TIMEOUTS galore", CONTENTS[8]}
    assert found("upstream timeout") == {"upstream timeout error", "upstreaming TIMEOUTS galore"}
    assert found("stream") == {"the stream timed out"}
    assert found("5") == {"retry 5 times", "code 50x from provider", "boom", "kaboom"}
    assert found("3") == {"quota changed"}


def test_keyword_is_trimmed_and_length_checked(client: TestClient, root: Account, alice: Account) -> None:
    for path, headers in ((SEARCH, root.headers), (SELF_SEARCH, alice.headers)):
        for params in ({}, {"keyword": ""}, {"keyword": "   "}, {"keyword": "\t\n"}):
            assert "keyword" in failure(client.get(path, headers=headers, params=params)), (path, params)
        too_long = failure(client.get(path, headers=headers, params={"keyword": "a" * 129}))
        assert "keyword" in too_long
        assert "128" in too_long
        assert data_of(client.get(path, headers=headers, params={"keyword": "a" * 128})) == []
        assert data_of(client.get(path, headers=headers, params={"keyword": "  " + "a" * 128 + "  "})) == []


def test_search_returns_only_the_newest_100(
    client: TestClient, db: Database, root: Account, alice: Account, bob: Account, ingest: Ingest
) -> None:
    make_key(db, alice)
    records = [record(alice, created_at=T0 + i // 2, content=f"bulk entry {i}", request_id=f"b{i}") for i in range(130)]
    records.append(record(bob, created_at=T0 + 1000, content="bulk entry of bob", request_id="bob"))
    ingest(records)
    rows = data_of(client.get(SEARCH, headers=root.headers, params={"keyword": "bulk"}))
    assert len(rows) == 100
    assert rids(rows) == _expected("bulk", records)
    assert rids(rows)[0] == "bob"
    own = [r for r in records if r["user_id"] == alice.id]
    for headers in (alice.headers, alice.key_headers()):
        mine = data_of(client.get(SELF_SEARCH, headers=headers, params={"keyword": "bulk entry"}))
        assert isinstance(mine, list)
        assert rids(mine) == _expected("bulk entry", own)
        assert len(mine) == 100
        assert_user_view(mine)


def test_self_search_returns_only_own_rows_in_user_view(
    client: TestClient, db: Database, alice: Account, bob: Account, ingest: Ingest
) -> None:
    make_key(db, alice)
    make_key(db, bob)
    records = _corpus(alice, bob)
    ingest(records)
    for account in (alice, bob):
        own = [r for r in records if r["user_id"] == account.id]
        for headers in (account.headers, account.key_headers()):
            for keyword in KEYWORDS:
                rows = data_of(client.get(SELF_SEARCH, headers=headers, params={"keyword": keyword}))
                assert rids(rows) == _expected(keyword, own), (account.username, keyword)
                assert {row["user_id"] for row in rows} <= {account.id}
                assert {row["username"] for row in rows} <= {account.username}
                assert_user_view(rows)


def test_admin_search_refuses_others(client: TestClient, db: Database, alice: Account) -> None:
    make_key(db, alice)
    assert "insufficient privileges" in failure(client.get(SEARCH, headers=alice.headers, params={"keyword": "x"}), 403)
    failure(client.get(SEARCH, headers=alice.key_headers(), params={"keyword": "x"}), 401)
    failure(client.get(SEARCH, params={"keyword": "x"}), 401)
    failure(client.get(SELF_SEARCH, params={"keyword": "x"}), 401)
