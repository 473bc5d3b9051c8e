"""`python -m bench`: load a deterministic dataset, start the server on it, measure through HTTP (reads,
full exports, ingest), report.

python -m bench --rows 10000000 --backend sqlite        # or postgresql, mysql; --db URL for another database
python -m bench --rows 1000000 --backend postgresql --reuse   # skip loading when the dataset is there
"""

from __future__ import annotations

import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from sqlalchemy.exc import DBAPIError

from bench import database, dataset, load, measure, report, scenarios
from bench.errors import BenchError
from bench.server import Server
from tokenledger.domain.errors import LedgerError
from tokenledger.services import cleanup
from tokenledger.store.database import Database

HERE = Path(__file__).resolve().parent
DATASET_FORMAT = 1  # bump when the generated rows change, so --reuse reloads
INGEST_BATCH = 1_000
# Gateways push from many workers at once: concurrent requests share the writer's transactions.
INGEST_CLIENTS = (1, 4, 16)

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _prepare_dataset(
    target: database.Target, plan: dataset.Plan, description: dict[str, Any], rows: int, reuse: bool
) -> tuple[dataset.Ids, list[str], dict[str, Any]]:
    """Load (or, with --reuse and a matching marker and row count, reuse) the dataset. Returns the ids,
    access tokens of the heavy and light users, and what the load measured."""
    reusable = False
    if reuse:
        database.ensure_exists(target)
        marker = database.read_marker(target)
        if marker is None and database.count_logs(target, 0):
            # The marker lives in --data-dir, not in the database: run from another checkout or with another
            # --data-dir, a loaded database would otherwise be dropped for want of it.
            raise BenchError(
                f"{target.safe_url} holds logs but {target.marker} is missing: pass the --data-dir it was loaded "
                "with, or drop the database yourself to load it again"
            )
        if marker == description:
            reusable = database.count_logs(target, dataset.DATASET_START) == rows
        if not reusable:
            console.print(f"no {rows:,}-row dataset of seed {plan.seed} in {target.safe_url}: loading it")
    if not reusable:
        database.recreate(target)
    db = Database(target.url)
    try:
        db.check_connection()
        load.prepare(db)
        if reusable:
            try:
                ids = load.find_accounts(db, plan)
            except (LookupError, KeyError):
                raise BenchError("the marker matches but the users or keys do not: run without --reuse") from None
            loaded: dict[str, Any] = {"reused": True}
            console.print(f"reusing the {rows:,}-row dataset in {target.safe_url}")
        else:
            with console.status(f"creating {len(plan.users):,} users and {len(plan.keys):,} API keys"):
                ids = load.create_accounts(db, plan, dataset.DATASET_START - 60 * dataset.DAY)
            result = load.load_logs(db, plan, ids, rows, console)
            loaded = {
                "reused": False,
                "rows": result.rows,
                "seconds": round(result.seconds, 2),
                "rows_per_s": round(result.rows_per_second),
            }
            database.write_marker(target, description)
            console.print(
                f"loaded {result.rows:,} rows in {result.seconds:,.1f} s ({result.rows_per_second:,.0f} rows/s)"
            )
        # As a server's own upkeep would have by the time anyone reads (PostgreSQL's autovacuum may be off).
        with console.status("refreshing the planner's statistics"):
            cleanup.refresh_statistics(db)
        tokens = load.issue_tokens(db, [ids.users[plan.heavy], ids.users[plan.light]])
    finally:
        db.dispose()
    return ids, tokens, loaded


def _select(all_scenarios: list[scenarios.Scenario], chosen: str | None) -> list[scenarios.Scenario]:
    """--scenarios: comma-separated parts of scenario names (case-insensitive); empty means all."""
    if not chosen:
        return all_scenarios
    parts = [part.strip().lower() for part in chosen.split(",") if part.strip()]
    return [s for s in all_scenarios if any(part in s.name.lower() for part in parts)]


def _exports(who: scenarios.Subjects) -> list[scenarios.Scenario]:
    """Full exports, streamed to the end: every row of the dataset as an admin, and the heavy user's own."""
    admin = scenarios.bearer(who.root_token)
    heavy = scenarios.bearer(who.heavy_token)
    return [
        scenarios.Scenario("admin export csv", "admin", "/api/log/export", {}, admin),
        scenarios.Scenario("admin export jsonl", "admin", "/api/log/export", {"format": "jsonl"}, admin),
        scenarios.Scenario("heavy export csv", "heavy", "/api/log/self/export", {"tz": "Asia/Shanghai"}, heavy),
    ]


def _measure_exports(client: httpx.Client, chosen: list[scenarios.Scenario]) -> list[measure.ExportRun]:
    runs = []
    for scenario in chosen:
        with console.status(f"export: {scenario.name}"):
            listing = "/api/log/" if scenario.path == "/api/log/export" else "/api/log/self"
            filters = {name: value for name, value in scenario.params.items() if name not in ("format", "tz")}
            expected = measure.list_total(client, listing, filters, scenario.headers)
            runs.append(measure.export_throughput(client, scenario, expected))
    return runs


