"""Black-box lifecycle tests of the real castellan binary over real HTTPS.

Unlike the SDK suites, these tests start their own servers (temporary data dirs, free
127.0.0.1 ports) and look at the process from the outside: what it prints, how it
exits, what survives a restart, tenants by Host header, configuration precedence,
TLS modes, and what its log must never contain.

    CASTELLAN_BIN                 the binary (default target/debug/castellan)
    CASTELLAN_LIFECYCLE_PG_URL    postgres://... of a cluster: every server then gets
                                  a fresh database in it (made and dropped with psql);
                                  unset or empty: SQLite in the data dir

Run through compat/lifecycle.sh (scripts/test-all.sh does, on both backends).
"""

import base64
import datetime as dt
import ipaddress
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import certifi
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
CONNECTION = "Username-Password-Authentication"


def _binary():
    b = os.environ.get("CASTELLAN_BIN") or "target/debug/castellan"
    p = Path(b)
    if not p.is_absolute():
        p = ROOT / p
    return p


BIN = _binary()
PG_ADMIN_URL = os.environ.get("CASTELLAN_LIFECYCLE_PG_URL", "").strip()

if not BIN.exists():
    pytest.exit(f"no castellan binary at {BIN} (cargo build -p castellan)", returncode=2)


# --- helpers -----------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra):
    """The caller's environment without any CASTELLAN_* setting (compat/run.sh exports
    some), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASTELLAN_")}
    for k in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
        env.pop(k, None)
    env["NO_COLOR"] = "1"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_cli(*args, env=None, timeout=30):
    """Runs `castellan ARGS...` to completion; returns the CompletedProcess."""
    return subprocess.run(
        [str(BIN), *map(str, args)],
        env=env or clean_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


CRED_ID = re.compile(r"admin client_id:\s+(\S+)")
CRED_SECRET = re.compile(r"admin client_secret:\s+(\S+)")


def printed_credentials(text):
    """All (client_id, client_secret) pairs a bootstrap printed in `text`."""
    return list(zip(CRED_ID.findall(text), CRED_SECRET.findall(text)))


def jwt_part(token, index):
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class Backend:
    """Where a server keeps its data: SQLite in its data dir, or a fresh PostgreSQL
    database per call of db_args() when CASTELLAN_LIFECYCLE_PG_URL is set."""

    def __init__(self):
        self.dbs = []

    @property
    def postgres(self):
        return bool(PG_ADMIN_URL)

    def db_args(self):
        if not self.postgres:
            return []
        name = "castellan_life_" + uuid.uuid4().hex[:12]
        psql(f'CREATE DATABASE "{name}"')
        self.dbs.append(name)
        parts = urlsplit(PG_ADMIN_URL)
        return ["--database-url", urlunsplit(parts._replace(path="/" + name))]

    def cleanup(self):
        for name in self.dbs:
            try:
                psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception:  # best effort; the cluster is thrown away anyway
                pass


def psql(sql):
    subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", PG_ADMIN_URL, "-c", sql],
        check=True,
        capture_output=True,
        timeout=30,
    )


class Server:
    """One castellan process. `args` is the whole command line after the binary;
    `port`, `host` (the Host header to send, i.e. the default tenant's domain), the
    scheme and the CA say how to reach it."""

    def __init__(self, workdir, args, port, host, ca=None, scheme="https", env=None, name="server"):
        self.workdir = Path(workdir)
        self.args = [str(a) for a in args]
        self.port = port
        self.host = host
        self.ca = ca
        self.scheme = scheme
        self.env = env or clean_env()
        self.name = name
        self.proc = None
        self.runs = 0
        self.out_path = self.err_path = None
        self.sessions = []

    # process

    def start(self, wait=True):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.runs += 1
        self.out_path = self.workdir / f"{self.name}.{self.runs}.stdout"
        self.err_path = self.workdir / f"{self.name}.{self.runs}.stderr"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                [str(BIN), *self.args], stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=self.env
            )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"castellan exited with {self.proc.returncode} before /healthz answered:\n{self.log()}"
                )
            if self.scheme == "https" and self.ca is not None and not Path(self.ca).exists():
                time.sleep(0.05)
                continue
            try:
                r = requests.get(self.url("/healthz"), verify=self.verify(), timeout=2)
                if r.status_code == 200:
                    return
                last = r.status_code
            except requests.RequestException as e:
                last = e
            time.sleep(0.05)
        raise AssertionError(f"/healthz did not answer 200 within {timeout}s ({last}):\n{self.log()}")

    def stop(self, timeout=10):
        """SIGTERM; returns the exit status (None if it had to be killed). Sessions
        made with session() stay open until the process is gone, so the server sees
        idle keep-alive connections while it drains."""
        try:
            if self.proc is None or self.proc.poll() is not None:
                return self.proc and self.proc.returncode
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        finally:
            for s in self.sessions:
                s.close()
            self.sessions = []

    def stdout(self, run=None):
        return (self.workdir / f"{self.name}.{run or self.runs}.stdout").read_text(errors="replace")

    def stderr(self, run=None):
        return (self.workdir / f"{self.name}.{run or self.runs}.stderr").read_text(errors="replace")

    def log(self, run=None):
        return self.stdout(run) + self.stderr(run)

    def all_logs(self):
        return "".join(self.log(i) for i in range(1, self.runs + 1))

    # HTTP

    def verify(self):
        if self.scheme == "http":
            return False
        return str(self.ca) if self.ca else True

    def url(self, path, hostname="127.0.0.1"):
        return f"{self.scheme}://{hostname}:{self.port}{path}"

    def session(self):
        s = requests.Session()
        s.trust_env = False  # ignore REQUESTS_CA_BUNDLE & co from the caller
        s.verify = self.verify()
        self.sessions.append(s)
        return s

    def call(self, method, path, host=None, token=None, **kw):
        """A request to 127.0.0.1 carrying `Host: host` (default: the default tenant's
        domain)."""
        headers = dict(kw.pop("headers", {}))
        headers["Host"] = host or self.host
        if token:
            headers["Authorization"] = f"Bearer {token}"
        s = kw.pop("session", None)
        if s is None:
            with requests.Session() as tmp:
                tmp.trust_env = False
                return tmp.request(
                    method, self.url(path), headers=headers, verify=self.verify(), timeout=10, **kw
                )
        return s.request(method, self.url(path), headers=headers, timeout=10, **kw)

    def token_response(self, client_id, client_secret, host=None, audience=None, **kw):
        host = host or self.host
        body = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "audience": audience or f"https://{host}/api/v2/",
        }
        return self.call("POST", "/oauth/token", host=host, json=body, **kw)

    def token(self, client_id, client_secret, host=None, **kw):
        r = self.token_response(client_id, client_secret, host=host, **kw)
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def kids(self, host=None):
        r = self.call("GET", "/.well-known/jwks.json", host=host)
        assert r.status_code == 200, r.text
        return [k["kid"] for k in r.json()["keys"]]

    def create_user(self, token, email, password, host=None):
        r = self.call(
            "POST",
            "/api/v2/users",
            host=host,
            token=token,
            json={"connection": CONNECTION, "email": email, "password": password},
        )
        assert r.status_code == 201, r.text
        return r.json()

    def get_user(self, token, user_id, host=None):
        return self.call("GET", f"/api/v2/users/{user_id.replace('|', '%7C')}", host=host, token=token)


@pytest.fixture
def backend():
    b = Backend()
    yield b
    b.cleanup()


@pytest.fixture
def servers(tmp_path):
    """Makes servers for one test and stops whatever is still running after it."""
    made = []

    def make(args, port, host, **kw):
        kw.setdefault("name", f"server{len(made) + 1}")
        s = Server(tmp_path, args, port, host, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop(timeout=5)


def default_server(servers, tmp_path, backend, *, env=None, name=None, extra=()):
    """A server on a free port with domain localhost:PORT and its own data dir."""
    port = free_port()
    data = tmp_path / (name or "data")
    args = ["serve", "--data-dir", data, "--listen", f"127.0.0.1:{port}", "--domain", f"localhost:{port}"]
    args += backend.db_args() + list(extra)
    return servers(args, port, f"localhost:{port}", ca=data / "tls" / "ca.pem", env=env, **({"name": name} if name else {}))


def fixed_admin_env(**extra):
    cid = "life" + uuid.uuid4().hex[:20]
    secret = "s-" + uuid.uuid4().hex + uuid.uuid4().hex
    env = clean_env(CASTELLAN_BOOTSTRAP_CLIENT_ID=cid, CASTELLAN_BOOTSTRAP_CLIENT_SECRET=secret, **extra)
    return env, cid, secret


# --- 1. first start ----------------------------------------------------------------


def test_first_start_bootstraps_and_prints_credentials_once(servers, tmp_path, backend):
    srv = default_server(servers, tmp_path, backend).start()
    out, err = srv.stdout(), srv.stderr()
    sqlite_files = list((tmp_path / "data").glob("castellan.db*"))
    assert bool(sqlite_files) != backend.postgres, f"wrong backend in use: {sqlite_files}"
    creds = printed_credentials(out)
    assert len(creds) == 1, f"expected one printed admin client_id/secret on stdout:\n{out}"
    cid, secret = creds[0]
    assert out.count(secret) == 1, "the generated secret is printed exactly once"
    assert secret not in err
    assert len(secret) >= 32

    token = srv.token(cid, secret)
    claims = jwt_part(token, 1)
    assert claims["sub"] == f"{cid}@clients"
    assert claims["aud"] == f"https://{srv.host}/api/v2/"
    assert claims["iss"] == f"https://{srv.host}/"
    r = srv.call("GET", "/api/v2/users", token=token)
    assert r.status_code == 200, r.text
    assert r.json() == []

    # The CA the first start wrote verifies the certificate for both names.
    ca = str(srv.ca)
    for name in ("localhost", "127.0.0.1"):
        with requests.Session() as s:
            s.trust_env = False
            r = s.get(srv.url("/healthz", hostname=name), verify=ca, timeout=5)
            assert r.status_code == 200
            # ... and is needed: the public roots do not.
            with pytest.raises(requests.exceptions.SSLError):
                s.get(srv.url("/healthz", hostname=name), verify=certifi.where(), timeout=5)
    # The served certificate chains to ca.pem with the standard library's checks too.
    ctx = ssl.create_default_context(cafile=ca)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            sans = dict_sans(tls.getpeercert())
    assert "localhost" in sans["DNS"] and "127.0.0.1" in sans["IP Address"], sans


def dict_sans(peercert):
    out = {"DNS": set(), "IP Address": set()}
    for kind, value in peercert.get("subjectAltName", ()):
        out.setdefault(kind, set()).add(value)
    return out


# --- 2. restart -------------------------------------------------------------------


def test_restart_keeps_everything_and_bootstraps_nothing(servers, tmp_path, backend):
    # Queued log events wait 3 s for the writer (10 ms by default), so the
    # last tokens' events are still queued when SIGTERM comes.
    srv = default_server(servers, tmp_path, backend, env=clean_env(CASTELLAN_EVENT_GATHER_MS="3000")).start()
    (cid, secret), = printed_credentials(srv.stdout())
    session = srv.session()  # an idle keep-alive connection stays open across SIGTERM
    token = srv.token(cid, secret, session=session)
    user = srv.create_user(token, f"restart-{uuid.uuid4().hex[:8]}@example.com", "Restart-Passw0rd!")
    kids = srv.kids()
    # An application made through the API, with a grant: its sealed secret must
    # survive the restart (shown again by GET, accepted by /oauth/token).
    r = srv.call("POST", "/api/v2/clients", token=token, json={"name": "survivor", "app_type": "non_interactive"})
    assert r.status_code == 201, r.text
    app = r.json()
    r = srv.call("POST", "/api/v2/client-grants", token=token,
                 json={"client_id": app["client_id"], "audience": f"https://{srv.host}/api/v2/", "scope": ["read:users"]})
    assert r.status_code == 201, r.text
    assert srv.call("GET", "/healthz", session=session).status_code == 200
    # Token events are written after the response: the ones answered right
    # before SIGTERM (still queued here) must be written by the graceful stop.
    for _ in range(20):
        srv.token(cid, secret)

    started = time.monotonic()
    status = srv.stop(timeout=8)
    took = time.monotonic() - started
    assert status == 0, f"SIGTERM: exit status {status} after {took:.1f}s\n{srv.log()}"
    assert took < 5, f"SIGTERM took {took:.1f}s"
    assert re.search(r"drain", srv.log(), re.I), f"no drain message in the log:\n{srv.log()}"

    srv.start()
    second = srv.log()
    assert printed_credentials(second) == [], f"credentials printed again:\n{second}"
    assert "client_secret" not in second and "created tenant" not in second, second
    assert srv.kids() == kids, "the JWKS changed across the restart"
    # Every token exchange before the stop left its event (1 + 20).
    r = srv.call("GET", "/api/v2/logs?q=type:seccft&include_totals=true&per_page=1", token=token)
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 21, r.json()
    # The token issued before the restart is still valid ...
    r = srv.get_user(token, user["user_id"])
    assert r.status_code == 200, r.text
    assert r.json()["email"] == user["email"]
    # ... and the same admin credentials still get new ones.
    fresh = srv.token(cid, secret)
    assert jwt_part(fresh, 0)["kid"] == jwt_part(token, 0)["kid"]
    r = srv.get_user(fresh, user["user_id"])
    assert r.status_code == 200, r.text
    assert r.json()["created_at"] == user["created_at"]
    r = srv.call("GET", f"/api/v2/clients/{app['client_id']}", token=fresh)
    assert r.status_code == 200, r.text
    assert r.json()["client_secret"] == app["client_secret"]
    app_token = srv.token(app["client_id"], app["client_secret"])
    assert jwt_part(app_token, 1)["scope"] == "read:users"

    assert srv.stop() == 0


# --- 3. tenants -------------------------------------------------------------------


def test_tenants_are_separated_by_host(servers, tmp_path, backend):
    env, cid, secret = fixed_admin_env()
    srv = default_server(servers, tmp_path, backend, env=env)
    store = srv.args[srv.args.index("--data-dir") : srv.args.index("--data-dir") + 2]
    if "--database-url" in srv.args:
        i = srv.args.index("--database-url")
        store += srv.args[i : i + 2]
    srv.start()
    acme = f"acme.localhost:{srv.port}"

    # Created while the server runs; the server picks it up at the next request.
    made = run_cli("tenants", "create", *store, "--domain", acme)
    assert made.returncode == 0, made.stderr
    creds = printed_credentials(made.stdout)
    assert len(creds) == 1, made.stdout
    acme_id, acme_secret = creds[0]
    assert acme_id != cid
    again = run_cli("tenants", "create", *store, "--domain", acme)
    assert again.returncode != 0 and "already exists" in again.stderr, again

    listed = run_cli("tenants", "list", *store)
    assert listed.returncode == 0, listed.stderr
    assert set(listed.stdout.split()) == {srv.host, acme}, listed.stdout

    # Discovery and keys per tenant.
    conf = srv.call("GET", "/.well-known/openid-configuration", host=acme).json()
    assert conf["issuer"] == f"https://{acme}/"
    assert conf["jwks_uri"] == f"https://{acme}/.well-known/jwks.json"
    assert set(srv.kids(host=acme)).isdisjoint(srv.kids())

    default_token = srv.token(cid, secret)
    acme_token = srv.token(acme_id, acme_secret, host=acme)
    claims = jwt_part(acme_token, 1)
    assert claims["iss"] == f"https://{acme}/" and claims["aud"] == f"https://{acme}/api/v2/"
    assert jwt_part(acme_token, 0)["kid"] in srv.kids(host=acme)
    # Credentials do not cross tenants either.
    assert srv.token_response(cid, secret, host=acme).status_code == 401
    assert srv.token_response(acme_id, acme_secret).status_code == 401

    # Users: each tenant sees only its own, and the same e-mail may live in both.
    email = f"both-{uuid.uuid4().hex[:8]}@example.com"
    in_default = srv.create_user(default_token, email, "Tenant-Passw0rd!")
    r = srv.get_user(acme_token, in_default["user_id"], host=acme)
    assert r.status_code == 404, r.text
    r = srv.call("GET", "/api/v2/users-by-email", host=acme, token=acme_token, params={"email": email})
    assert r.status_code == 200 and r.json() == [], r.text
    r = srv.call("GET", "/api/v2/users", host=acme, token=acme_token, params={"q": f'email:"{email}"'})
    assert r.status_code == 200 and r.json() == [], r.text
    in_acme = srv.create_user(acme_token, email, "Tenant-Passw0rd!", host=acme)
    assert in_acme["user_id"] != in_default["user_id"]
    r = srv.call("GET", "/api/v2/users", token=default_token, params={"q": f'email:"{email}"'})
    assert [u["user_id"] for u in r.json()] == [in_default["user_id"]], r.text

    # A token of one tenant is refused by the other, both ways.
    r = srv.call("GET", "/api/v2/users", host=acme, token=default_token)
    assert r.status_code == 401, r.text
    r = srv.call("GET", "/api/v2/users", token=acme_token)
    assert r.status_code == 401, r.text

    # Applications, APIs, grants and connections are per tenant too.
    r = srv.call("GET", "/api/v2/clients", host=acme, token=acme_token, params={"fields": "client_id"})
    assert r.status_code == 200 and r.json() == [{"client_id": acme_id}], r.text
    r = srv.call("GET", f"/api/v2/clients/{cid}", host=acme, token=acme_token)
    assert r.status_code == 404, r.text
    r = srv.call("POST", "/api/v2/client-grants", host=acme, token=acme_token,
                 json={"client_id": cid, "audience": f"https://{acme}/api/v2/", "scope": []})
    assert r.status_code == 404, r.text
    r = srv.call("GET", "/api/v2/resource-servers", host=acme, token=acme_token)
    assert [a["identifier"] for a in r.json()] == [f"https://{acme}/api/v2/"], r.text
    conns = {
        h: srv.call("GET", "/api/v2/connections", host=h, token=t).json()
        for h, t in ((srv.host, default_token), (acme, acme_token))
    }
    assert [c["name"] for c in conns[acme]] == [CONNECTION]
    assert conns[acme][0]["id"] not in [c["id"] for c in conns[srv.host]]
    assert conns[acme][0]["enabled_clients"] == [acme_id]
    r = srv.call("GET", f"/api/v2/connections/{conns[srv.host][0]['id']}", host=acme, token=acme_token)
    assert r.status_code == 404, r.text

    # An unknown host is an Auth0-shaped 404, whatever the path.
    for path in ("/api/v2/users", "/.well-known/jwks.json"):
        r = srv.call("GET", path, host=f"nobody.localhost:{srv.port}", token=default_token)
        assert r.status_code == 404, (path, r.text)
    body = srv.call("GET", "/api/v2/users", host=f"nobody.localhost:{srv.port}", token=default_token).json()
    assert body["statusCode"] == 404 and body["errorCode"] == "inexistent_tenant", body
    r = srv.call("POST", "/oauth/token", host=f"nobody.localhost:{srv.port}",
                 json={"grant_type": "client_credentials", "client_id": cid, "client_secret": secret,
                       "audience": f"https://{srv.host}/api/v2/"})
    assert r.status_code == 404, r.text


# --- 4. configuration ---------------------------------------------------------------


def toml_str(v):
    return json.dumps(str(v))  # a JSON string is a valid TOML basic string here


def test_config_file_env_and_flags(servers, tmp_path, backend):
    # (a) The TOML file alone sets listen, domain and data_dir.
    port_a = free_port()
    data_a = tmp_path / "from-toml"
    domain_a = f"toml.localhost:{port_a}"
    cfg_a = tmp_path / "a.toml"
    cfg_a.write_text(
        f"listen = {toml_str(f'127.0.0.1:{port_a}')}\ndomain = {toml_str(domain_a)}\n"
        f"data_dir = {toml_str(data_a)}\n"
    )
    env_a, cid_a, secret_a = fixed_admin_env()
    a = servers(["serve", "--config", cfg_a, *backend.db_args()], port_a, domain_a,
                ca=data_a / "tls" / "ca.pem", env=env_a).start()
    assert (data_a / "tls" / "ca.pem").exists()
    if not backend.postgres:
        assert any(data_a.glob("castellan.db*")), list(data_a.iterdir())
    assert a.call("GET", "/.well-known/openid-configuration").json()["issuer"] == f"https://{domain_a}/"
    assert a.token(cid_a, secret_a)
    r = a.call("GET", "/api/v2/users", host=f"localhost:{port_a}")
    assert r.status_code == 404 and r.json()["errorCode"] == "inexistent_tenant", r.text
    a.stop()

    # (b) Environment beats the file, flags beat the environment; the admin secret is
    # read from the file CASTELLAN_BOOTSTRAP_CLIENT_SECRET_FILE names.
    port_file, port_env, port_flag = free_port(), free_port(), free_port()
    data_b = tmp_path / "from-toml-b"
    cfg_b = tmp_path / "b.toml"
    cfg_b.write_text(
        f"listen = {toml_str(f'127.0.0.1:{port_file}')}\n"
        f"domain = {toml_str(f'toml.localhost:{port_file}')}\n"
        f"data_dir = {toml_str(data_b)}\n"
        'log = "info"\n'
    )
    secret_file = tmp_path / "admin-secret"
    secret_b = "from-a-file-" + uuid.uuid4().hex
    secret_file.write_text(secret_b + "\n")
    domain_b = f"env.localhost:{port_flag}"
    env_b = clean_env(
        CASTELLAN_LISTEN=f"127.0.0.1:{port_env}",
        CASTELLAN_DOMAIN=domain_b,
        CASTELLAN_BOOTSTRAP_CLIENT_ID="admin-from-env",
        CASTELLAN_BOOTSTRAP_CLIENT_SECRET_FILE=secret_file,
    )
    b = servers(
        ["serve", "--config", cfg_b, "--listen", f"127.0.0.1:{port_flag}", *backend.db_args()],
        port_flag, domain_b, ca=data_b / "tls" / "ca.pem", env=env_b,
    ).start()
    for unused in (port_file, port_env):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", unused)) != 0, f"something listens on {unused}"
    assert b.call("GET", "/.well-known/openid-configuration").json()["issuer"] == f"https://{domain_b}/"
    assert printed_credentials(b.log()) == []
    tok = b.token("admin-from-env", secret_b)
    assert jwt_part(tok, 1)["sub"] == "admin-from-env@clients"
    assert b.token_response("admin-from-env", secret_b + "\n").status_code == 401
    assert b.stop() == 0


def test_tls_off_serves_plain_http(servers, tmp_path, backend):
    env, cid, secret = fixed_admin_env()
    srv = default_server(servers, tmp_path, backend, env=env, extra=["--tls", "off"])
    srv.scheme, srv.ca = "http", None
    srv.start()
    assert srv.call("GET", "/readyz").status_code == 200
    assert srv.token(cid, secret)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"https://127.0.0.1:{srv.port}/healthz", verify=False, timeout=5)
    # The issuer stays https: TLS is expected to end in a proxy in front.
    conf = srv.call("GET", "/.well-known/openid-configuration").json()
    assert conf["issuer"] == f"https://{srv.host}/"


def self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "castellan lifecycle test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "own-cert.pem", tmp_path / "own-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, cert_path, key_path


def test_own_certificate(servers, tmp_path, backend):
    cert, cert_path, key_path = self_signed(tmp_path)
    env, cid, secret = fixed_admin_env()
    srv = default_server(servers, tmp_path, backend, env=env,
                         extra=["--tls-cert", cert_path, "--tls-key", key_path])
    srv.ca = cert_path
    srv.start()
    with requests.Session() as s:
        s.trust_env = False
        assert s.get(srv.url("/healthz", hostname="localhost"), verify=str(cert_path), timeout=5).status_code == 200
        with pytest.raises(requests.exceptions.SSLError):
            s.get(srv.url("/healthz", hostname="localhost"), verify=certifi.where(), timeout=5)
    served = ssl.get_server_certificate(("127.0.0.1", srv.port))
    assert x509.load_pem_x509_certificate(served.encode()) == cert
    assert srv.token(cid, secret)


def test_bad_tls_settings_fail_clearly(tmp_path):
    base = ["serve", "--data-dir", tmp_path / "d", "--listen", f"127.0.0.1:{free_port()}"]
    r = run_cli(*base, "--tls", "maybe")
    assert r.returncode != 0
    assert "--tls" in r.stderr and "maybe" in r.stderr, r.stderr

    missing = tmp_path / "no-such-cert.pem"
    key = tmp_path / "key.pem"
    key.write_text("not a key\n")
    r = run_cli(*base, "--tls-cert", missing, "--tls-key", key)
    assert r.returncode != 0
    assert str(missing) in r.stderr, r.stderr

    r = run_cli(*base, "--tls-cert", key)
    assert r.returncode != 0
    assert "--tls-key" in r.stderr, r.stderr

    garbage = tmp_path / "garbage-cert.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    r = run_cli(*base, "--tls-cert", garbage, "--tls-key", key)
    assert r.returncode != 0
    assert re.search(r"certificate|key", r.stderr, re.I), r.stderr

    r = run_cli(*base, "--config", tmp_path / "missing.toml")
    assert r.returncode != 0 and "missing.toml" in r.stderr, r.stderr


# --- 5. hygiene ---------------------------------------------------------------------


def test_log_holds_no_secrets(servers, tmp_path, backend):
    env, cid, secret = fixed_admin_env()
    srv = default_server(servers, tmp_path, backend, env=env).start()
    secrets = {"admin secret": secret}

    token = srv.token(cid, secret)
    secrets["admin token"] = token
    passwords = [f"Hygiene-{uuid.uuid4().hex[:10]}!A" for _ in range(3)]
    for i, pw in enumerate(passwords):
        secrets[f"password {i}"] = pw
    user = srv.create_user(token, f"hyg-{uuid.uuid4().hex[:8]}@example.com", passwords[0])
    srv.create_user(token, f"hyg-{uuid.uuid4().hex[:8]}@example.com", passwords[1])
    # A password change, and a password the policy refuses.
    r = srv.call("PATCH", f"/api/v2/users/{user['user_id'].replace('|', '%7C')}", token=token,
                 json={"password": passwords[2], "connection": CONNECTION})
    assert r.status_code == 200, r.text
    weak = "weakpw" + uuid.uuid4().hex[:4]
    secrets["refused password"] = weak
    r = srv.call("POST", "/api/v2/users", token=token,
                 json={"connection": CONNECTION, "email": "weak@example.com", "password": weak})
    assert r.status_code == 400, r.text

    # Failed token requests: a wrong secret, and a secret sent as HTTP Basic.
    wrong = "wrong-" + uuid.uuid4().hex
    secrets["wrong secret"] = wrong
    assert srv.token_response(cid, wrong).status_code == 401
    r = srv.call("POST", "/oauth/token", auth=(cid, wrong),
                 data={"grant_type": "client_credentials", "audience": f"https://{srv.host}/api/v2/"})
    assert r.status_code == 401, r.text
    # A search query (query strings are not logged either) and a bad token.
    r = srv.call("GET", "/api/v2/users", token=token, params={"q": f'email:"{passwords[0]}"'})
    assert r.status_code == 200, r.text
    assert srv.call("GET", "/api/v2/users", token=token[:-4] + "AAAA").status_code == 401

    # Secrets of applications made through the API.
    r = srv.call("POST", "/api/v2/clients", token=token, json={"name": "hygiene", "app_type": "non_interactive"})
    if r.status_code == 201:
        app = r.json()
        secrets["app secret"] = app["client_secret"]
        r = srv.call("POST", f"/api/v2/clients/{app['client_id']}/rotate-secret", token=token)
        assert r.status_code == 200, r.text
        secrets["rotated app secret"] = r.json()["client_secret"]

    for path in ("/healthz", "/readyz"):
        r = srv.call("GET", path)
        assert r.status_code == 200, (path, r.text)
        r = requests.get(srv.url(path, hostname="localhost"), verify=str(srv.ca), timeout=5)
        assert r.status_code == 200, (path, r.text)

    assert srv.stop() == 0
    log = srv.all_logs()
    assert log.strip(), "the server logged nothing at all"
    assert "/api/v2/users" in log  # the access log is there, so the check below means something
    leaks = [what for what, value in secrets.items() if value in log]
    for marker in ("$2b$", "$2a$", "$2y$", "password_hash"):
        if marker in log:
            leaks.append(marker)
    # Also the token's signature alone (a log could truncate the token).
    if token.split(".")[2] in log:
        leaks.append("admin token signature")
    assert not leaks, f"the server log contains: {leaks}"
