"""The benchmark dataset: who calls, with which keys, models and channels, and the log records themselves.

Everything derives from `random.Random(seed)` and the fixed `DATASET_NOW`, so the same rows and seed give
the same records on every run and backend (only the API key secrets use their own derived generators, so
that a reused database's keys can be recomputed). Records are produced in batches, hour by hour, so even
10 million rows are generated with bounded memory.
"""

from __future__ import annotations

import calendar
import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tokenledger.services.demo import (
    GROUP_RATIOS,
    HOURLY_TRAFFIC,
    WEEKEND_TRAFFIC,
    compact_json,
    consume_quota,
    cumulative,
    lognormal_tokens,
    pick,
    price_note,
)

# The dataset's "now": fixed, so reruns produce identical rows. The 30 days before it hold every row.
DATASET_NOW = calendar.timegm((2026, 11, 1, 0, 0, 0))
DAYS = 30
DAY = 86_400
HOUR = 3_600
DATASET_START = DATASET_NOW - DAYS * DAY
# The hours before the dataset that the ingest measurements date their rows in, one hour per run.
INGEST_HOURS_START = DATASET_START - DAYS * DAY

DEFAULT_USERS = 5_000
DEFAULT_KEYS = 20_000
HEAVY_USERS = 10
HEAVY_SHARE = 0.40  # of all rows, owned by the HEAVY_USERS

# Share of rows by log type: consume 95%, error 3%, top-up 1%, manage 0.5%, system 0.5%.
_TYPE_THRESHOLDS = ((0.95, 2), (0.98, 5), (0.99, 1), (0.995, 3), (1.0, 4))
_STREAM_SHARE = 0.7
_MAX_PROMPT = 200_000
_MAX_COMPLETION = 32_000

# Relative traffic per hour of day (UTC) and on weekends: the demo data's daily cycle.
_HOURLY = HOURLY_TRAFFIC
_WEEKEND = WEEKEND_TRAFFIC


@dataclass(frozen=True, slots=True)
class Model:
    """A model as a gateway prices it, with the token sizes and speed its calls tend to have."""

    name: str
    family: str
    model_ratio: float
    completion_ratio: float
    prompt_median: float
    completion_median: float  # 0: an embedding model
    tokens_per_second: float


