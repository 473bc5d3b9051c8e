"""Paging and log filters (API.md §1): lenient paging, strict filters, LIKE patterns, opaque cursors."""

from __future__ import annotations

import base64

import pytest

from tokenledger.domain.errors import Invalid
from tokenledger.domain.filters import (
    DEFAULT_PAGE_SIZE,
    Cursor,
    LogFilters,
    PageRequest,
    Scope,
    TextMatch,
    parse_filters,
    parse_int_id,
    parse_keyword,
    parse_log_type,
    parse_page,
    parse_text_match,
)
from tokenledger.domain.log import MAX_MODEL_NAME, MAX_TOKEN_NAME, LogType
from tokenledger.domain.numbers import MAX_ID

# --- parse_page -----------------------------------------------------------------------------------------


def test_parse_page_defaults() -> None:
    assert parse_page({}, 100) == PageRequest(page=1, page_size=DEFAULT_PAGE_SIZE, cursor=None)
    assert DEFAULT_PAGE_SIZE == 10


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", 1),
        ("2", 2),
        (" 3 ", 3),
        ("007", 7),
        ("0", 1),
        ("-1", 1),
        ("-99", 1),
        ("", 1),
        ("abc", 1),
        ("1.5", 1),
        ("1e3", 1),
        ("+2", 1),
        ("--2", 1),
        ("²", 1),
        ("9" * 13, 1),
    ],
)
def test_page_number_is_lenient(raw: str, expected: int) -> None:
    assert parse_page({"p": raw}, 100).page == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"page_size": "20"}, 20),
        ({"ps": "30"}, 30),
        ({"size": "40"}, 40),
        ({"page_size": "20", "ps": "30", "size": "40"}, 20),  # page_size wins over ps
        ({"ps": "30", "size": "40"}, 30),  # ps wins over size
        ({"page_size": "0", "ps": "30"}, 30),  # an unusable value falls through to the next alias
        ({"page_size": "abc", "size": "40"}, 40),
        ({"page_size": "0"}, DEFAULT_PAGE_SIZE),
        ({"page_size": "-5"}, DEFAULT_PAGE_SIZE),
        ({"page_size": "--5"}, DEFAULT_PAGE_SIZE),
        ({"page_size": "ten"}, DEFAULT_PAGE_SIZE),
        ({"page_size": ""}, DEFAULT_PAGE_SIZE),
        ({"page_size": "1"}, 1),
        ({"page_size": "100"}, 100),
        ({"page_size": "101"}, 100),  # capped
        ({"page_size": "999999999999"}, 100),
        ({"size": "5000"}, 100),
    ],
)
def test_page_size_aliases_defaults_and_cap(params: dict[str, str], expected: int) -> None:
    assert parse_page(params, 100).page_size == expected


def test_page_size_cap_is_the_operators() -> None:
    assert parse_page({"page_size": "50"}, 25).page_size == 25
    assert parse_page({}, 5).page_size == 5  # the default never exceeds the cap
    assert parse_page({"page_size": "3"}, 5).page_size == 3


def test_offset() -> None:
    assert parse_page({"p": "1", "page_size": "20"}, 100).offset == 0
    assert parse_page({"p": "3", "page_size": "20"}, 100).offset == 40
    assert PageRequest(page=2, page_size=7).offset == 7


def test_parse_page_reads_the_cursor() -> None:
    token = Cursor(1_700_000_000, 42, 10).encode()
    assert parse_page({"cursor": token}, 100).cursor == Cursor(1_700_000_000, 42, 10)
    assert parse_page({"cursor": f"  {token} "}, 100).cursor == Cursor(1_700_000_000, 42, 10)
    assert parse_page({"cursor": ""}, 100).cursor is None
    assert parse_page({"cursor": "   "}, 100).cursor is None


def test_parse_page_refuses_a_bad_cursor() -> None:
    with pytest.raises(Invalid, match="cursor"):
        parse_page({"cursor": "not-a-cursor"}, 100)


# --- Cursor ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cursor",
    [Cursor(0, 0, 0), Cursor(1_700_000_000, 1, 1), Cursor(1_700_000_000, 123_456_789, 99), Cursor(MAX_ID, MAX_ID, 5)],
)
def test_cursor_round_trips(cursor: Cursor) -> None:
    token = cursor.encode()
    assert Cursor.decode(token) == cursor
    assert "=" not in token and "+" not in token and "/" not in token  # safe in a query string unescaped


def test_cursor_is_opaque() -> None:
    token = Cursor(1_700_000_000, 42, 10).encode()
    assert "1700000000" not in token and ":" not in token


