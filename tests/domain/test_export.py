"""Export formats (API.md §6): format and time zone parsing, the CSV `time` and `cost_usd` columns, formula
neutralising, and CSV/JSONL rows that carry exactly the list endpoint's views."""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import fields
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import cast
from zoneinfo import ZoneInfo

import pytest

from tests.api.helpers import ADMIN_ROW_KEYS
from tokenledger.domain.errors import Invalid
from tokenledger.domain.export import (
    BOM,
    CSV_COLUMNS,
    CsvEncoder,
    ExportFormat,
    JsonlEncoder,
    LocalTime,
    LogValues,
    export_filename,
    format_cost,
    make_encoder,
    neutralize,
    parse_format,
)
from tokenledger.domain.log import LogEntry, View, render, to_row, to_user_row
from tokenledger.domain.timestamps import parse_moment
from tokenledger.domain.timezones import parse as parse_tz

OTHER = json.dumps({"model_ratio": 2.5, "admin_info": {"use_channel": ["3"]}, "audit_info": {"by": "x"}, "note": "é"})


def entry(**fields: object) -> LogEntry:
    base: dict[str, object] = {
        "id": 9001,
        "user_id": 7,
        "created_at": 1_700_000_000,
        "type": 2,
        "content": "model ratio 2.50, completion ratio 4.00",
        "username": "alice",
        "token_name": "laptop",
        "model_name": "gpt-4o-mini",
        "quota": 1_234_567,
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "use_time": 3,
        "is_stream": True,
        "channel": 3,
        "token_id": 12,
        "group": "vip",
        "ip": "10.0.0.1",
        "request_id": "req-1",
        "upstream_request_id": "",
        "other": OTHER,
    }
    base.update(fields)
    return LogEntry(**base)  # type: ignore[arg-type]


def values(entries: list[LogEntry]) -> list[LogValues]:
    """Entries as the store hands them to an export."""
    return [cast(LogValues, tuple(getattr(entry, field.name) for field in fields(LogEntry))) for entry in entries]


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


# --- format, time zone, time bounds ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, ExportFormat.CSV), ("", ExportFormat.CSV), ("csv", ExportFormat.CSV), (" JSONL ", ExportFormat.JSONL)],
)
def test_format_defaults_to_csv(raw: str | None, expected: ExportFormat) -> None:
    assert parse_format(raw) is expected


@pytest.mark.parametrize("raw", ["xlsx", "json", "csv,jsonl"])
def test_unknown_format_names_the_parameter(raw: str) -> None:
    with pytest.raises(Invalid, match="format must be csv or jsonl"):
        parse_format(raw)


def test_media_types() -> None:
    assert ExportFormat.CSV.media_type == "text/csv; charset=utf-8"
    assert ExportFormat.JSONL.media_type.startswith("application/x-ndjson")


@pytest.mark.parametrize(
    ("raw", "minutes"),
    [
        ("+08:00", 480),
        ("+0800", 480),
        ("+8", 480),
        ("UTC+8", 480),
        ("utc+08:00", 480),
        ("GMT-3", -180),
        ("-05:30", -330),
        ("-0530", -330),
        ("+05:45", 345),
        ("+14:00", 840),
        ("-14", -840),
    ],
)
def test_utc_offsets(raw: str, minutes: int) -> None:
    zone = parse_tz(raw)
    assert zone.utcoffset(datetime(2024, 1, 1)) == timedelta(minutes=minutes)


@pytest.mark.parametrize("raw", [None, "", " ", "UTC", "utc", "Z", "GMT", "+00:00", "-0"])
def test_utc_is_the_default(raw: str | None) -> None:
    assert parse_tz(raw).utcoffset(datetime(2024, 7, 1)) == timedelta(0)


def test_iana_names() -> None:
    assert parse_tz("Asia/Shanghai") == ZoneInfo("Asia/Shanghai")
    assert parse_tz(" America/New_York ") == ZoneInfo("America/New_York")
    # POSIX-style names mean the opposite sign; the IANA database is followed as it is.
    assert parse_tz("Etc/GMT+8").utcoffset(datetime(2024, 1, 1)) == timedelta(hours=-8)


@pytest.mark.parametrize(
    "raw",
    ["Mars/Olympus", "America", "Asia/", "../etc/passwd", "/etc/localtime", "+25:00", "+08:60", "+15", "8", "x" * 100],
)
def test_bad_tz_names_the_parameter_and_what_it_accepts(raw: str) -> None:
    with pytest.raises(Invalid) as raised:
        parse_tz(raw)
    message = raised.value.message
    assert "tz" in message
    assert ("Asia/Shanghai" in message and "+08:00" in message) or "-14:00 to +14:00" in message


SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("raw", "end", "expected"),
    [
        ("1700000000", False, 1_700_000_000),
        ("1700000000123", False, 1_700_000_000),  # milliseconds
        ("", False, 0),
        (None, True, 0),
        ("2024-05-01", False, int(datetime(2024, 5, 1, tzinfo=SHANGHAI).timestamp())),
        ("2024-05-01", True, int(datetime(2024, 5, 1, 23, 59, 59, tzinfo=SHANGHAI).timestamp())),
        ("2024-05-01T08:30:00", True, int(datetime(2024, 5, 1, 8, 30, tzinfo=SHANGHAI).timestamp())),
        ("2024-05-01 08:30:00+00:00", False, int(datetime(2024, 5, 1, 8, 30, tzinfo=UTC).timestamp())),
        ("2024-05-01T00:00:00Z", False, int(datetime(2024, 5, 1, tzinfo=UTC).timestamp())),
    ],
)
def test_time_bounds_read_iso_in_the_zone(raw: str | None, end: bool, expected: int) -> None:
    assert parse_moment("--start", raw, SHANGHAI, end=end) == expected


@pytest.mark.parametrize("raw", ["yesterday", "2024-13-01", "1969-12-31", "-5", "2024-05-01T25:00"])
def test_bad_time_bound_names_the_option(raw: str) -> None:
    with pytest.raises(Invalid, match="--end"):
        parse_moment("--end", raw, UTC, end=True)


def test_filename_is_the_utc_moment() -> None:
    assert export_filename(ExportFormat.CSV, 1_700_000_000) == "logs-20231114-221320.csv"
    assert export_filename(ExportFormat.JSONL, 0) == "logs-19700101-000000.jsonl"


# --- cells ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quota", "expected"),
    [
        (0, "0.000000"),
        (1, "0.000002"),
        (500_000, "1.000000"),
        (1_234_567, "2.469134"),
        (-1, "-0.000002"),
        (-750_000, "-1.500000"),
        (2**62, "9223372036854.775808"),
    ],
)
def test_cost_is_quota_over_the_unit_exactly(quota: int, expected: str) -> None:
    assert format_cost(quota) == expected


def test_cost_rounds_half_away_from_zero_for_other_units() -> None:
    assert format_cost(1, 3) == "0.333333"
    assert format_cost(2, 3) == "0.666667"
    assert format_cost(-2, 3) == "-0.666667"
    assert format_cost(1, 2_000_000) == "0.000001"  # 0.0000005 rounds up


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=1", "a=1"),
        ("", ""),
        (" =1", " =1"),
    ],
)
def test_neutralize(text: str, expected: str) -> None:
    assert neutralize(text) == expected


def reference_time(seconds: int, zone: tzinfo) -> str:
    return datetime.fromtimestamp(seconds, zone).strftime("%Y-%m-%d %H:%M:%S")


@pytest.mark.parametrize(
    "zone",
    [
        UTC,
        ZoneInfo("Asia/Shanghai"),
        ZoneInfo("America/New_York"),
        ZoneInfo("Europe/London"),
        ZoneInfo("Australia/Lord_Howe"),  # a 30-minute daylight saving shift
        ZoneInfo("Asia/Kathmandu"),  # +05:45
        ZoneInfo("Africa/Monrovia"),  # -00:44:30 until 1972: an offset with seconds
        timezone(timedelta(hours=-5, minutes=-30)),
    ],
    ids=str,
)
def test_local_time_agrees_with_datetime_everywhere(zone: tzinfo) -> None:
    local = LocalTime(zone)
    rng = random.Random(7)
    # Newest first like an export, through daylight-saving changes, plus a spread from 1970 to 2100.
    dense = list(range(1_711_846_800 + 7200, 1_711_846_800 - 7200, -7))  # around 2024-03-31 01:00 UTC
    dense += list(range(1_699_146_000 + 7200, 1_699_146_000 - 7200, -13))  # around 2023-11-05 (New York)
    spread = [rng.randrange(0, 4_102_444_800) for _ in range(3000)] + [0, 59, 60, 3599, 3600, 63_072_000]
    for seconds in dense + spread:
        assert local(seconds) == reference_time(seconds, zone), seconds


def test_local_time_cache_stays_bounded() -> None:
    local = LocalTime(ZoneInfo("Europe/Paris"))
    for seconds in range(1_700_000_000, 1_700_000_000 - 20_000 * 60, -60):
        local(seconds)
    assert len(local._minutes) <= 4096 and len(local._offsets) <= 4096


# --- CSV --------------------------------------------------------------------------------------------------


