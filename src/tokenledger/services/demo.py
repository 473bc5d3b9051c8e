"""Demo data: users, API keys, channels and a month of usage logs that look like a busy New API gateway.

Everything but the API key secrets is derived from `random.Random(seed)` and `now`, so a seed reproduces
the same log rows (apart from database ids) and screenshots, benchmarks and tests can rely on them. Users,
keys and channels are looked up by name first, so seeding a database twice only adds logs.

Seed a database after the first-start bootstrap (`accounts.ensure_root`): that bootstrap only creates
root on an empty users table, and demo users would otherwise take root's id.
"""

from __future__ import annotations

import json
import math
import random
from bisect import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from tokenledger.domain import credentials, timestamps
from tokenledger.domain.apikey import NEVER_EXPIRES, KeyStatus
from tokenledger.domain.channel import ChannelStatus
from tokenledger.domain.errors import Conflict
from tokenledger.domain.log import LogEntry, LogType
from tokenledger.domain.numbers import QUOTA_PER_UNIT
from tokenledger.domain.user import Role, User
from tokenledger.store import apikeys, channels, logs, users
from tokenledger.store.database import Connection, Database

# Every demo user gets this password: demo data is for looking around, not for guarding anything.
DEMO_PASSWORD = "demo-password"

DAYS = 30
DAY = 86_400
HOUR = 3_600
BATCH_SIZE = 5_000

