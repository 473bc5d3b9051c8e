"""GET /api/log/export (admin) and /api/log/self/export (user, API key): every row the list endpoints page
through, in their order, as CSV or JSONL; the user view; filters; time zones; validation before streaming."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import (
    ADMIN_ROW_KEYS,
    T0,
    Ingest,
    all_offset_pages,
    assert_user_view,
    data_of,
    failure,
    login_client,
    newest_first,
    rids,
)
from tests.factories import Account, make_key, make_user, record
from tokenledger.app import create_app
from tokenledger.domain.export import BOM, CSV_COLUMNS, LogValues
from tokenledger.domain.filters import Cursor, LogFilters
from tokenledger.services import export as export_service
from tokenledger.settings import Settings
from tokenledger.store import logs as log_store
from tokenledger.store.database import Database

ADMIN = "/api/log/"
SELF = "/api/log/self"
ADMIN_EXPORT = "/api/log/export"
SELF_EXPORT = "/api/log/self/export"
BATCH = 7
TRICKY_CONTENT = [
    "model ratio 2.50, completion ratio 4.00",
    'said "hi"; then left',
    "two\nlines, and a comma",
    "=SUM(A1:A9)",
    "naïve café ✓",
    "",
]


@pytest.fixture(autouse=True)
def batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Exports read 7 rows per batch, so every dataset here spans many batches; returns the batch sizes read."""
    monkeypatch.setattr(export_service, "DEFAULT_BATCH_ROWS", BATCH)
    sizes: list[int] = []
    original = log_store.list_batch

    def counted(conn: Any, filters: LogFilters, after: Cursor | None, limit: int) -> list[LogValues]:
        assert limit == BATCH
        found = original(conn, filters, after, limit)
        sizes.append(len(found))
        return found

    monkeypatch.setattr(log_store, "list_batch", counted)
    return sizes


def _dataset(client: TestClient, root: Account, alice: Account, bob: Account, ingest: Ingest) -> list[dict[str, Any]]:
    """130 rows (more than a list page of 100) for alice and bob: ties on created_at, empty and set request
    ids, several types, models, keys, groups and channels (one of them with a name), tricky content."""
    channel = data_of(
        client.post("/api/channel/", json={"name": "azure-east", "key": "k", "models": "gpt-4o"}, headers=root.headers)
    )
    models = ["gpt-4o", "gpt-4o-mini", "claude-3-haiku"]
    records = []
    for n in range(130):
        owner = alice if n % 3 else bob
        records.append(
            record(
                owner,
                created_at=T0 + n // 3,
                type=5 if n % 11 == 0 else 2,
                model_name=models[n % 3],
                content=TRICKY_CONTENT[n % len(TRICKY_CONTENT)],
                token_name=f"key-{n % 2}",
                group="vip" if n % 4 == 0 else "default",
                channel=channel["id"] if n % 2 else 77,
                quota=n * 12_345,
                is_stream=n % 2 == 0,
                use_time=n % 5,
                ip=f"10.0.0.{n % 7}",
                request_id=f"r{n}" if n % 5 else "",
                upstream_request_id=f"u{n}" if n % 10 == 1 else "",
            )
        )
    assert ingest(records) == len(records)
    return records


@pytest.fixture
def dataset(client: TestClient, root: Account, alice: Account, bob: Account, ingest: Ingest) -> list[dict[str, Any]]:
    return _dataset(client, root, alice, bob, ingest)


def download(client: TestClient, path: str, headers: dict[str, str] | None, **params: Any) -> httpx.Response:
    response = client.get(path, headers=headers or {}, params=params)
    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    extension = "jsonl" if params.get("format") == "jsonl" else "csv"
    assert re.fullmatch(rf'attachment; filename="logs-\d{{8}}-\d{{6}}\.{extension}"', disposition), disposition
    return response


