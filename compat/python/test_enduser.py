"""auth0-python 4.13.0's authentication classes against the real castellan binary:
what a Python backend does for its end users, unchanged.

GetToken.login (password-realm, and the plain password grant), GetToken.refresh_token
(rotation, reuse detection, scope narrowing), Users.userinfo, Database.signup and
Database.change_password, RevokeToken, and the SDK's ID token verifier against the
JWKS; errors as the SDK raises them (Auth0Error / RateLimitError with the status and
Auth0's error code): wrong password, unknown user, brute-force protection, blocked
users.

Expected behaviour is Auth0's (shared/spec/users-search-tokens.md §4) and, where that
is not known, castellan's choice in docs/compatibility.md ("End users").

The module starts a server of its own (free 127.0.0.1 port, temporary data dir) and
points REQUESTS_CA_BUNDLE at the CA it generates:

    CASTELLAN_ENDUSER_BACKEND   sqlite | postgres; unset: the module is skipped, so
                                compat/run.sh's pytest run passes over it
    CASTELLAN_ENDUSER_PG_URL    postgres://... of a cluster (postgres): a fresh
                                database is made in it with psql, and dropped
    CASTELLAN_BIN               the binary (default target/debug/castellan)

Run through compat/enduser.sh (scripts/test-all.sh does, on both backends).
"""

import base64
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

BACKEND = os.environ.get("CASTELLAN_ENDUSER_BACKEND", "").strip()
if not BACKEND:
    pytest.skip("end-user tests run through compat/enduser.sh", allow_module_level=True)

from auth0.authentication import Database, GetToken, RevokeToken, Users  # noqa: E402
from auth0.authentication.token_verifier import AsymmetricSignatureVerifier, TokenVerifier  # noqa: E402
from auth0.exceptions import Auth0Error, RateLimitError  # noqa: E402
from auth0.management import Auth0  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CONNECTION = "Username-Password-Authentication"
REALM_GRANT = "http://auth0.com/oauth/grant-type/password-realm"
PG_ADMIN_URL = os.environ.get("CASTELLAN_ENDUSER_PG_URL", "").strip()
BIN = Path(os.environ.get("CASTELLAN_BIN") or "target/debug/castellan")
if not BIN.is_absolute():
    BIN = ROOT / BIN
if not BIN.exists():
    pytest.exit(f"no castellan binary at {BIN} (cargo build -p castellan)", returncode=2)
if BACKEND == "postgres" and not PG_ADMIN_URL:
    pytest.exit("CASTELLAN_ENDUSER_BACKEND=postgres needs CASTELLAN_ENDUSER_PG_URL", returncode=2)

ROTATING = {
    "rotation_type": "rotating",
    "expiration_type": "expiring",
    "token_lifetime": 3600,
    "infinite_token_lifetime": False,
    "leeway": 0,
}
NON_ROTATING = dict(ROTATING, rotation_type="non-rotating")