GROUP_RATIOS: dict[str, float] = {"default": 1.0, "vip": 0.8, "svip": 0.6}


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What one `seed_demo` run created; the secret of `sample_key` is readable only here."""

    users: int
    keys: int
    channels: int
    logs: int
    sample_username: str
    sample_password: str
    sample_key: str | None


@dataclass(frozen=True, slots=True)
class _Model:
    """A model as a gateway prices it: quota per token = model_ratio (x completion_ratio for output)."""

    name: str
    model_ratio: float
    completion_ratio: float
    popularity: float
    prompt_median: float  # tokens; log-normal, so a long tail of huge prompts
    completion_median: float  # 0: an embedding model, which produces no completion
    tokens_per_second: float
    channels: tuple[tuple[str, float], ...]  # (channel name, routing weight)


@dataclass(frozen=True, slots=True)
class _ChannelSpec:
    name: str
    type: int  # New API's channel type numbers
    base_url: str


_OPENAI = "OpenAI"
_AZURE = "Azure OpenAI (eastus)"
_ANTHROPIC = "Anthropic"
_GEMINI = "Google Gemini"
_DEEPSEEK = "DeepSeek"
_QWEN = "Qwen (DashScope)"
_MOONSHOT = "Moonshot"
_OPENROUTER = "OpenRouter (fallback)"

_CHANNELS = (
    _ChannelSpec(_OPENAI, 1, "https://api.openai.com"),
    _ChannelSpec(_AZURE, 3, "https://demo-eastus.openai.azure.com"),
    _ChannelSpec(_ANTHROPIC, 14, "https://api.anthropic.com"),
    _ChannelSpec(_GEMINI, 24, "https://generativelanguage.googleapis.com"),
    _ChannelSpec(_DEEPSEEK, 43, "https://api.deepseek.com"),
    _ChannelSpec(_QWEN, 17, "https://dashscope.aliyuncs.com"),
    _ChannelSpec(_MOONSHOT, 25, "https://api.moonshot.cn"),
    _ChannelSpec(_OPENROUTER, 20, "https://openrouter.ai/api"),
)
# Providers whose responses carry a request id worth logging as `upstream_request_id`.
_UPSTREAM_IDS = frozenset({_OPENAI, _AZURE, _ANTHROPIC})

# Ratios follow list prices (model_ratio = input $ per 1M tokens / 2; completion_ratio = output / input).
_MODELS = (
    _Model("gpt-4o-mini", 0.075, 4.0, 22, 900, 220, 90, ((_OPENAI, 1.0), (_AZURE, 0.6))),
    _Model("gpt-4o", 1.25, 4.0, 14, 1500, 320, 60, ((_OPENAI, 1.0), (_AZURE, 0.6), (_OPENROUTER, 0.1))),
    _Model("claude-sonnet-4-5", 1.5, 5.0, 13, 3500, 450, 55, ((_ANTHROPIC, 1.0), (_OPENROUTER, 0.15))),
    _Model("deepseek-chat", 0.135, 4.0, 10, 1400, 380, 35, ((_DEEPSEEK, 1.0), (_OPENROUTER, 0.1))),
    _Model("gemini-2.5-flash", 0.15, 8.33, 7, 1800, 350, 120, ((_GEMINI, 1.0),)),
    _Model("gpt-4.1", 1.0, 4.0, 5, 2500, 400, 55, ((_OPENAI, 1.0), (_AZURE, 0.5))),
    _Model("gpt-4.1-mini", 0.2, 4.0, 5, 1200, 260, 85, ((_OPENAI, 1.0), (_AZURE, 0.5))),
    _Model("text-embedding-3-small", 0.01, 1.0, 4, 400, 0, 1, ((_OPENAI, 1.0), (_AZURE, 1.0))),
    _Model("qwen-plus", 0.2, 3.0, 4, 1300, 300, 60, ((_QWEN, 1.0),)),
    _Model("gemini-2.5-pro", 0.625, 8.0, 4, 4000, 700, 70, ((_GEMINI, 1.0), (_OPENROUTER, 0.1))),
    _Model("deepseek-reasoner", 0.275, 4.0, 3, 1600, 1400, 30, ((_DEEPSEEK, 1.0),)),
    _Model("qwen-max", 0.8, 4.0, 2.5, 1500, 350, 35, ((_QWEN, 1.0),)),
    _Model("o4-mini", 0.55, 4.0, 2.5, 1500, 1100, 90, ((_OPENAI, 1.0),)),
    _Model("claude-3-5-haiku", 0.4, 5.0, 2.5, 1200, 250, 80, ((_ANTHROPIC, 1.0),)),
    _Model("gpt-5", 0.625, 8.0, 2, 2500, 1200, 50, ((_OPENAI, 1.0),)),
    _Model("gpt-5-mini", 0.125, 8.0, 2, 1500, 800, 80, ((_OPENAI, 1.0),)),
    _Model("qwen-turbo", 0.025, 4.0, 1.5, 800, 200, 110, ((_QWEN, 1.0),)),
    _Model("kimi-k2-0905-preview", 0.3, 4.17, 1.5, 2500, 500, 40, ((_MOONSHOT, 1.0), (_OPENROUTER, 0.2))),
    _Model("claude-opus-4-1", 7.5, 5.0, 1, 5000, 600, 30, ((_ANTHROPIC, 1.0),)),
    _Model("o3-mini", 0.55, 4.0, 1, 1300, 1000, 100, ((_OPENAI, 1.0),)),
)
_MAX_PROMPT = 200_000
_MAX_COMPLETION = 32_000

_PEOPLE = (
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
    "mallory", "niaj", "olivia", "peggy", "quentin", "rupert", "sybil", "trent", "uma", "victor",
    "walter", "xena", "yusuf", "zoe", "liam", "mia", "noah", "emma", "oscar", "priya",
)  # fmt: skip
_TEAMS = ("team-search", "team-growth", "team-infra", "team-data", "team-mobile", "team-support")
_ADMINS = frozenset({"trent", "walter"})
_SAMPLE_USERNAME = "alice"
_EXTRA_KEY_NAMES = ("prod", "staging", "cursor", "batch-job", "notebook", "ci", "eval", "chatbot")

# (type, share of rows): ~93% consume, ~4% error, ~1% top-up, the rest admin and system notices.
_TYPE_MIX = (
    (LogType.CONSUME, 93.0),
    (LogType.ERROR, 4.0),
    (LogType.TOPUP, 1.0),
    (LogType.MANAGE, 1.0),
    (LogType.SYSTEM, 1.0),
)
_STREAM_SHARE = 0.7
_FRT_MU = math.log(650)  # median first-response time, ms

# (status code, content, error type, weight)
_ERRORS = (
    (429, "upstream error: status 429, rate limit exceeded", "upstream_error", 45),
    (500, "upstream error: status 500, internal server error", "upstream_error", 12),
    (502, "upstream error: status 502, bad gateway", "upstream_error", 8),
    (503, "upstream error: status 503, model is overloaded, please retry later", "upstream_error", 12),
    (400, "upstream error: status 400, context length exceeded", "upstream_error", 8),
    (504, "request timed out after 60s waiting for upstream", "timeout", 7),
    (401, "upstream error: status 401, invalid upstream api key", "channel_error", 3),
    (403, "user quota is not enough", "new_api_error", 5),
)
_TOPUP_USD = (5, 10, 20, 50, 100, 200, 500)

# Relative traffic per hour of day (UTC): quiet nights, a morning ramp, a lunch dip, an afternoon peak.
HOURLY_TRAFFIC = (
    0.18, 0.12, 0.10, 0.09, 0.10, 0.15, 0.30, 0.55, 0.85, 1.00, 1.05, 1.00,
    0.80, 0.95, 1.05, 1.10, 1.00, 0.85, 0.65, 0.55, 0.50, 0.45, 0.35, 0.25,
)  # fmt: skip
WEEKEND_TRAFFIC = 0.45


@dataclass(frozen=True, slots=True)
class _UserPlan:
    """One demo user as decided by the seed, before it is matched to a database row."""

    username: str
    role: int
    group: str
    quota: int
    key_names: tuple[str, ...]
    key_weights: tuple[float, ...]
    weight: float
    model_cum_weights: tuple[float, ...]
    ips: tuple[str, ...]


@dataclass(slots=True)
class _Account:
    """A demo user resolved to its database row and keys (in `key_names` order)."""

    plan: _UserPlan
    user: User
    key_ids: list[int]
    key_cum_weights: list[float]
    ip_cum_weights: list[float]


def cumulative(weights: Sequence[float]) -> list[float]:
    """Running totals of weights, for `pick`."""
    return list(accumulate(weights))


def _private_ip(rng: random.Random) -> str:
    block = rng.random()
    if block < 0.5:
        return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    if block < 0.8:
        return f"192.168.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    return f"172.{rng.randrange(16, 32)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _plan_users(rng: random.Random) -> list[_UserPlan]:
    """Decide every demo user: a Zipf-like share of traffic (a few heavy users own most of it), a couple
    of favourite models each, 1-3 keys with the first doing most of the work, and 1-3 source IPs."""
    names = list(_PEOPLE + _TEAMS)
    ranking = names[:]
    rng.shuffle(ranking)
    rank = {name: index for index, name in enumerate(ranking)}
    popularity = [model.popularity for model in _MODELS]
    plans = []
    for name in names:
        team = name.startswith("team-")
        group = rng.choices(("vip", "svip"), (3, 1))[0] if team else rng.choices(tuple(GROUP_RATIOS), (7, 2, 1))[0]
        key_count = rng.choices((1, 2, 3), (5, 3, 2))[0]
        key_names = ("default", *rng.sample(_EXTRA_KEY_NAMES, key_count - 1))
        key_weights = (1.0, *(rng.uniform(0.1, 0.6) for _ in key_names[1:]))
        favourites = set(rng.sample(range(len(_MODELS)), 2))
        model_weights = [p * (6.0 if i in favourites else 1.0) for i, p in enumerate(popularity)]
        weight = (3.0 if team else 1.0) / (rank[name] + 1) ** 1.1
        plans.append(
            _UserPlan(
                username=name,
                role=int(Role.ADMIN if name in _ADMINS else Role.COMMON),
                group=group,
                quota=rng.choice((20, 50, 100, 200, 500, 1000)) * QUOTA_PER_UNIT,
                key_names=key_names,
                key_weights=key_weights,
                weight=weight,
                model_cum_weights=tuple(cumulative(model_weights)),
                ips=tuple(_private_ip(rng) for _ in range(rng.randint(1, 3))),
            )
        )
    return plans


def _ensure_channels(conn: Connection, now: int) -> tuple[dict[str, int], int]:
    """Channel ids by name, creating the missing ones. Returns the ids and how many were created."""
    existing: dict[str, int] = {}
    for channel_id, name in sorted(channels.names(conn).items()):
        existing.setdefault(name, channel_id)
    created = 0
    for index, spec in enumerate(_CHANNELS):
        if spec.name in existing:
            continue
        served = [model.name for model in _MODELS if any(name == spec.name for name, _ in model.channels)]
        channel = channels.insert_channel(
            conn,
            name=spec.name,
            type=spec.type,
            base_url=spec.base_url,
            key=f"sk-demo-{index:02d}-not-a-real-upstream-key",
            models=",".join(served),
            group=",".join(GROUP_RATIOS),
            status=int(ChannelStatus.ENABLED),
            created_at=now - (DAYS + 60 - index) * DAY,
        )
        existing[spec.name] = channel.id
        created += 1
    return existing, created


def _ensure_accounts(
    conn: Connection, plans: list[_UserPlan], now: int
) -> tuple[list[_Account], int, list[tuple[str, str]]]:
    """Demo users and their keys, reusing rows with the same username (and key name). Returns the
    accounts, how many users were created and (username, secret) of every key created."""
    password_hash = ""
    created_users = 0
    new_keys: list[tuple[str, str]] = []
    accounts: list[_Account] = []
    for index, plan in enumerate(plans):
        user = users.get_by_username(conn, plan.username)
        if user is None:
            if not password_hash:
                password_hash = credentials.hash_password(DEMO_PASSWORD)
            try:
                user = users.insert_user(
                    conn,
                    username=plan.username,
                    password_hash=password_hash,
                    display_name=plan.username.replace("-", " ").title(),
                    role=plan.role,
                    quota=plan.quota,
                    group=plan.group,
                    created_at=now - (DAYS + 45 - index) * DAY,
                )
            except Conflict:
                continue  # a deleted user keeps its name reserved: leave it out of the demo
            created_users += 1
        owned: dict[str, int] = {}
        for key in apikeys.list_for_users(conn, [user.id]):
            owned.setdefault(key.name, key.id)
        key_ids = []
        for key_name in plan.key_names:
            if key_name not in owned:
                secret = credentials.new_api_key()
                created_at = user.created_at + (len(owned) + 1) * HOUR
                key = apikeys.insert_key(
                    conn,
                    user_id=user.id,
                    name=key_name,
                    key_hash=credentials.digest(secret),
                    key_hint=credentials.mask(secret),
                    status=int(KeyStatus.ENABLED),
                    created_at=created_at,
                    accessed_at=created_at,
                    expired_time=NEVER_EXPIRES,
                    remain_quota=0,
                    unlimited_quota=True,
                    group="",
                    ingest=False,
                )
                owned[key_name] = key.id
                new_keys.append((user.username, secret))
            key_ids.append(owned[key_name])
        key_cum = cumulative(list(plan.key_weights))
        ip_cum = cumulative([4.0, 1.0, 0.5][: len(plan.ips)])  # one main address, occasional others
        accounts.append(_Account(plan, user, key_ids, key_cum, ip_cum))
    return accounts, created_users, new_keys


def _timestamps(rng: random.Random, rows: int, now: int) -> list[int]:
    """`rows` instants in [now - 30 days, now), ascending, following the daily and weekly cycle with a
    gentle growth over the month and some hour-to-hour noise."""
    start = now - DAYS * DAY
    slots = DAYS * 24
    weights = []
    for slot in range(slots):
        middle = start + slot * HOUR + HOUR // 2
        hour = middle // HOUR % 24
        weekday = (middle // DAY + 3) % 7  # 1970-01-01 was a Thursday; 0 is Monday
        growth = 0.8 + 0.4 * slot / slots
        weekend = WEEKEND_TRAFFIC if weekday >= 5 else 1.0
        weights.append(HOURLY_TRAFFIC[hour] * weekend * growth * rng.uniform(0.8, 1.2))
    chosen = rng.choices(range(slots), weights=weights, k=rows)
    return sorted(start + slot * HOUR + int(rng.random() * HOUR) for slot in chosen)


def lognormal_tokens(rng: random.Random, median: float, sigma: float, low: int, high: int) -> int:
    """A heavy-tailed token count around `median`, clamped to [low, high]."""
    return min(high, max(low, int(rng.lognormvariate(math.log(median), sigma))))


def compact_json(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"))


def price_note(model_ratio: float, completion_ratio: float, group_ratio: float) -> tuple[str, str]:
    """The content and `other` a gateway writes for a priced consume log. `other` comes without its closing
    brace, so the caller can append the call's own fields."""
    content = f"model ratio {model_ratio:.2f}, completion ratio {completion_ratio:.2f}, group ratio {group_ratio:.2f}"
    other = {
        "model_ratio": model_ratio,
        "completion_ratio": completion_ratio,
        "group_ratio": group_ratio,
        "model_price": -1,
    }
    return content, compact_json(other)[:-1]


