"""Timestamp parsing: every timestamp parameter accepts Unix seconds or milliseconds."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from tokenledger.domain.errors import Invalid
from tokenledger.domain.numbers import is_decimal

# A value at or above this is taken as milliseconds: 10^11 seconds is the year 5138.
MILLISECONDS_THRESHOLD = 100_000_000_000
# Largest accepted value after normalisation (year 9999), so nothing overflows a BIGINT or a datetime.
MAX_SECONDS = 253_402_300_799


def normalize(value: int) -> int:
    """Return Unix seconds for a value in seconds or milliseconds (ms are divided by 1000, rounding down)."""
    if value >= MILLISECONDS_THRESHOLD:
        return value // 1000
    return value


def parse(name: str, raw: str | int | None) -> int:
    """Parse a timestamp parameter; 0, empty or absent gives 0 (unbounded). Raises Invalid on garbage."""
    if raw is None:
        return 0
    if isinstance(raw, bool):
        raise Invalid(f"{name} must be a Unix timestamp in seconds or milliseconds, got {raw!r}")
    if isinstance(raw, int):
        value = raw
    else:
        text = raw.strip()
        if text == "":
            return 0
        if not is_decimal(text.removeprefix("-")) or len(text) > 20:
            raise Invalid(f"{name} must be a Unix timestamp in seconds or milliseconds, got {raw!r}")
        value = int(text)
    if value < 0:
        raise Invalid(f"{name} must not be negative, got {value}")
    seconds = normalize(value)
    if seconds > MAX_SECONDS:
        raise Invalid(f"{name} is too large: {value} is past the year 9999")
    return seconds


def now() -> int:
    return int(time.time())


def parse_moment(name: str, raw: str) -> int:
    """A moment typed by a person: Unix seconds or milliseconds, or an ISO date or date-time (`2026-10-01`,
    `2026-10-01T08:00`, `2026-10-01 08:00:00+08:00`), taken as UTC unless it names an offset."""
    text = raw.strip()
    if is_decimal(text):
        return parse(name, text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(
            f"{name} must be a date (2026-10-01), a date-time (2026-10-01T08:00:00+08:00) or a Unix timestamp, "
            f"got {raw!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return parse(name, int(moment.timestamp()))
