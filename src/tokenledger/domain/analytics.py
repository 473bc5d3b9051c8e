"""Usage analytics for charts (`GET /api/usage`, `GET /api/usage/self`): the query, its parameters, time
buckets in the caller's time zone, and the metric rules. Pure: the store hands over hourly totals and this
module folds them into buckets.

Rules (the README's "Usage analytics" repeats them for callers):

- **Grouping.** `group_by` lists at most two of `model`, `key` (alias `token`), `channel`, `group`, `user`
  (admin only) and `type`; empty means one series. Items are ordered by `bucket_start`, then by the group
  values in `group_by` order (ids for keys, channels and users). Buckets with no usage are omitted.
- **Buckets.** `hour`, `day` (default), `week` (starting Monday) or `month`, in the zone `tz` (an IANA name
  or a UTC offset, default UTC). A local day lasts 23 or 25 hours across a DST change. The aggregates are
  hourly, so each UTC hour counts wholly for the local bucket that contains the hour's *start*: in zones
  whose offset is not a whole number of hours (India +05:30, Nepal +05:45) a bucket edge falls on the
  whole UTC hour after the local boundary (in India the UTC hour 18:00-19:00, i.e. 23:30-00:30 local,
  counts for the day that ends at 00:00). `bucket_start` is the local start of the bucket (for `hour`, the
  UTC hour itself) and `bucket_label` names it locally: `2026-11-01T01:00-04:00` (hour, with the offset so
  the repeated hour of a DST change stays distinct), `2026-11-01` (day), the Monday's date (week),
  `2026-11` (month).
- **Time range.** `range` = `today`, `yesterday`, `7d` (the last 7 local days, today included; default),
  `30d`, `this_month` or `last_month`: whole local days, computed in `tz` from now, and counting the hours
  whose start lies in them (the rule buckets follow). Explicit `start_timestamp`/`end_timestamp` (seconds
  or ms, inclusive) win over `range`: a missing end means now, a missing start is refused; the window is
  widened to the whole UTC hours it touches. The payload's `start`/`end` are the hours answered (`end`
  inclusive). Spans: hourly buckets at most 31 days, daily at most 400 days, weekly and monthly at most
  10 years (3,660 days).
- **Metrics.** Per bucket and group: `requests`, `successes` (consume rows, type 2), `failures` (error rows,
  type 5), `prompt_tokens`, `completion_tokens`, `total_tokens`, `quota`. By default only consume and
  error rows count (top-up and manage rows carry quota that is not spending), so `requests` = `successes` +
  `failures` and tokens and quota are summed over both. With a `type` filter, only rows of that type count;
  grouped by `type`, every type counts, each in its own group: `requests` is then the count of the group's
  type and the other metrics are that type's. `totals` sums every item.
- **Filters.** `model_name`, `group` (exact), `channel`, `token_id` and `type` (integers, 0: none); for
  admins `user_id` and `username` (exact; an unknown username answers no usage). The self route ignores
  `user_id` and `username`, refuses `group_by=user`, and is scoped like `/api/log/self`: the caller's
  usage, or only their key's with an `sk-` key under `API_KEY_LOG_SCOPE=token`.
- **Labels.** `model_name`; `key_id` and `key_name` (the key's name as logged, from the latest hour counted);
  `channel` (id) and, for admins, `channel_name`; `group`; `user_id` and `username`; `type`.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from enum import Enum
from typing import Any

from tokenledger.domain import log, timestamps, timezones
from tokenledger.domain.errors import Invalid
from tokenledger.domain.filters import Scope, parse_int_id, parse_log_type
from tokenledger.domain.log import LogType

HOUR = 3600
DAY = 86_400
MAX_GROUP_BY = 2
# Buckets the store sums itself (one CASE branch per run of equal buckets, see bucket_runs); a longer range
# returns hours to fold here.
MAX_STORE_BUCKETS = 400
# Hours checked on each side of a bucket edge for a local date that runs backwards (see bucket_firsts).
EDGE_CHECK_HOURS = 3


class Bucket(Enum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


# The longest explicit span each bucket size serves, in days (quick ranges are at most 31 local days).
MAX_SPAN_DAYS = {Bucket.HOUR: 31, Bucket.DAY: 400, Bucket.WEEK: 3660, Bucket.MONTH: 3660}


class Dimension(Enum):
    """What items can be grouped by. `field` names the LogEntry attribute the aggregates key it on."""

    MODEL = "model"
    KEY = "key"
    CHANNEL = "channel"
    GROUP = "group"
    USER = "user"
    TYPE = "type"

    @property
    def field(self) -> str:
        return _FIELDS[self]


_FIELDS = {
    Dimension.MODEL: "model_name",
    Dimension.KEY: "token_id",
    Dimension.CHANNEL: "channel",
    Dimension.GROUP: "group",
    Dimension.USER: "user_id",
    Dimension.TYPE: "type",
}
_ALIASES = {"token": Dimension.KEY}


class QuickRange(Enum):
    TODAY = "today"
    YESTERDAY = "yesterday"
    LAST_7_DAYS = "7d"
    LAST_30_DAYS = "30d"
    THIS_MONTH = "this_month"
    LAST_MONTH = "last_month"


DEFAULT_RANGE = QuickRange.LAST_7_DAYS
# Rows that are spending by default: consume and error (top-up and manage quota is not).
DEFAULT_TYPES = (int(LogType.CONSUME), int(LogType.ERROR))


@dataclass(frozen=True, slots=True)
class UsageFilters:
    """Fixed filters. `user_id` and `token_id` are also how the self route scopes a caller."""

    user_id: int | None = None
    username: str | None = None
    token_id: int | None = None
    model_name: str | None = None
    channel: int | None = None
    group: str | None = None
    type: LogType = LogType.UNKNOWN

    def fixed(self) -> dict[str, int | str]:
        """The dimensions these filters pin, by LogEntry attribute name (`username` must be resolved to
        `user_id` first)."""
        assert self.username is None, "resolve username to user_id before reading"
        pinned: dict[str, int | str | None] = {
            "user_id": self.user_id,
            "token_id": self.token_id,
            "model_name": self.model_name,
            "channel": self.channel,
            "group": self.group,
        }
        return {name: value for name, value in pinned.items() if value is not None}


@dataclass(frozen=True, slots=True)
class UsageQuery:
    """A parsed request: the hours [first_hour, end_hour) are read and folded into `bucket`s in `zone`."""

    group_by: tuple[Dimension, ...]
    bucket: Bucket
    zone: tzinfo
    first_hour: int
    end_hour: int
    filters: UsageFilters = field(default_factory=UsageFilters)
    range_name: str | None = None

    @property
    def types(self) -> tuple[int, ...] | None:
        """The log types that count (None: every type)."""
        if self.filters.type is not LogType.UNKNOWN:
            return (int(self.filters.type),)
        if Dimension.TYPE in self.group_by:
            return None
        return DEFAULT_TYPES

    @property
    def dimensions(self) -> frozenset[str]:
        """Every LogEntry attribute the answer depends on, besides hour and type: the fixed filters and
        the grouping (what a store plan must cover)."""
        grouped = {dim.field for dim in self.group_by if dim is not Dimension.TYPE}
        return frozenset(grouped | set(self.filters.fixed()))

    @property
    def group_fields(self) -> tuple[str, ...]:
        return tuple(dim.field for dim in self.group_by)


# Not frozen, like LogEntry: a week of a heavy user's hours by model is some 4,000 of them.
@dataclass(slots=True)
class HourTotals:
    """Sums of one group in one hour, over the log types the query counts (`key`: the values of the query's
    `group_fields`, a grouped type included): rows of any type are requests, consume rows successes and
    error rows failures."""

    key: tuple[int | str, ...]
    hour: int
    requests: int
    successes: int
    failures: int
    quota: int
    prompt_tokens: int
    completion_tokens: int


# A bucket and group's sums in this order, as a list: a chart folds thousands of hours, and an object with a
# method call per hour made the payload a fifth slower to build (a heavy user's week by hour and model, 3,591
# hours: 11.7 against 9.5 ms).
_SUMMED = ("requests", "successes", "failures", "prompt_tokens", "completion_tokens", "quota")


def _metrics(sums: Sequence[int]) -> dict[str, int]:
    requests, successes, failures, prompt_tokens, completion_tokens, quota = sums
    return {
        "requests": requests,
        "successes": successes,
        "failures": failures,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "quota": quota,
    }


@dataclass(frozen=True, slots=True)
class Labels:
    """Names for group values, read by the service: key names as logged, usernames, and channel names
    (None: the caller is not an admin, so items carry no `channel_name`)."""

    key_names: Mapping[int, str] = field(default_factory=dict)
    usernames: Mapping[int, str] = field(default_factory=dict)
    channel_names: Mapping[int, str] | None = None


# --- parsing -------------------------------------------------------------------------------------------


def parse_group_by(raw: str | None, scope: Scope) -> tuple[Dimension, ...]:
    """`model,key` → (MODEL, KEY); at most two, no repeats; `user` only for admins."""
    names = [part.strip().lower() for part in (raw or "").split(",")]
    names = [name for name in names if name]
    if len(names) > MAX_GROUP_BY:
        raise Invalid(f"group_by takes at most {MAX_GROUP_BY} dimensions, got {len(names)}: {raw!r}")
    found: list[Dimension] = []
    allowed = ", ".join(dim.value for dim in Dimension if scope is Scope.ADMIN or dim is not Dimension.USER)
    for name in names:
        dim = _ALIASES.get(name)
        if dim is None:
            try:
                dim = Dimension(name)
            except ValueError:
                raise Invalid(f"group_by: unknown dimension {name!r}; use {allowed} (key alias: token)") from None
        if dim is Dimension.USER and scope is Scope.SELF:
            raise Invalid(f"group_by=user is for admins: your usage is your own; use {allowed}")
        if dim in found:
            raise Invalid(f"group_by lists {dim.value} twice")
        found.append(dim)
    return tuple(found)


def parse_bucket(raw: str | None) -> Bucket:
    text = (raw or "").strip().lower()
    if not text:
        return Bucket.DAY
    try:
        return Bucket(text)
    except ValueError:
        raise Invalid(f"bucket must be one of hour, day, week, month, got {raw!r}") from None


def parse_range(raw: str | None) -> QuickRange:
    text = (raw or "").strip().lower()
    if not text:
        return DEFAULT_RANGE
    try:
        return QuickRange(text)
    except ValueError:
        names = ", ".join(quick.value for quick in QuickRange)
        raise Invalid(f"range must be one of {names}, got {raw!r}") from None


def _text(name: str, raw: str | None, max_length: int) -> str | None:
    if raw is None or raw == "":
        return None
    if len(raw) > max_length:
        raise Invalid(f"{name} is too long: at most {max_length} characters")
    return raw


def parse_filters(params: Mapping[str, str], scope: Scope) -> UsageFilters:
    """The optional filters; a self caller's `user_id` and `username` are ignored (the service scopes it)."""
    filters = UsageFilters(
        token_id=parse_int_id("token_id", params.get("token_id")),
        model_name=_text("model_name", params.get("model_name"), log.MAX_MODEL_NAME),
        channel=parse_int_id("channel", params.get("channel")),
        group=_text("group", params.get("group"), log.MAX_GROUP),
        type=parse_log_type(params.get("type")),
    )
    if scope is Scope.ADMIN:
        return UsageFilters(
            user_id=parse_int_id("user_id", params.get("user_id")),
            username=_text("username", params.get("username"), log.MAX_USERNAME),
            token_id=filters.token_id,
            model_name=filters.model_name,
            channel=filters.channel,
            group=filters.group,
            type=filters.type,
        )
    return filters