def _measure_reads(
    client: httpx.Client, chosen: list[scenarios.Scenario], settings: dict[str, Any], label: str
) -> list[measure.Timing]:
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"))
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("", total=len(chosen))
        timings = []
        for scenario in chosen:
            progress.update(task, description=scenario.name)
            timings.append(
                measure.time_scenario(
                    client,
                    scenario,
                    warmup=settings["warmup"],
                    calls=settings["calls"],
                    max_seconds=settings["max_seconds"],
                )
            )
            progress.advance(task)
    return timings


def run(options: dict[str, Any]) -> dict[str, Any] | None:
    """The whole benchmark; None with --load-only, once the dataset is in place."""
    rows: int = options["rows"]
    seed: int = options["seed"]
    target = database.resolve(options["backend"], rows, options["db"], options["data_dir"])
    plan = dataset.build_plan(seed, options["users"], options["keys"])
    description = {
        "format": DATASET_FORMAT,
        "rows": rows,
        "seed": seed,
        "users": options["users"],
        "keys": options["keys"],
        "dataset_now": dataset.DATASET_NOW,
    }
    started_at = _now()
    db_version = database.server_version(target) if target.backend == "sqlite" else ""
    ids, (heavy_token, light_token), loaded = _prepare_dataset(target, plan, description, rows, options["reuse"])
    if options["load_only"]:
        return None
    db_version = db_version or database.server_version(target)
    settings = {key: options[key] for key in ("calls", "warmup", "max_seconds", "ingest_batches", "ingest_rate")}

    heavy_user = plan.users[plan.heavy]
    heavy_key_index = heavy_user.keys[0]
    light_user = plan.users[plan.light]
    subjects = scenarios.Subjects(
        root_token=load.ROOT_ACCESS_TOKEN,
        heavy_username=heavy_user.username,
        heavy_token=heavy_token,
        heavy_key=dataset.key_secret(seed, heavy_key_index),
        heavy_key_name=plan.keys[heavy_key_index][1],
        light_username=light_user.username,
        light_token=light_token,
        light_key=dataset.key_secret(seed, light_user.keys[0]),
        busy_channel=ids.channels[0],
    )
    out_dir: Path = options["out"]
    admin = scenarios.bearer(load.ROOT_ACCESS_TOKEN)
    result: dict[str, Any] = {
        "backend": target.backend,
        "rows": rows,
        "seed": seed,
        "dataset": description,
        "database": target.safe_url,
        "started_at": started_at,
        "machine": report.machine(db_version),
        "settings": settings,
        "load": loaded,
    }
    with (
        Server(target.url, load.ROOT_ACCESS_TOKEN, out_dir / f"{target.backend}-{rows}.server.log") as server,
        httpx.Client(base_url=server.base_url, timeout=measure.TIMEOUT) as client,
    ):
        bodies: list[bytes] = []
        if options["ingest_batches"]:
            ingest_hour = _ingest_hour(target)
            if database.count_logs(target, 0) > rows:
                # An interrupted run left its ingest rows in that hour: remove them and use the next one.
                client.delete("/api/log/", params={"target_timestamp": ingest_hour + dataset.HOUR}, headers=admin)
                ingest_hour = _ingest_hour(target)
            bodies = dataset.extra_batches(plan, ids, seed + 1, options["ingest_batches"], INGEST_BATCH, ingest_hour)
        with console.status("preparing scenarios (following cursors to page 1000)"):
            chosen = _select(scenarios.build(client, subjects), options["scenarios"])
        exports = _select(_exports(subjects), options["scenarios"])
        if not chosen and not exports:
            raise BenchError(f"--scenarios {options['scenarios']!r} matches no scenario")
        timings = _measure_reads(client, chosen, settings, "reads")
        result["scenarios"] = [timing.summary() for timing in timings]
        if exports:
            before = server.memory_mb()
            result["exports"] = [run_.summary() for run_ in _measure_exports(client, exports)]
            result["export_memory"] = {"before": before, "after": server.memory_mb()}

        if bodies:
            result["ingest"] = []
            for clients in INGEST_CLIENTS:
                with console.status(f"ingest: {len(bodies)} batches of {INGEST_BATCH:,}, {clients} client(s)"):
                    run_ = measure.ingest_throughput(server.base_url, load.ROOT_ACCESS_TOKEN, bodies, clients)
                result["ingest"].append(run_.summary())
            loaded_scenarios = [s for s in chosen if s.name in scenarios.UNDER_LOAD]
            if loaded_scenarios:
                rate: int = options["ingest_rate"]
                with measure.PacedIngest(server.base_url, load.ROOT_ACCESS_TOKEN, bodies, rate / INGEST_BATCH) as paced:
                    time.sleep(1.0)  # let the ingest reach its pace before timing reads
                    under = _measure_reads(client, loaded_scenarios, settings, "reads while ingesting")
                result["under_load"] = {
                    "ingest": paced.summary(rate),
                    "scenarios": [timing.summary() for timing in under],
                }
            with console.status("removing the rows the ingest measurements added"):
                client.delete("/api/log/", params={"target_timestamp": ingest_hour + dataset.HOUR}, headers=admin)
        result["memory"] = server.memory_mb()
    result["finished_at"] = _now()
    return result


