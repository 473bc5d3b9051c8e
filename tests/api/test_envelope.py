"""The envelope on every route (API.md §1): failures without credentials, exact success keys, routing errors,
malformed bodies and server faults — always `{"success", "message"[, "data"]}`, never a bare traceback."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from starlette.routing import Route

from tests.api.mgmt_helpers import fails, ok
from tests.backends import Databases
from tests.factories import PASSWORD, Account, make_key, make_user, record, root_account
from tokenledger.app import create_app
from tokenledger.services import cleanup
from tokenledger.settings import Settings
from tokenledger.store import migrate
from tokenledger.store.database import Database

DOC_PATHS = ("/docs", "/openapi.json", "/redoc")
PUBLIC = {("GET", "/api/status"), ("POST", "/api/user/login"), ("GET", "/api/user/logout")}
SECRET_MARKERS = ("Traceback", 'File "', "sqlalchemy", "sqlite3", "no such table", "RuntimeError", "kaboom")


def _walk(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every HTTP route, looking inside included routers (FastAPI may keep them nested)."""
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            yield from _walk(original.routes, prefix + getattr(route.include_context, "prefix", ""))
        elif isinstance(route, Route):
            path = prefix + route.path
            if path.startswith(DOC_PATHS):
                continue
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    yield method, path


def app_routes(app: FastAPI) -> list[tuple[str, str]]:
    return sorted(set(_walk(app.routes)))


# Collected from an app on an unopened in-memory database; `test_route_list_is_the_apps` checks it against
# the `client` fixture's app.
ROUTES = app_routes(create_app(Settings(sql_dsn="sqlite:///:memory:")))


def concrete(path: str) -> str:
    """The path with every `{param}` replaced by 1."""
    while "{" in path:
        start = path.index("{")
        path = path[:start] + "1" + path[path.index("}", start) + 1 :]
    return path


def route_id(route: tuple[str, str]) -> str:
    return f"{route[0]} {route[1]}"


@dataclass
class World:
    """One app and database shared by a module's tests that read, or write only throwaway objects."""

    client: TestClient
    db: Database
    root: Account
    channel_id: int

    def throwaway_user(self) -> Account:
        return make_user(self.db)


@pytest.fixture(scope="module")
def world(backend: str, databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One populated database per backend, shared by the module's read-only envelope checks."""
    urls = databases.fresh(backend, tmp_path_factory.mktemp("envelope") / "ledger.db")
    database = Database(urls.core, urls.logs)
    migrate.upgrade(database)
    settings = Settings(
        sql_dsn=urls.core,
        log_sql_dsn=urls.logs,
        session_secret="test-session-secret-0123456789",
        rate_limit_enabled=False,
    )
    root = root_account(database)
    make_key(database, root)
    with TestClient(create_app(settings, database)) as test_client:
        channel = ok(test_client.post("/api/channel/", json={"name": "ch"}, headers=root.headers))
        yield World(test_client, database, root, channel["id"])
    database.dispose()


# --- the route list -------------------------------------------------------------------------------------


def test_route_list_is_the_apps(client: TestClient) -> None:
    assert app_routes(client.app) == ROUTES  # type: ignore[arg-type]
    assert len(ROUTES) >= 30
    for expected in [("GET", "/api/log/"), ("POST", "/api/user/login"), ("DELETE", "/api/channel/{channel_id}")]:
        assert expected in ROUTES


# --- no credentials -------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
def test_every_route_without_credentials(world: World, route: tuple[str, str]) -> None:
    method, path = route
    response = world.client.request(method, concrete(path))
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) <= {"success", "message", "data"}, body
    assert isinstance(body["message"], str)
    for marker in SECRET_MARKERS:
        assert marker not in response.text
    if route in PUBLIC:
        assert response.status_code == 200
        assert isinstance(body["success"], bool)
        if not body["success"]:
            assert body["message"] and body.get("data") is None
        return
    fails(response, 401)


def test_public_routes_answer_anonymously(world: World) -> None:
    status = ok(world.client.get("/api/status"))
    assert {"version", "start_time", "quota_per_unit"} <= set(status)
    assert status["quota_per_unit"] == 500_000 and isinstance(status["start_time"], int)
    assert ok(world.client.get("/api/user/logout")) is None
    fails(world.client.post("/api/user/login"), 200)