@pytest.mark.parametrize(
    "token",
    [
        "!!!",
        "é",
        base64.urlsafe_b64encode(b"1:2").decode(),
        base64.urlsafe_b64encode(b"1:2:3:4").decode(),
        base64.urlsafe_b64encode(b"a:b:c").decode(),
        base64.urlsafe_b64encode(b"-1:2:3").decode(),
        base64.urlsafe_b64encode(b"1:-2:3").decode(),
        base64.urlsafe_b64encode(b"1:2:-3").decode(),
        base64.urlsafe_b64encode(f"{MAX_ID + 1}:1:1".encode()).decode(),
        base64.urlsafe_b64encode(b"\xff\xfe:1:1").decode(),
        base64.urlsafe_b64encode(b"").decode(),
        "A",
    ],
)
def test_cursor_decode_refuses_garbage(token: str) -> None:
    with pytest.raises(Invalid, match="cursor is not valid"):
        Cursor.decode(token)


# --- parse_text_match -----------------------------------------------------------------------------------


def test_text_match_absent_or_empty_is_no_filter() -> None:
    assert parse_text_match("model_name", None, 10) is None
    assert parse_text_match("model_name", "", 10) is None


def test_text_match_exact_keeps_the_value_verbatim() -> None:
    assert parse_text_match("model_name", "gpt-4o_mini!", 64) == TextMatch("gpt-4o_mini!", is_pattern=False)
    assert parse_text_match("model_name", " spaced ", 64) == TextMatch(" spaced ")


