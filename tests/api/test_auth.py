"""Authentication (API.md §2): sessions, access tokens, API keys, New-Api-User, roles and disabled users."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.api.mgmt_helpers import fails, login, ok, session_headers
from tests.factories import PASSWORD, Account, make_key, make_user, record
from tokenledger.domain.user import Role
from tokenledger.store.database import Database

SELF_ROUTES = ["/api/log/self", "/api/log/self/stat", "/api/log/self/search?keyword=hello", "/api/data/self"]
KEY_REFUSED_ROUTES = ["/api/log/", "/api/user/self", "/api/token/"]


def disable(client: TestClient, root: Account, account: Account) -> None:
    data = ok(client.post("/api/user/manage", json={"id": account.id, "action": "disable"}, headers=root.headers))
    assert data["status"] == 2


# --- session cookie -------------------------------------------------------------------------------------


def test_login_sets_a_session_that_authenticates(client: TestClient, alice: Account) -> None:
    response = client.post("/api/user/login", json={"username": "alice", "password": PASSWORD})
    data = ok(response)
    assert data["id"] == alice.id
    assert "password" not in str(data) and "access_token" not in str(data)
    set_cookie = response.headers["set-cookie"].lower()
    assert "httponly" in set_cookie
    # The client's jar now holds the session: no other credential is needed.
    me = ok(client.get("/api/user/self"))
    assert me["id"] == alice.id and me["username"] == "alice"


def test_logout_ends_the_session(client: TestClient, alice: Account) -> None:
    cookie = login(client, "alice")
    assert ok(client.get("/api/user/self", headers=session_headers(cookie)))["id"] == alice.id
    ok(client.get("/api/user/logout", headers=session_headers(cookie)))
    client.cookies.clear()
    fails(client.get("/api/user/self", headers=session_headers(cookie)), 401)
    fails(client.get("/api/log/self", headers=session_headers(cookie)), 401)


def test_logout_without_a_session_is_harmless(client: TestClient) -> None:
    assert ok(client.get("/api/user/logout")) is None


def test_session_of_one_user_survives_logout_of_another(client: TestClient, alice: Account, bob: Account) -> None:
    alice_cookie = login(client, "alice")
    bob_cookie = login(client, "bob")
    ok(client.get("/api/user/logout", headers=session_headers(bob_cookie)))
    client.cookies.clear()
    assert ok(client.get("/api/user/self", headers=session_headers(alice_cookie)))["id"] == alice.id


def test_wrong_password_is_401(client: TestClient, alice: Account) -> None:
    response = client.post("/api/user/login", json={"username": "alice", "password": "not-the-password"})
    fails(response, 401, "wrong username or password")
    assert "set-cookie" not in response.headers
    # An unknown user gets the same answer, so logins cannot probe for usernames.
    unknown = client.post("/api/user/login", json={"username": "nobody", "password": PASSWORD})
    assert fails(unknown, 401) == fails(response, 401)


def test_malformed_login_body_is_a_validation_failure(client: TestClient, alice: Account) -> None:
    bodies: list[object] = [
        {},
        {"username": "alice"},
        {"password": PASSWORD},
        {"username": "", "password": PASSWORD},
        {"username": 1, "password": PASSWORD},
        ["alice", PASSWORD],
    ]
    for body in bodies:
        response = client.post("/api/user/login", json=body)
        fails(response, 200)
        assert "set-cookie" not in response.headers


def test_forged_session_cookie_is_401(client: TestClient, alice: Account, subtests: pytest.Subtests) -> None:
    for cookie in ["garbage", "", "a.b", "x" * 5000, "session-id.forged-signature-AAAAAAAAAAAAAAAAAAAA"]:
        with subtests.test(cookie=cookie[:40]):
            fails(client.get("/api/user/self", headers={"Cookie": f"session={cookie}"}), 401, "not logged in")


def test_session_cookie_signed_with_another_secret_is_401(client: TestClient, alice: Account) -> None:
    from itsdangerous import Signer

    cookie = login(client, "alice")
    session_id = cookie.rsplit(".", 1)[0]
    forged = Signer("some-other-secret-0123456789", salt="session").sign(session_id).decode("ascii")
    fails(client.get("/api/user/self", headers=session_headers(forged)), 401)
    # The genuine cookie still works: the forged one was refused for its signature only.
    assert ok(client.get("/api/user/self", headers=session_headers(cookie)))["id"] == alice.id


def test_session_wins_over_a_bad_authorization_header(client: TestClient, alice: Account) -> None:
    cookie = login(client, "alice")
    headers = session_headers(cookie) | {"Authorization": "Bearer not-a-real-token"}
    assert ok(client.get("/api/user/self", headers=headers))["id"] == alice.id


# --- access token ---------------------------------------------------------------------------------------


def test_access_token_with_or_without_bearer(client: TestClient, root: Account, alice: Account) -> None:
    for authorization in [f"Bearer {alice.token}", alice.token, f"bearer  {alice.token} ", f"BEARER {alice.token}"]:
        me = ok(client.get("/api/user/self", headers={"Authorization": authorization}))
        assert me["id"] == alice.id and me["username"] == "alice"
    # Admins and root have one too.
    me = ok(client.get("/api/user/self", headers=root.headers))
    assert me["id"] == 1 and me["role"] == 100


def test_unknown_token_or_key_is_401(client: TestClient, alice: Account, subtests: pytest.Subtests) -> None:
    for authorization in ["Bearer wrong-token", "wrong-token", "Bearer " + "x" * 300, "Bearer sk-" + "x" * 48]:
        with subtests.test(authorization=authorization[:40]):
            fails(client.get("/api/log/self", headers={"Authorization": authorization}), 401, "invalid")


def test_missing_credential_is_401(client: TestClient, alice: Account, subtests: pytest.Subtests) -> None:
    for headers in [{}, {"Authorization": ""}, {"Authorization": "Bearer"}, {"Authorization": " "}]:
        with subtests.test(headers=headers):
            fails(client.get("/api/user/self", headers=headers), 401, "not logged in and no access token provided")


def test_generating_a_token_replaces_the_old_one(client: TestClient, alice: Account, bob: Account) -> None:
    new_token = ok(client.get("/api/user/token", headers=alice.headers))
    assert isinstance(new_token, str) and len(new_token) >= 32
    assert new_token != alice.token
    fails(client.get("/api/user/self", headers=alice.headers), 401, "invalid access token")
    assert ok(client.get("/api/user/self", headers={"Authorization": f"Bearer {new_token}"}))["id"] == alice.id
    # Other users keep theirs.
    assert ok(client.get("/api/user/self", headers=bob.headers))["id"] == bob.id


def test_token_can_be_generated_from_a_session(client: TestClient, alice: Account) -> None:
    cookie = login(client, "alice")
    new_token = ok(client.get("/api/user/token", headers=session_headers(cookie)))
    assert ok(client.get("/api/user/self", headers={"Authorization": new_token}))["id"] == alice.id
    fails(client.get("/api/user/self", headers=alice.headers), 401)


# --- API keys -------------------------------------------------------------------------------------------


def test_api_key_is_accepted_on_self_routes(client: TestClient, db: Database, alice: Account) -> None:
    make_key(db, alice)
    for path in SELF_ROUTES:
        ok(client.get(path, headers=alice.key_headers()))


def test_api_key_is_refused_on_management_routes(client: TestClient, db: Database, root: Account) -> None:
    # Even root's own key: a key is for calling models and reading its logs, never for administration.
    make_key(db, root)
    for path in KEY_REFUSED_ROUTES:
        fails(client.get(path, headers=root.key_headers()), 401, "API key")


def test_api_key_cannot_create_keys_or_users(client: TestClient, db: Database, root: Account) -> None:
    make_key(db, root)
    fails(client.post("/api/token/", json={"name": "x"}, headers=root.key_headers()), 401)
    body = {"username": "mallory", "password": PASSWORD}
    fails(client.post("/api/user/", json=body, headers=root.key_headers()), 401)
    fails(client.get("/api/user/token", headers=root.key_headers()), 401)


def test_api_key_acts_for_its_owner(
    client: TestClient, db: Database, alice: Account, bob: Account, ingest: Callable[[list[dict[str, Any]]], int]
) -> None:
    secret = make_key(db, alice)
    ingest([record(alice, created_at=1_700_000_000), record(bob, created_at=1_700_000_001)])
    for authorization in [f"Bearer {secret}", secret]:
        page = ok(client.get("/api/log/self", headers={"Authorization": authorization}))
        assert page["total"] == 1
        assert [row["username"] for row in page["items"]] == ["alice"]


def test_disabled_api_key_is_401(client: TestClient, db: Database, alice: Account) -> None:
    make_key(db, alice)
    key_id = alice.keys["default"][0]
    ok(client.put("/api/token/?status_only=true", json={"id": key_id, "status": 2}, headers=alice.headers))
    fails(client.get("/api/log/self", headers=alice.key_headers()), 401, "disabled")


def test_expired_api_key_is_401(client: TestClient, db: Database, alice: Account) -> None:
    make_key(db, alice, expired_time=1_000_000_000)
    fails(client.get("/api/log/self", headers=alice.key_headers()), 401, "expired")


# --- New-Api-User ---------------------------------------------------------------------------------------


def test_new_api_user_matching_id_is_accepted(client: TestClient, alice: Account, subtests: pytest.Subtests) -> None:
    assert "New-Api-User" not in alice.headers  # optional: every other test goes without it
    for value in [f"{alice.id}", f" {alice.id} ", f"Bearer {alice.id}", f"bearer {alice.id}"]:
        with subtests.test(value=value):
            headers = alice.headers | {"New-Api-User": value}
            assert ok(client.get("/api/user/self", headers=headers))["id"] == alice.id


def test_new_api_user_malformed_is_401_naming_the_header(
    client: TestClient, alice: Account, subtests: pytest.Subtests
) -> None:
    for value in ["abc", "", "-1", "1.0", "Bearer", "Bearer x", "0x1", "9" * 30, "Basic 2", "\xb2", "1\xb2"]:
        with subtests.test(value=value):
            headers = alice.headers | {"New-Api-User": value.encode("latin-1")}
            fails(client.get("/api/user/self", headers=headers), 401, "New-Api-User")


def test_new_api_user_of_another_user_is_401(client: TestClient, alice: Account, bob: Account) -> None:
    headers = alice.headers | {"New-Api-User": str(bob.id)}
    fails(client.get("/api/user/self", headers=headers), 401, "New-Api-User")
    fails(client.get("/api/log/self", headers=headers), 401, "New-Api-User")


def test_new_api_user_is_checked_for_sessions_and_keys(client: TestClient, db: Database, alice: Account) -> None:
    make_key(db, alice)
    fails(client.get("/api/log/self", headers=alice.key_headers() | {"New-Api-User": "999"}), 401, "New-Api-User")
    ok(client.get("/api/log/self", headers=alice.key_headers() | {"New-Api-User": str(alice.id)}))
    cookie = login(client, "alice")
    fails(client.get("/api/user/self", headers=session_headers(cookie) | {"New-Api-User": "999"}), 401)


def test_new_api_user_without_credential_still_says_not_logged_in(client: TestClient, alice: Account) -> None:
    fails(client.get("/api/user/self", headers={"New-Api-User": str(alice.id)}), 401, "not logged in")


# --- roles ----------------------------------------------------------------------------------------------


ADMIN_ROUTES = [
    ("GET", "/api/log/"),
    ("GET", "/api/log/stat"),
    ("GET", "/api/log/search?keyword=x"),
    ("DELETE", "/api/log/?target_timestamp=1700000000"),
    ("GET", "/api/data/"),
    ("GET", "/api/user/"),
    ("GET", "/api/user/1"),
    ("DELETE", "/api/user/1"),
    ("GET", "/api/channel/"),
]


def test_common_user_on_admin_route_is_403(client: TestClient, root: Account, alice: Account) -> None:
    for method, path in ADMIN_ROUTES:
        fails(client.request(method, path, headers=alice.headers), 403, "insufficient privileges")
    ok(client.get("/api/user/self", headers=root.headers))


def test_admin_passes_admin_routes(client: TestClient, db: Database, root: Account) -> None:
    admin = make_user(db, "carol", role=Role.ADMIN)
    ok(client.get("/api/log/", headers=admin.headers))
    ok(client.get("/api/user/", headers=admin.headers))


# --- disabled users -------------------------------------------------------------------------------------


def test_disabled_user_is_403_with_every_credential(
    client: TestClient, db: Database, root: Account, alice: Account
) -> None:
    make_key(db, alice)
    cookie = login(client, "alice")
    ok(client.get("/api/user/self", headers=session_headers(cookie)))
    disable(client, root, alice)
    fails(client.get("/api/user/self", headers=alice.headers), 403, "disabled")
    fails(client.get("/api/log/self", headers=alice.key_headers()), 403, "disabled")
    fails(client.get("/api/user/self", headers=session_headers(cookie)), 403, "disabled")
    fails(client.post("/api/user/login", json={"username": "alice", "password": PASSWORD}), 403, "disabled")


def test_disabled_via_put_is_403_even_with_an_open_session(client: TestClient, root: Account, alice: Account) -> None:
    cookie = login(client, "alice")
    ok(client.put("/api/user/", json={"id": alice.id, "status": 2}, headers=root.headers))
    fails(client.get("/api/user/self", headers=session_headers(cookie)), 403, "disabled")


def test_reenabled_user_gets_back_in(client: TestClient, db: Database, root: Account, alice: Account) -> None:
    make_key(db, alice)
    disable(client, root, alice)
    fails(client.get("/api/user/self", headers=alice.headers), 403)
    ok(client.post("/api/user/manage", json={"id": alice.id, "action": "enable"}, headers=root.headers))
    assert ok(client.get("/api/user/self", headers=alice.headers))["id"] == alice.id
    ok(client.get("/api/log/self", headers=alice.key_headers()))


def test_disabled_wrong_password_is_still_401(client: TestClient, root: Account, alice: Account) -> None:
    # A wrong password must not reveal that the account exists and is disabled.
    disable(client, root, alice)
    fails(client.post("/api/user/login", json={"username": "alice", "password": "wrong-password"}), 401)


# --- storage of secrets ---------------------------------------------------------------------------------


def test_credentials_are_stored_hashed(client: TestClient, db: Database, alice: Account) -> None:
    created = ok(client.post("/api/token/", json={"name": "mine"}, headers=alice.headers))
    key = created["key"]
    token = ok(client.get("/api/user/token", headers=alice.headers))
    cookie = login(client, "alice")
    session_id = cookie.rsplit(".", 1)[0]
    secrets = {key, key.removeprefix("sk-"), token, session_id}
    with db.read() as conn:
        for table in ("users", "tokens", "sessions"):
            rows = conn.execute(text(f"select * from {table}")).fetchall()
            assert rows, table
            cells = [str(cell) for row in rows for cell in row]
            for secret in secrets:
                assert not any(secret in cell for cell in cells), (table, secret)
        password_hash = conn.execute(
            text("select password_hash from users where username = :name"), {"name": "alice"}
        ).scalar_one()
    assert password_hash.startswith(("$2a$", "$2b$", "$2y$")) and len(password_hash) == 60
    assert PASSWORD not in password_hash


def test_password_set_through_the_api_is_bcrypt(client: TestClient, db: Database, root: Account) -> None:
    ok(client.post("/api/user/", json={"username": "dave", "password": "dave-password-1"}, headers=root.headers))
    with db.read() as conn:
        stored = conn.execute(text("select password_hash from users where username = 'dave'")).scalar_one()
    assert stored.startswith("$2") and "dave-password-1" not in stored
    login(client, "dave", "dave-password-1")