# --- success envelopes ----------------------------------------------------------------------------------

_unique = itertools.count(1)
Call = Callable[[World], httpx.Response]


def _get(path: str, **params: Any) -> Call:
    return lambda w: w.client.get(path, params=params, headers=w.root.headers)


def _create_user(path: str) -> Call:
    return lambda w: w.client.post(
        path, json={"username": f"made{next(_unique)}", "password": "long-enough-1"}, headers=w.root.headers
    )


def _update_user(path: str) -> Call:
    return lambda w: w.client.put(
        path, json={"id": w.throwaway_user().id, "display_name": "renamed"}, headers=w.root.headers
    )


def _put_key(path: str) -> Call:
    return lambda w: w.client.put(
        path, json={"id": w.root.keys["default"][0], "name": f"k{next(_unique)}"}, headers=w.root.headers
    )


def _delete_key(w: World) -> httpx.Response:
    name = f"gone{next(_unique)}"
    make_key(w.db, w.root, name)
    return w.client.delete(f"/api/token/{w.root.keys[name][0]}", headers=w.root.headers)


def _delete_channel(w: World) -> httpx.Response:
    channel = ok(w.client.post("/api/channel/", json={"name": "gone"}, headers=w.root.headers))
    return w.client.delete(f"/api/channel/{channel['id']}", headers=w.root.headers)


def _finished_cleanup(w: World) -> httpx.Response:
    task = cleanup.start(w.db, 1, "root", running=True)
    cleanup.run(w.db, task)
    return w.client.get(f"/api/system-task/{task.id}", headers=w.root.headers)


def _start_cleanup(w: World) -> httpx.Response:
    response = w.client.post("/api/system-task/log-cleanup", json={"target_timestamp": 1}, headers=w.root.headers)
    # Finish it here (this app runs no background runner), so that later examples may start their own.
    cleanup.CleanupRunner(w.db, retention_days=0, check_interval=60).run_once()
    return response


