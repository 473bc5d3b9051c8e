"""Loading the dataset the way production data arrives: accounts through the store (one shared bcrypt
hash, as the demo data does), log rows through `services.ingest.ingest`, the code behind
POST /api/log/ingest, in batches."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.text import Text

from bench.dataset import CHANNELS, MODELS, Ids, Plan, dataset_batches, key_secret
from tokenledger.domain import credentials
from tokenledger.domain.apikey import NEVER_EXPIRES, KeyStatus
from tokenledger.domain.channel import ChannelStatus
from tokenledger.domain.user import Role
from tokenledger.services import accounts, auth, ingest
from tokenledger.services.demo import DEMO_PASSWORD, GROUP_RATIOS
from tokenledger.store import apikeys, channels, migrate, users
from tokenledger.store.database import Database

LOAD_BATCH = 5_000
ROOT_ACCESS_TOKEN = "bench-root-access-token-not-a-secret"
ROOT_PASSWORD = "bench-root-password"


@dataclass(frozen=True, slots=True)
class LoadResult:
    rows: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


class RateColumn(ProgressColumn):
    """Rows per second so far."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "", style="progress.data.speed")


def prepare(db: Database) -> None:
    """Schema at head and root with the fixed access token (a no-op on a loaded database)."""
    migrate.upgrade(db)
    accounts.ensure_root(db, ROOT_PASSWORD, ROOT_ACCESS_TOKEN)


def create_accounts(db: Database, plan: Plan, created_at: int) -> Ids:
    """Insert the plan's channels, users and keys; returns their ids by plan index."""
    password_hash = credentials.hash_password(DEMO_PASSWORD)
    with db.write() as conn:
        channel_ids = []
        for index, (name, kind, base_url, family, _weight) in enumerate(CHANNELS):
            served = [model.name for model in MODELS if family in (model.family, "*")]
            channel = channels.insert_channel(
                conn,
                name=name,
                type=kind,
                base_url=base_url,
                key=f"sk-bench-{index:02d}-not-a-real-upstream-key",
                models=",".join(served),
                group=",".join(GROUP_RATIOS),
                status=int(ChannelStatus.ENABLED),
                created_at=created_at,
            )
            channel_ids.append(channel.id)
        user_ids = []
        for index, user in enumerate(plan.users):
            row = users.insert_user(
                conn,
                username=user.username,
                password_hash=password_hash,
                display_name=user.username,
                role=int(Role.COMMON),
                quota=100 * 500_000,
                group=user.group,
                created_at=created_at + index,
            )
            user_ids.append(row.id)
        key_ids = []
        for index, (user_index, name) in enumerate(plan.keys):
            secret = key_secret(plan.seed, index)
            key = apikeys.insert_key(
                conn,
                user_id=user_ids[user_index],
                name=name,
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
            key_ids.append(key.id)
    return Ids(users=tuple(user_ids), keys=tuple(key_ids), channels=tuple(channel_ids))


def find_accounts(db: Database, plan: Plan) -> Ids:
    """The ids of an already loaded plan (for --reuse), looked up by username, key name and channel name."""
    with db.read() as conn:
        found = [users.get_by_username(conn, user.username) for user in plan.users]
        if any(user is None for user in found):
            raise LookupError("a planned user is missing")
        user_ids = [user.id for user in found if user is not None]
        by_owner_and_name = {(key.user_id, key.name): key.id for key in apikeys.list_for_users(conn, user_ids)}
        key_ids = [by_owner_and_name[user_ids[user_index], name] for user_index, name in plan.keys]
        by_name = {name: channel_id for channel_id, name in sorted(channels.names(conn).items(), reverse=True)}
        channel_ids = [by_name[name] for name, *_ in CHANNELS]
    return Ids(users=tuple(user_ids), keys=tuple(key_ids), channels=tuple(channel_ids))


def load_logs(db: Database, plan: Plan, ids: Ids, rows: int, console: Console) -> LoadResult:
    """Ingest the dataset's rows in batches of LOAD_BATCH, with a progress bar."""
    columns = (
        TextColumn("loading logs"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeRemainingColumn(),
    )
    started = time.perf_counter()
    written = 0
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("logs", total=rows)
        for batch in dataset_batches(plan, ids, rows, LOAD_BATCH):
            body = ingest_body(batch)
            written += ingest.ingest(db, body)
            progress.advance(task, len(batch))
    return LoadResult(rows=written, seconds=time.perf_counter() - started)


def ingest_body(batch: list[dict[str, Any]]) -> bytes:
    """A batch as the JSON array POST /api/log/ingest takes."""
    return json.dumps(batch, separators=(",", ":")).encode("utf-8")


def issue_tokens(db: Database, user_ids: list[int]) -> list[str]:
    """Fresh access tokens for the users the scenarios act as."""
    return [auth.issue_access_token(db, user_id) for user_id in user_ids]
