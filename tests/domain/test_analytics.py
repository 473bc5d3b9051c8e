"""Usage analytics rules without a database: local buckets across DST changes and midnights, quick ranges
relative to a given now, span limits, parameter validation and the metric rules."""

from __future__ import annotations

import bisect
import calendar
import itertools
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest

from tokenledger.domain import analytics
from tokenledger.domain.analytics import (
    Bucket,
    Dimension,
    HourTotals,
    Labels,
    QuickRange,
    UsageFilters,
    UsageQuery,
    bucket_firsts,
    bucket_of,
    bucket_runs,
    local_start,
    parse_query,
    quick_range_hours,
)
from tokenledger.domain.errors import Invalid
from tokenledger.domain.filters import Scope
from tokenledger.domain.log import LogType

HOUR = 3600
DAY = 86_400
NEW_YORK = ZoneInfo("America/New_York")
SHANGHAI = ZoneInfo("Asia/Shanghai")
KOLKATA = ZoneInfo("Asia/Kolkata")


def utc(*parts: int) -> int:
    """Unix seconds of a UTC wall time: utc(2026, 3, 8, 7) is 2026-03-08 07:00:00Z."""
    return calendar.timegm((*parts, *(0,) * (6 - len(parts))))


def hours_between(first: int, end: int) -> list[int]:
    return list(range(first, end, HOUR))


def bucket_sizes(first: int, end: int, bucket: Bucket, zone: ZoneInfo | timezone) -> Counter[str]:
    """How many UTC hours of [first, end) each local bucket receives, by label."""
    return Counter(bucket_of(hour, bucket, zone)[1] for hour in hours_between(first, end))


# --- DST: America/New_York springs forward on 2026-03-08 and falls back on 2026-11-01 -------------------


def test_new_york_local_days_start_at_midnight_on_both_sides_of_the_dst_changes() -> None:
    assert local_start(date(2026, 3, 7), NEW_YORK) == utc(2026, 3, 7, 5)  # EST, -05:00
    assert local_start(date(2026, 3, 8), NEW_YORK) == utc(2026, 3, 8, 5)  # still EST at midnight
    assert local_start(date(2026, 3, 9), NEW_YORK) == utc(2026, 3, 9, 4)  # EDT, -04:00
    assert local_start(date(2026, 11, 1), NEW_YORK) == utc(2026, 11, 1, 4)  # still EDT at midnight
    assert local_start(date(2026, 11, 2), NEW_YORK) == utc(2026, 11, 2, 5)  # EST again


def test_new_york_spring_forward_day_has_23_hours_and_fall_back_day_25() -> None:
    sizes = bucket_sizes(utc(2026, 3, 6), utc(2026, 3, 11), Bucket.DAY, NEW_YORK)
    assert sizes["2026-03-07"] == 24
    assert sizes["2026-03-08"] == 23
    assert sizes["2026-03-09"] == 24
    sizes = bucket_sizes(utc(2026, 10, 30), utc(2026, 11, 4), Bucket.DAY, NEW_YORK)
    assert sizes["2026-10-31"] == 24
    assert sizes["2026-11-01"] == 25
    assert sizes["2026-11-02"] == 24


def test_new_york_day_buckets_edges_follow_local_midnight() -> None:
    # The last hour of 2026-03-07 local (23:00 EST) and the first of 2026-03-08.
    assert bucket_of(utc(2026, 3, 8, 4), Bucket.DAY, NEW_YORK) == (utc(2026, 3, 7, 5), "2026-03-07")
    assert bucket_of(utc(2026, 3, 8, 5), Bucket.DAY, NEW_YORK) == (utc(2026, 3, 8, 5), "2026-03-08")
    # After the change, 23:00 EDT on 03-08 is 03:00Z on 03-09; midnight EDT is 04:00Z.
    assert bucket_of(utc(2026, 3, 9, 3), Bucket.DAY, NEW_YORK) == (utc(2026, 3, 8, 5), "2026-03-08")
    assert bucket_of(utc(2026, 3, 9, 4), Bucket.DAY, NEW_YORK) == (utc(2026, 3, 9, 4), "2026-03-09")
    # Fall back: 00:00 EDT on 11-01 is 04:00Z; 23:00 EST on 11-01 is 04:00Z on 11-02.
    assert bucket_of(utc(2026, 11, 1, 3), Bucket.DAY, NEW_YORK) == (utc(2026, 10, 31, 4), "2026-10-31")
    assert bucket_of(utc(2026, 11, 1, 4), Bucket.DAY, NEW_YORK) == (utc(2026, 11, 1, 4), "2026-11-01")
    assert bucket_of(utc(2026, 11, 2, 4), Bucket.DAY, NEW_YORK) == (utc(2026, 11, 1, 4), "2026-11-01")
    assert bucket_of(utc(2026, 11, 2, 5), Bucket.DAY, NEW_YORK) == (utc(2026, 11, 2, 5), "2026-11-02")