SUCCESS: dict[tuple[str, str], Call] = {
    ("GET", "/api/status"): lambda w: w.client.get("/api/status"),
    ("GET", "/api/log/"): _get("/api/log/"),
    ("GET", "/api/log"): _get("/api/log"),
    ("GET", "/api/log/self"): _get("/api/log/self"),
    ("GET", "/api/log/stat"): _get("/api/log/stat"),
    ("GET", "/api/log/self/stat"): _get("/api/log/self/stat"),
    ("GET", "/api/log/search"): _get("/api/log/search", keyword="hello"),
    ("GET", "/api/log/self/search"): _get("/api/log/self/search", keyword="hello"),
    ("GET", "/api/log/token"): lambda w: w.client.get("/api/log/token", headers=w.root.key_headers()),
    ("DELETE", "/api/log/"): lambda w: w.client.delete("/api/log/?target_timestamp=1", headers=w.root.headers),
    ("DELETE", "/api/log"): lambda w: w.client.delete("/api/log?target_timestamp=1", headers=w.root.headers),
    ("POST", "/api/log/ingest"): lambda w: w.client.post(
        "/api/log/ingest", json=[record(w.root, created_at=1_700_000_000)], headers=w.root.headers
    ),
    ("GET", "/api/data/"): _get("/api/data/"),
    ("GET", "/api/data"): _get("/api/data"),
    ("GET", "/api/data/self"): _get("/api/data/self"),
    ("POST", "/api/user/login"): lambda w: w.client.post(
        "/api/user/login", json={"username": "root", "password": PASSWORD}
    ),
    ("GET", "/api/user/logout"): lambda w: w.client.get("/api/user/logout"),
    ("GET", "/api/user/self"): _get("/api/user/self"),
    ("GET", "/api/user/token"): lambda w: w.client.get("/api/user/token", headers=w.throwaway_user().headers),
    ("GET", "/api/user/"): _get("/api/user/"),
    ("GET", "/api/user"): _get("/api/user"),
    ("POST", "/api/user/"): _create_user("/api/user/"),
    ("POST", "/api/user"): _create_user("/api/user"),
    ("PUT", "/api/user/"): _update_user("/api/user/"),
    ("PUT", "/api/user"): _update_user("/api/user"),
    ("POST", "/api/user/manage"): lambda w: w.client.post(
        "/api/user/manage", json={"id": w.throwaway_user().id, "action": "disable"}, headers=w.root.headers
    ),
    ("POST", "/api/user/{user_id}/topup"): lambda w: w.client.post(
        f"/api/user/{w.throwaway_user().id}/topup", json={"quota": 5}, headers=w.root.headers
    ),
    ("GET", "/api/user/{user_id}"): _get("/api/user/1"),
    ("DELETE", "/api/user/{user_id}"): lambda w: w.client.delete(
        f"/api/user/{w.throwaway_user().id}", headers=w.root.headers
    ),
    ("GET", "/api/token/"): _get("/api/token/"),
    ("GET", "/api/token"): _get("/api/token"),
    ("POST", "/api/token/"): lambda w: w.client.post("/api/token/", json={"name": "n"}, headers=w.root.headers),
    ("POST", "/api/token"): lambda w: w.client.post("/api/token", json={}, headers=w.root.headers),
    ("PUT", "/api/token/"): _put_key("/api/token/"),
    ("PUT", "/api/token"): _put_key("/api/token"),
    ("GET", "/api/token/{key_id}"): lambda w: w.client.get(
        f"/api/token/{w.root.keys['default'][0]}", headers=w.root.headers
    ),
    ("DELETE", "/api/token/{key_id}"): _delete_key,
    ("GET", "/api/channel/"): _get("/api/channel/"),
    ("GET", "/api/channel"): _get("/api/channel"),
    ("POST", "/api/channel/"): lambda w: w.client.post("/api/channel/", json={"name": "n"}, headers=w.root.headers),
    ("POST", "/api/channel"): lambda w: w.client.post(
        "/api/channel", json={"mode": "single", "channel": {"name": "n"}}, headers=w.root.headers
    ),
    ("PUT", "/api/channel/"): lambda w: w.client.put(
        "/api/channel/", json={"id": w.channel_id, "models": "a"}, headers=w.root.headers
    ),
    ("PUT", "/api/channel"): lambda w: w.client.put(
        "/api/channel", json={"id": w.channel_id, "models": "b"}, headers=w.root.headers
    ),
    ("GET", "/api/channel/{channel_id}"): lambda w: w.client.get(
        f"/api/channel/{w.channel_id}", headers=w.root.headers
    ),
    ("DELETE", "/api/channel/{channel_id}"): _delete_channel,
    ("GET", "/api/usage"): _get("/api/usage"),
    ("GET", "/api/usage/"): _get("/api/usage/"),
    ("GET", "/api/usage/self"): _get("/api/usage/self"),
    ("POST", "/api/system-task/log-cleanup"): _start_cleanup,
    ("GET", "/api/system-task/current"): _get("/api/system-task/current"),
    ("GET", "/api/system-task/{task_id}"): _finished_cleanup,
}


# Routes whose success is a file, not an envelope (their failures are envelopes like everywhere else).
STREAMED: dict[tuple[str, str], Call] = {
    ("GET", "/api/log/export"): _get("/api/log/export"),
    ("GET", "/api/log/self/export"): _get("/api/log/self/export", format="jsonl"),
}


def test_every_route_has_a_success_example() -> None:
    """A new route must come with an example here, so its success envelope is pinned too."""
    missing = set(ROUTES) - set(SUCCESS) - set(STREAMED)
    assert not missing, f"add a success example for {sorted(missing)}"
    assert not (set(SUCCESS) | set(STREAMED)) - set(ROUTES), "examples for routes that no longer exist"


@pytest.mark.parametrize("route", sorted(STREAMED), ids=route_id)
def test_streamed_routes_answer_a_file(world: World, route: tuple[str, str]) -> None:
    response = STREAMED[route](world)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(("text/csv", "application/x-ndjson", "application/jsonl"))
    assert "attachment" in response.headers["content-disposition"]
    for marker in SECRET_MARKERS:
        assert marker not in response.text


@pytest.mark.parametrize("route", sorted(SUCCESS), ids=route_id)
def test_success_envelope_has_exactly_success_message_data(world: World, route: tuple[str, str]) -> None:
    response = SUCCESS[route](world)
    world.client.cookies.clear()
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["success", "message", "data"], body
    assert body["success"] is True and body["message"] == "" and response.status_code == 200, body