def csv_rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    text = response.content.decode("utf-8")
    assert text.startswith(BOM)
    table = list(csv.reader(io.StringIO(text.removeprefix(BOM), newline="")))
    assert table[0] == list(CSV_COLUMNS)
    return [dict(zip(CSV_COLUMNS, cells, strict=True)) for cells in table[1:]]


def jsonl_rows(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.headers["content-type"].startswith("application/x-ndjson")
    text = response.content.decode("utf-8")
    if not text:
        return []
    lines = text.split("\n")
    assert lines[-1] == "", "every line ends with a newline"
    rows = [json.loads(line) for line in lines[:-1]]
    # Each line is exactly the compact, unescaped serialisation of its row.
    assert lines[:-1] == [json.dumps(row, ensure_ascii=False, separators=(",", ":")) for row in rows]
    return rows


def listed(client: TestClient, path: str, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    """Every row of a list endpoint, paging with page_size 100."""
    rows, total = all_offset_pages(client, path, headers, 100, **params)
    assert len(rows) == total
    return rows


def local(seconds: int, zone: tzinfo) -> str:
    return datetime.fromtimestamp(seconds, zone).strftime("%Y-%m-%d %H:%M:%S")


def expected_cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
    return str(value)


def assert_csv_is(rows: list[dict[str, str]], expected: list[dict[str, Any]], zone: tzinfo) -> None:
    """The CSV rows carry exactly the list rows' fields, plus `time` in `zone` and `cost_usd`."""
    assert len(rows) == len(expected)
    for got, want in zip(rows, expected, strict=True):
        for key in ADMIN_ROW_KEYS:
            assert got[key] == expected_cell(want.get(key, "")), (key, got, want)
        assert got["time"] == local(want["created_at"], zone)
        assert got["cost_usd"] == f"{Decimal(want['quota']) / Decimal(500_000):.6f}"


# --- the admin export -------------------------------------------------------------------------------------


def test_admin_export_is_the_list_endpoint_row_for_row(
    client: TestClient, root: Account, dataset: list[dict[str, Any]], batches: list[int]
) -> None:
    expected = listed(client, ADMIN, root.headers)
    assert len(expected) == len(dataset) > 100
    assert rids(expected) == rids(newest_first(dataset))

    assert jsonl_rows(download(client, ADMIN_EXPORT, root.headers, format="jsonl")) == expected
    # 130 rows in batches of 7: 18 full batches and one of 4.
    assert batches == [BATCH] * 18 + [4]

    shanghai = csv_rows(download(client, ADMIN_EXPORT, root.headers, tz="Asia/Shanghai"))
    assert_csv_is(shanghai, expected, ZoneInfo("Asia/Shanghai"))
    assert {row["channel_name"] for row in shanghai} == {"azure-east", ""}
    assert any("admin_info" in row["other"] for row in shanghai)


def test_an_exact_multiple_of_the_batch_ends_cleanly(
    client: TestClient, root: Account, alice: Account, ingest: Ingest, batches: list[int]
) -> None:
    records = [record(alice, created_at=T0 + n // 4, request_id=f"m{n}") for n in range(3 * BATCH)]
    ingest(records)
    rows = jsonl_rows(download(client, ADMIN_EXPORT, root.headers, format="jsonl"))
    assert rids(rows) == rids(newest_first(records))
    assert batches == [BATCH, BATCH, BATCH, 0]


def test_csv_time_column_follows_tz_and_cost_is_quota_over_500000(
    client: TestClient, root: Account, alice: Account, ingest: Ingest
) -> None:
    ingest([record(alice, created_at=T0, quota=1_234_567), record(alice, created_at=T0 + 1, quota=0)])
    cases: list[tuple[dict[str, str], str]] = [
        ({}, "2023-11-14 22:13:20"),
        ({"tz": "UTC"}, "2023-11-14 22:13:20"),
        ({"tz": "Asia/Shanghai"}, "2023-11-15 06:13:20"),
        ({"tz": "+8"}, "2023-11-15 06:13:20"),
        ({"tz": "UTC+8"}, "2023-11-15 06:13:20"),
        ({"tz": "-05:30"}, "2023-11-14 16:43:20"),
        ({"tz": "-0530"}, "2023-11-14 16:43:20"),
        ({"tz": "America/New_York"}, "2023-11-14 17:13:20"),
    ]
    for params, shown in cases:
        one_second_later = shown[:-2] + "21"
        for path, headers in ((ADMIN_EXPORT, root.headers), (SELF_EXPORT, alice.headers)):
            rows = csv_rows(download(client, path, headers, **params))
            assert [row["time"] for row in rows] == [one_second_later, shown], (path, params)
            assert [row["cost_usd"] for row in rows] == ["0.000000", "2.469134"]
            assert [row["quota"] for row in rows] == ["0", "1234567"]


def test_formula_cells_are_neutralised_in_csv_but_not_in_jsonl(
    client: TestClient, db: Database, root: Account, ingest: Ingest
) -> None:
    mallory = make_user(db, "=mallory")
    ingest(
        [
            record(
                mallory,
                content='=HYPERLINK("http://evil.example","click")',
                token_name="+key",
                model_name="@model",
                group="-vip",
                request_id="\tr1",
                upstream_request_id="\rup",
                quota=0,
            )
        ]
    )
    for path, headers in ((ADMIN_EXPORT, root.headers), (SELF_EXPORT, mallory.headers)):
        (row,) = csv_rows(download(client, path, headers))
        assert row["content"] == '\'=HYPERLINK("http://evil.example","click")'
        assert row["username"] == "'=mallory"
        assert row["token_name"] == "'+key" and row["model_name"] == "'@model" and row["group"] == "'-vip"
        assert row["request_id"] == "'\tr1" and row["upstream_request_id"] == "'\rup"
        assert row["quota"] == "0" and row["prompt_tokens"] == "100"
        (line,) = jsonl_rows(download(client, path, headers, format="jsonl"))
        assert line["content"].startswith("=HYPERLINK") and line["username"] == "=mallory"
        assert line["request_id"] == "\tr1"


def test_empty_exports(client: TestClient, root: Account, alice: Account) -> None:
    for path, headers in ((ADMIN_EXPORT, root.headers), (SELF_EXPORT, alice.headers)):
        csv_response = download(client, path, headers)
        assert csv_response.content.decode("utf-8") == BOM + ",".join(CSV_COLUMNS) + "\r\n"
        assert csv_rows(csv_response) == []
        assert download(client, path, headers, format="jsonl").content == b""


# --- the self export: the user view, and nobody else's rows ----------------------------------------------


def test_self_export_is_the_self_list_row_for_row(
    client: TestClient, db: Database, alice: Account, bob: Account, dataset: list[dict[str, Any]]
) -> None:
    make_key(db, alice)
    for account in (alice, bob):
        mine = [r for r in dataset if r["user_id"] == account.id]
        expected = listed(client, SELF, account.headers)
        assert rids(expected) == rids(newest_first(mine))
        # An access token, then a session cookie.
        for http, headers in ((client, account.headers), (login_client(client, account), {})):
            rows = jsonl_rows(download(http, SELF_EXPORT, headers, format="jsonl"))
            assert rows == expected
            assert_user_view(rows)
            assert {row["user_id"] for row in rows} == {account.id}
        zone = timezone(timedelta(hours=-5, minutes=-30))
        table = csv_rows(download(client, SELF_EXPORT, account.headers, tz="-05:30"))
        assert_csv_is(table, expected, zone)
        assert [row["id"] for row in table] == [str(n) for n in range(1, len(mine) + 1)]
        assert {row["channel_name"] for row in table} == {""}
        assert not any("admin_info" in row["other"] or "audit_info" in row["other"] for row in table)
    with_key = jsonl_rows(download(client, SELF_EXPORT, alice.key_headers(), format="jsonl"))
    assert with_key == listed(client, SELF, alice.key_headers())


def test_self_export_never_shows_another_users_rows(
    client: TestClient, db: Database, alice: Account, bob: Account, dataset: list[dict[str, Any]]
) -> None:
    make_key(db, alice)
    theirs = {r["request_id"] for r in dataset if r["user_id"] == bob.id and r["request_id"]}
    mine = [r for r in dataset if r["user_id"] == alice.id]
    # Admin-only parameters are ignored: they never widen or change the caller's scope.
    for params in ({}, {"username": "bob"}, {"username": "%o%"}, {"channel": "77"}, {"user_id": str(bob.id)}):
        for headers in (alice.headers, alice.key_headers()):
            for fmt in ("csv", "jsonl"):
                response = download(client, SELF_EXPORT, headers, format=fmt, **params)
                rows: list[dict[str, Any]] = csv_rows(response) if fmt == "csv" else jsonl_rows(response)
                assert len(rows) == len(mine), params
                assert not theirs & {row.get("request_id", "") for row in rows}
                assert {str(row["user_id"]) for row in rows} == {str(alice.id)}
                assert "bob" not in response.content.decode("utf-8")


@pytest.fixture
def token_scope_client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"api_key_log_scope": "token"}), db)) as scoped:
        yield scoped


