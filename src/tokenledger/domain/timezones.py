"""Time zones callers choose for exports and charts: an IANA name (`Asia/Shanghai`) or a fixed UTC offset
(`+08:00`, `-0530`, `+8`, `UTC+8`, `GMT-3`)."""

from __future__ import annotations

import re
from datetime import UTC, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tokenledger.domain.errors import Invalid

_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*")
_MAX_NAME = 64
HELP = "an IANA time zone name such as Asia/Shanghai, or a UTC offset such as +08:00, -0530, +8 or UTC+8"


def parse(raw: str | None, name: str = "tz") -> tzinfo:
    """The zone a parameter names; absent or empty: UTC. Raises Invalid naming the parameter."""
    text = (raw or "").strip()
    if not text or text.upper() in ("UTC", "GMT", "Z"):
        return UTC
    match = _OFFSET.match(text)
    if match:
        sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
        if hours > 14 or minutes > 59 or (hours == 14 and minutes):
            raise Invalid(f"{name}: the UTC offset {text!r} is out of range (-14:00 to +14:00)")
        offset = timedelta(hours=hours, minutes=minutes)
        return timezone(-offset if sign == "-" else offset)
    if len(text) <= _MAX_NAME and _ZONE_NAME.fullmatch(text):
        try:
            return ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise Invalid(f"{name}: unknown time zone {text!r}; give {HELP}")


def label(zone: tzinfo) -> str:
    """How a zone is named back to the caller."""
    if isinstance(zone, ZoneInfo):
        return zone.key
    return str(zone)