def test_new_york_hour_labels_skip_the_missing_hour_and_keep_the_repeated_one_distinct() -> None:
    spring = [
        bucket_of(hour, Bucket.HOUR, NEW_YORK)[1] for hour in hours_between(utc(2026, 3, 8, 5), utc(2026, 3, 8, 9))
    ]
    assert spring == [
        "2026-03-08T00:00-05:00",
        "2026-03-08T01:00-05:00",
        "2026-03-08T03:00-04:00",
        "2026-03-08T04:00-04:00",
    ]
    fall = [bucket_of(hour, Bucket.HOUR, NEW_YORK) for hour in hours_between(utc(2026, 11, 1, 4), utc(2026, 11, 1, 8))]
    assert fall == [
        (utc(2026, 11, 1, 4), "2026-11-01T00:00-04:00"),
        (utc(2026, 11, 1, 5), "2026-11-01T01:00-04:00"),
        (utc(2026, 11, 1, 6), "2026-11-01T01:00-05:00"),
        (utc(2026, 11, 1, 7), "2026-11-01T02:00-05:00"),
    ]


def test_new_york_weeks_start_monday_and_months_at_the_first_across_dst() -> None:
    # 2026-11-01 is a Sunday: its week began Monday 2026-10-26 (EDT) and lasts 7 days and one hour.
    assert bucket_of(utc(2026, 11, 1, 12), Bucket.WEEK, NEW_YORK) == (utc(2026, 10, 26, 4), "2026-10-26")
    assert bucket_of(utc(2026, 11, 2, 5), Bucket.WEEK, NEW_YORK) == (utc(2026, 11, 2, 5), "2026-11-02")
    assert bucket_sizes(utc(2026, 10, 20), utc(2026, 11, 10), Bucket.WEEK, NEW_YORK)["2026-10-26"] == 7 * 24 + 1
    # March 2026 loses an hour, November gains one.
    sizes = bucket_sizes(utc(2026, 2, 20), utc(2026, 12, 5), Bucket.MONTH, NEW_YORK)
    assert sizes["2026-03"] == 31 * 24 - 1
    assert sizes["2026-11"] == 30 * 24 + 1
    assert sizes["2026-04"] == 30 * 24
    assert bucket_of(utc(2026, 3, 1, 4), Bucket.MONTH, NEW_YORK) == (utc(2026, 2, 1, 5), "2026-02")
    assert bucket_of(utc(2026, 3, 1, 5), Bucket.MONTH, NEW_YORK) == (utc(2026, 3, 1, 5), "2026-03")


@pytest.mark.parametrize("zone", [NEW_YORK, SHANGHAI, KOLKATA, ZoneInfo("Australia/Lord_Howe"), UTC])
@pytest.mark.parametrize("bucket", list(Bucket))
def test_every_hour_of_a_year_lies_in_its_bucket_and_buckets_do_not_overlap(
    zone: ZoneInfo | timezone, bucket: Bucket
) -> None:
    """bucket_start <= hour, the next bucket starts after it, and labels map one-to-one to starts."""
    hours = hours_between(utc(2025, 12, 28), utc(2027, 1, 3))
    assigned = [bucket_of(hour, bucket, zone) for hour in hours]
    starts = [start for start, _label in assigned]
    assert starts == sorted(starts)
    for hour, start in zip(hours, starts, strict=True):
        assert start <= hour, (hour, start)
    distinct = sorted(set(assigned))
    assert len({label for _start, label in distinct}) == len(distinct)
    last_hour = {start: hour for hour, start in zip(hours, starts, strict=True)}
    for (start, _label), (following, _next) in itertools.pairwise(distinct):
        assert last_hour[start] < following, (start, following)


