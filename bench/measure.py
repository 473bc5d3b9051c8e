"""Timing HTTP calls: read scenarios, export throughput, ingest throughput, and reads while a paced ingest
runs."""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.scenarios import Scenario

TIMEOUT = httpx.Timeout(600.0, connect=10.0)


@dataclass(slots=True)
class Timing:
    """The latencies (seconds) of one scenario's timed calls and how many of them failed."""

    name: str
    group: str
    path: str
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    first_failure: str = ""
    # The body of the last answer: the slowest reads are those that send the most, whatever the table's size.
    answer_bytes: int = 0

    def summary(self) -> dict[str, Any]:
        ms = sorted(value * 1000 for value in self.latencies)
        if not ms:
            return {"name": self.name, "group": self.group, "path": self.path, "calls": 0, "failures": self.failures}
        return {
            "name": self.name,
            "group": self.group,
            "path": self.path,
            "calls": len(ms),
            "failures": self.failures,
            "p50_ms": round(statistics.median(ms), 2),
            "p99_ms": round(ms[max(0, math.ceil(0.99 * len(ms)) - 1)], 2),
            "mean_ms": round(statistics.fmean(ms), 2),
            "max_ms": round(ms[-1], 2),
            "answer_bytes": self.answer_bytes,
            **({"first_failure": self.first_failure} if self.first_failure else {}),
        }


def call_ok(response: httpx.Response) -> tuple[bool, str]:
    """Whether an answer is a success envelope; otherwise a short reason."""
    try:
        body = response.json()
    except ValueError:
        return False, f"HTTP {response.status_code}, not JSON"
    if response.status_code == 200 and isinstance(body, dict) and body.get("success") is True:
        return True, ""
    message = body.get("message", "") if isinstance(body, dict) else ""
    return False, f"HTTP {response.status_code}: {message}"[:200]


def time_scenario(client: httpx.Client, scenario: Scenario, *, warmup: int, calls: int, max_seconds: float) -> Timing:
    """`warmup` untimed calls, then up to `calls` timed ones; after `max_seconds` of timed calls (and at
    least 3 calls) it stops early, so one very slow query cannot stall a run."""
    timing = Timing(scenario.name, scenario.group, scenario.describe())
    for _ in range(warmup):
        client.get(scenario.path, params=scenario.params, headers=scenario.headers)
    started = time.perf_counter()
    for _ in range(calls):
        before = time.perf_counter()
        response = client.get(scenario.path, params=scenario.params, headers=scenario.headers)
        timing.latencies.append(time.perf_counter() - before)
        timing.answer_bytes = len(response.content)
        ok, reason = call_ok(response)
        if not ok:
            timing.failures += 1
            timing.first_failure = timing.first_failure or reason
        if time.perf_counter() - started > max_seconds and len(timing.latencies) >= 3:
            break
    return timing


@dataclass(frozen=True, slots=True)
class ExportRun:
    """One export streamed to its end: the rows and bytes received and how long it took."""

    name: str
    group: str
    path: str
    rows: int
    bytes: int
    seconds: float
    failures: int
    first_failure: str = ""

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group": self.group,
            "path": self.path,
            "rows": self.rows,
            "mb": round(self.bytes / 1e6, 1),
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(self.rows / self.seconds) if self.seconds else 0,
            "mb_per_s": round(self.bytes / 1e6 / self.seconds, 1) if self.seconds else 0,
            "failures": self.failures,
            **({"first_failure": self.first_failure} if self.first_failure else {}),
        }


def list_total(client: httpx.Client, path: str, params: dict[str, str], headers: dict[str, str]) -> int:
    """The `total` a list endpoint announces for these filters."""
    response = client.get(path, params=params | {"page_size": "1"}, headers=headers)
    ok, reason = call_ok(response)
    if not ok:
        raise RuntimeError(f"GET {path} failed: {reason}")
    return int(response.json()["data"]["total"])


