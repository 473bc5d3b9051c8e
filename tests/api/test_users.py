"""User administration (API.md §5): list, create, update with its manage log, top-up, actions, get, delete."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from tests.api.mgmt_helpers import fails, login, ok
from tests.factories import PASSWORD, Account, make_user
from tokenledger.domain.user import Role
from tokenledger.store.database import Database


@pytest.fixture
def admin(db: Database, root: Account) -> Account:
    return make_user(db, "carol", role=Role.ADMIN)


def new_user(**fields: object) -> dict[str, object]:
    return {"username": "dave", "password": "dave-password-1"} | fields


def numbers_in(text: str) -> set[int]:
    return {int(number) for number in re.findall(r"\d+", text)}


def manage(client: TestClient, actor: Account, user_id: int, action: str) -> object:
    return client.post("/api/user/manage", json={"id": user_id, "action": action}, headers=actor.headers)


# --- list -----------------------------------------------------------------------------------------------


def test_admin_lists_users_as_a_page(client: TestClient, root: Account, alice: Account, bob: Account) -> None:
    page = ok(client.get("/api/user/", headers=root.headers))
    assert {"page", "page_size", "total", "items"} <= set(page)
    assert page["page"] == 1 and page["page_size"] == 10 and page["total"] == 3
    assert {user["username"] for user in page["items"]} == {"root", "alice", "bob"}
    for user in page["items"]:
        assert "password_hash" not in user and "access_token_hash" not in user
        assert "password" not in json.dumps(user)


def test_user_list_pages_and_filters(client: TestClient, root: Account, alice: Account, bob: Account) -> None:
    first = ok(client.get("/api/user/?p=1&page_size=2", headers=root.headers))
    second = ok(client.get("/api/user/?p=2&page_size=2", headers=root.headers))
    assert first["total"] == second["total"] == 3
    assert len(first["items"]) == 2 and len(second["items"]) == 1
    seen = {user["id"] for user in first["items"] + second["items"]}
    assert seen == {root.id, alice.id, bob.id}
    found = ok(client.get("/api/user/?keyword=ali", headers=root.headers))
    assert [user["username"] for user in found["items"]] == ["alice"] and found["total"] == 1


def test_user_list_edges(client: TestClient, root: Account) -> None:
    assert ok(client.get("/api/user", headers=root.headers))["total"] == 1
    assert ok(client.get("/api/user/?keyword=%25", headers=root.headers))["total"] == 0  # % is literal here
    assert ok(client.get("/api/user/?keyword=_", headers=root.headers))["total"] == 0
    fails(client.get("/api/user/", params={"keyword": "x" * 200}, headers=root.headers), 200, "keyword")


# --- create ---------------------------------------------------------------------------------------------


def test_root_creates_a_common_user_who_can_log_in(client: TestClient, root: Account) -> None:
    body = new_user(display_name="Dave D.", quota=500, group="vip")
    created = ok(client.post("/api/user/", json=body, headers=root.headers))
    assert isinstance(created["id"], int) and created["id"] > root.id
    assert created["username"] == "dave" and created["display_name"] == "Dave D."
    assert created["role"] == 1 and created["status"] == 1
    assert created["quota"] == 500 and created["group"] == "vip"
    assert "password" not in json.dumps(created)
    login(client, "dave", "dave-password-1")
    fetched = ok(client.get(f"/api/user/{created['id']}", headers=root.headers))
    assert fetched == created


def test_defaults_and_root_creating_an_admin(client: TestClient, root: Account) -> None:
    created = ok(client.post("/api/user", json=new_user(), headers=root.headers))
    assert created["display_name"] == "dave" and created["quota"] == 0 and created["group"] == "default"
    assert created["role"] == 1
    admin = ok(client.post("/api/user/", json=new_user(username="erin", role=10), headers=root.headers))
    assert admin["role"] == 10
    assert ok(client.get(f"/api/user/{admin['id']}", headers=root.headers))["role"] == 10


def test_admin_may_not_create_an_admin(client: TestClient, root: Account, admin: Account) -> None:
    fails(client.post("/api/user/", json=new_user(role=10), headers=admin.headers), 403, "insufficient privileges")
    assert ok(client.get("/api/user/", params={"keyword": "dave"}, headers=root.headers))["total"] == 0


def test_admin_may_create_a_common_user(client: TestClient, admin: Account) -> None:
    created = ok(client.post("/api/user/", json=new_user(role=1), headers=admin.headers))
    assert created["role"] == 1


def test_common_user_may_not_create_users(client: TestClient, alice: Account) -> None:
    fails(client.post("/api/user/", json=new_user(), headers=alice.headers), 403, "insufficient privileges")


def test_duplicate_username_fails(client: TestClient, root: Account, alice: Account) -> None:
    fails(client.post("/api/user/", json=new_user(username="alice"), headers=root.headers), 200, "already taken")


def test_username_of_a_deleted_user_stays_taken(client: TestClient, root: Account, alice: Account) -> None:
    ok(client.delete(f"/api/user/{alice.id}", headers=root.headers))
    fails(client.post("/api/user/", json=new_user(username="alice"), headers=root.headers), 200, "already taken")


INVALID_NEW_USERS: list[tuple[dict[str, object], str]] = [
    ({"password": "short"}, "password"),
    ({"password": "x" * 73}, "password"),
    ({"password": None}, "password"),
    ({"username": "has space"}, "username"),
    ({"username": ""}, "username"),
    ({"username": "x" * 65}, "username"),
    ({"role": 5}, "role"),
    ({"role": 100}, "role"),
    ({"role": "10"}, "role"),
    ({"quota": -1}, "quota"),
    ({"group": ""}, "group"),
]


def test_invalid_new_user_fails(client: TestClient, root: Account) -> None:
    for fields, phrase in INVALID_NEW_USERS:
        fails(client.post("/api/user/", json=new_user(**fields), headers=root.headers), 200, phrase)
    assert ok(client.get("/api/user/", headers=root.headers))["total"] == 1


def test_create_user_body_must_be_an_object(client: TestClient, root: Account) -> None:
    fails(client.post("/api/user/", json=["dave"], headers=root.headers), 200)
    fails(client.post("/api/user/", json={"password": "dave-password-1"}, headers=root.headers), 200, "username")


# --- update and its manage log --------------------------------------------------------------------------


def test_quota_change_writes_a_manage_log_on_the_target(client: TestClient, root: Account, alice: Account) -> None:
    ok(client.put("/api/user/", json={"id": alice.id, "quota": 1000}, headers=root.headers))
    updated = ok(client.put("/api/user/", json={"id": alice.id, "quota": 2500}, headers=root.headers))
    assert updated["quota"] == 2500

    logs = ok(client.get("/api/log/?type=3", headers=root.headers))
    assert logs["total"] == 2
    newest = logs["items"][0]
    assert newest["type"] == 3
    assert newest["user_id"] == alice.id and newest["username"] == "alice"
    assert {1000, 2500} <= numbers_in(newest["content"])
    assert {0, 1000} <= numbers_in(logs["items"][1]["content"])
    assert "admin_info" in json.loads(newest["other"])

    own = ok(client.get("/api/log/self", headers=alice.headers))
    assert own["total"] == 2
    row = own["items"][0]
    assert row["type"] == 3 and "2500" in row["content"]
    other = json.loads(row["other"]) if row["other"] else {}
    assert "admin_info" not in other
    assert row["channel_name"] == ""

    root_own = ok(client.get("/api/log/self", headers=root.headers))
    assert root_own["total"] == 0


def test_update_without_quota_change_writes_no_log(client: TestClient, root: Account, alice: Account) -> None:
    updated = ok(
        client.put(
            "/api/user/", json={"id": alice.id, "display_name": "Alice A.", "group": "vip"}, headers=root.headers
        )
    )
    assert updated["display_name"] == "Alice A." and updated["group"] == "vip"
    ok(client.put("/api/user/", json={"id": alice.id, "quota": 0}, headers=root.headers))
    assert ok(client.get("/api/log/?type=3", headers=root.headers))["total"] == 0


def test_update_status_and_role(client: TestClient, root: Account, alice: Account) -> None:
    updated = ok(client.put("/api/user", json={"id": alice.id, "role": 10}, headers=root.headers))
    assert updated["role"] == 10
    ok(client.get("/api/user/", headers=alice.headers))
    updated = ok(client.put("/api/user/", json={"id": alice.id, "role": 1, "status": 2}, headers=root.headers))
    assert updated["role"] == 1 and updated["status"] == 2
    fails(client.get("/api/user/self", headers=alice.headers), 403, "disabled")


def test_admin_may_not_change_roles(client: TestClient, admin: Account, alice: Account) -> None:
    fails(client.put("/api/user/", json={"id": alice.id, "role": 10}, headers=admin.headers), 403)


def test_admin_may_not_update_root_or_another_admin(client: TestClient, root: Account, admin: Account) -> None:
    other = ok(client.post("/api/user/", json=new_user(role=10), headers=root.headers))
    fails(client.put("/api/user/", json={"id": other["id"], "quota": 5}, headers=admin.headers), 403)
    fails(client.put("/api/user/", json={"id": root.id, "quota": 5}, headers=admin.headers), 403)
    assert ok(client.get("/api/log/?type=3", headers=root.headers))["total"] == 0


def test_root_cannot_be_disabled_by_update(client: TestClient, root: Account) -> None:
    fails(client.put("/api/user/", json={"id": root.id, "status": 2}, headers=root.headers), 403, "root")
    ok(client.get("/api/user/self", headers=root.headers))


INVALID_UPDATES: list[tuple[dict[str, object], str]] = [
    ({"status": 3}, "status"),
    ({"role": 100}, "role"),
    ({"quota": -5}, "quota"),
    ({"quota": "5"}, "quota"),
    ({"group": ""}, "group"),
    ({"password": "short"}, "password"),
    ({"id": "2"}, "id"),
]


def test_invalid_update_fails(client: TestClient, root: Account, alice: Account) -> None:
    for fields, phrase in INVALID_UPDATES:
        body = {"id": alice.id, "quota": 5} | fields
        fails(client.put("/api/user/", json=body, headers=root.headers), 200, phrase)
    user = ok(client.get(f"/api/user/{alice.id}", headers=root.headers))
    assert user["quota"] == 0 and user["status"] == 1 and user["role"] == 1
    assert ok(client.get("/api/log/?type=3", headers=root.headers))["total"] == 0


def test_update_unknown_user_fails(client: TestClient, root: Account) -> None:
    fails(client.put("/api/user/", json={"id": 999, "quota": 5}, headers=root.headers), 200, "does not exist")
    fails(client.put("/api/user/", json={"quota": 5}, headers=root.headers), 200, "id")


def test_password_change_ends_sessions_and_sets_the_new_password(
    client: TestClient, root: Account, alice: Account
) -> None:
    cookie = login(client, "alice")
    ok(client.put("/api/user/", json={"id": alice.id, "password": "brand-new-pass"}, headers=root.headers))
    fails(client.get("/api/user/self", headers={"Cookie": f"session={cookie}"}), 401)
    fails(client.post("/api/user/login", json={"username": "alice", "password": PASSWORD}), 401)
    login(client, "alice", "brand-new-pass")


# --- top-up ---------------------------------------------------------------------------------------------


def test_topup_adds_quota_and_writes_a_topup_log(client: TestClient, root: Account, alice: Account) -> None:
    assert ok(client.post(f"/api/user/{alice.id}/topup", json={"quota": 700}, headers=root.headers))["quota"] == 700
    assert ok(client.post(f"/api/user/{alice.id}/topup", json={"quota": 300}, headers=root.headers))["quota"] == 1000
    assert ok(client.get(f"/api/user/{alice.id}", headers=root.headers))["quota"] == 1000
    logs = ok(client.get("/api/log/?type=1", headers=root.headers))
    assert logs["total"] == 2
    assert [row["quota"] for row in logs["items"]] == [300, 700]
    assert all(row["user_id"] == alice.id and row["type"] == 1 for row in logs["items"])
    own = ok(client.get("/api/log/self?type=1", headers=alice.headers))
    assert own["total"] == 2
    assert all("admin_info" not in row["other"] for row in own["items"])
    # Top-ups are not consumption: the quota stat counts only consume rows.
    assert ok(client.get("/api/log/self/stat", headers=alice.headers))["quota"] == 0


def test_topup_needs_a_positive_integer(client: TestClient, root: Account, alice: Account) -> None:
    for quota in [0, -5, "100", 1.5, None, 2**63]:
        fails(client.post(f"/api/user/{alice.id}/topup", json={"quota": quota}, headers=root.headers), 200, "quota")
    fails(client.post(f"/api/user/{alice.id}/topup", json={}, headers=root.headers), 200, "quota")
    assert ok(client.get(f"/api/user/{alice.id}", headers=root.headers))["quota"] == 0
    assert ok(client.get("/api/log/?type=1", headers=root.headers))["total"] == 0


def test_topup_of_unknown_user_fails(client: TestClient, root: Account) -> None:
    fails(client.post("/api/user/999/topup", json={"quota": 5}, headers=root.headers), 200, "does not exist")


def test_topup_needs_an_admin(client: TestClient, alice: Account) -> None:
    fails(client.post(f"/api/user/{alice.id}/topup", json={"quota": 5}, headers=alice.headers), 403)


# --- manage actions -------------------------------------------------------------------------------------


def test_admin_disables_and_enables_a_common_user(client: TestClient, admin: Account, alice: Account) -> None:
    assert ok(manage(client, admin, alice.id, "disable"))["status"] == 2
    fails(client.get("/api/user/self", headers=alice.headers), 403)
    assert ok(manage(client, admin, alice.id, "enable"))["status"] == 1
    ok(client.get("/api/user/self", headers=alice.headers))


def test_root_promotes_and_demotes(client: TestClient, root: Account, alice: Account) -> None:
    assert ok(manage(client, root, alice.id, "promote"))["role"] == 10
    ok(client.get("/api/log/", headers=alice.headers))
    fails(manage(client, root, alice.id, "promote"), 200, "already")
    assert ok(manage(client, root, alice.id, "demote"))["role"] == 1
    fails(client.get("/api/log/", headers=alice.headers), 403)
    fails(manage(client, root, alice.id, "demote"), 200, "already")


def test_only_root_promotes_or_demotes(client: TestClient, db: Database, admin: Account, alice: Account) -> None:
    fails(manage(client, admin, alice.id, "promote"), 403, "insufficient privileges")
    fails(manage(client, admin, alice.id, "demote"), 403, "insufficient privileges")
    other = make_user(db, "erin", role=Role.ADMIN)
    fails(manage(client, admin, other.id, "demote"), 403, "insufficient privileges")
    assert ok(client.get(f"/api/user/{alice.id}", headers=admin.headers))["role"] == 1
    ok(client.get("/api/user/", headers=other.headers))


def test_admin_cannot_act_on_another_admin_or_root(
    client: TestClient, db: Database, root: Account, admin: Account
) -> None:
    other = make_user(db, "erin", role=Role.ADMIN)
    for action in ["disable", "enable", "delete"]:
        fails(manage(client, admin, other.id, action), 403, "insufficient privileges")
        fails(manage(client, admin, root.id, action), 403, "insufficient privileges")
    fails(client.delete(f"/api/user/{other.id}", headers=admin.headers), 403)
    ok(client.get("/api/user/self", headers=other.headers))
    ok(client.get("/api/user/self", headers=root.headers))


def test_root_cannot_be_disabled_deleted_or_demoted(client: TestClient, root: Account) -> None:
    for action in ["disable", "delete", "demote"]:
        fails(manage(client, root, root.id, action), 403, "root")
    me = ok(client.get("/api/user/self", headers=root.headers))
    assert me["role"] == 100 and me["status"] == 1


def test_root_cannot_be_deleted_through_delete_route(client: TestClient, root: Account) -> None:
    fails(client.delete(f"/api/user/{root.id}", headers=root.headers), 403, "root")
    ok(client.get("/api/user/self", headers=root.headers))


def test_root_acts_on_admins(client: TestClient, root: Account, admin: Account) -> None:
    assert ok(manage(client, root, admin.id, "disable"))["status"] == 2
    assert ok(manage(client, root, admin.id, "enable"))["status"] == 1
    assert ok(manage(client, root, admin.id, "delete")) is None
    fails(client.get("/api/user/self", headers=admin.headers), 401)


def test_unknown_action_fails(client: TestClient, root: Account, alice: Account) -> None:
    for action in ["ban", "", "DISABLE", "delete "]:
        fails(manage(client, root, alice.id, action), 200, "action")
    assert ok(client.get("/api/user/self", headers=alice.headers))["status"] == 1


def test_manage_unknown_user_fails(client: TestClient, root: Account) -> None:
    fails(manage(client, root, 999, "disable"), 200, "does not exist")


def test_manage_body_is_validated(client: TestClient, root: Account, alice: Account) -> None:
    for body in [{"id": str(alice.id), "action": "disable"}, {"action": "disable"}, {"id": 0, "action": "disable"}]:
        fails(client.post("/api/user/manage", json=body, headers=root.headers), 200, "id")
    fails(client.post("/api/user/manage", json={"id": alice.id}, headers=root.headers), 200, "action")
    assert ok(client.get("/api/user/self", headers=alice.headers))["status"] == 1


def test_common_user_cannot_manage(client: TestClient, alice: Account, bob: Account) -> None:
    fails(manage(client, alice, bob.id, "disable"), 403, "insufficient privileges")
    ok(client.get("/api/user/self", headers=bob.headers))


# --- get and delete -------------------------------------------------------------------------------------


def test_get_user(client: TestClient, root: Account, alice: Account) -> None:
    user = ok(client.get(f"/api/user/{alice.id}", headers=root.headers))
    assert user["id"] == alice.id and user["username"] == "alice"
    assert "password_hash" not in user
    fails(client.get("/api/user/999", headers=root.headers), 200, "does not exist")


def test_admin_cannot_view_root(client: TestClient, root: Account, admin: Account) -> None:
    fails(client.get(f"/api/user/{root.id}", headers=admin.headers), 403)
    assert ok(client.get(f"/api/user/{admin.id}", headers=admin.headers))["id"] == admin.id


def test_deleted_user_is_gone(client: TestClient, root: Account, alice: Account) -> None:
    cookie = login(client, "alice")
    assert ok(client.delete(f"/api/user/{alice.id}", headers=root.headers)) is None
    fails(client.get(f"/api/user/{alice.id}", headers=root.headers), 200, "does not exist")
    fails(client.delete(f"/api/user/{alice.id}", headers=root.headers), 200, "does not exist")
    fails(client.get("/api/user/self", headers=alice.headers), 401)
    fails(client.get("/api/user/self", headers={"Cookie": f"session={cookie}"}), 401)
    fails(client.post("/api/user/login", json={"username": "alice", "password": PASSWORD}), 401)
    users = ok(client.get("/api/user/", headers=root.headers))
    assert [user["username"] for user in users["items"]] == ["root"]


def test_deleted_users_api_key_stops_working(client: TestClient, db: Database, root: Account, alice: Account) -> None:
    key = ok(client.post("/api/token/", json={"name": "k"}, headers=alice.headers))["key"]
    ok(client.get("/api/log/self", headers={"Authorization": f"Bearer {key}"}))
    ok(manage(client, root, alice.id, "delete"))
    fails(client.get("/api/log/self", headers={"Authorization": f"Bearer {key}"}), 401)


def test_admin_cannot_delete_itself(client: TestClient, root: Account, admin: Account) -> None:
    fails(client.delete(f"/api/user/{admin.id}", headers=admin.headers), 200, "yourself")
    ok(client.get("/api/user/self", headers=admin.headers))


def test_non_integer_path_id_is_an_envelope_failure(client: TestClient, root: Account) -> None:
    for method, path in [
        ("GET", "/api/user/abc"),
        ("DELETE", "/api/user/abc"),
        ("GET", "/api/user/1.5"),
        ("POST", "/api/user/abc/topup"),
    ]:
        fails(client.request(method, path, json={"quota": 1}, headers=root.headers), 200, "user_id")


def test_huge_path_id_is_not_a_server_error(client: TestClient, root: Account) -> None:
    for method, path in [
        ("GET", "/api/user/99999999999999999999999999"),
        ("DELETE", "/api/user/99999999999999999999999999"),
        ("GET", "/api/user/9223372036854775808"),
        ("POST", "/api/user/9223372036854775808/topup"),
    ]:
        fails(client.request(method, path, json={"quota": 1}, headers=root.headers), 200)