def test_token_scope_restricts_a_key_to_its_own_rows(
    token_scope_client: TestClient, db: Database, alice: Account, ingest: Ingest
) -> None:
    make_key(db, alice, "k1")
    make_key(db, alice, "k2")
    key_ids = [alice.keys["k1"][0], alice.keys["k2"][0]]
    records = [record(alice, created_at=T0 + n, token_id=key_ids[n % 2], request_id=f"k{n}") for n in range(20)]
    ingest(records)
    for name in ("k1", "k2"):
        headers = alice.key_headers(name)
        rows = jsonl_rows(download(token_scope_client, SELF_EXPORT, headers, format="jsonl"))
        own = [r for r in records if r["token_id"] == alice.keys[name][0]]
        assert rids(rows) == rids(newest_first(own))
        assert rows == listed(token_scope_client, SELF, headers)
    # The owner's access token is not restricted by the key scope.
    everything = jsonl_rows(download(token_scope_client, SELF_EXPORT, alice.headers, format="jsonl"))
    assert rids(everything) == rids(newest_first(records))


# --- filters ----------------------------------------------------------------------------------------------


ADMIN_FILTERS: list[dict[str, Any]] = [
    {"type": 5},
    {"type": 2, "model_name": "gpt-4o%"},
    {"model_name": "claude-3-haiku"},
    {"start_timestamp": T0 + 5, "end_timestamp": (T0 + 20) * 1000},
    {"username": "bob"},
    {"username": "al%"},
    {"token_name": "key-0", "group": "vip"},
    {"request_id": "r7"},
    {"upstream_request_id": "u11"},
]