def export_throughput(client: httpx.Client, scenario: Scenario, expected_rows: int) -> ExportRun:
    """Stream one export (GET, CSV or JSONL) to its end as a client would save it, counting lines: the
    CSV's rows are its lines less the header (the dataset's cells hold no line breaks). A failure is an
    error answer, or a row count other than `expected_rows` (the list endpoint's total)."""
    size = lines = 0
    reason = ""
    started = time.perf_counter()
    with client.stream("GET", scenario.path, params=scenario.params, headers=scenario.headers) as response:
        # A failure is the JSON envelope; an export is text/csv or application/x-ndjson.
        if response.status_code != 200 or response.headers.get("content-type", "").startswith("application/json"):
            response.read()
            reason = call_ok(response)[1] or f"HTTP {response.status_code}"
        else:
            for chunk in response.iter_raw():
                size += len(chunk)
                lines += chunk.count(b"\n")
    seconds = time.perf_counter() - started
    rows = lines - 1 if scenario.params.get("format", "csv") == "csv" and lines else lines
    if not reason and rows != expected_rows:
        reason = f"{rows} rows exported, the list endpoint counts {expected_rows}"
    return ExportRun(
        scenario.name, scenario.group, scenario.describe(), rows, size, seconds, 1 if reason else 0, reason
    )


@dataclass(frozen=True, slots=True)
class IngestRun:
    clients: int
    batches: int
    rows: int
    seconds: float
    failures: int
    first_failure: str = ""

    def summary(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "batches": self.batches,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(self.rows / self.seconds) if self.seconds else 0,
            "failures": self.failures,
            **({"first_failure": self.first_failure} if self.first_failure else {}),
        }


def _post_batch(client: httpx.Client, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """Rows inserted by one ingest call (0 on a failure) and the failure's reason."""
    try:
        response = client.post("/api/log/ingest", content=body, headers=headers)
    except httpx.HTTPError as exc:
        return 0, f"{type(exc).__name__}: {exc}"[:200]
    ok, reason = call_ok(response)
    return (int(response.json()["data"]["inserted"]), "") if ok else (0, reason)


def ingest_throughput(base_url: str, token: str, bodies: Sequence[bytes], clients: int) -> IngestRun:
    """POST every body once, spread over `clients` threads with a keep-alive client each."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    lock = threading.Lock()
    queue = list(reversed(bodies))
    totals = {"rows": 0, "failures": 0}
    reasons: list[str] = []

    def worker() -> None:
        with httpx.Client(base_url=base_url, timeout=TIMEOUT) as client:
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                inserted, reason = _post_batch(client, body, headers)
                with lock:
                    totals["rows"] += inserted
                    if reason:
                        totals["failures"] += 1
                        reasons.append(reason)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    return IngestRun(clients, len(bodies), totals["rows"], seconds, totals["failures"], reasons[0] if reasons else "")


class PacedIngest:
    """A background thread posting batches at a target rate (batches per second), cycling over `bodies`,
    until stopped; reports the rate it achieved."""

    def __init__(self, base_url: str, token: str, bodies: Sequence[bytes], batches_per_second: float) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.bodies = bodies
        self.interval = 1 / batches_per_second
        self.stop_event = threading.Event()
        self.rows = 0
        self.batches = 0
        self.failures = 0
        self.first_failure = ""
        self.seconds = 0.0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        started = time.perf_counter()
        with httpx.Client(base_url=self.base_url, timeout=TIMEOUT) as client:
            while not self.stop_event.is_set():
                due = started + self.batches * self.interval
                delay = due - time.perf_counter()
                if delay > 0 and self.stop_event.wait(delay):
                    break
                inserted, reason = _post_batch(client, self.bodies[self.batches % len(self.bodies)], self.headers)
                self.batches += 1
                self.rows += inserted
                if reason:
                    self.failures += 1
                    self.first_failure = self.first_failure or reason
        self.seconds = time.perf_counter() - started

    def __enter__(self) -> PacedIngest:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop_event.set()
        self.thread.join()

    def summary(self, target_rows_per_second: float) -> dict[str, Any]:
        return {
            "target_rows_per_s": round(target_rows_per_second),
            "achieved_rows_per_s": round(self.rows / self.seconds) if self.seconds else 0,
            "batches": self.batches,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "failures": self.failures,
            **({"first_failure": self.first_failure} if self.first_failure else {}),
        }


def run_all(
    client: httpx.Client,
    scenarios: Sequence[Scenario],
    *,
    warmup: int,
    calls: int,
    max_seconds: float,
    on_done: Callable[[Timing], None] | None = None,
) -> list[Timing]:
    timings = []
    for scenario in scenarios:
        timing = time_scenario(client, scenario, warmup=warmup, calls=calls, max_seconds=max_seconds)
        timings.append(timing)
        if on_done is not None:
            on_done(timing)
    return timings
