"""auth0-python 4.13.0 against castellan: applications (clients), client grants,
resource servers (APIs) and connections, and seed 000's machine-to-machine flow.

Expected behaviour is Auth0's as written down in shared/spec/rbac-apps-logs-jobs.md
(sections 0.1, 1.1, 2 and 3); where Auth0's behaviour is unknown, castellan's choice
as recorded in docs/compatibility.md ("Applications, APIs, client grants,
connections"). auth0-python 4.x has no method for a connection's enabled clients:
those calls go through the SDK's own RestClient (same headers, same error handling).
"""

import os
import re
import ssl
import uuid
from urllib.parse import quote

import jwt
import pytest
import requests
from auth0.authentication import GetToken
from auth0.exceptions import Auth0Error
from auth0.management import Auth0

from conftest import CONNECTION
from test_users import raises

CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9]{32}$")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
FOUR_GRANTS = ["authorization_code", "implicit", "refresh_token", "client_credentials"]


class Made:
    """What one test creates, removed again after it (best effort, newest first)."""

    def __init__(self, auth0):
        self.auth0 = auth0
        self.tag = "t" + uuid.uuid4().hex[:16]
        self.undo = []

    def client(self, **body):
        body.setdefault("name", f"compat-{self.tag}-{len(self.undo)}")
        created = self.auth0.clients.create(body)
        self.undo.append(lambda: self.auth0.clients.delete(created["client_id"]))
        return created

    def api(self, **body):
        body.setdefault("identifier", f"https://api-{self.tag}-{len(self.undo)}.example/")
        created = self.auth0.resource_servers.create(body)
        self.undo.append(lambda: self.auth0.resource_servers.delete(created["id"]))
        return created

    def grant(self, **body):
        created = self.auth0.client_grants.create(body)
        self.undo.append(lambda: self.auth0.client_grants.delete(created["id"]))
        return created

    def connection(self, **body):
        body.setdefault("name", f"conn-{self.tag}-{len(self.undo)}")
        body.setdefault("strategy", "auth0")
        created = self.auth0.connections.create(body)
        self.undo.append(lambda: self.auth0.connections.delete(created["id"]))
        return created

    def cleanup(self):
        for undo in reversed(self.undo):
            try:
                undo()
            except Exception:  # already gone, or a failure tested elsewhere
                pass


@pytest.fixture
def made(auth0):
    m = Made(auth0)
    yield m
    m.cleanup()


@pytest.fixture(scope="session")
def raw(domain, token):
    """Plain HTTP for what the SDK hides: success status codes."""

    def call(method, path, **kw):
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        return requests.request(method, f"https://{domain}{path}", headers=headers, timeout=10, **kw)

    return call


def token_for(domain, client, audience):
    """A client-credentials token for `client` through the SDK (raises Auth0Error)."""
    return GetToken(domain, client["client_id"], client_secret=client["client_secret"]).client_credentials(
        audience
    )


def enc(identifier):
    return quote(identifier, safe="")


def assert_all_rejected(create, bodies, undo, status=400, error_code="invalid_body"):
    """Each body must be refused with `status`; whatever gets created anyway is undone
    and reported together."""
    wrong = []
    for body in bodies:
        try:
            created = create(body)
        except Auth0Error as e:
            if e.status_code != status or (error_code and e.error_code != error_code):
                wrong.append((body, f"{e.status_code} {e.error_code}: {e.message}"))
            continue
        undo(created)
        wrong.append((body, "accepted"))
    assert not wrong, "\n".join(f"{str(b)[:120]} -> {what}" for b, what in wrong)


# --- seed 000: a machine-to-machine application end to end ---------------------------


def test_seed_000_machine_to_machine_flow(auth0, domain, made):
    app = made.client(name=f"Reporting job {made.tag}", app_type="non_interactive")
    assert CLIENT_ID_RE.match(app["client_id"]), app["client_id"]
    assert app["client_secret"]
    assert app["grant_types"] == ["client_credentials"]
    assert app["token_endpoint_auth_method"] == "client_secret_post"

    identifier = f"https://orders-{made.tag}.example/"
    api = made.api(
        name=f"Orders {made.tag}",
        identifier=identifier,
        scopes=[
            {"value": "read:orders", "description": "Read orders"},
            {"value": "write:orders", "description": "Write orders"},
            {"value": "delete:orders"},
        ],
        token_dialect="access_token_authz",
        enforce_policies=True,
    )
    assert re.fullmatch(r"[0-9a-f]{24}", api["id"]), api["id"]
    assert api["signing_alg"] == "RS256"
    assert api["token_dialect"] == "access_token_authz"

    # No grant yet: 403 access_denied (spec 2.3, step 5).
    with raises(403, "access_denied"):
        token_for(domain, app, identifier)

    grant = made.grant(client_id=app["client_id"], audience=identifier, scope=["read:orders", "write:orders"])
    assert grant["id"].startswith("cgr_")
    assert grant["client_id"] == app["client_id"] and grant["audience"] == identifier
    assert sorted(grant["scope"]) == ["read:orders", "write:orders"]

    tok = token_for(domain, app, identifier)
    assert tok["token_type"] == "Bearer"
    assert tok["expires_in"] == 86400
    assert sorted(tok["scope"].split()) == ["read:orders", "write:orders"]

    # Verify it as an API would: JWKS over HTTPS with the server's CA.
    ctx = ssl.create_default_context(cafile=os.environ["REQUESTS_CA_BUNDLE"])
    jwks = jwt.PyJWKClient(f"https://{domain}/.well-known/jwks.json", ssl_context=ctx)
    key = jwks.get_signing_key_from_jwt(tok["access_token"])
    claims = jwt.decode(
        tok["access_token"], key.key, algorithms=["RS256"], audience=identifier, issuer=f"https://{domain}/"
    )
    assert claims["sub"] == f"{app['client_id']}@clients"
    assert claims["azp"] == app["client_id"]
    assert claims["gty"] == "client-credentials"
    assert sorted(claims["scope"].split()) == ["read:orders", "write:orders"]
    assert sorted(claims["permissions"]) == ["read:orders", "write:orders"]
    assert claims["exp"] - claims["iat"] == 86400

    # Without the authz dialect the token carries no permissions claim.
    auth0.resource_servers.update(api["id"], {"token_dialect": "access_token"})
    plain = jwt.decode(
        token_for(domain, app, identifier)["access_token"],
        key.key,
        algorithms=["RS256"],
        audience=identifier,
    )
    assert "permissions" not in plain
    assert sorted(plain["scope"].split()) == ["read:orders", "write:orders"]

    # The app has no grant for the Management API.
    with raises(403, "access_denied"):
        token_for(domain, app, f"https://{domain}/api/v2/")

    # Deleting the application revokes its credentials.
    auth0.clients.delete(app["client_id"])
    with pytest.raises(Auth0Error) as info:
        token_for(domain, app, identifier)
    assert info.value.status_code == 401
    assert auth0.client_grants.all(client_id=app["client_id"]) == []