@pytest.mark.parametrize(
    "zone", [NEW_YORK, SHANGHAI, KOLKATA, ZoneInfo("Australia/Lord_Howe"), ZoneInfo("America/Santiago"), UTC]
)
@pytest.mark.parametrize("bucket", [Bucket.DAY, Bucket.WEEK, Bucket.MONTH])
def test_bucket_firsts_give_every_hour_the_bucket_it_lies_in(zone: ZoneInfo | timezone, bucket: Bucket) -> None:
    """The store sums whole buckets by these first hours: each hour's bucket is that of the last first hour
    at or before it, exactly as bucket_of decides hour by hour."""
    first, end = utc(2025, 12, 28, 5), utc(2027, 1, 3)
    firsts = bucket_firsts(UsageQuery((), bucket, zone, first, end))
    assert firsts is not None and firsts[0] == first and list(firsts) == sorted(set(firsts))
    for hour in hours_between(first, end):
        owner = firsts[bisect.bisect_right(firsts, hour) - 1]
        assert bucket_of(owner, bucket, zone) == bucket_of(hour, bucket, zone), hour


@pytest.mark.parametrize("zone", [NEW_YORK, SHANGHAI, KOLKATA, ZoneInfo("Australia/Lord_Howe"), UTC])
@pytest.mark.parametrize("bucket", [Bucket.DAY, Bucket.WEEK, Bucket.MONTH])
def test_bucket_runs_put_every_hour_in_its_bucket_by_arithmetic(zone: ZoneInfo | timezone, bucket: Bucket) -> None:
    first, end = utc(2025, 12, 28, 5), utc(2026, 12, 3)
    firsts = bucket_firsts(UsageQuery((), bucket, zone, first, end))
    assert firsts is not None
    runs = bucket_runs(firsts, end)
    assert runs[0][0] == first
    if bucket is not Bucket.MONTH:  # months differ in length; days and weeks mostly do not
        assert len(runs) < len(firsts)
    for hour in hours_between(first, end):
        run_first, length = max(run for run in runs if run[0] <= hour)
        by_arithmetic = run_first + (hour - run_first) // length * length
        assert by_arithmetic == firsts[bisect.bisect_right(firsts, hour) - 1], hour


def test_bucket_firsts_leave_hours_to_the_domain_where_summing_in_the_store_would_differ() -> None:
    assert bucket_firsts(UsageQuery((), Bucket.HOUR, UTC, utc(2026, 1, 1), utc(2026, 1, 2))) is None
    # More buckets than one query sums.
    assert bucket_firsts(UsageQuery((), Bucket.DAY, UTC, utc(2025, 1, 1), utc(2026, 3, 1))) is None
    # A clock set back across midnight: the hour after it belongs to the day before again.
    zone = _ClockSetBackAcrossMidnight()
    assert bucket_of(utc(2026, 3, 1, 23), Bucket.DAY, zone)[1] == "2026-03-02"
    assert bucket_of(utc(2026, 3, 2, 0), Bucket.DAY, zone)[1] == "2026-03-01"
    assert bucket_firsts(UsageQuery((), Bucket.DAY, zone, utc(2026, 2, 25), utc(2026, 3, 5))) is None
    assert bucket_firsts(UsageQuery((), Bucket.DAY, zone, utc(2026, 3, 3), utc(2026, 3, 9))) is not None


class _ClockSetBackAcrossMidnight(tzinfo):
    """+01:00 until 2026-03-01 23:30Z, then -01:00: local clocks go from 00:30 on 2 March back to 22:30 on
    1 March (no real zone does this today; some did)."""

    AT = calendar.timegm((2026, 3, 1, 23, 30, 0))

    def utcoffset(self, dt: datetime | None) -> timedelta:
        assert dt is not None
        wall = dt.replace(tzinfo=None)
        if wall >= datetime(2026, 3, 2, 0, 30):
            return timedelta(hours=-1)
        if wall < datetime(2026, 3, 1, 22, 30):
            return timedelta(hours=1)
        return timedelta(hours=-1 if dt.fold else 1)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "SETBACK"

    def fromutc(self, dt: datetime) -> datetime:
        if calendar.timegm(dt.replace(tzinfo=None).timetuple()) < self.AT:
            return dt + timedelta(hours=1)
        return (dt - timedelta(hours=1)).replace(fold=1)


