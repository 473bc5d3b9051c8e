"""Assertions and small drivers for the management and auth API tests (envelope checks, logging in)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests import factories
from tokenledger.api.deps import SESSION_COOKIE


def described(response: httpx.Response) -> str:
    """The request and the answer, for assertion messages of tests that loop over cases."""
    request = response.request
    return f"{request.method} {request.url} {request.content[:300]!r} -> {response.status_code} {response.text[:500]}"


def ok(response: httpx.Response) -> Any:
    """Assert a success envelope (HTTP 200, exactly success/message/data) and return its `data`."""
    assert response.status_code == 200, described(response)
    body = response.json()
    assert set(body) == {"success", "message", "data"}, described(response)
    assert body["success"] is True, described(response)
    assert isinstance(body["message"], str)
    return body["data"]


def fails(response: httpx.Response, status: int = 200, *phrases: str) -> str:
    """Assert a failure envelope with this HTTP status whose message holds every phrase (case-insensitive);
    return the message."""
    assert response.status_code == status, described(response)
    body = response.json()
    assert body["success"] is False, described(response)
    assert set(body) <= {"success", "message", "data"}, described(response)
    assert body.get("data") is None, described(response)
    message = body["message"]
    assert isinstance(message, str) and message.strip(), described(response)
    for phrase in phrases:
        assert phrase.lower() in message.lower(), (phrase, described(response))
    return message


def login(client: TestClient, username: str, password: str = factories.PASSWORD) -> str:
    """Log in and return the signed session cookie value. The client's cookie jar is emptied afterwards, so a
    later request carries this session only when given `session_headers(cookie)`."""
    response = client.post("/api/user/login", json={"username": username, "password": password})
    data = ok(response)
    assert data["username"] == username
    cookie = response.cookies.get(SESSION_COOKIE)
    assert cookie, response.headers
    client.cookies.clear()
    return cookie


def session_headers(cookie: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={cookie}"}