# --- routing errors -------------------------------------------------------------------------------------


def test_unknown_route_is_a_404_envelope(world: World) -> None:
    for path in ["/api/nope", "/nope", "/api/user/self/", "/api/log/self/x", "/"]:
        message = fails(world.client.get(path, headers=world.root.headers), 404, "no such route")
        assert path in message
    fails(world.client.delete("/api/nope/1"), 404, "no such route")


def test_wrong_method_is_a_405_envelope(world: World) -> None:
    for method, path in [("POST", "/api/status"), ("PATCH", "/api/user/"), ("PUT", "/api/log/self")]:
        fails(world.client.request(method, path, headers=world.root.headers), 405, method, path)
    # Without credentials too: the method is wrong whoever asks.
    fails(world.client.request("PATCH", "/api/token/"), 405, "PATCH")


# --- malformed bodies -----------------------------------------------------------------------------------


def test_malformed_json_is_a_200_envelope(world: World) -> None:
    json_header = {"Content-Type": "application/json"}
    calls = [
        ("POST", "/api/user/login", {}),
        ("POST", "/api/user/", world.root.headers),
        ("PUT", "/api/user/", world.root.headers),
        ("POST", "/api/user/manage", world.root.headers),
        ("POST", "/api/token/", world.root.headers),
        ("PUT", "/api/token/", world.root.headers),
        ("POST", "/api/channel/", world.root.headers),
        ("PUT", "/api/channel/", world.root.headers),
        ("POST", "/api/user/1/topup", world.root.headers),
    ]
    for method, path, headers in calls:
        for content in ['{"username": ', "not json", "{'single': 'quotes'}"]:
            response = world.client.request(method, path, content=content, headers=headers | json_header)
            fails(response, 200, "JSON")


def test_ingest_rejects_malformed_json_as_an_envelope(world: World) -> None:
    response = world.client.post(
        "/api/log/ingest", content=b"[{not json", headers=world.root.headers | {"Content-Type": "application/json"}
    )
    fails(response, 200)


def test_body_of_the_wrong_shape_is_a_200_envelope(world: World) -> None:
    for content in ["[]", '"text"', "42", "null"]:
        response = world.client.post(
            "/api/token/", content=content, headers=world.root.headers | {"Content-Type": "application/json"}
        )
        fails(response, 200)


def test_garbage_query_values_never_fault(world: World) -> None:
    lenient = ["p=--5", "p=%C2%B2", "page_size=--1", "ps=1e3", "size=-", "p=99999999999999999999"]
    for query in lenient:
        assert ok(world.client.get(f"/api/log/?{query}", headers=world.root.headers))["page"] >= 1
    strict = [
        "start_timestamp=--5",
        "end_timestamp=%C2%B2",
        "type=--1",
        "channel=--1",
        "start_timestamp=1e9",
        "cursor=%FF",
        "model_name=%25",
    ]
    for query in strict:
        fails(world.client.get(f"/api/log/?{query}", headers=world.root.headers), 200)
    # Self routes never read `channel`, so only the others fail there.
    for query in (query for query in strict if not query.startswith("channel=")):
        fails(world.client.get(f"/api/log/self?{query}", headers=world.root.headers), 200)


# --- server faults --------------------------------------------------------------------------------------


def test_unexpected_exception_is_a_500_envelope_without_traceback(settings: Settings, db: Database) -> None:
    app = create_app(settings, db)

    @app.get("/api/test-only/boom")
    def boom() -> None:
        raise RuntimeError("kaboom: secret internal detail")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.get("/api/test-only/boom")
    message = fails(response, 500, "internal server error")
    for marker in SECRET_MARKERS:
        assert marker not in response.text
    assert "secret internal detail" not in message


def test_database_fault_is_a_500_envelope(settings: Settings, db: Database) -> None:
    root = root_account(db)
    with db.write_logs() as conn:
        conn.execute(text("drop table logs"))
    with TestClient(create_app(settings, db), raise_server_exceptions=False) as test_client:
        response = test_client.get("/api/log/", headers=root.headers)
        fails(response, 500, "internal server error")
        for marker in SECRET_MARKERS:
            assert marker not in response.text
        # The app keeps serving after the fault.
        assert ok(test_client.get("/api/user/self", headers=root.headers))["id"] == root.id