# --- Midnight boundaries: Asia/Shanghai (+08:00, no DST) ------------------------------------------------


def test_shanghai_days_turn_at_16_utc() -> None:
    assert bucket_of(utc(2026, 11, 1, 15), Bucket.DAY, SHANGHAI) == (utc(2026, 10, 31, 16), "2026-11-01")
    assert bucket_of(utc(2026, 11, 1, 16), Bucket.DAY, SHANGHAI) == (utc(2026, 11, 1, 16), "2026-11-02")
    assert bucket_of(utc(2026, 10, 31, 15), Bucket.DAY, SHANGHAI) == (utc(2026, 10, 30, 16), "2026-10-31")
    assert bucket_of(utc(2026, 11, 1, 15), Bucket.HOUR, SHANGHAI) == (utc(2026, 11, 1, 15), "2026-11-01T23:00+08:00")
    # Month and year edges: 2026-12-31T16:00Z is midnight of 2027-01-01 in Shanghai.
    assert bucket_of(utc(2026, 12, 31, 15), Bucket.MONTH, SHANGHAI) == (utc(2026, 11, 30, 16), "2026-12")
    assert bucket_of(utc(2026, 12, 31, 16), Bucket.MONTH, SHANGHAI) == (utc(2026, 12, 31, 16), "2027-01")
    assert bucket_of(utc(2026, 12, 31, 16), Bucket.WEEK, SHANGHAI) == (utc(2026, 12, 27, 16), "2026-12-28")
    assert set(bucket_sizes(utc(2026, 9, 30, 16), utc(2026, 11, 30, 16), Bucket.DAY, SHANGHAI).values()) == {24}


# --- Fixed offsets --------------------------------------------------------------------------------------


def test_whole_hour_fixed_offsets_bucket_like_zones() -> None:
    minus3 = timezone(timedelta(hours=-3))
    assert bucket_of(utc(2026, 5, 2, 2), Bucket.DAY, minus3) == (utc(2026, 5, 1, 3), "2026-05-01")
    assert bucket_of(utc(2026, 5, 2, 3), Bucket.DAY, minus3) == (utc(2026, 5, 2, 3), "2026-05-02")
    assert bucket_of(utc(2026, 5, 2, 3), Bucket.HOUR, minus3)[1] == "2026-05-02T00:00-03:00"
    assert bucket_of(utc(2026, 5, 2, 3), Bucket.DAY, UTC) == (utc(2026, 5, 2), "2026-05-02")


def test_half_hour_offsets_count_each_utc_hour_for_the_day_of_its_start() -> None:
    plus0530 = timezone(timedelta(hours=5, minutes=30))
    for zone in (plus0530, KOLKATA):
        # Local midnight of 05-02 is 18:30Z on 05-01. The UTC hour 18:00-19:00 starts at 23:30 local on
        # 05-01, so all of it counts for 05-01; the next hour (00:30 local) for 05-02.
        assert bucket_of(utc(2026, 5, 1, 18), Bucket.DAY, zone) == (utc(2026, 4, 30, 18, 30), "2026-05-01")
        assert bucket_of(utc(2026, 5, 1, 19), Bucket.DAY, zone) == (utc(2026, 5, 1, 18, 30), "2026-05-02")
        assert bucket_of(utc(2026, 5, 1, 19), Bucket.HOUR, zone) == (utc(2026, 5, 1, 19), "2026-05-02T00:30+05:30")
    nepal = timezone(timedelta(hours=5, minutes=45))
    assert bucket_of(utc(2026, 5, 1, 18), Bucket.DAY, nepal)[1] == "2026-05-01"  # 23:45 local
    assert bucket_of(utc(2026, 5, 1, 19), Bucket.DAY, nepal)[1] == "2026-05-02"  # 00:45 local
    # A quick range counts the hours whose start lies in its local days: the same rule.
    now = utc(2026, 5, 2, 6)  # 11:30 in India
    assert quick_range_hours(QuickRange.TODAY, plus0530, now) == (utc(2026, 5, 1, 19), utc(2026, 5, 2, 19))


