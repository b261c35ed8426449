"""auth0-python 4.13.0 against castellan: roles, role permissions and users, users'
roles and effective permissions.

Expected behaviour is Auth0's as written down in shared/spec/rbac-apps-logs-jobs.md
(sections 0.1, 1.2 and 1.3) and, where Auth0's behaviour is unknown, castellan's
documented choices (docs/compatibility.md, "Roles and permissions"). Permissions are
taken from the Management API itself (https://{domain}/api/v2/), which exists on every
tenant with all of its scopes.
"""

import uuid

import pytest
import requests
from auth0.exceptions import Auth0Error

ROLE_MISSING = {"statusCode": 404, "error": "Not Found", "message": "The role does not exist."}


def raises(status, error_code=None, message=None):
    """pytest.raises(Auth0Error) that also checks the status, error code and message."""

    class _Check:
        def __enter__(self):
            self._ctx = pytest.raises(Auth0Error)
            self.info = self._ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            suppressed = self._ctx.__exit__(*exc)
            err = self.info.value
            assert err.status_code == status, f"status {err.status_code} != {status}: {err}"
            if error_code is not None:
                assert err.error_code == error_code, f"{err.error_code!r} != {error_code!r}: {err}"
            if message is not None:
                assert err.message == message, f"{err.message!r} != {message!r}"
            return suppressed

    return _Check()


class Roles:
    """Creates roles with names unique to one test, and deletes them after."""

    def __init__(self, auth0):
        self.auth0 = auth0
        self.tag = "r" + uuid.uuid4().hex[:12]
        self.ids = []

    def name(self, base):
        return f"{base}-{self.tag}"

    def create(self, base, **fields):
        role = self.auth0.roles.create({"name": self.name(base), **fields})
        self.ids.append(role["id"])
        return role

    def cleanup(self):
        for role_id in self.ids:
            try:
                self.auth0.roles.delete(role_id)
            except Auth0Error:
                pass


@pytest.fixture
def roles(auth0):
    factory = Roles(auth0)
    yield factory
    factory.cleanup()


def perm(audience, name):
    return {"resource_server_identifier": audience, "permission_name": name}


def test_role_crud(auth0, roles):
    created = roles.create("admin", description="Administrators")
    role_id = created["id"]
    assert role_id.startswith("rol_") and len(role_id) == 20
    assert created == {"id": role_id, "name": roles.name("admin"), "description": "Administrators"}
    assert auth0.roles.get(role_id) == created

    updated = auth0.roles.update(role_id, {"description": "The Administrator"})
    assert updated == {**created, "description": "The Administrator"}

    # PY4's list defaults: page=0, per_page=25, include_totals=true.
    listed = auth0.roles.list(name_filter=roles.name("ADMIN"))
    assert listed == {"roles": [updated], "start": 0, "limit": 25, "total": 1}
    bare = auth0.roles.list(include_totals=False, name_filter=roles.tag)
    assert bare == [updated]

    with raises(409, message="The role already exists."):
        auth0.roles.create({"name": roles.name("admin")})

    assert auth0.roles.delete(role_id) == {}  # DELETE is 200 {}
    for call in (lambda: auth0.roles.get(role_id), lambda: auth0.roles.delete(role_id)):
        # No errorCode in Auth0's body: auth0-python falls back to `error`.
        with raises(404, "Not Found", "The role does not exist."):
            call()


def test_role_list_pages(auth0, roles):
    for base in ("a", "b", "c"):
        roles.create(base)
    seen = []
    for page in range(3):
        res = auth0.roles.list(page=page, per_page=2, name_filter=roles.tag)
        assert (res["start"], res["limit"], res["total"]) == (page * 2, 2, 3)
        seen += [r["name"] for r in res["roles"]]
    assert seen == [roles.name(b) for b in ("a", "b", "c")]


def test_role_permissions(auth0, roles, audience):
    role_id = roles.create("perms")["id"]
    added = auth0.roles.add_permissions(role_id, [perm(audience, "read:users"), perm(audience, "read:roles")])
    assert added == {}  # 201 {}
    listed = auth0.roles.list_permissions(role_id)
    assert listed["total"] == 2
    assert [p["permission_name"] for p in listed["permissions"]] == ["read:roles", "read:users"]
    item = listed["permissions"][1]
    assert set(item) == {"permission_name", "description", "resource_server_name", "resource_server_identifier"}
    assert (item["resource_server_name"], item["resource_server_identifier"]) == ("Auth0 Management API", audience)

    assert auth0.roles.remove_permissions(role_id, [perm(audience, "read:roles")]) == ""  # 204
    assert [p["permission_name"] for p in auth0.roles.list_permissions(role_id)["permissions"]] == ["read:users"]

    with raises(404, "inexistent_resource_server", "The resource server does not exist: 'https://nope.example/'"):
        auth0.roles.add_permissions(role_id, [perm("https://nope.example/", "read:users")])
    with raises(404):
        auth0.roles.add_permissions(role_id, [perm(audience, "read:nothing")])
    with raises(400, "invalid_body"):
        auth0.roles.add_permissions(role_id, [])
    assert auth0.roles.list_permissions(role_id)["total"] == 1, "failed calls changed nothing"


