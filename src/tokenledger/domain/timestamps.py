"""Timestamp parsing: every timestamp parameter accepts Unix seconds or milliseconds."""

from __future__ import annotations

import math
import time
from datetime import UTC, date, datetime, timedelta, tzinfo

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


def parse_moment(name: str, raw: str | None, tz: tzinfo = UTC, *, end: bool = False) -> int:
    """A time filter given as Unix seconds or milliseconds, or as an ISO date or date-time (read in `tz`
    unless it carries its own offset). A bare date as an `end` bound means the end of that day, so
    `--start 2024-05-01 --end 2024-05-31` covers all of May. Returns Unix seconds; 0 when absent."""
    text = (raw or "").strip()
    if not text or is_decimal(text.removeprefix("-")):
        return parse(name, text)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise Invalid(
                f"{name} must be Unix seconds or milliseconds, or an ISO date or date-time such as 2024-05-01 "
                f"or 2024-05-01T08:00:00+08:00; got {raw!r}"
            ) from None
    else:
        # Wall-clock arithmetic: the last second of that local day, whatever its length.
        moment = datetime(day.year, day.month, day.day, tzinfo=tz) + (
            timedelta(days=1, seconds=-1) if end else timedelta()
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    seconds = math.floor(moment.timestamp())
    if not 0 <= seconds < MILLISECONDS_THRESHOLD:
        raise Invalid(f"{name} is out of range: {raw!r} is before 1970 or too far in the future")
    return seconds