def parse_query(params: Mapping[str, str], scope: Scope, now: int) -> UsageQuery:
    """Build a query from request parameters (`now`: Unix seconds, for quick ranges and a missing end).
    Raises Invalid naming the parameter at fault."""
    group_by = parse_group_by(params.get("group_by"), scope)
    bucket = parse_bucket(params.get("bucket"))
    zone = timezones.parse(params.get("tz"))
    filters = parse_filters(params, scope)
    start = timestamps.parse("start_timestamp", params.get("start_timestamp"))
    end = timestamps.parse("end_timestamp", params.get("end_timestamp"))
    if start or end:
        first, end_hour = explicit_hours(start, end or now, bucket)
        range_name = None
    else:
        quick = parse_range(params.get("range"))
        first, end_hour = quick_range_hours(quick, zone, now)
        range_name = quick.value
    return UsageQuery(group_by, bucket, zone, first, end_hour, filters, range_name)


def explicit_hours(start: int, end: int, bucket: Bucket) -> tuple[int, int]:
    """The whole UTC hours [first, end) touching the inclusive window [start, end], after checking the
    span against the bucket's limit."""
    if not start:
        raise Invalid("start_timestamp is required with end_timestamp (or pass range= instead)")
    if start > end:
        raise Invalid("start_timestamp must not be after end_timestamp")
    limit = MAX_SPAN_DAYS[bucket]
    if end - start > limit * DAY:
        wider = {Bucket.HOUR: "bucket=day", Bucket.DAY: "bucket=week or month"}.get(bucket)
        hint = f", or use {wider}" if wider else ""
        raise Invalid(
            f"the time span is too long for bucket={bucket.value}: at most {limit} days; "
            f"narrow start_timestamp..end_timestamp{hint}"
        )
    return start - start % HOUR, end - end % HOUR + HOUR