def test_midnight_that_does_not_exist_or_occurs_twice() -> None:
    # America/Santiago springs forward at 00:00 on 2026-09-06 (the day starts at 01:00 -03) and fell back
    # at 24:00 on 2026-04-04 (23:00-24:00 on 04-04 happened twice; 04-05 starts once, at 04:00Z).
    santiago = ZoneInfo("America/Santiago")
    assert local_start(date(2026, 9, 6), santiago) == utc(2026, 9, 6, 4)
    assert datetime.fromtimestamp(local_start(date(2026, 9, 6), santiago), santiago).hour == 1
    assert local_start(date(2026, 4, 5), santiago) == utc(2026, 4, 5, 4)
    sizes = bucket_sizes(utc(2026, 4, 3), utc(2026, 4, 7), Bucket.DAY, santiago)
    assert sizes["2026-04-04"] == 25 and sizes["2026-04-05"] == 24


# --- Quick ranges ---------------------------------------------------------------------------------------


def test_quick_ranges_in_shanghai_relative_to_now() -> None:
    now = utc(2026, 11, 1, 17, 30)  # 01:30 on 2026-11-02 in Shanghai, still 11-01 in UTC
    midnight = utc(2026, 11, 1, 16)  # 2026-11-02 00:00 local
    expected = {
        QuickRange.TODAY: (midnight, midnight + DAY),
        QuickRange.YESTERDAY: (midnight - DAY, midnight),
        QuickRange.LAST_7_DAYS: (midnight - 6 * DAY, midnight + DAY),
        QuickRange.LAST_30_DAYS: (midnight - 29 * DAY, midnight + DAY),
        QuickRange.THIS_MONTH: (utc(2026, 10, 31, 16), utc(2026, 11, 30, 16)),
        QuickRange.LAST_MONTH: (utc(2026, 9, 30, 16), utc(2026, 10, 31, 16)),
    }
    for quick, hours in expected.items():
        assert quick_range_hours(quick, SHANGHAI, now) == hours, quick
    # The same instant in UTC is still 11-01.
    assert quick_range_hours(QuickRange.TODAY, UTC, now) == (utc(2026, 11, 1), utc(2026, 11, 2))
    assert quick_range_hours(QuickRange.THIS_MONTH, UTC, now) == (utc(2026, 11, 1), utc(2026, 12, 1))


def test_quick_ranges_across_dst_and_year_edges() -> None:
    now = utc(2026, 11, 3, 15)  # 10:00 EST on 2026-11-03
    first, end = quick_range_hours(QuickRange.LAST_7_DAYS, NEW_YORK, now)
    assert (first, end) == (utc(2026, 10, 28, 4), utc(2026, 11, 4, 5))
    assert end - first == 7 * DAY + HOUR  # the fall-back day has 25 hours
    assert quick_range_hours(QuickRange.YESTERDAY, NEW_YORK, utc(2026, 11, 2, 12)) == (
        utc(2026, 11, 1, 4),
        utc(2026, 11, 2, 5),
    )
    assert quick_range_hours(QuickRange.TODAY, NEW_YORK, utc(2026, 3, 8, 12)) == (
        utc(2026, 3, 8, 5),
        utc(2026, 3, 9, 4),
    )
    january = utc(2027, 1, 10, 12)
    assert quick_range_hours(QuickRange.LAST_MONTH, UTC, january) == (utc(2026, 12, 1), utc(2027, 1, 1))
    assert quick_range_hours(QuickRange.THIS_MONTH, UTC, utc(2026, 12, 31, 23)) == (utc(2026, 12, 1), utc(2027, 1, 1))


# --- Parsing and validation -----------------------------------------------------------------------------

NOW = utc(2026, 11, 1, 17, 30)


def query(scope: Scope = Scope.ADMIN, **params: str) -> UsageQuery:
    return parse_query(params, scope, NOW)


def test_defaults_are_one_series_by_day_over_the_last_7_utc_days() -> None:
    parsed = query()
    assert parsed.group_by == ()
    assert parsed.bucket is Bucket.DAY
    assert parsed.zone is UTC
    assert parsed.range_name == "7d"
    assert (parsed.first_hour, parsed.end_hour) == (utc(2026, 10, 26), utc(2026, 11, 2))
    assert parsed.types == (2, 5)
    assert parsed.filters == UsageFilters()


def test_group_by_accepts_aliases_spaces_and_case() -> None:
    assert query(group_by=" Model , token ").group_by == (Dimension.MODEL, Dimension.KEY)
    assert query(group_by="user,type").group_by == (Dimension.USER, Dimension.TYPE)
    assert query(group_by="").group_by == ()
    assert query(Scope.SELF, group_by="channel,group").group_by == (Dimension.CHANNEL, Dimension.GROUP)


