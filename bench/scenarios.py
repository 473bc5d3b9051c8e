"""What is measured: every read endpoint of the wire contract, as an admin, a heavy user and a light user,
with each filter, all-time and 7-day windows, deep offset and cursor pages, stats, search, key logs,
hourly usage and usage charts."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx

from bench.dataset import DATASET_NOW, DATASET_START, DAY

SEVEN_DAYS = {"start_timestamp": str(DATASET_NOW - 7 * DAY), "end_timestamp": str(DATASET_NOW)}
THIRTY_DAYS = {"start_timestamp": str(DATASET_START), "end_timestamp": str(DATASET_NOW)}
# Usage charts: the dataset's dates are fixed, so explicit windows stand in for range=30d / range=7d.
DAILY_BY_MODEL = {"bucket": "day", "group_by": "model", "tz": "Asia/Shanghai"}
HOURLY_BY_MODEL = {"bucket": "hour", "group_by": "model", "tz": "America/New_York"}
# Offset page 1000 of 10 rows; the cursor scenarios reach the same page by following next_cursor.
DEEP_PAGE = 1000
DEEP_ROWS = (DEEP_PAGE - 1) * 10
COMMON_WORD = "ratio"  # in every consume row's content
RARE_WORD = "overloaded"  # in about 0.4% of the rows (one kind of upstream error)
MIDDLING_WORD = "upstream"  # in about 3% of the rows (most error rows)
# The scenarios timed again while a paced ingest runs.
UNDER_LOAD = ("admin list", "admin stat", "heavy list", "heavy stat (sk- key)", "heavy key logs, page")


@dataclass(frozen=True, slots=True)
class Scenario:
    """One GET request, repeated: `group` says who calls (admin, heavy, light)."""

    name: str
    group: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """The request as a path with its query, cursors shortened."""
        shown = {name: ("…" if name == "cursor" else value) for name, value in self.params.items()}
        return self.path + (f"?{urlencode(shown, safe='%…')}" if shown else "")


@dataclass(frozen=True, slots=True)
class Subjects:
    """Who the scenarios act as and the dataset facts their filters use."""

    root_token: str
    heavy_username: str
    heavy_token: str
    heavy_key: str
    heavy_key_name: str
    light_username: str
    light_token: str
    light_key: str
    busy_channel: int


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _data(client: httpx.Client, path: str, params: dict[str, str], headers: dict[str, str]) -> object:
    response = client.get(path, params=params, headers=headers)
    body = response.json()
    if response.status_code != 200 or not isinstance(body, dict) or body.get("success") is not True:
        message = body.get("message") if isinstance(body, dict) else response.text[:200]
        raise RuntimeError(f"GET {path} failed while setting up: HTTP {response.status_code} {message}")
    return body["data"]


def sample_request_id(client: httpx.Client, root_token: str) -> str:
    """The request id of a consume row from the middle of the dataset."""
    middle = {"type": "2", "end_timestamp": str(DATASET_NOW - 15 * DAY), "page_size": "1"}
    data = _data(client, "/api/log/", middle, bearer(root_token))
    assert isinstance(data, dict)
    items = data["items"]
    return str(items[0]["request_id"]) if items else "no-such-request"


def cursor_at_depth(client: httpx.Client, path: str, headers: dict[str, str], depth: int) -> str | None:
    """The next_cursor after `depth` rows (a multiple of 10, clamped to the rows there are), reached by
    following cursors in pages of 100, then 10."""
    first = _data(client, path, {"page_size": "10"}, headers)
    assert isinstance(first, dict)
    depth = min(depth, max(0, int(first["total"]) - 10)) // 10 * 10
    cursor: str | None = None
    done = 0
    while done < depth:
        size = 100 if depth - done >= 100 else 10
        params = {"page_size": str(size)} | ({"cursor": cursor} if cursor else {})
        page = _data(client, path, params, headers)
        assert isinstance(page, dict)
        cursor = page.get("next_cursor")
        done += size
        if not cursor:
            break
    return cursor


def build(client: httpx.Client, who: Subjects) -> list[Scenario]:
    admin = bearer(who.root_token)
    heavy = bearer(who.heavy_token)
    heavy_key = bearer(who.heavy_key)
    light = bearer(who.light_token)
    light_key = bearer(who.light_key)
    page1 = {"p": "1", "page_size": "10"}
    request_id = sample_request_id(client, who.root_token)
    admin_cursor = cursor_at_depth(client, "/api/log/", admin, DEEP_ROWS)
    heavy_cursor = cursor_at_depth(client, "/api/log/self", heavy, DEEP_ROWS)

    def at_cursor(cursor: str | None) -> dict[str, str]:
        return {"page_size": "10"} | ({"cursor": cursor} if cursor else {})

    return [
        # Admin: every list filter, windows, deep pages.
        Scenario("admin list", "admin", "/api/log/", page1, admin),
        Scenario("admin list, 7 days", "admin", "/api/log/", page1 | SEVEN_DAYS, admin),
        Scenario("admin type=2", "admin", "/api/log/", page1 | {"type": "2"}, admin),
        Scenario("admin type=5", "admin", "/api/log/", page1 | {"type": "5"}, admin),
        Scenario("admin model exact", "admin", "/api/log/", page1 | {"model_name": "gpt-4o"}, admin),
        Scenario("admin model gpt-4o%", "admin", "/api/log/", page1 | {"model_name": "gpt-4o%"}, admin),
        Scenario("admin username heavy", "admin", "/api/log/", page1 | {"username": who.heavy_username}, admin),
        Scenario(
            "admin username heavy, 7 days",
            "admin",
            "/api/log/",
            page1 | {"username": who.heavy_username} | SEVEN_DAYS,
            admin,
        ),
        Scenario("admin username light", "admin", "/api/log/", page1 | {"username": who.light_username}, admin),
        Scenario("admin token_name", "admin", "/api/log/", page1 | {"token_name": who.heavy_key_name}, admin),
        Scenario("admin channel", "admin", "/api/log/", page1 | {"channel": str(who.busy_channel)}, admin),
        Scenario("admin group", "admin", "/api/log/", page1 | {"group": "vip"}, admin),
        Scenario("admin request_id", "admin", "/api/log/", page1 | {"request_id": request_id}, admin),
        Scenario("admin page 1000", "admin", "/api/log/", {"p": str(DEEP_PAGE), "page_size": "10"}, admin),
        Scenario("admin page 1000 by cursor", "admin", "/api/log/", at_cursor(admin_cursor), admin),
        Scenario("admin stat", "admin", "/api/log/stat", {}, admin),
        Scenario("admin stat, 7 days", "admin", "/api/log/stat", SEVEN_DAYS, admin),
        Scenario(
            "admin stat filtered",
            "admin",
            "/api/log/stat",
            {"username": who.heavy_username, "model_name": "gpt-4o%"},
            admin,
        ),
        Scenario("admin search common", "admin", "/api/log/search", {"keyword": COMMON_WORD}, admin),
        Scenario("admin search rare", "admin", "/api/log/search", {"keyword": RARE_WORD}, admin),
        Scenario("admin search middling", "admin", "/api/log/search", {"keyword": MIDDLING_WORD}, admin),
        Scenario("admin data, 7 days", "admin", "/api/data/", SEVEN_DAYS, admin),
        Scenario("admin data username", "admin", "/api/data/", {"username": who.heavy_username}, admin),
        Scenario("admin usage 30d by model", "admin", "/api/usage", DAILY_BY_MODEL | THIRTY_DAYS, admin),
        # The heaviest user, with an access token unless the name says sk- key.
        Scenario("heavy list", "heavy", "/api/log/self", page1, heavy),
        Scenario("heavy list, 7 days", "heavy", "/api/log/self", page1 | SEVEN_DAYS, heavy),
        Scenario("heavy list (sk- key)", "heavy", "/api/log/self", page1, heavy_key),
        Scenario("heavy type=2", "heavy", "/api/log/self", page1 | {"type": "2"}, heavy),
        Scenario("heavy model gpt-4o%", "heavy", "/api/log/self", page1 | {"model_name": "gpt-4o%"}, heavy),
        Scenario("heavy token_name", "heavy", "/api/log/self", page1 | {"token_name": who.heavy_key_name}, heavy),
        Scenario("heavy page 1000", "heavy", "/api/log/self", {"p": str(DEEP_PAGE), "page_size": "10"}, heavy),
        Scenario("heavy page 1000 by cursor", "heavy", "/api/log/self", at_cursor(heavy_cursor), heavy),
        Scenario("heavy stat", "heavy", "/api/log/self/stat", {}, heavy),
        Scenario("heavy stat (sk- key)", "heavy", "/api/log/self/stat", {}, heavy_key),
        Scenario("heavy stat, 7 days", "heavy", "/api/log/self/stat", SEVEN_DAYS, heavy),
        Scenario("heavy search common", "heavy", "/api/log/self/search", {"keyword": COMMON_WORD}, heavy),
        Scenario("heavy search rare", "heavy", "/api/log/self/search", {"keyword": RARE_WORD}, heavy),
        Scenario("heavy search middling", "heavy", "/api/log/self/search", {"keyword": MIDDLING_WORD}, heavy),
        Scenario("heavy key logs, 1000 rows", "heavy", "/api/log/token", {}, heavy_key),
        Scenario("heavy key logs, page", "heavy", "/api/log/token", page1, heavy_key),
        Scenario("heavy data", "heavy", "/api/data/self", THIRTY_DAYS, heavy),
        Scenario("heavy usage 7d by hour", "heavy", "/api/usage/self", HOURLY_BY_MODEL | SEVEN_DAYS, heavy),
        # A typical user of the long tail.
        Scenario("light list", "light", "/api/log/self", page1, light),
        Scenario("light list (sk- key)", "light", "/api/log/self", page1, light_key),
        Scenario("light stat", "light", "/api/log/self/stat", {}, light),
        Scenario("light search common", "light", "/api/log/self/search", {"keyword": COMMON_WORD}, light),
        Scenario("light key logs, 1000 rows", "light", "/api/log/token", {}, light_key),
        Scenario("light data", "light", "/api/data/self", THIRTY_DAYS, light),
    ]