@pytest.mark.parametrize("dialect", ["rfc9068_profile", "rfc9068_profile_authz"])
def test_rfc9068_profile_tokens(domain, made, dialect):
    # users-search-tokens.md 4.2: the RFC 9068 profile has header typ "at+jwt" and
    # carries client_id and jti instead of azp/gty (RFC 9068 section 2.2).
    app = made.client(app_type="non_interactive")
    api = made.api(scopes=[{"value": "r:x"}], token_dialect=dialect)
    assert api["token_dialect"] == dialect
    made.grant(client_id=app["client_id"], audience=api["identifier"], scope=["r:x"])
    tok = token_for(domain, app, api["identifier"])["access_token"]
    ctx = ssl.create_default_context(cafile=os.environ["REQUESTS_CA_BUNDLE"])
    key = jwt.PyJWKClient(f"https://{domain}/.well-known/jwks.json", ssl_context=ctx).get_signing_key_from_jwt(tok)
    claims = jwt.decode(tok, key.key, algorithms=["RS256"], audience=api["identifier"], issuer=f"https://{domain}/")
    header = jwt.get_unverified_header(tok)
    problems = []
    if header.get("typ") != "at+jwt":
        problems.append(f"header typ {header.get('typ')!r}")
    if claims.get("client_id") != app["client_id"]:
        problems.append(f"client_id claim {claims.get('client_id')!r}")
    if not claims.get("jti"):
        problems.append("no jti claim")
    if "gty" in claims or "azp" in claims:
        problems.append("Auth0-profile claims azp/gty present")
    if claims.get("scope") != "r:x" or claims.get("sub") != f"{app['client_id']}@clients":
        problems.append(f"scope/sub {claims.get('scope')!r} {claims.get('sub')!r}")
    if dialect.endswith("_authz") and claims.get("permissions") != ["r:x"]:
        problems.append(f"permissions {claims.get('permissions')!r}")
    assert not problems, problems