def psql(sql):
    subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", PG_ADMIN_URL, "-c", sql],
        check=True,
        capture_output=True,
        timeout=30,
    )


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def claims(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class Server:
    """One castellan process on a free port, with an admin app from the bootstrap
    variables; stop() ends it (SIGTERM, bounded) and drops its database."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="castellan-enduser-py-"))
        self.port = free_port()
        self.domain = f"localhost:{self.port}"
        self.ca = self.dir / "data" / "tls" / "ca.pem"
        self.admin_id = "admin" + secrets.token_hex(8)
        self.admin_secret = secrets.token_urlsafe(36)
        self.db = None
        args = ["serve", "--data-dir", str(self.dir / "data"), "--listen", f"127.0.0.1:{self.port}"]
        args += ["--domain", self.domain]
        if BACKEND == "postgres":
            self.db = "castellan_enduser_" + uuid.uuid4().hex[:12]
            psql(f'CREATE DATABASE "{self.db}"')
            parts = urlsplit(PG_ADMIN_URL)
            args += ["--database-url", urlunsplit(parts._replace(path="/" + self.db))]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CASTELLAN_")}
        env.update(
            NO_COLOR="1",
            CASTELLAN_BOOTSTRAP_CLIENT_ID=self.admin_id,
            CASTELLAN_BOOTSTRAP_CLIENT_SECRET=self.admin_secret,
        )
        self.log_path = self.dir / "server.log"
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                [str(BIN), *args], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"castellan exited with {self.proc.returncode}:\n{self.log()}")
            if self.ca.exists():
                try:
                    r = requests.get(f"https://{self.domain}/healthz", verify=str(self.ca), timeout=2)
                    if r.status_code == 200:
                        return
                    last = r.status_code
                except requests.RequestException as e:
                    last = e
            time.sleep(0.05)
        raise AssertionError(f"/healthz did not answer 200 within {timeout}s ({last}):\n{self.log()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.db:
            try:
                psql(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
            except Exception:  # best effort: the cluster is thrown away anyway
                pass
        if os.environ.get("KEEP_ENDUSER_DATA") == "1":
            print(f"enduser: kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


class Tenant:
    """The server's default tenant as the tests set it up through the Management API:
    an API, a rotating and a non-rotating application enabled on the database
    connection, and users."""

    def __init__(self, server):
        self.server = server
        self.domain = server.domain
        token = GetToken(self.domain, server.admin_id, client_secret=server.admin_secret).client_credentials(
            f"https://{self.domain}/api/v2/"
        )["access_token"]
        self.mgmt = Auth0(self.domain, token)
        self.api = f"https://api.{uuid.uuid4().hex[:8]}.example/"
        self.mgmt.resource_servers.create(
            {
                "identifier": self.api,
                "allow_offline_access": True,
                "scopes": [{"value": "read:things"}, {"value": "write:things"}],
                "enforce_policies": True,
                "token_dialect": "access_token_authz",
            }
        )
        self.connection_id = self.mgmt.connections.all(name=CONNECTION)[0]["id"]
        self.rotating = self.app(ROTATING)
        self.non_rotating = self.app(NON_ROTATING)

    def app(self, refresh_token):
        app = self.mgmt.clients.create(
            {
                "name": "enduser " + uuid.uuid4().hex[:8],
                "app_type": "regular_web",
                "grant_types": ["password", REALM_GRANT, "refresh_token", "authorization_code"],
                "refresh_token": refresh_token,
            }
        )
        # auth0-python 4.x has no call for this bare-array PATCH: the SDK's own RestClient.
        self.mgmt.connections.client.patch(
            f"https://{self.domain}/api/v2/connections/{self.connection_id}/clients",
            data=[{"client_id": app["client_id"], "status": True}],
        )
        return app

    def get_token(self, app=None):
        app = app or self.rotating
        return GetToken(self.domain, app["client_id"], client_secret=app["client_secret"])

    def user(self, **extra):
        tag = "t" + uuid.uuid4().hex[:12]
        body = {
            "connection": CONNECTION,
            "email": f"user@{tag}.example.com",
            "password": f"S3cret-Passw0rd!{tag}",
            "name": f"User {tag}",
        }
        body.update(extra)
        made = self.mgmt.users.create(body)
        made["password"] = body["password"]
        return made


@pytest.fixture(scope="module")
def tenant():
    server = Server()
    saved = os.environ.get("REQUESTS_CA_BUNDLE")
    try:
        server.wait_ready()
        os.environ["REQUESTS_CA_BUNDLE"] = str(server.ca)
        yield Tenant(server)
    finally:
        if saved is None:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = saved
        server.stop()


def raises(call, status, code, message=None):
    """Runs `call`, which must raise Auth0Error with that status and error code."""
    with pytest.raises(Auth0Error) as info:
        call()
    e = info.value
    assert (e.status_code, e.error_code) == (status, code), f"{e.status_code} {e.error_code}: {e.message}"
    if message is not None:
        assert e.message == message
    return e


def verifier(tenant, app):
    """The SDK's own ID token verifier: RS256 signature against the JWKS, iss, aud."""
    return TokenVerifier(
        signature_verifier=AsymmetricSignatureVerifier(f"https://{tenant.domain}/.well-known/jwks.json"),
        issuer=f"https://{tenant.domain}/",
        audience=app["client_id"],
    )


# --- password grants, tokens, userinfo ------------------------------------------------


def test_login_tokens_id_token_and_userinfo(tenant):
    user = tenant.user()
    tenant.mgmt.users.add_permissions(
        user["user_id"], [{"resource_server_identifier": tenant.api, "permission_name": "read:things"}]
    )
    got = tenant.get_token().login(
        username=user["email"].upper(),
        password=user["password"],
        realm=CONNECTION,
        scope="openid profile email offline_access read:things write:things",
        audience=tenant.api,
    )
    assert got["token_type"] == "Bearer"
    assert got["expires_in"] > 0
    assert got["scope"] == "openid profile email offline_access read:things", "write:things is not the user's"
    assert isinstance(got["refresh_token"], str)

    at = claims(got["access_token"])
    assert at["iss"] == f"https://{tenant.domain}/"
    assert at["sub"] == user["user_id"]
    assert at["aud"] == [tenant.api, f"https://{tenant.domain}/userinfo"]
    assert at["azp"] == tenant.rotating["client_id"]
    assert at["gty"] == "password"
    assert at["permissions"] == ["read:things"]

    id_claims = verifier(tenant, tenant.rotating).verify(got["id_token"])
    assert id_claims["sub"] == user["user_id"]
    assert id_claims["email"] == user["email"]
    assert id_claims["name"] == user["name"]
    assert "at_hash" in id_claims

    info = Users(tenant.domain).userinfo(got["access_token"])
    assert info["sub"] == user["user_id"]
    assert info["email"] == user["email"]
    assert info["email_verified"] is False
    assert info["name"] == user["name"]
    assert isinstance(info["updated_at"], str)

    # The bookkeeping a login leaves on the user.
    u = tenant.mgmt.users.get(user["user_id"])
    assert u["logins_count"] == 1
    assert isinstance(u["last_login"], str) and isinstance(u["last_ip"], str)


def test_login_without_audience_gives_a_userinfo_token(tenant):
    user = tenant.user()
    got = tenant.get_token().login(user["email"], user["password"], realm=CONNECTION, scope="openid email")
    assert claims(got["access_token"])["aud"] == f"https://{tenant.domain}/userinfo"
    assert "refresh_token" not in got, "no offline_access, no refresh token"
    assert Users(tenant.domain).userinfo(got["access_token"])["email"] == user["email"]
    # No openid scope: /userinfo refuses the token.
    got = tenant.get_token().login(user["email"], user["password"], realm=CONNECTION, scope="email")
    raises(lambda: Users(tenant.domain).userinfo(got["access_token"]), 403, "insufficient_scope")
    e = raises(lambda: Users(tenant.domain).userinfo("junk"), 401, "invalid_token")
    assert "www-authenticate" in {k.lower() for k in e.headers}


def test_plain_password_grant_uses_the_apps_database_connection(tenant):
    user = tenant.user()
    got = tenant.get_token().login(user["email"], user["password"], scope="openid", grant_type="password")
    assert claims(got["access_token"])["sub"] == user["user_id"]
    assert claims(got["access_token"])["gty"] == "password"


# --- refresh tokens -----------------------------------------------------------------


def test_refresh_rotation_and_reuse_detection(tenant):
    user = tenant.user()
    gt = tenant.get_token()
    got = gt.login(user["email"], user["password"], realm=CONNECTION, scope="openid email offline_access")
    rt1 = got["refresh_token"]

    second = gt.refresh_token(rt1)
    rt2 = second["refresh_token"]
    assert rt2 != rt1, "rotation gives a new refresh token"
    assert claims(second["access_token"])["gty"] == "refresh_token"
    assert Users(tenant.domain).userinfo(second["access_token"])["sub"] == user["user_id"]
    assert verifier(tenant, tenant.rotating).verify(second["id_token"])["sub"] == user["user_id"]
    rt3 = gt.refresh_token(rt2)["refresh_token"]
    assert rt3 not in (rt1, rt2)

    # A rotated token again: refused, and the whole family with it.
    raises(lambda: gt.refresh_token(rt1), 403, "invalid_grant")
    raises(lambda: gt.refresh_token(rt3), 403, "invalid_grant")
    logs = tenant.mgmt.logs.search(q=f'type:ferrt AND user_id:"{user["user_id"]}"', include_totals=False)
    assert len(logs) == 1, logs


def test_refreshed_id_tokens_keep_the_auth_time(tenant):
    # OIDC Core 12.2: a refreshed ID token's auth_time is the time of the original
    # authentication, not that of the refresh (nor of an earlier rotation).
    user = tenant.user()
    gt = tenant.get_token()
    check = verifier(tenant, tenant.rotating)
    got = gt.login(user["email"], user["password"], realm=CONNECTION, scope="openid offline_access")
    auth_time = check.verify(got["id_token"])["auth_time"]
    time.sleep(1.1)  # so that a later time shows in whole seconds
    second = gt.refresh_token(got["refresh_token"])
    assert check.verify(second["id_token"])["auth_time"] == auth_time, "after the first refresh"
    time.sleep(1.1)
    third = gt.refresh_token(second["refresh_token"])
    moved = check.verify(third["id_token"])["auth_time"]
    assert moved == auth_time, f"auth_time moved from {auth_time} to {moved} after a rotation"


def test_rotation_does_not_extend_the_absolute_lifetime(tenant):
    # Auth0: "The Absolute Expiration of the rotating refresh token is defined on
    # creation and is not changed, even with an exchange" (token_lifetime, minimum 1 s).
    app = tenant.app(dict(ROTATING, token_lifetime=3))
    user = tenant.user()
    gt = tenant.get_token(app)
    got = gt.login(user["email"], user["password"], realm=CONNECTION, scope="openid offline_access")
    unused = gt.login(user["email"], user["password"], realm=CONNECTION, scope="openid offline_access")
    time.sleep(1.5)
    rt2 = gt.refresh_token(got["refresh_token"])["refresh_token"]
    time.sleep(2.0)  # 3.5 s after the logins: past the absolute lifetime of both families
    # The control: a token never exchanged has expired.
    raises(lambda: gt.refresh_token(unused["refresh_token"]), 403, "invalid_grant")
    # And so has the family that was rotated once.
    raises(lambda: gt.refresh_token(rt2), 403, "invalid_grant")


def test_idle_lifetime_expires_unused_refresh_tokens(tenant):
    # idle_token_lifetime: "Period (in seconds) for which refresh tokens will remain
    # valid without use" (unless infinite_idle_token_lifetime).
    app = tenant.app(dict(ROTATING, idle_token_lifetime=2, infinite_idle_token_lifetime=False))
    user = tenant.user()
    gt = tenant.get_token(app)
    got = gt.login(user["email"], user["password"], realm=CONNECTION, scope="openid offline_access")
    time.sleep(1.2)
    rt2 = gt.refresh_token(got["refresh_token"])["refresh_token"]  # used in time
    time.sleep(2.5)
    raises(lambda: gt.refresh_token(rt2), 403, "invalid_grant")


def test_reuse_interval_leeway_allows_the_previous_token(tenant):
    # leeway: "Period in seconds where the previous refresh token can be exchanged
    # without triggering breach detection"; within it "a new rotating refresh token is
    # issued", and the family is not revoked.
    app = tenant.app(dict(ROTATING, leeway=60))
    user = tenant.user()
    gt = tenant.get_token(app)
    rt1 = gt.login(user["email"], user["password"], realm=CONNECTION, scope="openid offline_access")["refresh_token"]
    assert gt.refresh_token(rt1)["refresh_token"] != rt1
    again = gt.refresh_token(rt1)  # a retry within the reuse interval
    assert isinstance(again.get("refresh_token"), str)
    assert gt.refresh_token(again["refresh_token"])["access_token"]
    assert tenant.mgmt.logs.search(q=f'type:ferrt AND user_id:"{user["user_id"]}"', include_totals=False) == []


def test_refresh_may_narrow_the_scope_never_widen_it(tenant):
    user = tenant.user()
    gt = tenant.get_token(tenant.non_rotating)
    got = gt.login(user["email"], user["password"], realm=CONNECTION, scope="openid email offline_access")
    rt = got["refresh_token"]
    narrow = gt.refresh_token(rt, scope="openid")
    assert narrow["scope"] == "openid"
    raises(lambda: gt.refresh_token(rt, scope="openid email profile"), 403, "access_denied")


def test_non_rotating_refresh_token_stays_valid(tenant):
    user = tenant.user()
    gt = tenant.get_token(tenant.non_rotating)
    got = gt.login(user["email"], user["password"], realm=CONNECTION, scope="openid offline_access")
    rt = got["refresh_token"]
    for _ in range(2):
        again = gt.refresh_token(rt)
        assert "refresh_token" not in again, "non-rotating: no new refresh token"
        assert claims(again["access_token"])["sub"] == user["user_id"]
    # Another client cannot use it.
    raises(lambda: tenant.get_token(tenant.rotating).refresh_token(rt), 403, "invalid_grant")
    raises(lambda: gt.refresh_token("not-a-refresh-token"), 403, "invalid_grant")


def test_revoke_refresh_token(tenant):
    user = tenant.user()
    gt = tenant.get_token()
    got = gt.login(user["email"], user["password"], realm=CONNECTION, scope="openid offline_access")
    revoke = RevokeToken(tenant.domain, tenant.rotating["client_id"], client_secret=tenant.rotating["client_secret"])
    revoke.revoke_refresh_token(got["refresh_token"])
    raises(lambda: gt.refresh_token(got["refresh_token"]), 403, "invalid_grant")
    # RFC 7009: an unknown token is not an error.
    revoke.revoke_refresh_token("not-a-token-castellan-ever-issued")
    # A wrong client secret is.
    bad = RevokeToken(tenant.domain, tenant.rotating["client_id"], client_secret="wrong-secret")
    e = raises(lambda: bad.revoke_refresh_token(got["refresh_token"]), 401, "access_denied")
    assert e.message


# --- failures -------------------------------------------------------------------------


def test_wrong_password_and_unknown_user_look_the_same(tenant):
    user = tenant.user()
    gt = tenant.get_token()
    raises(
        lambda: gt.login(user["email"], "not-the-password", realm=CONNECTION, scope="openid"),
        403,
        "invalid_grant",
        "Wrong email or password.",
    )
    raises(
        lambda: gt.login(f"nobody-{uuid.uuid4().hex[:8]}@example.com", "x", realm=CONNECTION, scope="openid"),
        403,
        "invalid_grant",
        "Wrong email or password.",
    )
    # The wrong client secret is another matter.
    bad = GetToken(tenant.domain, tenant.rotating["client_id"], client_secret="wrong-secret")
    with pytest.raises(Auth0Error) as info:
        bad.login(user["email"], user["password"], realm=CONNECTION, scope="openid")
    assert info.value.status_code == 401


def test_brute_force_protection_after_ten_failures(tenant):
    user = tenant.user()
    other = tenant.user()
    gt = tenant.get_token()
    for _ in range(10):
        raises(lambda: gt.login(user["email"], "nope", realm=CONNECTION, scope="openid"), 403, "invalid_grant")
    with pytest.raises(RateLimitError) as info:
        gt.login(user["email"], user["password"], realm=CONNECTION, scope="openid")
    assert (info.value.status_code, info.value.error_code) == (429, "too_many_attempts")
    assert info.value.message
    # Per user and IP: another user from the same address is not affected.
    assert gt.login(other["email"], other["password"], realm=CONNECTION, scope="openid")["access_token"]
    blocked = tenant.mgmt.logs.search(q=f'type:limit_wc AND user_id:"{user["user_id"]}"', include_totals=False)
    assert len(blocked) == 1, blocked


def test_a_success_resets_the_failure_count(tenant):
    user = tenant.user()
    gt = tenant.get_token()
    for _ in range(2):
        for _ in range(9):
            raises(lambda: gt.login(user["email"], "nope", realm=CONNECTION, scope="openid"), 403, "invalid_grant")
        assert gt.login(user["email"], user["password"], realm=CONNECTION, scope="openid")["access_token"]


def test_blocked_user(tenant):
    user = tenant.user()
    gt = tenant.get_token()
    got = gt.login(user["email"], user["password"], realm=CONNECTION, scope="openid offline_access")
    tenant.mgmt.users.update(user["user_id"], {"blocked": True})
    raises(
        lambda: gt.login(user["email"], user["password"], realm=CONNECTION, scope="openid"),
        401,
        "unauthorized",
        "user is blocked",
    )
    raises(lambda: gt.refresh_token(got["refresh_token"]), 401, "unauthorized", "user is blocked")
    tenant.mgmt.users.update(user["user_id"], {"blocked": False})
    assert gt.login(user["email"], user["password"], realm=CONNECTION, scope="openid")["access_token"]
    assert gt.refresh_token(got["refresh_token"])["access_token"]


# --- /dbconnections ---------------------------------------------------------------------


def test_signup_then_login_and_change_password(tenant):
    db = Database(tenant.domain, tenant.rotating["client_id"])
    tag = uuid.uuid4().hex[:10]
    email = f"New.Person@{tag}.Example.com"
    password = f"S3cret-Passw0rd!{tag}"
    made = db.signup(
        email=email,
        password=password,
        connection=CONNECTION,
        user_metadata={"plan": "free"},
        given_name="New",
        family_name="Person",
        name="New Person",
        nickname="newbie",
    )
    assert made["email"] == email.lower()
    assert made["email_verified"] is False
    assert len(made["_id"]) == 24 and all(c in "0123456789abcdef" for c in made["_id"])
    assert made["given_name"] == "New" and made["family_name"] == "Person"

    found = tenant.mgmt.users.list(q=f'email:"{email.lower()}"', search_engine="v3")["users"]
    assert len(found) == 1
    assert found[0]["user_id"] == "auth0|" + made["_id"]
    assert found[0]["user_metadata"] == {"plan": "free"}
    assert found[0]["name"] == "New Person"

    got = tenant.get_token().login(email, password, realm=CONNECTION, scope="openid profile")
    assert claims(got["id_token"])["name"] == "New Person"

    raises(lambda: db.signup(email=email, password=password, connection=CONNECTION), 400, "invalid_signup")
    raises(
        lambda: db.signup(email=f"weak@{tag}.example.com", password="weak", connection=CONNECTION),
        400,
        "invalid_password",
    )
    with pytest.raises(Auth0Error) as info:
        db.signup(email=f"x@{tag}.example.com", password=password, connection="No-Such-Connection")
    assert info.value.status_code == 400

    for who in (email, f"nobody@{tag}.example.com"):
        answer = db.change_password(email=who, connection=CONNECTION)
        assert answer == "We've just sent you an email to reset your password."
