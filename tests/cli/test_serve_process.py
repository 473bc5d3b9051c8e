"""The real `tokenledger serve` process, over a real socket: start, use, restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.backends import DatabaseUrls

ROOT_TOKEN = "process-test-root-token-00000000"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serve(urls: DatabaseUrls, port: int, *extra: str) -> Iterator[tuple[httpx.Client, list[str]]]:
    env = os.environ | {
        "INITIAL_ROOT_ACCESS_TOKEN": ROOT_TOKEN,
        "INITIAL_ROOT_PASSWORD": "process-test-password",
        "SQL_DSN": urls.core,
        "LOG_SQL_DSN": urls.logs or "",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tokenledger", "serve", "--port", str(port), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=5) as client:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    pytest.fail(f"server exited early: {process.stdout.read() if process.stdout else ''}")
                try:
                    if client.get("/api/status").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail("server did not answer within 30 s")
                time.sleep(0.1)
            output: list[str] = []
            yield client, output
    finally:
        process.send_signal(signal.SIGINT)
        try:
            out, _ = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            out, _ = process.communicate()
        if "output" in locals():
            output.append(out)


@pytest.mark.slow
def test_serve_over_a_socket_keeps_data_and_root_across_restarts(fresh_urls: DatabaseUrls) -> None:
    port = _free_port()
    headers = {"Authorization": f"Bearer {ROOT_TOKEN}", "New-Api-User": "1"}
    record = {"username": "root", "model_name": "gpt-4o", "quota": 42, "created_at": 1_700_000_000_000}
    with _serve(fresh_urls, port) as (client, output):
        status = client.get("/api/status").json()
        assert status["success"] and status["data"]["quota_per_unit"] == 500_000
        pushed = client.post("/api/log/ingest", json=[record], headers=headers).json()
        assert pushed == {"success": True, "message": "", "data": {"inserted": 1}}
    assert f"http://127.0.0.1:{port}" in output[0]
    assert "/api/log/" in output[0]  # the printed copy-paste curl calls

    with _serve(fresh_urls, port) as (client, _):
        page = client.get("/api/log/", headers=headers).json()["data"]
        assert page["total"] == 1
        assert page["items"][0]["created_at"] == 1_700_000_000
        assert page["items"][0]["quota"] == 42
        login = client.post("/api/user/login", json={"username": "root", "password": "process-test-password"})
        assert login.json()["success"] is True
        assert client.get("/api/user/self").json()["data"]["username"] == "root"
