"""Log export formats (API.md §6): CSV and JSON Lines, the time zone of the CSV `time` column, and the
rules that keep a spreadsheet from executing a cell. Pure: rows in, text out."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from datetime import datetime, timedelta, tzinfo
from enum import Enum
from typing import Protocol

from tokenledger.domain.errors import Invalid
from tokenledger.domain.log import LogEntry, LogValues, View, strip_admin_keys, to_row, to_user_row
from tokenledger.domain.numbers import QUOTA_PER_UNIT

# §3's fields, with `time` (human-readable `created_at`) and `cost_usd` (quota in dollars) added.
CSV_COLUMNS = (
    "id",
    "user_id",
    "created_at",
    "time",
    "type",
    "content",
    "username",
    "token_name",
    "model_name",
    "quota",
    "cost_usd",
    "prompt_tokens",
    "completion_tokens",
    "use_time",
    "is_stream",
    "channel",
    "channel_name",
    "token_id",
    "group",
    "ip",
    "request_id",
    "upstream_request_id",
    "other",
)
BOM = "\ufeff"
# A text cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets (OWASP's list).
FORMULA_STARTS = frozenset("=+-@\t\r")
COST_DECIMALS = 6


class ExportFormat(Enum):
    CSV = "csv"
    JSONL = "jsonl"

    @property
    def media_type(self) -> str:
        return "text/csv; charset=utf-8" if self is ExportFormat.CSV else "application/x-ndjson; charset=utf-8"


def parse_format(raw: str | None) -> ExportFormat:
    """`csv` (the default when absent or empty) or `jsonl`, case-insensitive. Raises Invalid."""
    text = (raw or "").strip().lower()
    if not text:
        return ExportFormat.CSV
    try:
        return ExportFormat(text)
    except ValueError:
        raise Invalid(f"format must be csv or jsonl, got {raw!r}") from None


def export_filename(export_format: ExportFormat, now: int) -> str:
    """`logs-<UTC yyyymmdd-hhmmss>.csv` (or `.jsonl`)."""
    return f"logs-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(now))}.{export_format.value}"


def neutralize(text: str) -> str:
    """A text cell that a spreadsheet would run as a formula, quoted with a leading `'`."""
    return "'" + text if text[:1] in FORMULA_STARTS else text


def format_cost(quota: int, quota_per_unit: int = QUOTA_PER_UNIT) -> str:
    """Quota in dollars with six decimals, computed exactly (integers, rounding half away from zero):
    1234567 → '2.469134'."""
    scale = 10**COST_DECIMALS
    units, rest = divmod(abs(quota) * scale, quota_per_unit)
    if 2 * rest >= quota_per_unit:
        units += 1
    sign = "-" if quota < 0 and units else ""
    whole, fraction = divmod(units, scale)
    return f"{sign}{whole}.{fraction:0{COST_DECIMALS}d}"


_TWO_DIGITS = tuple(f"{number:02d}" for number in range(60))
# Past this many cached hours or minutes a cache starts over: an export visits them in order, once each.
_MAX_CACHED = 4096


class LocalTime:
    """Formats Unix seconds as `YYYY-MM-DD HH:MM:SS` in a time zone, fast: the zone's offset is looked up
    once per UTC hour and each minute is formatted once, so most rows cost a dict lookup and a
    concatenation. CsvEncoder's loop does what `__call__` does, inline."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self._offsets: dict[int, int | None] = {}
        # UTC minute (Unix seconds // 60) → its local `YYYY-MM-DD HH:MM:`, or "" when its seconds do not all
        # fall in one local minute (an offset with seconds, a change of offset, a date beyond `datetime`).
        self._minutes: dict[int, str] = {}

    def _offset(self, hour: int) -> int | None:
        """The zone's offset in seconds throughout this UTC hour, or None when it changes within it."""
        first = datetime.fromtimestamp(hour * 3600, self.tz).utcoffset()
        last = datetime.fromtimestamp(hour * 3600 + 3599, self.tz).utcoffset()
        if first is None or first != last:
            return None
        return int(first.total_seconds())

    def prefix(self, minute: int) -> str:
        """The local `YYYY-MM-DD HH:MM:` shared by every second of a UTC minute (Unix seconds // 60), or ""
        when they share none: the time is `prefix(seconds // 60) + f"{seconds % 60:02d}"`, or else
        `exactly(seconds)`."""
        known = self._minutes.get(minute)
        if known is not None:
            return known
        hour = minute // 60
        try:
            offset = self._offsets[hour]
        except KeyError:
            if len(self._offsets) >= _MAX_CACHED:
                self._offsets.clear()
            try:
                offset = self._offsets[hour] = self._offset(hour)
            except (OverflowError, ValueError, OSError):
                offset = None
        text = ""
        if offset is not None and offset % 60 == 0:
            with suppress(OverflowError):  # beyond what datetime can represent
                text = f"{datetime(1970, 1, 1) + timedelta(minutes=minute + offset // 60):%Y-%m-%d %H:%M}:"
        if len(self._minutes) >= _MAX_CACHED:
            self._minutes.clear()
        self._minutes[minute] = text
        return text

    def exactly(self, seconds: int) -> str:
        """The time computed by `datetime` alone ("" beyond what it can represent in this zone)."""
        try:
            return datetime.fromtimestamp(seconds, self.tz).strftime("%Y-%m-%d %H:%M:%S")
        except (OverflowError, ValueError, OSError):
            return ""

    def __call__(self, seconds: int) -> str:
        minute, second = divmod(seconds, 60)
        prefix = self.prefix(minute)
        return prefix + _TWO_DIGITS[second] if prefix else self.exactly(seconds)


