"""Timestamp parameters (API.md §1): seconds or milliseconds, 0/absent unbounded, garbage refused clearly."""

from __future__ import annotations

import time

import pytest

from tokenledger.domain import timestamps
from tokenledger.domain.errors import Invalid
from tokenledger.domain.timestamps import MAX_SECONDS, MILLISECONDS_THRESHOLD, normalize, parse


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, 0),
        ("", 0),
        ("   ", 0),
        ("0", 0),
        ("-0", 0),
        (0, 0),
        ("1700000000", 1_700_000_000),
        (" 1700000000 ", 1_700_000_000),
        ("001700000000", 1_700_000_000),
        (1_700_000_000, 1_700_000_000),
        ("1700000000123", 1_700_000_000),  # ms
        ("1700000000999", 1_700_000_000),  # ms round down, never up
        (1_700_000_000_999, 1_700_000_000),
        ("1", 1),
        (str(MILLISECONDS_THRESHOLD - 1), MILLISECONDS_THRESHOLD - 1),  # the last value read as seconds
        (str(MILLISECONDS_THRESHOLD), MILLISECONDS_THRESHOLD // 1000),  # the first value read as ms
        (str(MAX_SECONDS), MAX_SECONDS // 1000),  # at or past the threshold a value is always ms
        (str(MAX_SECONDS * 1000 + 999), MAX_SECONDS),  # the largest accepted: the end of year 9999, in ms
    ],
)
def test_parse_accepts_seconds_and_milliseconds(raw: str | int | None, expected: int) -> None:
    assert parse("start_timestamp", raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "abc",
        "1.5",
        "1e9",
        "1,700,000,000",
        "0x10",
        "+5",
        "--5",
        "-",
        "5-",
        "1 2",
        "²",
        "١٧٠٠٠٠٠٠٠٠",  # Arabic-Indic digits: int() reads them, the contract does not
        "1" * 21,
        "NaN",
        "true",
        True,
        False,
    ],
)
def test_parse_refuses_garbage_naming_the_parameter(raw: str | bool) -> None:
    with pytest.raises(Invalid) as caught:
        parse("end_timestamp", raw)
    assert "end_timestamp" in caught.value.message
    assert caught.value.http_status == 200


@pytest.mark.parametrize("raw", ["-1", "-1700000000", -1, -(10**12)])
def test_parse_refuses_negative(raw: str | int) -> None:
    with pytest.raises(Invalid, match="negative") as caught:
        parse("start_timestamp", raw)
    assert "start_timestamp" in caught.value.message


@pytest.mark.parametrize("raw", [str((MAX_SECONDS + 1) * 1000), "9" * 20, 10**30, (MAX_SECONDS + 1) * 1000])
def test_parse_refuses_past_year_9999(raw: str | int) -> None:
    with pytest.raises(Invalid, match="too large"):
        parse("target_timestamp", raw)


def test_message_shows_what_was_sent() -> None:
    with pytest.raises(Invalid) as caught:
        parse("start_timestamp", "yesterday")
    assert "yesterday" in caught.value.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (1, 1),
        (MILLISECONDS_THRESHOLD - 1, MILLISECONDS_THRESHOLD - 1),
        (MILLISECONDS_THRESHOLD, 100_000_000),
        (1_700_000_000_000, 1_700_000_000),
        (1_700_000_000_001, 1_700_000_000),
        (1_700_000_000_999, 1_700_000_000),
    ],
)
def test_normalize(value: int, expected: int) -> None:
    assert normalize(value) == expected


def test_normalize_is_idempotent_on_seconds() -> None:
    for value in (1, 1_700_000_000, MILLISECONDS_THRESHOLD - 1):
        assert normalize(normalize(value)) == normalize(value) == value


def test_now_is_unix_seconds() -> None:
    before = int(time.time())
    current = timestamps.now()
    after = int(time.time())
    assert isinstance(current, int)
    assert before <= current <= after
    assert current < MILLISECONDS_THRESHOLD