@pytest.mark.parametrize(
    ("params", "scope", "phrase"),
    [
        ({"group_by": "model,key,channel"}, Scope.ADMIN, "at most 2"),
        ({"group_by": "planet"}, Scope.ADMIN, "unknown dimension 'planet'"),
        ({"group_by": "model,model"}, Scope.ADMIN, "model twice"),
        ({"group_by": "key,token"}, Scope.ADMIN, "key twice"),
        ({"group_by": "user"}, Scope.SELF, "for admins"),
        ({"bucket": "minute"}, Scope.ADMIN, "bucket must be one of hour, day, week, month"),
        ({"range": "90d"}, Scope.ADMIN, "range must be one of today"),
        ({"tz": "Mars/Olympus"}, Scope.ADMIN, "unknown time zone"),
        ({"tz": "+15:00"}, Scope.ADMIN, "out of range"),
        ({"type": "two"}, Scope.ADMIN, "type must be an integer"),
        ({"channel": "x"}, Scope.ADMIN, "channel must be a non-negative integer"),
        ({"token_id": "-1"}, Scope.SELF, "token_id must be a non-negative integer"),
        ({"user_id": "abc"}, Scope.ADMIN, "user_id must be a non-negative integer"),
        ({"model_name": "m" * 256}, Scope.ADMIN, "model_name is too long"),
        ({"start_timestamp": "yesterday"}, Scope.ADMIN, "start_timestamp must be a Unix timestamp"),
        ({"end_timestamp": str(NOW)}, Scope.ADMIN, "start_timestamp is required"),
        ({"start_timestamp": str(NOW), "end_timestamp": str(NOW - 1)}, Scope.ADMIN, "must not be after"),
        (
            {"bucket": "hour", "start_timestamp": str(NOW - 31 * DAY - 1), "end_timestamp": str(NOW)},
            Scope.ADMIN,
            "at most 31 days",
        ),
        ({"start_timestamp": str(NOW - 401 * DAY)}, Scope.SELF, "at most 400 days"),
        ({"bucket": "week", "start_timestamp": str(NOW - 3661 * DAY)}, Scope.ADMIN, "at most 3660 days"),
        ({"bucket": "month", "start_timestamp": "1", "end_timestamp": str(NOW)}, Scope.ADMIN, "at most 3660 days"),
    ],
)
def test_invalid_parameters_name_what_to_fix(params: dict[str, str], scope: Scope, phrase: str) -> None:
    with pytest.raises(Invalid) as raised:
        parse_query(params, scope, NOW)
    assert phrase in raised.value.message


def test_span_limits_are_inclusive() -> None:
    hourly = query(bucket="hour", start_timestamp=str(NOW - 31 * DAY), end_timestamp=str(NOW))
    assert hourly.end_hour - hourly.first_hour == 31 * DAY + HOUR
    daily = query(start_timestamp=str(NOW - 400 * DAY))
    assert daily.end_hour == NOW - NOW % HOUR + HOUR
    assert query(bucket="month", start_timestamp=str(NOW - 3660 * DAY)).bucket is Bucket.MONTH
    # Quick ranges always fit, even a 31-day month with an extra DST hour by the hour.
    october = query(bucket="hour", range="last_month", tz="Europe/Berlin")
    assert october.end_hour - october.first_hour == 31 * DAY + HOUR


def test_explicit_timestamps_win_over_range_and_widen_to_whole_hours() -> None:
    parsed = query(range="today", start_timestamp=str((NOW - 5000) * 1000), end_timestamp=str(NOW - 10))
    assert parsed.range_name is None
    assert (parsed.first_hour, parsed.end_hour) == (utc(2026, 11, 1, 16), utc(2026, 11, 1, 18))
    open_ended = query(start_timestamp=str(utc(2026, 10, 30, 5, 59, 59)))
    assert (open_ended.first_hour, open_ended.end_hour) == (utc(2026, 10, 30, 5), utc(2026, 11, 1, 18))


def test_self_ignores_admin_only_filters() -> None:
    params = {"user_id": "7", "username": "bob", "model_name": "gpt-4o", "channel": "3", "group": "vip"}
    assert query(Scope.SELF, **params).filters == UsageFilters(model_name="gpt-4o", channel=3, group="vip")
    assert query(Scope.ADMIN, **params).filters == UsageFilters(
        user_id=7, username="bob", model_name="gpt-4o", channel=3, group="vip"
    )


