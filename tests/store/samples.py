"""Log rows and filter combinations for checking totals: several users, keys, models, channels, groups
and types, spread over three days at times that do not fall on hour boundaries. As in history imported from
a gateway that allows renaming, user 5 also logged as `user5-old`, and user 6 partly as `user2`."""

from __future__ import annotations

import random

from tokenledger.domain.filters import LogFilters, TextMatch
from tokenledger.domain.log import LogEntry, LogType

START = 1_760_000_000 - 1_760_000_000 % 3600 + 1234  # not on an hour boundary
SPAN = 3 * 24 * 3600
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "gemini-1.5-pro")
TYPES = (LogType.CONSUME, LogType.CONSUME, LogType.CONSUME, LogType.ERROR, LogType.TOPUP, LogType.MANAGE)


def _username(rng: random.Random, user: int) -> str:
    if user == 5 and rng.random() < 0.3:
        return "user5-old"
    if user == 6 and rng.random() < 0.3:
        return "user2"
    return f"user{user}"


def sample_entries(rng: random.Random, count: int, start: int = START, span: int = SPAN) -> list[LogEntry]:
    entries = []
    for _ in range(count):
        user = rng.randint(1, 6)
        token = user * 10 + rng.randint(0, 2)
        entries.append(
            LogEntry(
                id=0,
                user_id=user,
                created_at=start + rng.randrange(span),
                type=int(rng.choice(TYPES)),
                username=_username(rng, user),
                token_name=rng.choice(("default", "prod", "dev")),
                token_id=token,
                model_name=rng.choice(MODELS),
                channel=rng.randint(1, 4),
                group=rng.choice(("default", "vip")),
                quota=rng.randint(0, 5000),
                prompt_tokens=rng.randint(0, 900),
                completion_tokens=rng.randint(0, 400),
                request_id=f"req-{rng.randrange(10**6)}",
            )
        )
    return entries


def windows(rng: random.Random) -> list[tuple[int, int]]:
    hour = START - START % 3600
    return [
        (0, 0),
        (hour + 3600, hour + 10 * 3600 - 1),  # whole hours only
        (START + 17, START + SPAN - 500),  # ragged on both sides
        (START + 4000, START + 4100),  # inside one hour
        (hour + 7200 + 10, hour + 3 * 3600 + 5),  # two partial hours, no whole one
        (START + 50_000, 0),  # open-ended
        (0, START + 80_000),
        *((start, start + rng.randrange(1, 40_000)) for start in (START + rng.randrange(SPAN) for _ in range(2))),
    ]


def filter_sets() -> list[LogFilters]:
    return [
        LogFilters(),
        LogFilters(user_id=3),
        LogFilters(user_id=3, token_id=31),
        LogFilters(username=TextMatch("user2")),
        LogFilters(username=TextMatch("user%", is_pattern=True)),
        LogFilters(token_name="prod"),
        LogFilters(model_name=TextMatch("gpt-4o")),
        LogFilters(model_name=TextMatch("gpt-4o%", is_pattern=True)),
        LogFilters(channel=2),
        LogFilters(group="vip"),
        LogFilters(user_id=4, token_name="dev"),
        LogFilters(user_id=4, model_name=TextMatch("claude-3-5-sonnet")),
        # A username only its user logged under: the user's scopes answer.
        LogFilters(username=TextMatch("user1"), model_name=TextMatch("gpt-4o%", is_pattern=True)),
        LogFilters(username=TextMatch("user3"), token_name="prod"),
        LogFilters(username=TextMatch("user4"), user_id=4, token_id=41),
        # No rollup covers these: counted from raw rows (a name two users logged under, a renamed user,
        # a name and another user's id, three dimensions).
        LogFilters(username=TextMatch("user2"), model_name=TextMatch("gpt-4o")),
        LogFilters(username=TextMatch("user5"), token_name="dev"),
        LogFilters(username=TextMatch("user3"), user_id=4, model_name=TextMatch("gpt-4o")),
        LogFilters(user_id=4, model_name=TextMatch("gpt-4o"), channel=1),
        LogFilters(request_id="req-1"),
    ]


DAY = 86_400
# The first day of `over_ten_days` (in whole days since 1970).
TEN_DAYS_FIRST = 20_700 * DAY
# Windows over those ten days: at day edges, within a day, across days, eight days and nine.
TEN_DAYS_WINDOWS = (
    (TEN_DAYS_FIRST + 5 * DAY - 1, TEN_DAYS_FIRST + 5 * DAY),  # the last second of a day and the first of the next
    (TEN_DAYS_FIRST + 3 * DAY + 600, TEN_DAYS_FIRST + 3 * DAY + 40_000),
    (TEN_DAYS_FIRST, TEN_DAYS_FIRST + 3 * DAY - 1),
    (TEN_DAYS_FIRST - DAY, TEN_DAYS_FIRST + 6 * DAY + 5),  # eight days
    (TEN_DAYS_FIRST + DAY, TEN_DAYS_FIRST + 9 * DAY + 1),  # nine
)


def over_ten_days(contents: tuple[str, ...]) -> list[LogEntry]:
    """Error logs of three users every 20 minutes over ten days from TEN_DAYS_FIRST, the last second of a
    day among them, each content in turn."""
    return [
        LogEntry(
            id=0,
            user_id=1 + n % 3,
            created_at=TEN_DAYS_FIRST + n * 1200 - 1,
            type=LogType.ERROR,
            content=contents[n % len(contents)],
        )
        for n in range(10 * 72 + 2)
    ]