@pytest.mark.parametrize(
    ("raw", "pattern"),
    [
        ("gpt%", "gpt%"),
        ("%4o", "%4o"),
        ("%gpt%", "%gpt%"),
        ("gpt%mini", "gpt%mini"),
        ("gpt_4%", "gpt!_4%"),  # `_` is a literal underscore, not a LIKE wildcard
        ("a!b%", "a!!b%"),  # the escape character itself is escaped
        ("%_!x", "%!_!!x"),
        ("ab%", "ab%"),
    ],
)
def test_text_match_pattern_escapes_underscore_and_bang(raw: str, pattern: str) -> None:
    assert parse_text_match("username", raw, 64) == TextMatch(pattern, is_pattern=True)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("%", "at least 2"),
        ("a%", "at least 2"),
        ("%a%", "at least 2"),
        ("%%", "%%"),
        ("ab%%", "%%"),
        ("%a%b%", "at most two"),
        ("%%%", "at most two"),
    ],
)
def test_text_match_pattern_limits(raw: str, reason: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_text_match("model_name", raw, 64)
    assert "model_name" in caught.value.message
    assert reason in caught.value.message


def test_text_match_length_limit_names_the_parameter() -> None:
    assert parse_text_match("username", "x" * 5, 5) == TextMatch("xxxxx")
    with pytest.raises(Invalid, match="username is too long"):
        parse_text_match("username", "x" * 6, 5)
    with pytest.raises(Invalid, match="too long"):
        parse_text_match("username", "%" + "x" * 5, 5)


# --- parse_log_type, parse_int_id, parse_keyword --------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [(None, 0), ("", 0), (" ", 0), ("0", 0), ("2", 2), (" 7 ", 7)])
def test_log_type(raw: str | None, expected: int) -> None:
    assert parse_log_type(raw) == LogType(expected)


@pytest.mark.parametrize("raw", ["8", "-1", "99", "consume", "2.0", "²", "--1", "1" * 13])
def test_log_type_refuses_unknown_values(raw: str) -> None:
    with pytest.raises(Invalid, match="type"):
        parse_log_type(raw)


@pytest.mark.parametrize(("raw", "expected"), [(None, None), ("", None), ("0", None), ("5", 5), (" 12 ", 12)])
def test_int_id(raw: str | None, expected: int | None) -> None:
    assert parse_int_id("channel", raw) == expected


@pytest.mark.parametrize("raw", ["-1", "abc", "1.0", "²", "9" * 19])
def test_int_id_refuses_non_integers(raw: str) -> None:
    with pytest.raises(Invalid, match="channel"):
        parse_int_id("channel", raw)


def test_keyword_is_trimmed_and_bounded() -> None:
    assert parse_keyword("  hello world ") == "hello world"
    assert parse_keyword("x" * 128) == "x" * 128
    for raw in (None, "", "   "):
        with pytest.raises(Invalid, match="keyword is required"):
            parse_keyword(raw)
    with pytest.raises(Invalid, match="too long"):
        parse_keyword("x" * 129)


# --- parse_filters --------------------------------------------------------------------------------------


def test_filters_empty() -> None:
    assert parse_filters({}, Scope.ADMIN) == LogFilters()
    assert parse_filters({}, Scope.SELF) == LogFilters()


def test_filters_admin_reads_everything() -> None:
    params = {
        "type": "2",
        "start_timestamp": "1700000000000",
        "end_timestamp": "1700003600",
        "username": "ali%",
        "token_name": "laptop",
        "model_name": "gpt-4o",
        "channel": "3",
        "group": "vip",
        "request_id": "req-1",
        "upstream_request_id": "up-1",
    }
    filters = parse_filters(params, Scope.ADMIN)
    assert filters == LogFilters(
        type=LogType.CONSUME,
        start_timestamp=1_700_000_000,
        end_timestamp=1_700_003_600,
        username=TextMatch("ali%", is_pattern=True),
        token_name="laptop",
        model_name=TextMatch("gpt-4o"),
        channel=3,
        group="vip",
        request_id="req-1",
        upstream_request_id="up-1",
    )


def test_filters_self_ignores_admin_only_parameters() -> None:
    params = {"username": "bob", "channel": "3", "user_id": "7", "token_id": "9", "model_name": "gpt%"}
    filters = parse_filters(params, Scope.SELF)
    assert filters.username is None and filters.channel is None
    assert filters.user_id is None and filters.token_id is None
    assert filters.model_name == TextMatch("gpt%", is_pattern=True)
    # Even garbage in an admin-only parameter cannot fail a self request: it is never read.
    assert parse_filters({"channel": "abc", "username": "%"}, Scope.SELF) == LogFilters()


def test_filters_admin_never_takes_user_or_token_ids_from_the_caller() -> None:
    filters = parse_filters({"user_id": "7", "token_id": "9"}, Scope.ADMIN)
    assert filters.user_id is None and filters.token_id is None


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"type": "x"}, "type"),
        ({"start_timestamp": "yesterday"}, "start_timestamp"),
        ({"end_timestamp": "-1"}, "end_timestamp"),
        ({"start_timestamp": "200", "end_timestamp": "100"}, "start_timestamp"),
        ({"channel": "abc"}, "channel"),
        ({"model_name": "%"}, "model_name"),
        ({"username": "%a%b%"}, "username"),
        ({"token_name": "x" * (MAX_TOKEN_NAME + 1)}, "token_name"),
        ({"model_name": "x" * (MAX_MODEL_NAME + 1)}, "model_name"),
        ({"group": "x" * 1000}, "group"),
        ({"request_id": "x" * 1000}, "request_id"),
        ({"upstream_request_id": "x" * 1000}, "upstream_request_id"),
    ],
)
def test_filters_refuse_bad_values_naming_them(params: dict[str, str], named: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_filters(params, Scope.ADMIN)
    assert named in caught.value.message


def test_filters_time_window_bounds() -> None:
    same = parse_filters({"start_timestamp": "100", "end_timestamp": "100"}, Scope.SELF)
    assert same.start_timestamp == same.end_timestamp == 100
    # One bound alone, or a zero bound, is never "start after end".
    assert parse_filters({"start_timestamp": "200", "end_timestamp": "0"}, Scope.SELF).start_timestamp == 200
    assert parse_filters({"end_timestamp": "50"}, Scope.SELF).end_timestamp == 50
    # Mixed units compare after normalisation: 1 700 000 000 500 ms is 1 700 000 000 s, after the end.
    with pytest.raises(Invalid, match="start_timestamp"):
        parse_filters({"start_timestamp": "1700000000500", "end_timestamp": "1699999999"}, Scope.SELF)
    both = parse_filters({"start_timestamp": "1700000000500", "end_timestamp": "1700000000"}, Scope.SELF)
    assert both.start_timestamp == both.end_timestamp == 1_700_000_000


def test_filters_exact_text_is_exact() -> None:
    filters = parse_filters({"token_name": "a%b", "group": "g_1", "request_id": "%"}, Scope.SELF)
    assert filters.token_name == "a%b" and filters.group == "g_1" and filters.request_id == "%"


def test_filters_scoping() -> None:
    base = parse_filters({"type": "2"}, Scope.SELF)
    mine = base.scoped_to_user(5)
    assert mine.user_id == 5 and mine.token_id is None and mine.type is LogType.CONSUME
    keyed = base.scoped_to_key(5, 9)
    assert keyed.user_id == 5 and keyed.token_id == 9
    assert base.user_id is None  # frozen: scoping returns a copy