@pytest.mark.parametrize("params", ADMIN_FILTERS, ids=str)
def test_admin_filters_select_what_the_list_selects(
    client: TestClient, root: Account, dataset: list[dict[str, Any]], params: dict[str, Any]
) -> None:
    expected = listed(client, ADMIN, root.headers, **params)
    assert 0 < len(expected) < len(dataset)
    assert jsonl_rows(download(client, ADMIN_EXPORT, root.headers, format="jsonl", **params)) == expected
    assert_csv_is(csv_rows(download(client, ADMIN_EXPORT, root.headers, **params)), expected, ZoneInfo("UTC"))


def test_admin_channel_filter(client: TestClient, root: Account, dataset: list[dict[str, Any]]) -> None:
    expected = listed(client, ADMIN, root.headers, channel=77)
    assert len(expected) == len([r for r in dataset if r["channel"] == 77])
    assert jsonl_rows(download(client, ADMIN_EXPORT, root.headers, format="jsonl", channel=77)) == expected


@pytest.mark.parametrize(
    "params",
    [{"type": 5}, {"model_name": "gpt-4o%"}, {"start_timestamp": T0 + 5, "end_timestamp": T0 + 20}, {"group": "vip"}],
    ids=str,
)
def test_self_filters_select_what_the_self_list_selects(
    client: TestClient, alice: Account, dataset: list[dict[str, Any]], params: dict[str, Any]
) -> None:
    expected = listed(client, SELF, alice.headers, **params)
    assert 0 < len(expected) < len([r for r in dataset if r["user_id"] == alice.id])
    rows = jsonl_rows(download(client, SELF_EXPORT, alice.headers, format="jsonl", **params))
    assert rows == expected
    # Positions count within the filtered result.
    assert [row["id"] for row in rows] == list(range(1, len(rows) + 1))