def test_token_scope_parameter_against_grant(domain, made):
    # Spec 2.3 step 6: asking for a scope that was not granted is 403; a subset is fine.
    app = made.client(app_type="non_interactive")
    api = made.api(scopes=[{"value": "a:x"}, {"value": "b:x"}])
    made.grant(client_id=app["client_id"], audience=api["identifier"], scope=["a:x"])
    form = {
        "grant_type": "client_credentials",
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "audience": api["identifier"],
    }
    r = requests.post(f"https://{domain}/oauth/token", data={**form, "scope": "b:x"}, timeout=10)
    assert r.status_code == 403, r.text
    assert r.json()["error"] == "access_denied"
    r = requests.post(f"https://{domain}/oauth/token", data={**form, "scope": "a:x"}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "a:x"


def test_hs256_api_signs_with_its_secret(domain, made):
    api = made.api(signing_alg="HS256", scopes=[{"value": "bill"}], token_lifetime=600)
    assert api["signing_alg"] == "HS256"
    secret = api["signing_secret"]
    assert secret
    app = made.client(app_type="non_interactive")
    made.grant(client_id=app["client_id"], audience=api["identifier"], scope=["bill"])
    tok = token_for(domain, app, api["identifier"])
    assert tok["expires_in"] == 600
    assert jwt.get_unverified_header(tok["access_token"])["alg"] == "HS256"
    claims = jwt.decode(tok["access_token"], secret, algorithms=["HS256"], audience=api["identifier"])
    assert claims["scope"] == "bill"
    assert claims["exp"] - claims["iat"] == 600


# --- clients ----------------------------------------------------------------------


def test_client_crud(auth0, domain, made, raw):
    created = made.client(
        name=f"Web {made.tag}",
        description="compat test app",
        callbacks=["https://app.example/cb"],
        allowed_logout_urls=["https://app.example/"],
        client_metadata={"team": "a"},
    )
    cid = created["client_id"]
    assert CLIENT_ID_RE.match(cid)
    # Auth0's defaults for an app without app_type (spec 2.1).
    assert created["grant_types"] == FOUR_GRANTS
    assert created["token_endpoint_auth_method"] == "client_secret_post"
    assert created["is_first_party"] is True
    assert created["jwt_configuration"]["lifetime_in_seconds"] == 36000
    assert created["jwt_configuration"]["secret_encoded"] is False
    assert created["callbacks"] == ["https://app.example/cb"]
    assert created["client_metadata"] == {"team": "a"}
    assert created["sso_disabled"] is False
    assert created["cross_origin_authentication"] is False
    assert created["custom_login_page_on"] is True

    # GET returns what POST returned (the admin token holds read:client_keys).
    assert auth0.clients.get(cid) == created
    assert auth0.clients.get(cid, fields=["name", "client_id"]) == {"name": f"Web {made.tag}", "client_id": cid}
    without = auth0.clients.get(cid, fields=["callbacks", "client_secret"], include_fields=False)
    assert "callbacks" not in without and "client_secret" not in without
    assert without["client_id"] == cid and without["name"] == created["name"]

    updated = auth0.clients.update(cid, {"name": f"Web 2 {made.tag}", "app_type": "regular_web", "callbacks": []})
    assert updated["name"] == f"Web 2 {made.tag}"
    assert updated["app_type"] == "regular_web"
    assert updated["callbacks"] == []
    assert updated["client_metadata"] == {"team": "a"}  # untouched
    assert updated["allowed_logout_urls"] == ["https://app.example/"]
    assert auth0.clients.get(cid)["name"] == f"Web 2 {made.tag}"

    # rotate-secret: a new secret; the old one stops working at /oauth/token.
    rotated = auth0.clients.rotate_secret(cid)
    assert rotated["client_id"] == cid
    assert rotated["client_secret"] and rotated["client_secret"] != created["client_secret"]
    assert auth0.clients.get(cid)["client_secret"] == rotated["client_secret"]
    with raises(401):
        token_for(domain, created, f"https://{domain}/api/v2/")
    with raises(403, "access_denied"):  # authenticated now, but no grant
        token_for(domain, rotated, f"https://{domain}/api/v2/")

    # DELETE is 204, and again 204 when it is already gone (spec 0.1 table).
    assert raw("DELETE", f"/api/v2/clients/{cid}").status_code == 204
    assert raw("DELETE", f"/api/v2/clients/{cid}").status_code == 204
    auth0.clients.delete(cid)
    with raises(404, "inexistent_client"):
        auth0.clients.get(cid)


def test_client_status_codes(made, raw):
    r = raw("POST", "/api/v2/clients", json={"name": f"status {made.tag}"})
    assert r.status_code == 201, r.text
    cid = r.json()["client_id"]
    made.undo.append(lambda: raw("DELETE", f"/api/v2/clients/{cid}"))
    r = raw("POST", f"/api/v2/clients/{cid}/rotate-secret")
    assert r.status_code == 200, r.text
    r = raw("PATCH", f"/api/v2/clients/{cid}", json={"description": "x"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "app_type,grants,auth_method",
    [
        ("non_interactive", ["client_credentials"], "client_secret_post"),
        ("spa", ["authorization_code", "implicit", "refresh_token"], "none"),
        ("native", ["authorization_code", "implicit", "refresh_token"], "none"),
        ("regular_web", FOUR_GRANTS, "client_secret_post"),
    ],
)
def test_client_defaults_by_app_type(made, app_type, grants, auth_method):
    c = made.client(app_type=app_type)
    assert c["app_type"] == app_type
    assert c["grant_types"] == grants
    assert c["token_endpoint_auth_method"] == auth_method


def test_client_explicit_grant_types_kept(made):
    c = made.client(app_type="non_interactive", grant_types=["client_credentials", "password"])
    assert c["grant_types"] == ["client_credentials", "password"]


def test_client_own_secret_and_grant_types(auth0, domain, audience, made):
    app = made.client(app_type="non_interactive")
    made.grant(client_id=app["client_id"], audience=audience, scope=["read:users"])
    own = "my-own-secret-" + uuid.uuid4().hex
    updated = auth0.clients.update(app["client_id"], {"client_secret": own})  # needs update:client_keys
    assert updated["client_secret"] == own
    assert token_for(domain, {**app, "client_secret": own}, audience)["scope"] == "read:users"
    with raises(401):
        token_for(domain, app, audience)
    # Without client_credentials among its grant types the app gets no token (spec 2.3 step 2).
    auth0.clients.update(app["client_id"], {"grant_types": ["authorization_code"]})
    with raises(403, "unauthorized_client"):
        token_for(domain, {**app, "client_secret": own}, audience)
    auth0.clients.update(app["client_id"], {"grant_types": ["client_credentials"]})
    assert token_for(domain, {**app, "client_secret": own}, audience)["access_token"]


def test_bootstrap_admin_client_has_client_defaults(auth0, client_id):
    # The admin application made at first start is a client like any other and carries
    # the same defaults as one made through POST /api/v2/clients (spec 2.1).
    admin = auth0.clients.get(client_id)
    assert admin["app_type"] == "non_interactive"
    assert "client_credentials" in admin["grant_types"]
    assert admin.get("token_endpoint_auth_method") == "client_secret_post", admin
    assert admin.get("jwt_configuration", {}).get("lifetime_in_seconds") == 36000, admin


def test_clients_list_paging_fields_and_app_type(auth0, made):
    mine = {made.client(app_type="native")["client_id"] for _ in range(3)}
    other = made.client(app_type="regular_web")["client_id"]

    # Without paging parameters: a bare array (include_fields is always sent by 4.x).
    everything = auth0.clients.all()
    assert isinstance(everything, list)
    ids = [c["client_id"] for c in everything]
    assert mine | {other} <= set(ids)
    assert len(ids) == len(set(ids))

    natives = auth0.clients.all(extra_params={"app_type": "native"})
    assert all(c["app_type"] == "native" for c in natives)
    native_ids = [c["client_id"] for c in natives]
    assert mine <= set(native_ids) and other not in native_ids
    both = auth0.clients.all(extra_params={"app_type": "native,regular_web"})
    assert mine | {other} <= {c["client_id"] for c in both}

    # Offset paging with totals, then past the end.
    n, seen = len(native_ids), []
    for page in range(0, (n + 1) // 2):
        res = auth0.clients.all(page=page, per_page=2, extra_params={"app_type": "native", "include_totals": "true"})
        assert set(res) >= {"clients", "start", "limit", "total"}, res.keys()
        assert (res["start"], res["limit"], res["total"]) == (page * 2, 2, n)
        assert len(res["clients"]) == min(2, n - page * 2)
        seen += [c["client_id"] for c in res["clients"]]
    assert seen == native_ids, "pages follow the unpaged order"
    past = auth0.clients.all(page=99, per_page=2, extra_params={"app_type": "native"})
    assert past == []

    # fields / include_fields on lists.
    slim = auth0.clients.all(fields=["client_id", "name"], extra_params={"app_type": "native"})
    assert slim and all(set(c) == {"client_id", "name"} for c in slim)

    # Checkpoint paging: next is left out on the last page.
    first = auth0.clients.all(extra_params={"take": 2, "app_type": "native"})
    assert len(first["clients"]) == 2 and first["next"]
    walked = [c["client_id"] for c in first["clients"]]
    cursor = first["next"]
    while cursor:
        res = auth0.clients.all(extra_params={"take": 2, "from": cursor, "app_type": "native"})
        walked += [c["client_id"] for c in res["clients"]]
        cursor = res.get("next")
    assert walked == native_ids


def test_clients_per_page_max_is_100(auth0):
    with raises(400):
        auth0.clients.all(page=0, per_page=101)


def test_client_bad_input(auth0, made):
    cid = made.client()["client_id"]
    bodies = [
        {"description": "no name"},
        {"name": ""},
        {"name": 5},
        {"name": "x", "bogus": True},
        {"name": "x", "app_type": "robot"},
        {"name": "x", "token_endpoint_auth_method": "telepathy"},
        {"name": "x", "callbacks": "https://not-a-list.example/"},
        {"name": "x", "description": "d" * 141},
        {"name": "a <b> c"},
    ]
    assert_all_rejected(auth0.clients.create, bodies, lambda c: auth0.clients.delete(c["client_id"]))
    with raises(400):
        auth0.clients.update(cid, {"client_id": "hijack"})
    with raises(400):
        auth0.clients.update(cid, {"app_type": "robot"})
    with raises(404, "inexistent_client"):
        auth0.clients.get("nope" * 8)
    with raises(404, "inexistent_client"):
        auth0.clients.update("nope" * 8, {"name": "x"})
    with raises(404):
        auth0.clients.rotate_secret("nope" * 8)


def test_client_metadata_rules(auth0, made):
    # Spec 2.1: at most 10 keys, string values of at most 255 characters.
    ok = made.client(client_metadata={f"k{i}": "v" * 255 for i in range(10)})
    assert len(ok["client_metadata"]) == 10
    bodies = [
        {"name": f"md {made.tag}", "client_metadata": {f"k{i}": "v" for i in range(11)}},
        {"name": f"md {made.tag}", "client_metadata": {"n": 1}},
        {"name": f"md {made.tag}", "client_metadata": {"obj": {"nested": "x"}}},
        {"name": f"md {made.tag}", "client_metadata": {"long": "v" * 256}},
    ]
    assert_all_rejected(auth0.clients.create, bodies, lambda c: auth0.clients.delete(c["client_id"]))


def test_client_secret_needs_client_keys_scope(auth0, domain, audience, made):
    target = made.client(app_type="spa")
    reader = made.client(app_type="non_interactive")
    made.grant(client_id=reader["client_id"], audience=audience, scope=["read:clients"])
    limited = Auth0(domain, token_for(domain, reader, audience)["access_token"])
    got = limited.clients.get(target["client_id"])
    assert got["client_id"] == target["client_id"]
    assert "client_secret" not in got
    assert all("client_secret" not in c for c in limited.clients.all())
    with raises(403, "insufficient_scope"):
        limited.clients.create({"name": "nope"})
    with raises(403, "insufficient_scope"):
        limited.clients.rotate_secret(target["client_id"])


def test_client_summary_scope_sees_only_summary_fields(domain, audience, made):
    # GET /clients and /clients/{id} (Auth0's OpenAPI description): with any of the
    # scopes only client_id, app_type, name and description; callbacks, grant_types,
    # jwt_configuration, client_metadata, ... need read:clients or read:client_keys.
    target = made.client(app_type="regular_web", description="summary target",
                         callbacks=["https://t.example/cb"], client_metadata={"k": "v"})
    reader = made.client(app_type="non_interactive")
    made.grant(client_id=reader["client_id"], audience=audience, scope=["read:client_summary"])
    summary = Auth0(domain, token_for(domain, reader, audience)["access_token"])
    allowed = {"client_id", "app_type", "name", "description"}
    got = summary.clients.get(target["client_id"])
    assert got["client_id"] == target["client_id"] and got["description"] == "summary target"
    assert set(got) <= allowed, sorted(set(got) - allowed)
    listed = summary.clients.all()
    extra = set().union(*(set(c) for c in listed)) - allowed
    assert not extra, sorted(extra)


# --- client grants ----------------------------------------------------------------


def test_client_grants_crud_and_filters(auth0, made, raw):
    app = made.client(app_type="non_interactive")
    api = made.api(scopes=[{"value": "read:things"}, {"value": "write:things"}])
    api2 = made.api(scopes=[{"value": "x"}])
    g = made.grant(client_id=app["client_id"], audience=api["identifier"], scope=["read:things"])
    assert g["id"].startswith("cgr_")
    assert g["scope"] == ["read:things"]
    g2 = made.grant(client_id=app["client_id"], audience=api2["identifier"], scope=[])
    assert g2["scope"] == []

    assert auth0.client_grants.all(client_id=app["client_id"], audience=api["identifier"]) == [g]
    by_client = auth0.client_grants.all(client_id=app["client_id"])
    assert sorted(x["id"] for x in by_client) == sorted([g["id"], g2["id"]])
    assert auth0.client_grants.all(audience=api2["identifier"]) == [g2]
    env = auth0.client_grants.all(client_id=app["client_id"], include_totals=True, page=0, per_page=1)
    assert (env["start"], env["limit"], env["total"]) == (0, 1, 2)
    assert len(env["client_grants"]) == 1
    rest = auth0.client_grants.all(client_id=app["client_id"], include_totals=True, page=1, per_page=1)
    assert {env["client_grants"][0]["id"], rest["client_grants"][0]["id"]} == {g["id"], g2["id"]}

    r = raw("GET", f"/api/v2/client-grants/{g['id']}")
    assert r.status_code == 200 and r.json() == g, r.text

    updated = auth0.client_grants.update(g["id"], {"scope": ["read:things", "write:things"]})
    assert updated["id"] == g["id"]
    assert sorted(updated["scope"]) == ["read:things", "write:things"]
    with raises(400):
        auth0.client_grants.update(g["id"], {"audience": api2["identifier"]})
    with raises(400):
        auth0.client_grants.update(g["id"], {"client_id": "someone-else"})

    # Conflicts and unknown references (castellan's choices, docs/compatibility.md).
    with raises(409, "client_grant_conflict"):
        auth0.client_grants.create({"client_id": app["client_id"], "audience": api["identifier"], "scope": []})
    with raises(404, "inexistent_client"):
        auth0.client_grants.create({"client_id": "nobody" * 4, "audience": api["identifier"], "scope": []})
    with raises(404, "inexistent_resource_server"):
        auth0.client_grants.create({"client_id": app["client_id"], "audience": "https://nowhere.example/", "scope": []})
    with raises(400):
        auth0.client_grants.create({"client_id": app["client_id"], "scope": []})

    # DELETE is 204, also when already gone; GET of a missing grant 404 (spec 0.1).
    assert raw("DELETE", f"/api/v2/client-grants/{g['id']}").status_code == 204
    assert raw("DELETE", f"/api/v2/client-grants/{g['id']}").status_code == 204
    auth0.client_grants.delete(g["id"])
    r = raw("GET", f"/api/v2/client-grants/{g['id']}")
    assert r.status_code == 404 and r.json()["errorCode"] == "inexistent_client_grant", r.text
    assert auth0.client_grants.all(client_id=app["client_id"]) == [g2]
    with raises(404, "inexistent_client_grant"):
        auth0.client_grants.update(g["id"], {"scope": []})


def test_client_grant_subject_type_default(made):
    # Spec 2.2: subject_type defaults to "client", and the grant object carries it
    # (the observed Management API grant has subject_type "client").
    app = made.client(app_type="non_interactive")
    api = made.api()
    g = made.grant(client_id=app["client_id"], audience=api["identifier"], scope=[])
    assert g.get("subject_type") == "client", g


def test_client_grant_list_filters(auth0, made, raw):
    app = made.client(app_type="non_interactive")
    api, api2 = made.api(), made.api()
    anyorg = made.grant(client_id=app["client_id"], audience=api["identifier"], scope=[],
                        allow_any_organization=True, organization_usage="allow")
    assert anyorg["allow_any_organization"] is True
    user_flow = made.grant(client_id=app["client_id"], audience=api2["identifier"], scope=[], subject_type="user")
    assert user_flow["subject_type"] == "user"
    # auth0-python sends the Python boolean as "True" (spec 0.1, query booleans).
    got = auth0.client_grants.all(client_id=app["client_id"], allow_any_organization=True)
    assert [g["id"] for g in got] == [anyorg["id"]]
    r = raw("GET", "/api/v2/client-grants", params={"client_id": app["client_id"], "subject_type": "user"})
    assert r.status_code == 200, r.text
    assert [g["id"] for g in r.json()] == [user_flow["id"]]
    r = raw("GET", "/api/v2/client-grants", params={"client_id": app["client_id"], "subject_type": "client"})
    assert [g["id"] for g in r.json()] == [anyorg["id"]]


def test_user_flow_grant_does_not_allow_client_credentials(domain, made):
    # A subject_type "user" grant is for user flows; client credentials need a
    # subject_type "client" grant (spec 2.2, 2.3 step 5).
    app = made.client(app_type="non_interactive")
    api = made.api(scopes=[{"value": "s"}])
    made.grant(client_id=app["client_id"], audience=api["identifier"], scope=["s"], subject_type="user")
    with raises(403, "access_denied"):
        token_for(domain, app, api["identifier"])


def test_client_grant_status_codes(made, raw):
    app = made.client(app_type="non_interactive")
    api = made.api()
    r = raw("POST", "/api/v2/client-grants", json={"client_id": app["client_id"], "audience": api["identifier"], "scope": []})
    assert r.status_code == 201, r.text
    gid = r.json()["id"]
    made.undo.append(lambda: raw("DELETE", f"/api/v2/client-grants/{gid}"))
    assert r.json().get("subject_type", "client") == "client"
    r = raw("PATCH", f"/api/v2/client-grants/{gid}", json={"scope": []})
    assert r.status_code == 200, r.text
    # Checkpoint paging as the Fern SDKs send it (take, from; next left out at the end).
    r = raw("GET", "/api/v2/client-grants", params={"client_id": app["client_id"], "take": 50})
    assert r.status_code == 200, r.text
    assert [x["id"] for x in r.json()["client_grants"]] == [gid]
    assert "next" not in r.json()


def test_deleting_an_api_removes_its_grants(auth0, made):
    app = made.client(app_type="non_interactive")
    api = made.api()
    g = made.grant(client_id=app["client_id"], audience=api["identifier"], scope=[])
    auth0.resource_servers.delete(api["id"])
    assert auth0.client_grants.all(client_id=app["client_id"]) == []
    with raises(404, "inexistent_client_grant"):
        auth0.client_grants.update(g["id"], {"scope": []})


# --- resource servers -------------------------------------------------------------


def test_resource_server_crud(auth0, made, raw):
    ident = f"https://inventory-{made.tag}.example/api"
    api = made.api(
        name=f"Inventory {made.tag}",
        identifier=ident,
        scopes=[{"value": "read:stock", "description": "Read stock"}],
    )
    assert re.fullmatch(r"[0-9a-f]{24}", api["id"])
    assert api["identifier"] == ident and api["name"] == f"Inventory {made.tag}"
    assert api["scopes"] == [{"value": "read:stock", "description": "Read stock"}]
    # Defaults (docs/compatibility.md, resource-server defaults).
    assert api["signing_alg"] == "RS256"
    assert api["token_lifetime"] == 86400
    assert api["token_lifetime_for_web"] == 7200
    assert api["token_dialect"] == "access_token"
    assert api["enforce_policies"] is False
    assert api["allow_offline_access"] is False
    assert api["skip_consent_for_verifiable_first_party_clients"] is False
    assert api.get("is_system", False) is False
    assert "signing_secret" not in api  # RS256 APIs have none

    # By id, and by URL-encoded identifier (spec 1.1).
    assert auth0.resource_servers.get(api["id"]) == api
    assert auth0.resource_servers.get(enc(ident)) == api

    updated = auth0.resource_servers.update(
        api["id"],
        {"name": f"Stock {made.tag}", "token_lifetime": 3600,
         "scopes": [{"value": "read:stock"}, {"value": "write:stock"}], "allow_offline_access": True},
    )
    assert updated["name"] == f"Stock {made.tag}"
    assert updated["token_lifetime"] == 3600
    assert [s["value"] for s in updated["scopes"]] == ["read:stock", "write:stock"]
    assert updated["allow_offline_access"] is True
    assert updated["identifier"] == ident
    assert auth0.resource_servers.update(enc(ident), {"token_dialect": "access_token_authz"})["token_dialect"] == (
        "access_token_authz"
    )
    with raises(400):
        auth0.resource_servers.update(api["id"], {"identifier": "https://other.example/"})
    with raises(400):
        auth0.resource_servers.update(api["id"], {"signing_alg": "none"})
    with raises(400):
        auth0.resource_servers.update(api["id"], {"scopes": [{"value": "a"}, {"value": "a"}]})

    # DELETE is 204, even when already deleted (spec 0.1); then 404.
    assert raw("DELETE", f"/api/v2/resource-servers/{api['id']}").status_code == 204
    assert raw("DELETE", f"/api/v2/resource-servers/{api['id']}").status_code == 204
    auth0.resource_servers.delete(api["id"])
    with raises(404):
        auth0.resource_servers.get(api["id"])
    with raises(404):
        auth0.resource_servers.get(enc(ident))


def test_resource_server_token_lifetime_for_web(auth0, made):
    # Part of the resource-server object (spec 1.1: "must be <= token_lifetime"), set by
    # go-auth0 v1 and terraform-provider-auth0; docs/compatibility.md lists it among
    # what PATCH may change even on the Management API.
    api = made.api(token_lifetime=7200, token_lifetime_for_web=600)
    assert api["token_lifetime_for_web"] == 600
    updated = auth0.resource_servers.update(api["id"], {"token_lifetime_for_web": 1200})
    assert updated["token_lifetime_for_web"] == 1200
    with raises(400):
        auth0.resource_servers.update(api["id"], {"token_lifetime_for_web": 7201})


def test_resource_server_create_rules(auth0, made, raw):
    api = made.api(identifier=f"urn:compat:{made.tag}")
    assert api["name"] == f"urn:compat:{made.tag}", "name defaults to the identifier"
    assert auth0.resource_servers.get(f"urn:compat:{made.tag}")["id"] == api["id"]
    with raises(409, "resource_server_conflict"):
        auth0.resource_servers.create({"identifier": api["identifier"]})
    bodies = [
        {"name": "no identifier"},
        {"identifier": f"urn:x:{made.tag}", "bogus": 1},
        {"identifier": f"urn:x:{made.tag}", "signing_alg": "none"},
        {"identifier": f"urn:x:{made.tag}", "token_dialect": "jwt"},
        {"identifier": f"urn:x:{made.tag}", "token_lifetime": "long"},
        {"identifier": f"urn:x:{made.tag}", "name": "a <b>"},
        {"identifier": f"urn:x:{made.tag}", "scopes": [{"description": "no value"}]},
    ]
    assert_all_rejected(
        auth0.resource_servers.create, bodies, lambda a: auth0.resource_servers.delete(a["id"])
    )
    r = raw("POST", "/api/v2/resource-servers", json={"identifier": f"urn:status:{made.tag}"})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    made.undo.append(lambda: raw("DELETE", f"/api/v2/resource-servers/{rid}"))
    r = raw("PATCH", f"/api/v2/resource-servers/{rid}", json={"token_lifetime": 60})
    assert r.status_code == 200, r.text


def test_resource_servers_list(auth0, made, raw):
    mine = [made.api()["id"] for _ in range(3)]
    everything = auth0.resource_servers.get_all()  # include_totals=false: a bare array
    assert isinstance(everything, list)
    ids = [a["id"] for a in everything]
    assert set(mine) <= set(ids)
    total = len(ids)
    res = auth0.resource_servers.get_all(page=0, per_page=2, include_totals=True)
    assert (res["start"], res["limit"], res["total"]) == (0, 2, total)
    assert [a["id"] for a in res["resource_servers"]] == ids[:2]
    res = auth0.resource_servers.get_all(page=1, per_page=2, include_totals=True)
    assert [a["id"] for a in res["resource_servers"]] == ids[2:4]
    assert auth0.resource_servers.get_all(page=999, per_page=2) == []
    # identifiers filter (repeatable).
    idents = [a["identifier"] for a in everything if a["id"] in mine[:2]]
    r = raw("GET", "/api/v2/resource-servers", params=[("identifiers", i) for i in idents])
    assert r.status_code == 200, r.text
    assert sorted(a["id"] for a in r.json()) == sorted(mine[:2])


def test_management_api_is_a_system_api(auth0, audience):
    mgmt = auth0.resource_servers.get(enc(audience))
    assert mgmt["identifier"] == audience
    assert mgmt["is_system"] is True
    assert mgmt["name"] == "Auth0 Management API"
    values = {s["value"] for s in mgmt["scopes"]}
    assert {"read:users", "create:clients", "read:client_grants", "update:connections"} <= values
    with raises(400, "operation_not_supported"):
        auth0.resource_servers.update(mgmt["id"], {"name": "Mine"})
    with raises(400, "operation_not_supported"):
        auth0.resource_servers.delete(mgmt["id"])
    assert auth0.resource_servers.get(mgmt["id"])["name"] == "Auth0 Management API"


def test_management_api_object_as_observed(auth0, audience):
    # Spec 1.1, built-in Management API (REC): token_lifetime 86400,
    # token_lifetime_for_web 7200, ...; resource-server ids are 24 hex characters (spec
    # 0.1, ID formats).
    mgmt = auth0.resource_servers.get(enc(audience))
    assert mgmt["signing_alg"] == "RS256"
    assert mgmt["token_lifetime"] == 86400
    assert mgmt["allow_offline_access"] is False
    assert mgmt["skip_consent_for_verifiable_first_party_clients"] is False
    problems = []
    if mgmt.get("token_lifetime_for_web") != 7200:
        problems.append(f"token_lifetime_for_web={mgmt.get('token_lifetime_for_web')!r}")
    if not re.fullmatch(r"[0-9a-f]{24}", mgmt["id"]):
        problems.append(f"id={mgmt['id']!r} is not 24 hex characters")
    assert not problems, problems


# --- connections ------------------------------------------------------------------


def test_connection_crud(auth0, client_id, made, raw):
    name = f"partners-{made.tag}"
    c = made.connection(
        name=name,
        options={"passwordPolicy": "low", "requires_username": False},
        enabled_clients=[client_id],
    )
    cid = c["id"]
    assert re.fullmatch(r"con_[A-Za-z0-9]{16}", cid), cid
    assert c["name"] == name and c["strategy"] == "auth0"
    assert c["realms"] == [name]
    assert c["options"]["passwordPolicy"] == "low"
    assert c["enabled_clients"] == [client_id]
    assert c["is_domain_connection"] is False

    assert auth0.connections.get(cid) == c
    assert auth0.connections.get(cid, fields=["name", "id"]) == {"name": name, "id": cid}
    assert [x["id"] for x in auth0.connections.all(name=name)] == [cid]
    assert cid in [x["id"] for x in auth0.connections.all(strategy="auth0")]
    assert cid not in [x["id"] for x in auth0.connections.all(strategy="google-oauth2")]

    # The connection's password policy applies to its users (low: 6 characters).
    user = auth0.users.create({"connection": name, "email": f"p@{made.tag}.example.com", "password": "simple"})
    assert user["identities"][0]["connection"] == name
    with raises(400):
        auth0.users.create({"connection": CONNECTION, "email": f"q@{made.tag}.example.com", "password": "simple"})

    # PATCH replaces options as a whole (spec 3).
    p = auth0.connections.update(cid, {"options": {"passwordPolicy": "excellent"}, "display_name": "Partners"})
    assert p["options"] == {"passwordPolicy": "excellent"}
    assert p["display_name"] == "Partners"
    with raises(400):
        auth0.users.create({"connection": name, "email": f"r@{made.tag}.example.com", "password": "simple"})
    with raises(400):
        auth0.connections.update(cid, {"name": "renamed"})
    with raises(400):
        auth0.connections.update(cid, {"strategy": "google-oauth2"})

    # DELETE is 202 with deleted_at, and takes the connection's users with it.
    gone = auth0.connections.delete(cid)
    assert ISO.match(gone["deleted_at"]), gone
    with raises(404, "inexistent_user"):
        auth0.users.get(user["user_id"])
    with raises(404, "inexistent_connection"):
        auth0.connections.get(cid)
    with raises(404, "inexistent_connection"):
        auth0.connections.delete(cid)
    with raises(404, "inexistent_connection"):
        auth0.connections.update(cid, {"display_name": "x"})


def test_connection_status_codes(made, raw):
    r = raw("POST", "/api/v2/connections", json={"name": f"status-{made.tag}", "strategy": "auth0"})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    made.undo.append(lambda: raw("DELETE", f"/api/v2/connections/{cid}"))
    r = raw("PATCH", f"/api/v2/connections/{cid}", json={"display_name": "x"})
    assert r.status_code == 200, r.text
    r = raw("DELETE", f"/api/v2/connections/{cid}")
    assert r.status_code == 202, r.text
    assert set(r.json()) == {"deleted_at"}


def test_connection_bad_input(auth0, made):
    name = f"dup-{made.tag}"
    made.connection(name=name)
    with raises(409, "connection_conflict"):
        auth0.connections.create({"name": name, "strategy": "auth0"})
    bodies = [
        {"name": "bad name", "strategy": "auth0"},
        {"name": f"x-{made.tag}"},
        {"strategy": "auth0"},
        {"name": f"x-{made.tag}", "strategy": "auth0", "bogus": 1},
        {"name": f"x-{made.tag}", "strategy": "auth0", "enabled_clients": ["nobody"]},
        {"name": f"-x-{made.tag}", "strategy": "auth0"},
        {"name": f"x-{made.tag}", "strategy": "auth0", "options": {"passwordPolicy": "superb"}},
    ]
    assert_all_rejected(
        auth0.connections.create, bodies, lambda c: auth0.connections.delete(c["id"]), error_code=None
    )
    assert auth0.connections.all(name=f"x-{made.tag}") == []


def test_connection_enabled_clients(auth0, domain, client_id, made):
    conn = made.connection(enabled_clients=[client_id])
    base = f"https://{domain}/api/v2/connections/{conn['id']}/clients"
    rest = auth0.connections.client  # the SDK's own RestClient
    a = made.client(app_type="non_interactive")["client_id"]
    b = made.client(app_type="spa")["client_id"]

    # PATCH takes a bare array (204, no body).
    assert rest.patch(base, data=[{"client_id": a, "status": True}, {"client_id": b, "status": True}]) == ""
    assert sorted(auth0.connections.get(conn["id"])["enabled_clients"]) == sorted([client_id, a, b])

    # GET pages with take/from; next is left out on the last page.
    walked, cursor, pages = [], None, 0
    while True:
        params = {"take": 2} if cursor is None else {"take": 2, "from": cursor}
        res = rest.get(base, params=params)
        assert set(res) <= {"clients", "next"}, res
        assert all(set(item) == {"client_id"} for item in res["clients"])
        walked += [item["client_id"] for item in res["clients"]]
        pages += 1
        cursor = res.get("next")
        if not cursor:
            break
    assert pages == 2
    assert sorted(walked) == sorted([client_id, a, b])
    assert len(rest.get(base)["clients"]) == 3

    rest.patch(base, data=[{"client_id": a, "status": False}])
    assert sorted(i["client_id"] for i in rest.get(base)["clients"]) == sorted([client_id, b])
    # Deleting a client takes it out of enabled_clients.
    auth0.clients.delete(b)
    assert [i["client_id"] for i in rest.get(base)["clients"]] == [client_id]

    for bad in ([{"client_id": a}], {"client_id": a, "status": True}, [{"client_id": a, "status": "yes"}]):
        with raises(400):
            rest.patch(base, data=bad)
    with raises(400):
        rest.patch(base, data=[{"client_id": a, "status": True}] * 51)
    missing = f"https://{domain}/api/v2/connections/con_AAAAAAAAAAAAAAAA/clients"
    with raises(404):
        rest.get(missing)
    with raises(404):
        rest.patch(missing, data=[{"client_id": a, "status": True}])


def test_connections_list_paging(auth0, made):
    mine = [made.connection()["id"] for _ in range(3)]
    everything = auth0.connections.all()
    assert isinstance(everything, list)
    ids = [c["id"] for c in everything]
    assert set(mine) <= set(ids)
    assert "Username-Password-Authentication" in [c["name"] for c in everything]
    res = auth0.connections.all(page=0, per_page=2, extra_params={"include_totals": "true"})
    assert (res["start"], res["limit"], res["total"]) == (0, 2, len(ids))
    assert [c["id"] for c in res["connections"]] == ids[:2]
    assert auth0.connections.all(page=999, per_page=2) == []
    slim = auth0.connections.all(fields=["id", "name"])
    assert all(set(c) == {"id", "name"} for c in slim)
    # Checkpoint: take wins even with include_totals (what the Fern SDKs send).
    first = auth0.connections.all(extra_params={"take": 2, "include_totals": "true"})
    walked, cursor = [c["id"] for c in first["connections"]], first.get("next")
    while cursor:
        page = auth0.connections.all(extra_params={"take": 2, "from": cursor})
        walked += [c["id"] for c in page["connections"]]
        cursor = page.get("next")
    assert walked == ids
