"""The two views of a log row (API.md §3): admin rows with every field in order, user rows that hide the
channel name, admin-only `other` keys and the global id."""

from __future__ import annotations

import json

import pytest

from tests.api.helpers import ADMIN_ROW_KEYS
from tokenledger.domain.log import LogEntry, View, render, strip_admin_keys, to_row, to_user_row

FIELDS = ADMIN_ROW_KEYS

OTHER = json.dumps(
    {"model_ratio": 0.08, "frt": 350, "admin_info": {"use_channel": ["3"]}, "audit_info": {"by": "x"}, "note": "é"}
)


def entry(**fields: object) -> LogEntry:
    base: dict[str, object] = {
        "id": 9001,
        "user_id": 7,
        "created_at": 1_700_000_000,
        "type": 2,
        "content": "model ratio 0.08",
        "username": "alice",
        "token_name": "laptop",
        "model_name": "gpt-4o-mini",
        "quota": 150,
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "use_time": 3,
        "is_stream": True,
        "channel": 3,
        "token_id": 12,
        "group": "vip",
        "ip": "10.0.0.1",
        "request_id": "req-1",
        "upstream_request_id": "up-1",
        "other": OTHER,
    }
    base.update(fields)
    return LogEntry(**base)  # type: ignore[arg-type]


# --- to_row ---------------------------------------------------------------------------------------------


def test_admin_row_has_every_field_in_the_contracts_order() -> None:
    row = to_row(entry(), "openai-main")
    assert list(row) == FIELDS
    assert row["id"] == 9001 and row["channel"] == 3 and row["channel_name"] == "openai-main"
    assert row["other"] == OTHER  # admins see `other` untouched
    assert row["is_stream"] is True
    assert "channel_id" not in row


def test_admin_row_copies_each_field() -> None:
    source = entry()
    row = to_row(source, "c")
    for name in FIELDS:
        if name != "channel_name":
            assert row[name] == getattr(source, name), name


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ({"request_id": ""}, {"request_id"}),
        ({"upstream_request_id": ""}, {"upstream_request_id"}),
        ({"request_id": "", "upstream_request_id": ""}, {"request_id", "upstream_request_id"}),
    ],
)
def test_empty_request_ids_are_omitted(fields: dict[str, str], missing: set[str]) -> None:
    row = to_row(entry(**fields), "")
    assert list(row) == [name for name in FIELDS if name not in missing]


def test_other_is_always_a_string() -> None:
    assert to_row(entry(other=""), "")["other"] == ""
    assert isinstance(to_row(entry(), "")["other"], str)


# --- to_user_row ----------------------------------------------------------------------------------------


def test_user_row_hides_what_users_may_not_see() -> None:
    row = to_user_row(entry(), position=4)
    assert list(row) == FIELDS
    assert row["id"] == 4  # the position, never the global id
    assert row["channel_name"] == ""
    other = json.loads(row["other"])
    assert "admin_info" not in other and "audit_info" not in other
    assert other == {"model_ratio": 0.08, "frt": 350, "note": "é"}
    assert "é" in row["other"]  # kept readable, not \u-escaped


def test_user_row_keeps_everything_else() -> None:
    source = entry()
    row = to_user_row(source, 1)
    for name in FIELDS:
        if name not in ("id", "channel_name", "other"):
            assert row[name] == getattr(source, name), name


def test_user_row_does_not_change_the_entry() -> None:
    source = entry()
    to_user_row(source, 1)
    assert source.id == 9001 and source.other == OTHER


def test_user_row_omits_empty_request_ids_too() -> None:
    row = to_user_row(entry(request_id="", upstream_request_id=""), 1)
    assert "request_id" not in row and "upstream_request_id" not in row


# --- strip_admin_keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "other",
    [
        "",
        "{}",
        '{"model_ratio": 0.08}',
        "not json at all",
        "[1, 2, 3]",
        '"a string"',
        "null",
        '["admin_info"]',  # an array: not an object, left as is
        "{broken admin_info",  # not JSON: left as is
    ],
)
def test_strip_leaves_values_without_admin_keys_alone(other: str) -> None:
    assert strip_admin_keys(other) == other


def test_strip_removes_both_keys() -> None:
    assert json.loads(strip_admin_keys(OTHER)) == {"model_ratio": 0.08, "frt": 350, "note": "é"}
    assert strip_admin_keys('{"admin_info": {"x": 1}}') == "{}"
    assert strip_admin_keys('{"audit_info": 1, "a": 2}') == '{"a":2}'


def test_strip_keeps_the_word_in_values() -> None:
    stripped = json.loads(strip_admin_keys('{"note": "see admin_info", "admin_info": 1}'))
    assert stripped == {"note": "see admin_info"}
    assert json.loads(strip_admin_keys('{"note": "admin_info"}')) == {"note": "admin_info"}


def test_strip_removes_keys_spelled_with_escapes() -> None:
    # `\u005f` is `_`: any JSON reader sees the key admin_info, so it must go too.
    stripped = strip_admin_keys('{"admin\\u005finfo": {"use_channel": ["3"]}, "a": 1}')
    assert json.loads(stripped) == {"a": 1}
    stripped = strip_admin_keys('{"\\u0061udit_info": 1}')
    assert json.loads(stripped) == {}


def test_strip_handles_duplicate_keys() -> None:
    assert json.loads(strip_admin_keys('{"admin_info": 1, "admin_info": 2, "a": 3}')) == {"a": 3}


def test_strip_keeps_unicode_and_nested_values() -> None:
    other = json.dumps({"admin_info": 1, "tier": {"name": "金", "ratios": [1, 2.5]}}, ensure_ascii=False)
    assert json.loads(strip_admin_keys(other)) == {"tier": {"name": "金", "ratios": [1, 2.5]}}
    assert "金" in strip_admin_keys(other)


def test_strip_keeps_numbers_exactly() -> None:
    other = '{"admin_info": 1, "small": 1e-05, "big": 123456789012345678901234567890, "neg": -0.0, "r": 0.1}'
    stripped = json.loads(strip_admin_keys(other))
    assert stripped == {"small": 1e-05, "big": 123456789012345678901234567890, "neg": -0.0, "r": 0.1}
    assert repr(stripped["neg"]) == "-0.0"


def test_strip_handles_what_only_the_json_module_reads() -> None:
    # A lone surrogate escape is valid JSON to Python's reader but not to a strict UTF-8 one.
    assert json.loads(strip_admin_keys('{"admin_info": 1, "a": "\\ud800"}')) == {"a": "\ud800"}
    assert json.loads(strip_admin_keys('{"audit_info": 1, "a": NaN}')).keys() == {"a"}


# --- render ---------------------------------------------------------------------------------------------


def test_render_admin_fills_channel_names() -> None:
    rows = render([entry(channel=3), entry(channel=4), entry(channel=0)], View.ADMIN, {3: "a", 4: "b"})
    assert [row["channel_name"] for row in rows] == ["a", "b", ""]
    assert [row["id"] for row in rows] == [9001, 9001, 9001]


def test_render_user_numbers_rows_from_the_first_position() -> None:
    rows = render([entry(id=50), entry(id=40), entry(id=30)], View.USER, {3: "secret-name"}, first_position=11)
    assert [row["id"] for row in rows] == [11, 12, 13]
    assert all(row["channel_name"] == "" for row in rows)
    assert all("admin_info" not in row["other"] for row in rows)


def test_render_nothing() -> None:
    assert render([], View.ADMIN, {}) == [] == render([], View.USER, {})