# Listed by popularity rank (Zipf-like weights are derived from the position).
MODELS = (
    Model("gpt-4o-mini", "openai", 0.075, 4.0, 900, 220, 90),
    Model("gpt-4o", "openai", 1.25, 4.0, 1500, 320, 60),
    Model("claude-sonnet-4-5", "anthropic", 1.5, 5.0, 3500, 450, 55),
    Model("deepseek-chat", "deepseek", 0.135, 4.0, 1400, 380, 35),
    Model("gemini-2.5-flash", "google", 0.15, 8.33, 1800, 350, 120),
    Model("gpt-4.1", "openai", 1.0, 4.0, 2500, 400, 55),
    Model("gpt-4.1-mini", "openai", 0.2, 4.0, 1200, 260, 85),
    Model("text-embedding-3-small", "openai", 0.01, 1.0, 400, 0, 1),
    Model("qwen-plus", "qwen", 0.2, 3.0, 1300, 300, 60),
    Model("gemini-2.5-pro", "google", 0.625, 8.0, 4000, 700, 70),
    Model("deepseek-reasoner", "deepseek", 0.275, 4.0, 1600, 1400, 30),
    Model("gpt-4o-2024-08-06", "openai", 1.25, 4.0, 1500, 320, 60),
    Model("o4-mini", "openai", 0.55, 4.0, 1500, 1100, 90),
    Model("claude-3-5-haiku", "anthropic", 0.4, 5.0, 1200, 250, 80),
    Model("gpt-5", "openai", 0.625, 8.0, 2500, 1200, 50),
    Model("gpt-5-mini", "openai", 0.125, 8.0, 1500, 800, 80),
    Model("qwen-max", "qwen", 0.8, 4.0, 1500, 350, 35),
    Model("kimi-k2-0905-preview", "moonshot", 0.3, 4.17, 2500, 500, 40),
    Model("glm-4.6", "zhipu", 0.3, 4.0, 2000, 450, 45),
    Model("text-embedding-3-large", "openai", 0.065, 1.0, 500, 0, 1),
    Model("claude-opus-4-1", "anthropic", 7.5, 5.0, 5000, 600, 30),
    Model("gpt-4o-mini-tts", "openai", 0.3, 8.0, 300, 900, 200),
    Model("mistral-large-latest", "mistral", 1.0, 3.0, 1800, 400, 45),
    Model("llama-3.3-70b-instruct", "groq", 0.295, 1.34, 1500, 350, 250),
    Model("qwen-turbo", "qwen", 0.025, 4.0, 800, 200, 110),
    Model("o3-mini", "openai", 0.55, 4.0, 1300, 1000, 100),
    Model("grok-4", "xai", 1.5, 5.0, 2500, 600, 50),
    Model("gemini-2.0-flash-lite", "google", 0.0375, 4.0, 900, 200, 150),
    Model("deepseek-v3.2-exp", "deepseek", 0.14, 1.5, 1600, 400, 40),
    Model("minimax-m2", "minimax", 0.15, 4.0, 2000, 500, 60),
    Model("codestral-latest", "mistral", 0.15, 3.0, 3000, 300, 90),
    Model("gpt-image-1", "openai", 2.5, 8.0, 200, 4000, 100),
    Model("qwen3-coder-plus", "qwen", 0.5, 5.0, 6000, 800, 60),
    Model("command-r-plus", "cohere", 1.25, 4.0, 1800, 350, 45),
    Model("sonar-pro", "perplexity", 1.5, 5.0, 800, 600, 60),
    Model("claude-3-7-sonnet", "anthropic", 1.5, 5.0, 3000, 500, 55),
)

# (name, New API channel type, base URL, provider family, routing weight within its family)
CHANNELS = (
    ("OpenAI main", 1, "https://api.openai.com", "openai", 1.0),
    ("OpenAI org-2", 1, "https://api.openai.com", "openai", 0.5),
    ("OpenAI batch", 1, "https://api.openai.com", "openai", 0.15),
    ("Azure eastus", 3, "https://bench-eastus.openai.azure.com", "openai", 0.6),
    ("Azure westeurope", 3, "https://bench-westeurope.openai.azure.com", "openai", 0.3),
    ("Azure japaneast", 3, "https://bench-japaneast.openai.azure.com", "openai", 0.1),
    ("Anthropic main", 14, "https://api.anthropic.com", "anthropic", 1.0),
    ("Anthropic org-2", 14, "https://api.anthropic.com", "anthropic", 0.4),
    ("AWS Bedrock us-east-1", 33, "https://bedrock-runtime.us-east-1.amazonaws.com", "anthropic", 0.3),
    ("Gemini API", 24, "https://generativelanguage.googleapis.com", "google", 1.0),
    ("Vertex AI us-central1", 41, "https://us-central1-aiplatform.googleapis.com", "google", 0.4),
    ("DeepSeek", 43, "https://api.deepseek.com", "deepseek", 1.0),
    ("SiliconFlow", 40, "https://api.siliconflow.cn", "deepseek", 0.3),
    ("DashScope", 17, "https://dashscope.aliyuncs.com", "qwen", 1.0),
    ("DashScope intl", 17, "https://dashscope-intl.aliyuncs.com", "qwen", 0.3),
    ("Moonshot", 25, "https://api.moonshot.cn", "moonshot", 1.0),
    ("Zhipu", 16, "https://open.bigmodel.cn", "zhipu", 1.0),
    ("Mistral", 42, "https://api.mistral.ai", "mistral", 1.0),
    ("Groq", 1, "https://api.groq.com/openai", "groq", 1.0),
    ("Together", 1, "https://api.together.xyz", "groq", 0.4),
    ("xAI", 48, "https://api.x.ai", "xai", 1.0),
    ("MiniMax", 35, "https://api.minimax.io", "minimax", 1.0),
    ("Cohere", 34, "https://api.cohere.ai", "cohere", 1.0),
    ("Perplexity", 27, "https://api.perplexity.ai", "perplexity", 1.0),
    ("OpenRouter", 20, "https://openrouter.ai/api", "*", 0.08),
    ("OpenRouter backup", 20, "https://openrouter.ai/api", "*", 0.02),
)
# Providers whose responses carry a request id of their own (`upstream_request_id`).
_UPSTREAM_IDS = frozenset({"openai", "anthropic", "google"})