# --- failures ---------------------------------------------------------------------------------------------


BAD_PARAMS: list[tuple[dict[str, str], str]] = [
    ({"tz": "Mars/Olympus"}, "tz"),
    ({"tz": "+25:00"}, "tz"),
    ({"tz": "America"}, "tz"),
    ({"format": "xlsx"}, "format"),
    ({"type": "consume"}, "type"),
    ({"type": "99"}, "log type"),
    ({"model_name": "%a%"}, "model_name"),
    ({"start_timestamp": "yesterday"}, "start_timestamp"),
    ({"start_timestamp": "200", "end_timestamp": "100"}, "start_timestamp"),
    ({"request_id": "x" * 200}, "request_id"),
]


@pytest.mark.parametrize(("params", "named"), BAD_PARAMS, ids=lambda value: str(value)[:40])
def test_validation_failures_answer_the_envelope_before_streaming(
    client: TestClient, root: Account, alice: Account, params: dict[str, str], named: str
) -> None:
    for path, headers in ((ADMIN_EXPORT, root.headers), (SELF_EXPORT, alice.headers)):
        response = client.get(path, headers=headers, params=params)
        message = failure(response)
        assert named in message, message
        assert response.headers["content-type"] == "application/json"
        assert "content-disposition" not in response.headers


def test_bad_tz_says_what_is_accepted(client: TestClient, root: Account) -> None:
    message = failure(client.get(ADMIN_EXPORT, headers=root.headers, params={"tz": "Shanghai"}))
    assert "Asia/Shanghai" in message and "+08:00" in message


def test_who_may_export(client: TestClient, db: Database, alice: Account) -> None:
    make_key(db, alice)
    assert "insufficient privileges" in failure(client.get(ADMIN_EXPORT, headers=alice.headers), 403)
    assert "not logged in" in failure(client.get(ADMIN_EXPORT), 401)
    failure(client.get(ADMIN_EXPORT, headers=alice.key_headers()), 401)
    failure(client.get(ADMIN_EXPORT, headers={"Authorization": "Bearer nonsense-token"}), 401)
    assert "not logged in" in failure(client.get(SELF_EXPORT), 401)
    failure(client.get(SELF_EXPORT, headers={"Authorization": "Bearer sk-doesnotexist"}), 401)
    failure(client.get(SELF_EXPORT, headers=alice.headers | {"New-Api-User": "999"}), 401)
    # Authentication comes before validation.
    failure(client.get(ADMIN_EXPORT, headers=alice.headers, params={"tz": "nowhere"}), 403)
    assert download(client, SELF_EXPORT, alice.key_headers()).status_code == 200


def test_disabled_user_is_refused(client: TestClient, root: Account, alice: Account) -> None:
    data_of(client.post("/api/user/manage", json={"id": alice.id, "action": "disable"}, headers=root.headers))
    failure(client.get(SELF_EXPORT, headers=alice.headers), 403)


def test_a_database_failure_on_the_first_batch_is_an_envelope_not_a_truncated_file(
    settings: Settings, db: Database, root: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any) -> list[LogValues]:
        raise RuntimeError("the log database went away")

    monkeypatch.setattr(log_store, "list_batch", broken)
    with TestClient(create_app(settings, db), raise_server_exceptions=False) as http:
        response = http.get(ADMIN_EXPORT, headers=root.headers)
    assert "internal server error" in failure(response, 500)
