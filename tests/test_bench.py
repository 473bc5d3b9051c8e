"""The benchmark runs end to end: a tiny dataset on SQLite, every scenario answered, figures written. It
asserts no speed: only that the benchmark itself works."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from bench import dataset
from bench.__main__ import INGEST_CLIENTS
from bench.scenarios import UNDER_LOAD
from sqlalchemy import func, select

from tests.backends import Databases
from tokenledger.store import rollups
from tokenledger.store.database import Database
from tokenledger.store.schema import log_rollups, logs

ROOT = Path(__file__).resolve().parent.parent
READ_ENDPOINTS = {
    "/api/log/",
    "/api/log/self",
    "/api/log/stat",
    "/api/log/self/stat",
    "/api/log/search",
    "/api/log/self/search",
    "/api/log/token",
    "/api/data/",
    "/api/data/self",
    "/api/usage",
    "/api/usage/self",
}


@pytest.mark.slow
def test_bench_runs_end_to_end_on_a_tiny_sqlite_dataset(tmp_path: Path) -> None:
    rows = 2000
    command = [
        *(sys.executable, "-m", "bench", "--rows", str(rows), "--db", f"sqlite:///{tmp_path / 'bench.db'}"),
        *("--out", str(tmp_path / "results"), "--data-dir", str(tmp_path / "data")),
        *("--users", "20", "--keys", "60", "--calls", "2", "--warmup", "0", "--ingest-batches", "2"),
    ]
    env = {name: value for name, value in os.environ.items() if name not in ("SQL_DSN", "LOG_SQL_DSN")}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:] or done.stdout[-2000:]

    result = json.loads((tmp_path / "results" / f"sqlite-{rows}.json").read_text(encoding="utf-8"))
    assert (tmp_path / "results" / f"sqlite-{rows}.md").is_file()
    assert result["rows"] == rows and result["load"]["rows"] == rows and result["load"]["rows_per_s"] > 0

    names = [scenario["name"] for scenario in result["scenarios"]]
    assert len(names) == len(set(names)) >= 40
    assert {scenario["path"].split("?")[0] for scenario in result["scenarios"]} == READ_ENDPOINTS
    for scenario in result["scenarios"] + result["under_load"]["scenarios"]:
        assert scenario["failures"] == 0, scenario
        assert scenario["calls"] == 2 and scenario["p50_ms"] > 0 and scenario["p99_ms"] >= scenario["p50_ms"]
        assert scenario["answer_bytes"] >= len('{"success":true,"message":"","data":}'), scenario
    # The answer's size is the body's: a key's newest logs weigh more than a page of ten of them.
    size = {scenario["name"]: scenario["answer_bytes"] for scenario in result["scenarios"]}
    assert size["heavy key logs, 1000 rows"] > size["heavy key logs, page"]
    assert "answer KiB" in (tmp_path / "results" / f"sqlite-{rows}.md").read_text(encoding="utf-8")
    assert [scenario["name"] for scenario in result["under_load"]["scenarios"]] == list(UNDER_LOAD)

    assert [run["clients"] for run in result["ingest"]] == list(INGEST_CLIENTS)
    for run in result["ingest"]:
        assert run["failures"] == 0 and run["rows"] == 2000 and run["rows_per_s"] > 0
    assert result["under_load"]["ingest"]["failures"] == 0 and result["under_load"]["ingest"]["rows"] > 0
    assert result["memory"]["VmHWM"] > 0
    assert result["machine"]["cpu_count"] >= 1 and result["machine"]["database"].startswith("SQLite")

    # The ingest measurements' rows are removed again, so the database still holds exactly the dataset.
    marker = json.loads((tmp_path / "bench.json").read_text(encoding="utf-8"))
    assert marker["rows"] == rows and marker["seed"] == 42

    # The write-path breakdown runs on a copy of that database and leaves the database as it was.
    steps = [sys.executable, "-m", "bench.write_path", str(tmp_path / "bench.db"), "--rows", "2000"]
    steps += ["--rows-per-transaction", "1000,2000", "--users", "20", "--keys", "60"]
    wide = {**env, "COLUMNS": "200"}  # rich shortens the table's headings to the terminal's width
    done = subprocess.run(steps, cwd=ROOT, env=wide, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:] or done.stdout[-2000:]
    assert "rollups" in done.stdout and "2,000" in done.stdout
    with sqlite3.connect(tmp_path / "bench.db") as conn:
        assert conn.execute("SELECT count(*) FROM logs").fetchone()[0] == rows


def test_ingest_measurements_date_their_rows_after_the_prune_horizon() -> None:
    first = dataset.INGEST_HOURS_START
    assert dataset.ingest_hour(0) == first
    # Removing a run's rows (deleting what is older than its hour's end) moves the horizon there.
    assert dataset.ingest_hour(first + dataset.HOUR) == first + dataset.HOUR
    assert dataset.ingest_hour(first + 5 * dataset.HOUR + 1) == first + 6 * dataset.HOUR
    assert dataset.ingest_hour(dataset.DATASET_START - dataset.HOUR) == dataset.DATASET_START - dataset.HOUR
    with pytest.raises(ValueError, match="pruned into the dataset"):
        dataset.ingest_hour(dataset.DATASET_START)


def test_reuse_refuses_to_drop_a_loaded_database_whose_marker_is_missing(tmp_path: Path) -> None:
    """--reuse reloads a database whose marker does not match; a database that holds logs and has no
    marker at all (run from another checkout or --data-dir) is kept, and the run stops saying why."""
    path = tmp_path / "loaded.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE logs (id INTEGER PRIMARY KEY, created_at INTEGER)")
        conn.execute("INSERT INTO logs (created_at) VALUES (1700000000)")
    command = [sys.executable, "-m", "bench", "--rows", "2000", "--db", f"sqlite:///{path}", "--reuse"]
    command += ["--out", str(tmp_path / "results"), "--data-dir", str(tmp_path / "data")]
    env = {name: value for name, value in os.environ.items() if name not in ("SQL_DSN", "LOG_SQL_DSN")}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert "holds logs but" in done.stderr and "--data-dir" in done.stderr, done.stderr[-2000:]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM logs").fetchone()[0] == 1


@pytest.mark.slow
def test_write_path_measures_a_server_database_in_place_and_leaves_its_logs(databases: Databases) -> None:
    url = databases.fresh("postgresql", Path("unused.db")).core
    rows = 1000
    env = {name: value for name, value in os.environ.items() if name not in ("SQL_DSN", "LOG_SQL_DSN")}
    load = [sys.executable, "-m", "bench", "--rows", str(rows), "--db", url, "--load-only"]
    load += ["--users", "20", "--keys", "60"]
    done = subprocess.run(load, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:] or done.stdout[-2000:]

    def write_path(*options: str) -> str:
        steps = [sys.executable, "-m", "bench.write_path", url, "--rows", "2000", "--rows-per-transaction", "1000"]
        steps += ["--users", "20", "--keys", "60", *options]
        done = subprocess.run(
            steps, cwd=ROOT, env={**env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr[-2000:] or done.stdout[-2000:]
        return done.stdout

    def rolled_up_rows() -> int:
        with db.read_logs() as conn:
            return int(conn.execute(select(func.sum(log_rollups.c.count)).where(log_rollups.c.scope == 0)).scalar())

    db = Database(url)
    try:
        before = rolled_up_rows()
        output = write_path()
        assert "rollups" in output and "1,000" in output
        # Its rows were deleted again: the database holds the dataset alone, and the next run takes a fresh hour.
        with db.read_logs() as conn:
            assert conn.execute(select(func.count()).select_from(logs)).scalar_one() == rows
            assert rollups.pruned_before(conn) > dataset.INGEST_HOURS_START
        # The rollups keep the usage history of the rows it wrote and deleted...
        assert rolled_up_rows() == before + 2000
        # ...and without aggregates it writes the rows alone, deleted again just the same.
        output = write_path("--without-aggregates")
        assert "without quota_data and rollups" in output
        assert rolled_up_rows() == before + 2000
        with db.read_logs() as conn:
            assert conn.execute(select(func.count()).select_from(logs)).scalar_one() == rows
    finally:
        db.dispose()