def test_csv_header_is_the_contract_fields_with_time_and_cost() -> None:
    encoder = CsvEncoder(View.ADMIN, {}, UTC)
    header = encoder.header()
    assert header.startswith(BOM)
    (columns,) = parse_csv(header.removeprefix(BOM))
    assert columns == list(CSV_COLUMNS)
    expected = list(ADMIN_ROW_KEYS)
    expected.insert(expected.index("created_at") + 1, "time")
    expected.insert(expected.index("quota") + 1, "cost_usd")
    assert columns == expected


def csv_rows(encoder: CsvEncoder, entries: list[LogEntry], first_position: int = 1) -> list[dict[str, str]]:
    text = encoder.encode(values(entries), first_position)
    return [dict(zip(CSV_COLUMNS, cells, strict=True)) for cells in parse_csv(text)]


def test_csv_admin_row_matches_the_admin_view() -> None:
    source = entry(content='said "hi", then\nleft', upstream_request_id="up-9")
    (row,) = csv_rows(CsvEncoder(View.ADMIN, {3: "azure-east"}, ZoneInfo("Asia/Shanghai")), [source])
    view = to_row(source, "azure-east")
    for key, value in view.items():
        expected = {True: "true", False: "false"}.get(value, str(value)) if not isinstance(value, str) else value
        assert row[key] == expected, key
    assert row["time"] == "2023-11-15 06:13:20"
    assert row["cost_usd"] == "2.469134"
    assert row["other"] == OTHER  # admins see `other` untouched


def test_csv_user_row_matches_the_user_view() -> None:
    sources = [entry(id=500 + n, created_at=1_700_000_000 - n, channel=3) for n in range(3)]
    rows = csv_rows(CsvEncoder(View.USER, {3: "azure-east"}, UTC), sources, first_position=41)
    for position, (row, source) in enumerate(zip(rows, sources, strict=True), start=41):
        view = to_user_row(source, position)
        assert row["id"] == str(position) == str(view["id"])
        assert row["channel_name"] == "" and row["channel"] == "3"
        assert row["other"] == view["other"]
        assert "admin_info" not in row["other"] and "audit_info" not in row["other"]
        assert json.loads(row["other"]) == {"model_ratio": 2.5, "note": "é"}


def test_csv_empty_request_ids_are_empty_cells_and_is_stream_is_a_word() -> None:
    (row,) = csv_rows(CsvEncoder(View.ADMIN, {}, UTC), [entry(request_id="", is_stream=False, channel=99)])
    assert row["request_id"] == "" and row["upstream_request_id"] == ""
    assert row["is_stream"] == "false"
    assert row["channel_name"] == ""  # a channel that no longer exists


def test_csv_neutralises_formulas_in_text_cells_only() -> None:
    source = entry(
        content='=HYPERLINK("http://x","click")',
        username="+alice",
        token_name="-key",
        model_name="@model",
        group="\tvip",
        ip="\r10.0.0.1",
        request_id="=r",
        upstream_request_id="+u",
        other="-not json",
        quota=-1000,
        completion_tokens=5,
    )
    (row,) = csv_rows(CsvEncoder(View.ADMIN, {3: "=cmd|' /C calc'!A0"}, UTC), [source])
    assert row["content"] == '\'=HYPERLINK("http://x","click")'
    assert row["username"] == "'+alice" and row["token_name"] == "'-key" and row["model_name"] == "'@model"
    assert row["group"] == "'\tvip" and row["ip"] == "'\r10.0.0.1"
    assert row["request_id"] == "'=r" and row["upstream_request_id"] == "'+u" and row["other"] == "'-not json"
    assert row["channel_name"] == "'=cmd|' /C calc'!A0"
    # Numbers are numbers, even negative ones.
    assert row["quota"] == "-1000" and row["cost_usd"] == "-0.002000"


def test_csv_neutralises_only_the_cells_that_need_it_in_a_batch() -> None:
    sources = [entry(id=n, content=f"row {n}", username="bob") for n in range(20)]
    sources[13] = entry(id=13, content="+1 555 0100", username="bob")
    rows = csv_rows(CsvEncoder(View.ADMIN, {}, UTC), sources)
    assert [row["content"] for row in rows] == [f"row {n}" if n != 13 else "'+1 555 0100" for n in range(20)]
    assert {row["username"] for row in rows} == {"bob"}