def _ingest_hour(target: database.Target) -> int:
    try:
        return dataset.ingest_hour(database.prune_horizon(target))
    except ValueError as exc:
        raise BenchError(f"{exc}: load the dataset again (run without --reuse)") from None


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--rows", type=click.IntRange(min=1), default=1_000_000, show_default=True, help="Log rows to load.")
@click.option(
    "--backend",
    type=click.Choice(["sqlite", "postgresql", "mysql"]),
    default="sqlite",
    show_default=True,
    help="Database engine (local servers as in the test suite).",
)
@click.option("--db", "db_url", default=None, help="Database URL instead of the backend's default (it is recreated).")
@click.option("--seed", type=int, default=42, show_default=True, help="Same seed and rows, same dataset.")
@click.option(
    "--out", type=click.Path(path_type=Path), default=HERE / "results", show_default="bench/results", help="Results."
)
@click.option("--data-dir", type=click.Path(path_type=Path), default=HERE / "data", show_default="bench/data")
@click.option("--reuse", is_flag=True, help="Skip loading when the database already holds this dataset.")
@click.option("--users", type=click.IntRange(min=1), default=dataset.DEFAULT_USERS, show_default=True)
@click.option("--keys", type=click.IntRange(min=1), default=dataset.DEFAULT_KEYS, show_default=True)
@click.option("--calls", type=click.IntRange(min=1), default=50, show_default=True, help="Timed calls per scenario.")
@click.option("--warmup", type=click.IntRange(min=0), default=3, show_default=True, help="Untimed calls first.")
@click.option(
    "--max-seconds", type=float, default=20.0, show_default=True, help="Stop a scenario's timed calls after this."
)
@click.option(
    "--ingest-batches", type=click.IntRange(min=0), default=100, show_default=True, help="0 skips the ingest phases."
)
@click.option(
    "--ingest-rate", type=click.IntRange(min=1000), default=10_000, show_default=True, help="Rows/s while reading."
)
@click.option("--scenarios", "scenario_names", default=None, help="Only scenarios whose names contain these (a,b,…).")
@click.option("--load-only", is_flag=True, help="Load the dataset (or find it, with --reuse) and stop.")
@click.option("--quick", is_flag=True, help="A fast look: 10 calls, 1 warm-up, 20 ingest batches, 5 s per scenario.")
def main(
    rows: int,
    backend: str,
    db_url: str | None,
    seed: int,
    out: Path,
    data_dir: Path,
    reuse: bool,
    users: int,
    keys: int,
    calls: int,
    warmup: int,
    max_seconds: float,
    ingest_batches: int,
    ingest_rate: int,
    scenario_names: str | None,
    load_only: bool,
    quick: bool,
) -> None:
    """Benchmark tokenledger through HTTP on a deterministic dataset of ROWS logs."""
    # A terminated run still stops the server it started (SystemExit unwinds the `with` blocks).
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    if quick:
        calls, warmup, ingest_batches, max_seconds = min(calls, 10), min(warmup, 1), min(ingest_batches, 20), 5.0
    if keys < users:
        raise click.BadParameter("needs at least one key per user", param_hint="--keys")
    options = {
        "rows": rows,
        "backend": backend,
        "db": db_url,
        "seed": seed,
        "out": out,
        "data_dir": data_dir,
        "reuse": reuse,
        "users": users,
        "keys": keys,
        "calls": calls,
        "warmup": warmup,
        "max_seconds": max_seconds,
        "ingest_batches": ingest_batches,
        "ingest_rate": ingest_rate,
        "scenarios": scenario_names,
        "load_only": load_only,
    }
    try:
        result = run(options)
    except BenchError as exc:
        _fail(exc.message)
    except LedgerError as exc:
        _fail(exc.message)
    except DBAPIError as exc:
        _fail(f"database: {' '.join(str(exc.orig or exc).split())}")
    except httpx.HTTPError as exc:
        _fail(f"HTTP: {exc}")
    except (OSError, RuntimeError) as exc:
        _fail(str(exc))
    if result is None:
        return
    report.print_result(console, result)
    json_path, md_path = report.write(result, out)
    console.print(f"results: {json_path} and {md_path}")
    failures = sum(row["failures"] for row in result["scenarios"] + result.get("exports", []))
    if failures:
        errors.print(f"[red]{failures} calls failed[/red] (see first_failure in {json_path})")
        sys.exit(1)


def _fail(message: str) -> NoReturn:
    errors.print(f"[red]error:[/red] {message}", highlight=False)
    sys.exit(1)


if __name__ == "__main__":
    main()