class Encoder(Protocol):
    """Turns batches of rows into the export's text; `first_position` is the 1-based position of the
    batch's first row in the whole export (the user view's `id`)."""

    def header(self) -> str: ...

    def encode(self, rows: Sequence[LogValues], first_position: int) -> str: ...


class JsonlEncoder:
    """One §3 row per line, exactly the dicts the list endpoints return in `items`."""

    def __init__(self, view: View, channel_names: Mapping[int, str]) -> None:
        self.view = view
        self.channel_names = dict(channel_names)
        # What json.dumps(row, ensure_ascii=False, separators=(",", ":")) uses, built once.
        self._json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

    def header(self) -> str:
        return ""

    def encode(self, rows: Sequence[LogValues], first_position: int) -> str:
        dump = self._json.encode
        user_view = self.view is View.USER
        names = self.channel_names
        lines: list[str] = []
        # What `render` does, row by row: each entry and dict is gone before the next is built.
        for position, values in enumerate(rows, first_position):
            entry = LogEntry.of_values(values)
            lines.append(
                dump(to_user_row(entry, position) if user_view else to_row(entry, names.get(entry.channel, "")))
            )
            lines.append("\n")
        return "".join(lines)


def _text_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


class CsvEncoder:
    """A UTF-8 BOM and a header row, then one row per log: the §3 fields in order plus `time` (in `tz`)
    and `cost_usd`, lines ending in CRLF (RFC 4180). Text cells are always quoted, numeric ones never;
    empty request ids are empty cells; `is_stream` is `true`/`false`; a text cell that a spreadsheet would
    execute starts with `'`. The user view follows `to_user_row`: positions as ids, no channel name, no
    admin-only keys in `other`."""

    def __init__(
        self, view: View, channel_names: Mapping[int, str], tz: tzinfo, quota_per_unit: int = QUOTA_PER_UNIT
    ) -> None:
        self.view = view
        self.local_time = LocalTime(tz)
        self.quota_per_unit = quota_per_unit
        scale = 10**COST_DECIMALS
        # With New API's unit (500,000), a quota is a whole number of micro-dollars: quota * 2.
        self._micros_per_quota = scale // quota_per_unit if scale % quota_per_unit == 0 else 0
        # The `channel_name` cell of each channel, ready to write (the user view has none).
        self._name_cells = (
            {}
            if view is View.USER
            else {channel: _text_cell(neutralize(name)) for channel, name in channel_names.items()}
        )

    def header(self) -> str:
        return BOM + ",".join(CSV_COLUMNS) + "\r\n"

    def encode(self, rows: Sequence[LogValues], first_position: int) -> str:
        text = self._rows(rows, first_position, neutralise=False)
        # Every text cell is quoted and follows a comma, so one that starts with a formula character shows
        # as `,"=` (or `,"+`, …) in the text. A batch with such a sequence (or a look-alike inside a cell) is
        # encoded again with each cell checked: the search costs far less than checking every cell.
        if _FORMULA_CELL.search(text) is not None:
            text = self._rows(rows, first_position, neutralise=True)
        return text

    def _rows(self, rows: Sequence[LogValues], first_position: int, *, neutralise: bool) -> str:
        # The hot loop of an export, written for speed (csv.writer alone costs ~4 µs a row here): each row
        # is unpacked once and written by one f-string, every helper is bound to a local, and the `time`
        # cell is LocalTime's cached minute plus two digits, looked up here rather than through a call.
        local_time = self.local_time
        minutes = local_time._minutes
        two_digits = _TWO_DIGITS
        unit = self.quota_per_unit
        factor = self._micros_per_quota
        user_view = self.view is View.USER
        name_cells = self._name_cells
        no_name = '""'
        q, qq = '"', '""'
        lines: list[str] = []
        append = lines.append
        position = first_position
        for (
            log_id,
            user_id,
            created_at,
            log_type,
            content,
            username,
            token_name,
            model_name,
            quota,
            prompt_tokens,
            completion_tokens,
            use_time,
            is_stream,
            channel,
            token_id,
            group,
            ip,
            request_id,
            upstream_request_id,
            other,
        ) in rows:
            if user_view:
                log_id = position
                position += 1
                other = strip_admin_keys(other)
            if neutralise:
                content, username, token_name, model_name = map(neutralize, (content, username, token_name, model_name))
                group, ip, request_id, upstream_request_id = map(
                    neutralize, (group, ip, request_id, upstream_request_id)
                )
                other = neutralize(other)
            minute, second = divmod(created_at, 60)
            prefix = minutes.get(minute)
            if prefix is None:
                prefix = local_time.prefix(minute)
            when = prefix + two_digits[second] if prefix else local_time.exactly(created_at)
            if factor and quota >= 0:
                whole, micros = divmod(quota * factor, 1_000_000)
                cost = f"{whole}.{micros:06d}"
            else:
                cost = format_cost(quota, unit)
            append(
                f"{log_id},{user_id},{created_at},{when},{log_type},"
                f'"{content.replace(q, qq)}","{username.replace(q, qq)}","{token_name.replace(q, qq)}",'
                f'"{model_name.replace(q, qq)}",{quota},{cost},{prompt_tokens},{completion_tokens},'
                f"{use_time},{'true' if is_stream else 'false'},{channel},{name_cells.get(channel, no_name)},"
                f'{token_id},"{group.replace(q, qq)}","{ip.replace(q, qq)}","{request_id.replace(q, qq)}",'
                f'"{upstream_request_id.replace(q, qq)}","{other.replace(q, qq)}"\r\n'
            )
        return "".join(lines)


# A quoted cell starting with a formula character (see CsvEncoder.encode).
_FORMULA_CELL = re.compile(',"[' + re.escape("".join(sorted(FORMULA_STARTS))) + "]")


def make_encoder(export_format: ExportFormat, view: View, channel_names: Mapping[int, str], tz: tzinfo) -> Encoder:
    if export_format is ExportFormat.JSONL:
        return JsonlEncoder(view, channel_names)
    return CsvEncoder(view, channel_names, tz)