# (status, content, error type, weight)
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
_QUOTA_PER_USD = 500_000

_HEAVY_NAMES = (
    "acme-prod", "globex-ai", "initech-agents", "umbrella-rag", "hooli-search",
    "stark-labs", "wayne-analytics", "cyberdyne-ops", "tyrell-chat", "soylent-support",
)  # fmt: skip
_FIRST = (
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mia", "noah",
    "olivia", "priya", "quentin", "rui", "sofia", "tariq", "uma", "victor", "wei", "xena", "yusuf", "zoe",
)  # fmt: skip
_LAST = ("chen", "smith", "garcia", "kim", "nguyen", "patel", "mueller", "rossi", "sato", "silva", "novak")
_KEY_NAMES = (
    "prod", "staging", "ci", "batch-job", "notebook", "eval", "chatbot", "cursor", "backend", "mobile",
    "web", "agent", "rag", "test", "cron", "scraper",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class UserPlan:
    username: str
    group: str
    weight: float  # share of all rows
    keys: tuple[int, ...]  # indexes into Plan.keys, most used first
    key_cum: tuple[float, ...]
    favourites: tuple[int, ...]  # model indexes
    ips: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """Users (heaviest first), keys (user index, name) and the seed they came from."""

    seed: int
    users: tuple[UserPlan, ...]
    keys: tuple[tuple[int, str], ...]

    @property
    def heavy(self) -> int:
        """The user index of the heaviest user."""
        return 0

    @property
    def light(self) -> int:
        """A typical light user: the median of the long tail."""
        return (
            HEAVY_USERS + (len(self.users) - HEAVY_USERS) // 2 if len(self.users) > HEAVY_USERS else len(self.users) - 1
        )


@dataclass(frozen=True, slots=True)
class Ids:
    """Database ids of the plan's users, keys and channels (by plan index)."""

    users: tuple[int, ...]
    keys: tuple[int, ...]
    channels: tuple[int, ...]


def key_secret(seed: int, key_index: int) -> str:
    """The `sk-` key of a planned key: derived from the seed, so a reused database's keys stay usable."""
    rng = random.Random(f"tokenledger-bench-key-{seed}-{key_index}")
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "sk-" + "".join(rng.choices(alphabet, k=48))


def _private_ip(rng: random.Random) -> str:
    block = rng.random()
    if block < 0.5:
        return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    if block < 0.8:
        return f"192.168.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    return f"172.{rng.randrange(16, 32)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _user_weights(count: int) -> list[float]:
    """Shares of rows: HEAVY_SHARE over the heavy users (Zipf 0.7), the rest over the tail (Zipf 1.0,
    shifted so the tail's top stays below the heavy users)."""
    heavy = min(HEAVY_USERS, count)
    tail = count - heavy
    if tail == 0:
        raw = [1 / (rank + 1) ** 0.7 for rank in range(heavy)]
        return [w / sum(raw) for w in raw]
    heavy_raw = [1 / (rank + 1) ** 0.7 for rank in range(heavy)]
    tail_raw = [1 / (rank + 20) for rank in range(tail)]
    heavy_sum, tail_sum = sum(heavy_raw), sum(tail_raw)
    return [HEAVY_SHARE * w / heavy_sum for w in heavy_raw] + [(1 - HEAVY_SHARE) * w / tail_sum for w in tail_raw]


def build_plan(seed: int, users: int = DEFAULT_USERS, keys: int = DEFAULT_KEYS) -> Plan:
    """Decide every user and key. Each user has at least one key; the remaining keys go mostly to the
    users with the most traffic (heavy users run fleets of services), and each user's keys are used with
    a Zipf-like skew."""
    if users < 1 or keys < users:
        raise ValueError("need at least one user and one key per user")
    rng = random.Random(seed)
    weights = _user_weights(users)
    key_counts = [1] * users
    extra_cum = cumulative([w**0.5 for w in weights])
    for _ in range(keys - users):
        key_counts[pick(rng, extra_cum)] += 1
    names: list[str] = []
    for index in range(users):
        if index < min(HEAVY_USERS, len(_HEAVY_NAMES)):
            names.append(_HEAVY_NAMES[index])
        else:
            names.append(f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}{index}")
    # Popularity rank is not the creation order: shuffle which name gets which rank, heavy names kept.
    tail = names[HEAVY_USERS:]
    rng.shuffle(tail)
    names[HEAVY_USERS:] = tail
    model_count = len(MODELS)
    plans: list[UserPlan] = []
    key_list: list[tuple[int, str]] = []
    for index in range(users):
        heavy = index < HEAVY_USERS
        group = rng.choices(("vip", "svip"), (3, 1))[0] if heavy else rng.choices(tuple(GROUP_RATIOS), (7, 2, 1))[0]
        count = key_counts[index]
        own: list[int] = []
        for number in range(count):
            if number == 0:
                name = "default"
            elif number <= len(_KEY_NAMES) and not heavy:
                name = _KEY_NAMES[number - 1]
            else:
                name = f"{_KEY_NAMES[(number - 1) % len(_KEY_NAMES)]}-{number:03d}"
            own.append(len(key_list))
            key_list.append((index, name))
        # Heavy users route mostly through a production key, not the default one.
        if heavy and count > 1:
            own[0], own[1] = own[1], own[0]
        key_cum = tuple(cumulative([1 / (rank + 1) ** 1.2 for rank in range(count)]))
        favourites = tuple(rng.sample(range(model_count), 2))
        ips = tuple(_private_ip(rng) for _ in range(rng.randint(1, 3)))
        plans.append(UserPlan(names[index], group, weights[index], tuple(own), key_cum, favourites, ips))
    return Plan(seed=seed, users=tuple(plans), keys=tuple(key_list))


def _hour_counts(rng: random.Random, rows: int) -> list[int]:
    """Rows per hour of the 30 days: daily and weekly cycle, gentle growth, hour-to-hour noise; the
    counts add up to exactly `rows` (largest remainders)."""
    slots = DAYS * 24
    weights = []
    for slot in range(slots):
        middle = DATASET_START + slot * HOUR + HOUR // 2
        weekday = (middle // DAY + 3) % 7  # 1970-01-01 was a Thursday; 0 is Monday
        growth = 0.8 + 0.4 * slot / slots
        weights.append(
            _HOURLY[middle // HOUR % 24] * (_WEEKEND if weekday >= 5 else 1.0) * growth * rng.uniform(0.8, 1.2)
        )
    total = sum(weights)
    exact = [rows * w / total for w in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(slots), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[: rows - sum(counts)]:
        counts[i] += 1
    return counts


class RecordMaker:
    """Turns a time into one ingest record (the row shape of POST /api/log/ingest)."""

    def __init__(self, plan: Plan, ids: Ids, rng: random.Random) -> None:
        self.plan = plan
        self.ids = ids
        self.rng = rng
        self.user_cum = cumulative([user.weight for user in plan.users])
        self.model_cum = cumulative([1 / (rank + 1) ** 1.1 for rank in range(len(MODELS))])
        families: dict[str, list[int]] = {}
        for index, (*_, family, _weight) in enumerate(CHANNELS):
            families.setdefault(family, []).append(index)
        self.routes: list[tuple[list[int], tuple[float, ...]]] = []
        for model in MODELS:
            served = families.get(model.family, []) + families.get("*", [])
            self.routes.append((served, tuple(cumulative([CHANNELS[i][4] for i in served]))))
        self.error_cum = cumulative([float(weight) for *_, weight in _ERRORS])
        cheapest = min(GROUP_RATIOS.values())
        self.min_prompt = [max(8, math.ceil(1 / (model.model_ratio * cheapest))) for model in MODELS]
        self.priced: dict[tuple[int, str], tuple[float, str, str]] = {}
        for group, ratio in GROUP_RATIOS.items():
            for index, model in enumerate(MODELS):
                content, other = price_note(model.model_ratio, model.completion_ratio, ratio)
                self.priced[index, group] = (ratio, content, other)
        self.admins = [self.ids.users[i] for i in range(min(3, len(plan.users)))]

    def make(self, created_at: int) -> dict[str, Any]:
        rng = self.rng
        user_index = pick(rng, self.user_cum)
        draw = rng.random()
        kind = next(kind for threshold, kind in _TYPE_THRESHOLDS if draw < threshold)
        if kind == 2:
            return self._consume(created_at, user_index)
        if kind == 5:
            return self._error(created_at, user_index)
        return self._notice(created_at, user_index, kind)

    def _call(self, user_index: int) -> tuple[int, int, int, str, str]:
        """Model index, channel id, key id, key name and source IP of one API request."""
        rng = self.rng
        user = self.plan.users[user_index]
        favourite = rng.random() < 0.5
        model = user.favourites[int(rng.random() < 0.3)] if favourite else pick(rng, self.model_cum)
        served, cum = self.routes[model]
        channel = served[pick(rng, cum)]
        key = user.keys[pick(rng, user.key_cum)]
        ip = user.ips[0] if len(user.ips) == 1 or rng.random() < 0.8 else rng.choice(user.ips)
        return model, channel, key, self.plan.keys[key][1], ip

    def _base(self, created_at: int, user_index: int, kind: int, content: str) -> dict[str, Any]:
        user = self.plan.users[user_index]
        return {
            "user_id": self.ids.users[user_index],
            "created_at": created_at,
            "type": kind,
            "content": content,
            "group": user.group,
        }

    def _consume(self, created_at: int, user_index: int) -> dict[str, Any]:
        rng = self.rng
        model_index, channel, key, key_name, ip = self._call(user_index)
        model = MODELS[model_index]
        group = self.plan.users[user_index].group
        group_ratio, content, other = self.priced[model_index, group]
        prompt = lognormal_tokens(rng, model.prompt_median, 1.2, self.min_prompt[model_index], _MAX_PROMPT)
        if model.completion_median:
            completion = lognormal_tokens(rng, model.completion_median, 1.0, 1, _MAX_COMPLETION)
            stream = rng.random() < _STREAM_SHARE
        else:
            completion, stream = 0, False
        quota = consume_quota(prompt, completion, model.model_ratio, model.completion_ratio, group_ratio)
        first_response_ms = int(rng.lognormvariate(6.5, 0.5)) + prompt // 200
        if stream:
            other += f',"frt":{first_response_ms}'
        if prompt > 1024 and rng.random() < 0.3:
            cached = prompt * rng.randint(2, 9) // 10
            other += f',"cache_tokens":{cached},"cache_ratio":0.5'
            content += ", cache ratio 0.50"
        family = CHANNELS[channel][3]
        upstream = f"req_{rng.getrandbits(96):024x}" if family in _UPSTREAM_IDS else ""
        channel_id = self.ids.channels[channel]
        record = self._base(created_at, user_index, 2, content)
        record.update(
            token_name=key_name,
            model_name=model.name,
            quota=quota,
            prompt_tokens=prompt,
            completion_tokens=completion,
            use_time=round(first_response_ms / 1000 + completion / (model.tokens_per_second * (0.6 + rng.random()))),
            is_stream=stream,
            channel=channel_id,
            token_id=self.ids.keys[key],
            ip=ip,
            request_id=f"{rng.getrandbits(128):032x}",
            upstream_request_id=upstream,
            other=f'{other},"admin_info":{{"use_channel":["{channel_id}"]}}}}',
        )
        return record

    def _error(self, created_at: int, user_index: int) -> dict[str, Any]:
        rng = self.rng
        model_index, channel, key, key_name, ip = self._call(user_index)
        error = pick(rng, self.error_cum)
        status, content, error_type, _ = _ERRORS[error]
        channel_id = self.ids.channels[channel]
        record = self._base(created_at, user_index, 5, content)
        record.update(
            token_name=key_name,
            model_name=MODELS[model_index].name,
            use_time=60 if status == 504 else int(rng.expovariate(1 / 2.5)),
            is_stream=rng.random() < _STREAM_SHARE,
            channel=channel_id,
            token_id=self.ids.keys[key],
            ip=ip,
            request_id=f"{rng.getrandbits(128):032x}",
            other=compact_json(
                {"error_type": error_type, "status_code": status, "admin_info": {"use_channel": [str(channel_id)]}}
            ),
        )
        return record

    def _notice(self, created_at: int, user_index: int, kind: int) -> dict[str, Any]:
        """Top-ups, admin quota changes and system notices: account events, not API calls."""
        rng = self.rng
        usd = rng.choice(_TOPUP_USD)
        if kind == 1:
            if rng.random() < 0.5:
                content = f"top-up via redemption code: ${usd:.2f}"
            else:
                content = f"online top-up succeeded, amount: ${usd:.2f}, paid: ${usd:.2f}"
            record = self._base(created_at, user_index, kind, content)
            record["quota"] = usd * _QUOTA_PER_USD
            return record
        if kind == 3:
            before = rng.choice(_TOPUP_USD)
            content = f"admin changed user quota from ${before:.2f} to ${before + usd:.2f}"
            admin_id = rng.choice(self.admins)
            record = self._base(created_at, user_index, kind, content)
            record["other"] = compact_json({"admin_info": {"admin_id": admin_id}})
            return record
        content = rng.choice(
            (
                f"daily check-in reward: ${usd / 100:.2f}",
                f"invitation reward: ${usd / 10:.2f}",
                "balance reminder: remaining quota below $5.00",
            )
        )
        return self._base(created_at, user_index, kind, content)


def dataset_batches(plan: Plan, ids: Ids, rows: int, batch_size: int) -> Iterator[list[dict[str, Any]]]:
    """The dataset's records in batches, oldest first. Only one hour's timestamps and one batch are held
    at a time."""
    rng = random.Random(plan.seed * 1_000_003 + rows)
    counts = _hour_counts(rng, rows)
    maker = RecordMaker(plan, ids, rng)
    batch: list[dict[str, Any]] = []
    for slot, count in enumerate(counts):
        start = DATASET_START + slot * HOUR
        for offset in sorted(rng.randrange(HOUR) for _ in range(count)):
            batch.append(maker.make(start + offset))
            if len(batch) == batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


def ingest_hour(prune_horizon: int) -> int:
    """The hour the ingest measurements date their rows in: the first whole hour at or after the
    database's prune horizon, and at least a month before the dataset. Totals count rows dated before the
    horizon one by one (see tokenledger.store.rollups), so rows dated there would measure that rather than
    ingest; removing them afterwards (deleting what is older than the hour's end) moves the horizon to the
    next hour, which the next run uses. Raises ValueError once the hours before the dataset are used up."""
    hour = max(INGEST_HOURS_START, -(-prune_horizon // HOUR) * HOUR)
    if hour + HOUR > DATASET_START:
        raise ValueError("the database was pruned into the dataset's own hours")
    return hour


def extra_batches(plan: Plan, ids: Ids, seed: int, batches: int, batch_size: int, hour: int) -> list[bytes]:
    """JSON bodies for the ingest measurements: records like the dataset's, dated within `hour` (see
    ingest_hour), so that deleting logs older than its end removes exactly them afterwards."""
    rng = random.Random(seed)
    maker = RecordMaker(plan, ids, rng)
    bodies = []
    for _ in range(batches):
        records = [maker.make(hour + rng.randrange(HOUR)) for _ in range(batch_size)]
        bodies.append(json.dumps(records, separators=(",", ":")).encode("utf-8"))
    return bodies