def test_role_users_offset_and_checkpoint(auth0, roles, users):
    role_id = roles.create("members")["id"]
    ids = sorted(users.user()["user_id"] for _ in range(3))
    assert auth0.roles.add_users(role_id, ids) == {}  # 200 {}

    res = auth0.roles.list_users(role_id)
    assert (res["start"], res["limit"], res["total"]) == (0, 25, 3)
    assert [u["user_id"] for u in res["users"]] == ids
    assert set(res["users"][0]) == {"user_id", "email", "picture", "name"}

    # take: checkpoint paging, even beside PY4's page/per_page/include_totals.
    first = auth0.roles.list_users(role_id, take=2)
    assert set(first) == {"users", "next"}
    last = auth0.roles.list_users(role_id, from_param=first["next"], take=2)
    assert "next" not in last
    assert [u["user_id"] for u in first["users"] + last["users"]] == ids

    with raises(404, "inexistent_user"):
        auth0.roles.add_users(role_id, ["auth0|000000000000000000000000"])
    with raises(404, "Not Found", "The role does not exist."):
        auth0.roles.list_users("rol_0000000000000000")


def test_user_roles_and_effective_permissions(auth0, roles, users, audience):
    user_id = users.user()["user_id"]
    reader = roles.create("reader")
    writer = roles.create("writer")
    auth0.roles.add_permissions(reader["id"], [perm(audience, "read:users")])
    auth0.roles.add_permissions(writer["id"], [perm(audience, "read:users"), perm(audience, "update:users")])

    assert auth0.users.add_roles(user_id, [reader["id"], writer["id"]]) == ""  # 204
    got = auth0.users.list_roles(user_id)
    assert got == {"roles": [reader, writer], "start": 0, "limit": 25, "total": 2}

    assert auth0.users.add_permissions(user_id, [perm(audience, "update:users")]) == {}  # 201 {}
    listed = auth0.users.list_permissions(user_id)
    assert listed["total"] == 2
    by_name = {p["permission_name"]: p["sources"] for p in listed["permissions"]}
    direct = {"source_id": "", "source_name": "", "source_type": "DIRECT"}

    def via(role):
        return {"source_id": role["id"], "source_name": role["name"], "source_type": "ROLE"}

    assert by_name == {"read:users": [via(reader), via(writer)], "update:users": [direct, via(writer)]}

    # Removing the direct permission leaves the role's.
    assert auth0.users.remove_permissions(user_id, [perm(audience, "update:users")]) == ""
    by_name = {p["permission_name"]: p["sources"] for p in auth0.users.list_permissions(user_id)["permissions"]}
    assert by_name["update:users"] == [via(writer)]

    with raises(404, "Not Found", "The role does not exist."):
        auth0.users.add_roles(user_id, ["rol_0000000000000000"])
    assert auth0.users.remove_roles(user_id, [writer["id"]]) == ""
    assert [r["id"] for r in auth0.users.list_roles(user_id)["roles"]] == [reader["id"]]

    # Deleting a role takes it from its users.
    auth0.roles.delete(reader["id"])
    assert auth0.users.list_roles(user_id)["roles"] == []
    assert auth0.users.list_permissions(user_id)["permissions"] == []
    with raises(404, "inexistent_user"):
        auth0.users.list_roles("auth0|000000000000000000000000")


def test_hostile_input_is_a_clean_4xx(domain, token, roles):
    """Raw requests (what no SDK sends): NUL characters, which PostgreSQL cannot
    store, broken JSON and DELETE bodies are answered with Auth0-shaped 4xx."""
    base = f"https://{domain}/api/v2"
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token['access_token']}"

    r = session.get(f"{base}/roles/rol_%00")
    assert (r.status_code, r.json()) == (404, ROLE_MISSING)
    r = session.get(f"{base}/users/auth0%7C%00/permissions")
    assert (r.status_code, r.json()["errorCode"]) == (404, "inexistent_user")
    r = session.post(f"{base}/roles", json={"name": "nul\u0000name"})
    assert (r.status_code, r.json()["errorCode"]) == (400, "invalid_body")
    r = session.get(f"{base}/roles", params={"name_filter": "\u0000"})
    assert (r.status_code, r.json()) == (200, [])

    role_id = roles.create("hostile")["id"]
    r = session.post(
        f"{base}/roles/{role_id}/permissions",
        json={"permissions": [{"resource_server_identifier": "x\u0000", "permission_name": "y\u0000"}]},
    )
    assert r.status_code == 404, r.text
    r = session.post(f"{base}/roles/{role_id}/users", json={"users": ["auth0|\u0000"]})
    assert (r.status_code, r.json()["errorCode"]) == (404, "inexistent_user")
    r = session.post(
        f"{base}/roles/{role_id}/permissions",
        data=b'{"permissions": [',
        headers={"Content-Type": "application/json"},
    )
    assert (r.status_code, r.json()["message"]) == (400, "Invalid request payload JSON format")
    r = session.delete(f"{base}/roles/{role_id}", json={})
    assert (r.status_code, r.text) == (200, "{}")