def consume_quota(
    prompt_tokens: int, completion_tokens: int, model_ratio: float, completion_ratio: float, group_ratio: float
) -> int:
    """New API's price of a text request, in quota units (500,000 = $1)."""
    return round((prompt_tokens + completion_tokens * completion_ratio) * model_ratio * group_ratio)


def pick(rng: random.Random, cum_weights: Sequence[float]) -> int:
    """The index drawn from cumulative weights: what `rng.choices(k=1)` does, without its per-call setup."""
    return bisect(cum_weights, rng.random() * cum_weights[-1], 0, len(cum_weights) - 1)


class _RowMaker:
    """Turns (time, user, type) into a full log row; all randomness comes from the one seeded rng. The
    text that depends only on the model and group (content, the start of `other`) is built once."""

    def __init__(self, rng: random.Random, accounts: list[_Account], channel_ids: dict[str, int]) -> None:
        self.rng = rng
        self.routes = [
            ([channel_ids[name] for name, _ in model.channels], cumulative([w for _, w in model.channels]))
            for model in _MODELS
        ]
        # Prompts of at least one quota unit, so that no consume row is free (New API would charge 1).
        cheapest_group = min(GROUP_RATIOS.values())
        self.min_prompt = [max(8, math.ceil(1 / (model.model_ratio * cheapest_group))) for model in _MODELS]
        self.upstream_ids = {channel_ids[name] for name in _UPSTREAM_IDS}
        self.error_cum = cumulative([float(weight) for *_, weight in _ERRORS])
        self.error_other = [
            compact_json({"error_type": error_type, "status_code": status})[:-1] for status, _, error_type, _ in _ERRORS
        ]
        self.admins = [account.user for account in accounts if account.plan.role >= Role.ADMIN] or [accounts[0].user]
        self.priced: dict[tuple[int, str], tuple[float, str, str]] = {}
        for group in {account.user.group for account in accounts}:
            group_ratio = GROUP_RATIOS.get(group, 1.0)
            for index, model in enumerate(_MODELS):
                content, other = price_note(model.model_ratio, model.completion_ratio, group_ratio)
                self.priced[index, group] = (group_ratio, content, other)

    def _request_id(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def _call(self, account: _Account) -> tuple[int, int, int, str, str]:
        """The model index, channel, key and caller of an API request."""
        rng = self.rng
        index = pick(rng, account.plan.model_cum_weights)
        channel_list, channel_cum = self.routes[index]
        channel = channel_list[pick(rng, channel_cum)]
        key_index = pick(rng, account.key_cum_weights)
        ip = account.plan.ips[pick(rng, account.ip_cum_weights)]
        return index, channel, account.key_ids[key_index], account.plan.key_names[key_index], ip

    def make(self, created_at: int, account: _Account, kind: LogType) -> LogEntry:
        if kind == LogType.CONSUME:
            return self._consume(created_at, account)
        if kind == LogType.ERROR:
            return self._error(created_at, account)
        return self._notice(created_at, account.user, kind)

    def _consume(self, created_at: int, account: _Account) -> LogEntry:
        rng = self.rng
        index, channel, key_id, key_name, ip = self._call(account)
        model = _MODELS[index]
        user = account.user
        group_ratio, content, other = self.priced[index, user.group]
        prompt = lognormal_tokens(rng, model.prompt_median, 1.2, self.min_prompt[index], _MAX_PROMPT)
        if model.completion_median:
            completion = lognormal_tokens(rng, model.completion_median, 1.0, 1, _MAX_COMPLETION)
            stream = rng.random() < _STREAM_SHARE
        else:
            completion, stream = 0, False
        quota = consume_quota(prompt, completion, model.model_ratio, model.completion_ratio, group_ratio)
        first_response_ms = int(rng.lognormvariate(_FRT_MU, 0.5)) + prompt // 200
        speed = model.tokens_per_second * (0.6 + 0.8 * rng.random())
        if stream:
            other += f',"frt":{first_response_ms}'
        upstream = f"req_{rng.getrandbits(96):024x}" if channel in self.upstream_ids else ""
        return LogEntry(
            id=0,
            user_id=user.id,
            created_at=created_at,
            type=int(LogType.CONSUME),
            content=content,
            username=user.username,
            token_name=key_name,
            model_name=model.name,
            quota=quota,
            prompt_tokens=prompt,
            completion_tokens=completion,
            use_time=round(first_response_ms / 1000 + completion / speed),
            is_stream=stream,
            channel=channel,
            token_id=key_id,
            group=user.group,
            ip=ip,
            request_id=self._request_id(),
            upstream_request_id=upstream,
            other=f'{other},"admin_info":{{"use_channel":["{channel}"]}}}}',
        )

    def _error(self, created_at: int, account: _Account) -> LogEntry:
        rng = self.rng
        index, channel, key_id, key_name, ip = self._call(account)
        error = pick(rng, self.error_cum)
        status, content, _, _ = _ERRORS[error]
        use_time = 60 if status == 504 else int(rng.expovariate(1 / 2.5))
        user = account.user
        return LogEntry(
            id=0,
            user_id=user.id,
            created_at=created_at,
            type=int(LogType.ERROR),
            content=content,
            username=user.username,
            token_name=key_name,
            model_name=_MODELS[index].name,
            use_time=use_time,
            is_stream=rng.random() < _STREAM_SHARE,
            channel=channel,
            token_id=key_id,
            group=user.group,
            ip=ip,
            request_id=self._request_id(),
            other=f'{self.error_other[error]},"admin_info":{{"use_channel":["{channel}"]}}}}',
        )

    def _notice(self, created_at: int, user: User, kind: LogType) -> LogEntry:
        """Top-ups, admin actions and system notices: account events, not API calls."""
        rng = self.rng
        usd = rng.choice(_TOPUP_USD)
        if kind == LogType.TOPUP:
            if rng.random() < 0.5:
                content = f"top-up via redemption code: ${usd:.2f}"
            else:
                content = f"online top-up succeeded, amount: ${usd:.2f}, paid: ${usd:.2f}"
            return LogEntry(
                id=0,
                user_id=user.id,
                created_at=created_at,
                type=int(kind),
                content=content,
                username=user.username,
                quota=usd * QUOTA_PER_UNIT,
                group=user.group,
                other="",
            )
        if kind == LogType.MANAGE:
            admin = rng.choice(self.admins)
            before = rng.choice(_TOPUP_USD)
            content = f"admin changed user quota from ${before:.2f} to ${before + usd:.2f}"
            other = compact_json({"admin_info": {"admin_id": admin.id, "admin_username": admin.username}})
            return LogEntry(
                id=0,
                user_id=user.id,
                created_at=created_at,
                type=int(kind),
                content=content,
                username=user.username,
                group=user.group,
                other=other,
            )
        content = rng.choice(
            (
                f"daily check-in reward: ${usd / 100:.2f}",
                f"invitation reward: ${usd / 10:.2f}",
                "balance reminder: remaining quota below $5.00",
            )
        )
        return LogEntry(
            id=0,
            user_id=user.id,
            created_at=created_at,
            type=int(kind),
            content=content,
            username=user.username,
            group=user.group,
            other="",
        )


def _entries(
    rng: random.Random, accounts: list[_Account], channel_ids: dict[str, int], rows: int, now: int
) -> Iterator[list[LogEntry]]:
    """The log rows in batches of BATCH_SIZE, ascending by created_at. Per-row choices that do not depend
    on each other (time, user, type) are drawn up front with one `choices` call each."""
    times = _timestamps(rng, rows, now)
    owners = rng.choices(accounts, cum_weights=cumulative([a.plan.weight for a in accounts]), k=rows)
    kinds = rng.choices([kind for kind, _ in _TYPE_MIX], weights=[share for _, share in _TYPE_MIX], k=rows)
    maker = _RowMaker(rng, accounts, channel_ids)
    for first in range(0, rows, BATCH_SIZE):
        last = min(rows, first + BATCH_SIZE)
        yield [maker.make(times[i], owners[i], kinds[i]) for i in range(first, last)]


def _record_usage(conn: Connection, totals: dict[tuple[int, int], list[int]]) -> None:
    """Add the run's consumption (quota, request count, last use by user and key) to the users' and keys'
    counters, so the user and key pages agree with the logs."""
    by_user: dict[int, list[int]] = {}
    for (user_id, key_id), (quota, count, last_seen) in sorted(totals.items()):
        user_total = by_user.setdefault(user_id, [0, 0])
        user_total[0] += quota
        user_total[1] += count
        key = apikeys.get(conn, key_id, user_id)
        if key is not None:
            apikeys.update_key(
                conn, key_id, user_id, used_quota=key.used_quota + quota, accessed_at=max(key.accessed_at, last_seen)
            )
    for user_id, (quota, count) in by_user.items():
        user = users.get(conn, user_id)
        if user is not None:
            users.update_user(
                conn, user_id, used_quota=user.used_quota + quota, request_count=user.request_count + count
            )


def seed_demo(
    db: Database,
    *,
    rows: int = 100_000,
    seed: int = 42,
    now: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> DemoSummary:
    """Fill `db` with demo users, keys, channels and `rows` logs over the 30 days before `now`.

    Users, keys and channels that already exist (same username, key name or channel name) are reused, so a
    second run only adds logs. Logs are written in transactions of BATCH_SIZE rows; `progress` gets the
    number of rows of each committed batch. Users share DEMO_PASSWORD, hashed once: bcrypt per user would
    cost seconds.
    """
    if rows < 0:
        raise ValueError("rows must not be negative")
    now = timestamps.now() if now is None else now
    rng = random.Random(seed)
    plans = _plan_users(rng)
    with db.write() as conn:
        channel_ids, created_channels = _ensure_channels(conn, now)
        accounts, created_users, new_keys = _ensure_accounts(conn, plans, now)
    if not accounts:
        raise Conflict("every demo username belongs to a deleted user")

    written = 0
    totals: dict[tuple[int, int], list[int]] = {}
    for batch in _entries(rng, accounts, channel_ids, rows, now):
        with db.write_logs() as log_conn:
            written += logs.insert_logs(log_conn, batch)
        for entry in batch:
            if entry.type == LogType.CONSUME:
                total = totals.setdefault((entry.user_id, entry.token_id), [0, 0, 0])
                total[0] += entry.quota
                total[1] += 1
                total[2] = entry.created_at
        if progress is not None:
            progress(len(batch))
    if totals:
        with db.write() as conn:
            _record_usage(conn, totals)

    sample = next((a for a in accounts if a.user.username == _SAMPLE_USERNAME), accounts[0])
    sample_username = sample.user.username
    sample_key = next((secret for name, secret in new_keys if name == sample_username), None)
    if sample_key is None and new_keys:
        sample_username, sample_key = new_keys[0]
    return DemoSummary(
        users=created_users,
        keys=len(new_keys),
        channels=created_channels,
        logs=written,
        sample_username=sample_username,
        sample_password=DEMO_PASSWORD,
        sample_key=sample_key,
    )
