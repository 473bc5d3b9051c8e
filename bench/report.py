"""Results: the machine they were measured on, terminal tables, and JSON and Markdown files."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import tokenledger


def _first_line_of(path: str, prefix: str) -> str | None:
    try:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _git_commit() -> str | None:
    """The commit of the tokenledger code under test (None when it is not a git checkout)."""
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(tokenledger.__file__).resolve().parent,
            check=False,
        )
    except OSError:
        return None
    return done.stdout.strip() or None


def machine(db_version: str) -> dict[str, Any]:
    memory_kb = _first_line_of("/proc/meminfo", "MemTotal")
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _first_line_of("/proc/cpuinfo", "model name"),
        "memory_mb": int(memory_kb.split()[0]) // 1024 if memory_kb else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "database": db_version,
        "tokenledger": tokenledger.__version__,
        "tokenledger_source": str(Path(tokenledger.__file__).resolve().parent),
        "commit": _git_commit(),
        "packages": _package_versions(),
    }


# What serves and stores a request: a run against another release of these is not like for like.
MEASURED_PACKAGES = ("fastapi", "starlette", "uvicorn", "pydantic", "pydantic-core", "sqlalchemy", "psycopg", "pymysql")


def _package_versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in MEASURED_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def _ms(value: Any) -> str:
    return "—" if value is None else f"{value:,.1f}"


def _kb(value: Any) -> str:
    return "—" if value is None else f"{value / 1024:,.1f}"


def _scenario_table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("scenario", "calls", "fail", "p50 ms", "p99 ms", "mean ms", "max ms", "answer KiB"):
        if column == "scenario":
            table.add_column(column, no_wrap=True)
        else:
            table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            row["name"],
            str(row["calls"]),
            str(row["failures"]) if not row["failures"] else f"[red]{row['failures']}[/red]",
            _ms(row.get("p50_ms")),
            _ms(row.get("p99_ms")),
            _ms(row.get("mean_ms")),
            _ms(row.get("max_ms")),
            _kb(row.get("answer_bytes")),
        )
    return table


def _memory_note(memory: dict[str, Any]) -> str:
    before, after = memory.get("before", {}), memory.get("after", {})
    return f"server peak memory {before.get('VmHWM', '?')} MB before the exports, {after.get('VmHWM', '?')} MB after"


def print_result(console: Console, result: dict[str, Any]) -> None:
    if result["scenarios"]:
        console.print(_scenario_table(f"reads: {result['backend']}, {result['rows']:,} rows", result["scenarios"]))
    if result.get("exports"):
        table = Table(title="exports over HTTP (streamed to the end)", title_justify="left")
        table.add_column("scenario", no_wrap=True)
        for column in ("rows", "MB", "seconds", "rows/s", "MB/s", "fail"):
            table.add_column(column, justify="right")
        for run in result["exports"]:
            table.add_row(
                run["name"],
                f"{run['rows']:,}",
                f"{run['mb']:,.1f}",
                f"{run['seconds']:.2f}",
                f"{run['rows_per_s']:,}",
                f"{run['mb_per_s']:,.1f}",
                str(run["failures"]) if not run["failures"] else f"[red]{run['failures']}[/red]",
            )
        console.print(table)
        console.print(_memory_note(result.get("export_memory", {})))
    if result.get("ingest"):
        table = Table(title="ingest over HTTP (batches of 1,000)", title_justify="left")
        for column in ("clients", "batches", "rows", "seconds", "rows/s", "fail"):
            table.add_column(column, justify="right")
        for run in result["ingest"]:
            table.add_row(
                str(run["clients"]),
                str(run["batches"]),
                f"{run['rows']:,}",
                f"{run['seconds']:.2f}",
                f"{run['rows_per_s']:,}",
                str(run["failures"]),
            )
        console.print(table)
    load = result.get("under_load")
    if load:
        ingest = load["ingest"]
        console.print(
            _scenario_table(
                f"reads while ingesting (target {ingest['target_rows_per_s']:,} rows/s, "
                f"achieved {ingest['achieved_rows_per_s']:,} rows/s)",
                load["scenarios"],
            )
        )
    memory = result.get("memory", {})
    console.print(
        f"server memory: peak {memory.get('VmHWM', '?')} MB, at the end {memory.get('VmRSS', '?')} MB; "
        + (f"load: {result['load']['rows_per_s']:,} rows/s" if result["load"].get("rows_per_s") else "load: reused")
    )


def _markdown_rows(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| scenario | request | calls | failures | p50 ms | p99 ms | mean ms | max ms | answer KiB |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['name']} | `{row['path']}` | {row['calls']} | {row['failures']} | {_ms(row.get('p50_ms'))} "
            f"| {_ms(row.get('p99_ms'))} | {_ms(row.get('mean_ms'))} | {_ms(row.get('max_ms'))} "
            f"| {_kb(row.get('answer_bytes'))} |"
        )
    return lines


def markdown(result: dict[str, Any]) -> str:
    info = result["machine"]
    lines = [
        f"# tokenledger benchmark: {result['backend']}, {result['rows']:,} rows",
        "",
        f"- measured {result['finished_at']} on {info['cpu_count']} CPUs ({info['cpu_model']}), "
        f"{info['memory_mb']} MB RAM, Python {info['python']}, {info['database']}",
        f"- packages: {', '.join(f'{name} {version}' for name, version in info['packages'].items())}",
        f"- tokenledger {info['tokenledger']} ({info['commit']}); dataset seed {result['seed']}, "
        f"{result['dataset']['users']:,} users, {result['dataset']['keys']:,} API keys",
        f"- {result['settings']['calls']} timed calls per scenario after {result['settings']['warmup']} warm-up "
        f"calls (fewer when a scenario exceeds {result['settings']['max_seconds']} s)",
    ]
    load = result["load"]
    if load.get("rows_per_s"):
        lines.append(
            f"- load through ingest: {load['rows']:,} rows in {load['seconds']:,.1f} s ({load['rows_per_s']:,} rows/s)"
        )
    else:
        lines.append("- dataset reused from an earlier load")
    memory = result.get("memory", {})
    lines.append(f"- server memory: peak (VmHWM) {memory.get('VmHWM')} MB, at the end (VmRSS) {memory.get('VmRSS')} MB")
    lines += ["", "## Reads", "", *_markdown_rows(result["scenarios"])]
    if result.get("exports"):
        lines += ["", "## Exports over HTTP (each streamed to the end once)", ""]
        lines += [
            "| scenario | request | rows | MB | seconds | rows/s | MB/s | failures |",
            "|---|---|--:|--:|--:|--:|--:|--:|",
        ]
        for run in result["exports"]:
            lines.append(
                f"| {run['name']} | `{run['path']}` | {run['rows']:,} | {run['mb']:,.1f} | {run['seconds']:.2f} "
                f"| {run['rows_per_s']:,} | {run['mb_per_s']:,.1f} | {run['failures']} |"
            )
        lines += ["", f"- {_memory_note(result.get('export_memory', {}))}"]
    if result.get("ingest"):
        lines += ["", "## Ingest over HTTP (batches of 1,000 records)", ""]
        lines += ["| clients | batches | rows | seconds | rows/s | failures |", "|--:|--:|--:|--:|--:|--:|"]
        for run in result["ingest"]:
            lines.append(
                f"| {run['clients']} | {run['batches']} | {run['rows']:,} | {run['seconds']:.2f} "
                f"| {run['rows_per_s']:,} | {run['failures']} |"
            )
    under = result.get("under_load")
    if under:
        ingest = under["ingest"]
        lines += [
            "",
            f"## Reads while ingesting (target {ingest['target_rows_per_s']:,} rows/s, achieved "
            f"{ingest['achieved_rows_per_s']:,} rows/s)",
            "",
            *_markdown_rows(under["scenarios"]),
        ]
    return "\n".join(lines) + "\n"


def write(result: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{result['backend']}-{result['rows']}"
    json_path = out_dir / f"{stem}.json"
    md_path = out_dir / f"{stem}.md"
    json_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(markdown(result), encoding="utf-8")
    return json_path, md_path