@pytest.mark.parametrize(
    "fields",
    [
        {"other": "ends with a comma,"},  # the last cell: its closing quote and the line end read `,"\r`
        {"content": 'a,"=b'},
        {"content": 'x,"+y', "username": 'q",-z'},
        {"other": "", "upstream_request_id": "ends,"},
        {"content": ',"@'},
    ],
)
def test_csv_leaves_formula_look_alikes_inside_cells_alone(fields: dict[str, str]) -> None:
    source = entry(**fields)
    (row,) = csv_rows(CsvEncoder(View.ADMIN, {}, UTC), [source])
    for name, value in fields.items():
        assert row[name] == value, name


def test_csv_leaves_ordinary_rows_alone() -> None:
    (row,) = csv_rows(CsvEncoder(View.ADMIN, {}, UTC), [entry(content="a = b + c", username="alice-1")])
    assert row["content"] == "a = b + c" and row["username"] == "alice-1"


def test_csv_fast_cost_path_agrees_with_format_cost() -> None:
    rng = random.Random(3)
    quotas = [0, 1, 2, 499_999, 500_000, 500_001, 2**62, -1, -3] + [rng.randrange(0, 10**12) for _ in range(500)]
    rows = csv_rows(CsvEncoder(View.ADMIN, {}, UTC), [entry(quota=quota) for quota in quotas])
    assert [row["cost_usd"] for row in rows] == [format_cost(quota) for quota in quotas]


@pytest.mark.parametrize(
    "zone",
    [UTC, ZoneInfo("Europe/London"), ZoneInfo("Australia/Lord_Howe"), ZoneInfo("Africa/Monrovia")],
    ids=str,
)
def test_csv_time_column_agrees_with_datetime(zone: tzinfo) -> None:
    # Across a daylight-saving change, and in 1970 Monrovia's offset with seconds (no cached minutes).
    seconds = [*range(1_711_846_800 + 5400, 1_711_846_800 - 5400, -37), *range(3000, 0, -7)]
    rows = csv_rows(CsvEncoder(View.ADMIN, {}, zone), [entry(created_at=second) for second in seconds])
    assert [row["time"] for row in rows] == [reference_time(second, zone) for second in seconds]


@pytest.mark.parametrize("export_format", list(ExportFormat))
@pytest.mark.parametrize("view", [View.ADMIN, View.USER])
def test_is_stream_read_as_0_or_1_is_exported_as_a_boolean(export_format: ExportFormat, view: View) -> None:
    rows = values([entry(id=1, is_stream=True), entry(id=2, is_stream=False)])
    from_ints = [(*row[:12], int(row[12]), *row[13:]) for row in rows]  # as SQLite and MySQL return it
    encoder = make_encoder(export_format, view, {3: "azure-east"}, UTC)
    text = encoder.encode(from_ints, 1)
    assert text == encoder.encode(rows, 1)
    if export_format is ExportFormat.JSONL:
        assert [json.loads(line)["is_stream"] for line in text.splitlines()] == [True, False]
    else:
        assert [cells[CSV_COLUMNS.index("is_stream")] for cells in parse_csv(text)] == ["true", "false"]


def test_csv_batches_concatenate_into_one_document() -> None:
    encoder = CsvEncoder(View.USER, {}, UTC)
    entries = [entry(id=n, created_at=1_700_000_000 - n) for n in range(10)]
    text = encoder.header() + encoder.encode(values(entries[:7]), 1) + encoder.encode(values(entries[7:]), 8)
    rows = parse_csv(text.removeprefix(BOM))
    assert rows[0] == list(CSV_COLUMNS)
    assert [row[0] for row in rows[1:]] == [str(n) for n in range(1, 11)]
    assert text.count("\r\n") == 11


# --- JSONL ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("view", [View.ADMIN, View.USER])
def test_jsonl_lines_are_the_list_views(view: View) -> None:
    entries = [
        entry(id=100 + n, created_at=1_700_000_000 - n, request_id="" if n % 2 else f"r{n}", content="café")
        for n in range(5)
    ]
    encoder = make_encoder(ExportFormat.JSONL, view, {3: "azure-east"}, UTC)
    assert encoder.header() == ""
    text = encoder.encode(values(entries[:2]), 1) + encoder.encode(values(entries[2:]), 3)
    expected = render(entries, view, {3: "azure-east"}, 1)
    lines = text.split("\n")
    assert lines[-1] == ""
    assert lines[:-1] == [json.dumps(row, ensure_ascii=False, separators=(",", ":")) for row in expected]
    assert "é" in text  # not escaped


def test_make_encoder_picks_the_format() -> None:
    assert isinstance(make_encoder(ExportFormat.CSV, View.ADMIN, {}, UTC), CsvEncoder)
    assert isinstance(make_encoder(ExportFormat.JSONL, View.ADMIN, {}, UTC), JsonlEncoder)