# --- local time ----------------------------------------------------------------------------------------


def local_start(day: date, zone: tzinfo) -> int:
    """The first instant (Unix seconds) whose local date in `zone` is `day` or later. DST-safe: when local
    midnight does not exist (a spring-forward at 00:00) the day starts at the first local time after the
    gap; when it occurs twice, at its first occurrence."""
    candidates = []
    for fold in (0, 1):
        instant = int(datetime(day.year, day.month, day.day, fold=fold, tzinfo=zone).timestamp())
        if datetime.fromtimestamp(instant, zone).date() >= day:
            candidates.append(instant)
    if candidates:
        return min(candidates)
    # Neither reading of midnight lands on `day` (it maps before it): step forward an hour at a time.
    instant = int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())
    while datetime.fromtimestamp(instant, zone).date() < day:
        instant += HOUR
    return instant


def _ceil_hour(instant: int) -> int:
    return -(-instant // HOUR) * HOUR


def _month_start(day: date, months_back: int = 0) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def quick_range_dates(quick: QuickRange, today: date) -> tuple[date, date]:
    """The local dates [first, end) a quick range covers, relative to `today`."""
    tomorrow = today + timedelta(days=1)
    if quick is QuickRange.TODAY:
        return today, tomorrow
    if quick is QuickRange.YESTERDAY:
        return today - timedelta(days=1), today
    if quick is QuickRange.LAST_7_DAYS:
        return today - timedelta(days=6), tomorrow
    if quick is QuickRange.LAST_30_DAYS:
        return today - timedelta(days=29), tomorrow
    if quick is QuickRange.THIS_MONTH:
        return _month_start(today), _month_start(today, -1)
    return _month_start(today, 1), _month_start(today)


def quick_range_hours(quick: QuickRange, zone: tzinfo, now: int) -> tuple[int, int]:
    """The UTC hours [first, end) whose start lies in the quick range's local days."""
    today = datetime.fromtimestamp(now, zone).date()
    first_day, end_day = quick_range_dates(quick, today)
    return _ceil_hour(local_start(first_day, zone)), _ceil_hour(local_start(end_day, zone))


def bucket_of(hour: int, bucket: Bucket, zone: tzinfo) -> tuple[int, str]:
    """(bucket_start, bucket_label) of the local bucket containing the start of the UTC hour `hour`."""
    local = datetime.fromtimestamp(hour, zone)
    if bucket is Bucket.HOUR:
        return hour, local.isoformat(timespec="minutes")
    day = local.date()
    if bucket is Bucket.DAY:
        return local_start(day, zone), day.isoformat()
    if bucket is Bucket.WEEK:
        monday = day - timedelta(days=day.weekday())
        return local_start(monday, zone), monday.isoformat()
    first = day.replace(day=1)
    return local_start(first, zone), first.strftime("%Y-%m")


def _next_bucket_day(day: date, bucket: Bucket) -> date:
    """The first local date of the bucket after the one holding `day`."""
    if bucket is Bucket.DAY:
        return day + timedelta(days=1)
    if bucket is Bucket.WEEK:
        return day - timedelta(days=day.weekday()) + timedelta(days=7)
    return _month_start(day.replace(day=28) + timedelta(days=4))


def bucket_firsts(query: UsageQuery) -> tuple[int, ...] | None:
    """The first UTC hour of each local bucket the query's hours fall in, in order, the first being
    `first_hour`: every hour belongs to the bucket of the last of them at or before it, so the store can sum
    whole buckets instead of returning every hour. None where that would not hold or not pay: hourly
    buckets, more than MAX_STORE_BUCKETS buckets, or a zone whose local date runs backwards beside a bucket
    edge (a clock set back across midnight), where `bucket_of` decides hour by hour."""
    if query.bucket is Bucket.HOUR:
        return None
    firsts = [query.first_hour]
    while True:
        day = datetime.fromtimestamp(firsts[-1], query.zone).date()
        following = _ceil_hour(local_start(_next_bucket_day(day, query.bucket), query.zone))
        if following >= query.end_hour:
            break
        if len(firsts) == MAX_STORE_BUCKETS:
            return None
        firsts.append(following)
    # Local dates only run backwards at a clock change near midnight, i.e. next to a bucket edge.
    starts = [bucket_of(first, query.bucket, query.zone)[0] for first in firsts]
    for first in firsts:
        for hour in range(first - EDGE_CHECK_HOURS * HOUR, first + EDGE_CHECK_HOURS * HOUR, HOUR):
            if query.first_hour <= hour < query.end_hour:
                owner = bisect.bisect_right(firsts, hour) - 1
                if bucket_of(hour, query.bucket, query.zone)[0] != starts[owner]:
                    return None
    return tuple(firsts)


def bucket_runs(firsts: Sequence[int], end_hour: int) -> list[tuple[int, int]]:
    """`firsts` (see bucket_firsts) as runs of buckets of equal length, each (first hour, length in
    seconds): an hour at or after a run's first hour, and before the next run's, lies in the bucket that
    starts at first + (hour - first) // length * length. Days in a zone without clock changes are one run
    however many they are (plus the partial buckets at either end), so the store computes each row's bucket
    with one division instead of comparing it with every bucket's first hour."""
    lengths = [following - first for first, following in itertools.pairwise(firsts)]
    lengths.append(end_hour - firsts[-1])
    runs: list[tuple[int, int]] = []
    for first, length in zip(firsts, lengths, strict=True):
        if not runs or runs[-1][1] != length:
            runs.append((first, length))
    return runs


# --- folding -------------------------------------------------------------------------------------------


def _group_fields(dim: Dimension, value: int | str, labels: Labels) -> dict[str, Any]:
    if dim is Dimension.MODEL:
        return {"model_name": value}
    if dim is Dimension.KEY:
        return {"key_id": value, "key_name": labels.key_names.get(int(value), "")}
    if dim is Dimension.CHANNEL:
        if labels.channel_names is None:
            return {"channel": value}
        return {"channel": value, "channel_name": labels.channel_names.get(int(value), "")}
    if dim is Dimension.GROUP:
        return {"group": value}
    if dim is Dimension.USER:
        return {"user_id": value, "username": labels.usernames.get(int(value), "")}
    return {"type": value}


def report(query: UsageQuery, hours: Iterable[HourTotals], labels: Labels) -> dict[str, Any]:
    """The payload: hourly totals folded into the query's local buckets, one item per bucket and group
    (ordered by bucket_start, then group values), and their totals."""
    buckets: dict[int, tuple[int, str]] = {}  # hour -> (bucket_start, bucket_label)
    cells: dict[tuple[int, tuple[int | str, ...]], list[int]] = {}  # sums in _SUMMED's order
    for hour in hours:
        found = buckets.get(hour.hour)
        if found is None:
            found = buckets[hour.hour] = bucket_of(hour.hour, query.bucket, query.zone)
        cell_key = (found[0], hour.key)
        cell = cells.get(cell_key)
        if cell is None:
            cells[cell_key] = [
                hour.requests,
                hour.successes,
                hour.failures,
                hour.prompt_tokens,
                hour.completion_tokens,
                hour.quota,
            ]
        else:
            cell[0] += hour.requests
            cell[1] += hour.successes
            cell[2] += hour.failures
            cell[3] += hour.prompt_tokens
            cell[4] += hour.completion_tokens
            cell[5] += hour.quota
    bucket_labels = dict(buckets.values())
    # A group's fields are the same in every bucket: built once per group.
    group_fields: dict[tuple[int | str, ...], dict[str, Any]] = {}
    items: list[dict[str, Any]] = []
    for (start, key), sums in sorted(cells.items()):
        fields = group_fields.get(key)
        if fields is None:
            fields = group_fields[key] = {}
            for dim, value in zip(query.group_by, key, strict=True):
                fields.update(_group_fields(dim, value, labels))
        items.append({"bucket_start": start, "bucket_label": bucket_labels[start], **fields, **_metrics(sums)})
    return {
        "bucket": query.bucket.value,
        "tz": timezones.label(query.zone),
        "range": query.range_name,
        "start": query.first_hour,
        "end": query.end_hour - 1,
        "group_by": [dim.value for dim in query.group_by],
        "items": items,
        "totals": _metrics([sum(column) for column in zip(*cells.values(), strict=False)] or [0] * len(_SUMMED)),
    }


def key_ids(hours: Sequence[HourTotals], query: UsageQuery) -> list[int]:
    """The API key ids among the groups (to name them), when the query groups by key."""
    if Dimension.KEY not in query.group_by:
        return []
    index = query.group_by.index(Dimension.KEY)
    return sorted({int(hour.key[index]) for hour in hours})


def user_ids(hours: Sequence[HourTotals], query: UsageQuery) -> list[int]:
    if Dimension.USER not in query.group_by:
        return []
    index = query.group_by.index(Dimension.USER)
    return sorted({int(hour.key[index]) for hour in hours})