def test_types_that_count() -> None:
    assert query().types == (2, 5)
    assert query(type="0").types == (2, 5)
    assert query(type="1").types == (1,)
    assert query(group_by="type").types is None
    assert query(group_by="type", type="5").types == (5,)


def test_dimensions_are_the_fixed_filters_plus_the_grouping_without_type() -> None:
    assert query(group_by="model,type").dimensions == {"model_name"}
    assert query(group_by="key", user_id="3").dimensions == {"token_id", "user_id"}
    assert query(group_by="channel,group", model_name="x").dimensions == {"channel", "group", "model_name"}
    assert query(type="2").dimensions == frozenset()


# --- Metrics and the payload ----------------------------------------------------------------------------


def totals(key: tuple[int | str, ...], hour: int, kind: int, count: int, quota: int = 0) -> HourTotals:
    """The sums of `count` rows of one type, as the store reads them."""
    successes = count if kind == LogType.CONSUME else 0
    failures = count if kind == LogType.ERROR else 0
    return HourTotals(key, hour, count, successes, failures, quota, prompt_tokens=10 * count, completion_tokens=count)


def test_requests_are_successes_plus_failures_and_buckets_fold_hours() -> None:
    parsed = query(group_by="model", tz="Asia/Shanghai")
    hours = [
        totals(("b",), utc(2026, 10, 31, 15), 2, 3, quota=30),  # 23:00 on 10-31 local
        totals(("b",), utc(2026, 10, 31, 16), 2, 4, quota=40),  # 00:00 on 11-01 local
        totals(("b",), utc(2026, 10, 31, 16), 5, 1, quota=2),
        totals(("a",), utc(2026, 11, 1, 15), 2, 2, quota=7),  # 23:00 on 11-01 local
    ]
    payload = analytics.report(parsed, hours, Labels())
    assert payload["tz"] == "Asia/Shanghai" and payload["bucket"] == "day" and payload["group_by"] == ["model"]
    assert [(item["bucket_label"], item["model_name"]) for item in payload["items"]] == [
        ("2026-10-31", "b"),
        ("2026-11-01", "a"),
        ("2026-11-01", "b"),
    ]
    last = payload["items"][2]
    assert last["bucket_start"] == utc(2026, 10, 31, 16)
    assert {key: last[key] for key in ("requests", "successes", "failures", "quota", "total_tokens")} == {
        "requests": 5,
        "successes": 4,
        "failures": 1,
        "quota": 42,
        "total_tokens": 55,
    }
    assert payload["totals"] == {
        "requests": 10,
        "successes": 9,
        "failures": 1,
        "prompt_tokens": 100,
        "completion_tokens": 10,
        "total_tokens": 110,
        "quota": 79,
    }


def test_labels_name_keys_users_and_channels_for_admins_only() -> None:
    hours = [totals((7, 3), utc(2026, 10, 30, 3), 2, 1)]
    labels = Labels(key_names={7: "prod"}, usernames={3: "alice"}, channel_names={})
    item = analytics.report(query(group_by="key,user"), hours, labels)["items"][0]
    assert (item["key_id"], item["key_name"], item["user_id"], item["username"]) == (7, "prod", 3, "alice")
    by_channel = [totals((4,), utc(2026, 10, 30, 3), 2, 1)]
    admin = analytics.report(query(group_by="channel"), by_channel, Labels(channel_names={4: "east"}))
    assert admin["items"][0]["channel_name"] == "east"
    own = analytics.report(query(Scope.SELF, group_by="channel"), by_channel, Labels())
    assert "channel_name" not in own["items"][0] and own["items"][0]["channel"] == 4


def test_an_empty_answer_still_describes_the_window() -> None:
    payload = analytics.report(query(range="yesterday", tz="+08:00"), [], Labels())
    assert payload["items"] == []
    assert payload["totals"]["requests"] == 0
    assert (payload["start"], payload["end"]) == (utc(2026, 10, 31, 16), utc(2026, 11, 1, 16) - 1)
    assert payload["range"] == "yesterday" and payload["tz"] == "UTC+08:00"
    assert LogType.CONSUME in analytics.DEFAULT_TYPES
