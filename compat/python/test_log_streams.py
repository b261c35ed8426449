"""Log streams end to end: the real castellan binary delivering to a real HTTP receiver.

Every test starts servers of its own (free 127.0.0.1 ports, temporary data dirs, the
stream worker polling every 100 ms) and receives the stream in this process: an
http.server on a thread at 127.0.0.1, recording every request (method, path, headers,
body, the status it answered), able to answer 503 on demand. What is checked:

1. delivery: every event (token requests, user creates and deletes, the stream's own
   creation) arrives, by log_id, in log_id order, as `{log_id, data}` records equal to
   what GET /api/v2/logs returns, with the configured Authorization and custom headers;
   the set delivered is exactly the set GET /api/v2/logs holds since the stream began;
2. an outage (503 for a few seconds, with exponential backoff rather than a retry per
   poll): everything queued meanwhile arrives after recovery, in order;
3. a crash (SIGKILL while the receiver refuses): the queue survives and is delivered by
   the restarted server on the same data dir / database;
4. two instances on one PostgreSQL database: every event once, no duplicates (PostgreSQL
   runs only);
5. JSONARRAY and JSONOBJECT sinks;
6. `castellan logs tail` (--once, and a running tail narrowed by --q).

    CASTELLAN_BIN               the binary (default target/debug/castellan)
    CASTELLAN_STREAMS_BACKEND   sqlite | postgres (set by compat/streams.sh; without it the
                                module is skipped, so compat/run.sh's pytest run passes over it)
    CASTELLAN_STREAMS_PG_URL    postgres://... of a cluster: every server gets a fresh database
                                in it (made and dropped with psql); the two-instance test shares one

Run through compat/streams.sh (scripts/test-all.sh does, on both backends).
"""

import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

BACKEND = os.environ.get("CASTELLAN_STREAMS_BACKEND", "").strip()
if not BACKEND:
    pytest.skip("log stream tests run through compat/streams.sh", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
CONNECTION = "Username-Password-Authentication"
POLL_MS = 100
PG_ADMIN_URL = os.environ.get("CASTELLAN_STREAMS_PG_URL", "").strip()
BIN = Path(os.environ.get("CASTELLAN_BIN") or "target/debug/castellan")
if not BIN.is_absolute():
    BIN = ROOT / BIN
if not BIN.exists():
    pytest.exit(f"no castellan binary at {BIN} (cargo build -p castellan)", returncode=2)
if BACKEND == "postgres" and not PG_ADMIN_URL:
    pytest.exit("CASTELLAN_STREAMS_BACKEND=postgres needs CASTELLAN_STREAMS_PG_URL", returncode=2)

postgres_only = pytest.mark.skipif(BACKEND != "postgres", reason="needs a shared PostgreSQL database")


# --- waiting --------------------------------------------------------------------------


def wait_for(predicate, timeout, what, diag=None, interval=0.05):
    """Polls `predicate` until it returns something truthy (returned) or `timeout`
    seconds pass (AssertionError naming `what`, plus `diag()` when given)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = f"\n{diag()}" if diag else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{extra}")
        time.sleep(interval)


# --- the receiver -----------------------------------------------------------------------


class Arrival:
    """One request the receiver got."""

    def __init__(self, n, method, path, headers, body, status):
        self.n = n
        self.method = method
        self.path = path
        self.header_list = headers
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body
        self.status = status
        self.at = time.monotonic()

    @property
    def ok(self):
        return 200 <= self.status < 300

    def __repr__(self):
        return f"<{self.method} {self.path} -> {self.status}, {len(self.body)} bytes>"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # a client that stops sending does not hold a thread forever

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _any(self):
        body = self._read_body()
        status = self.server.receiver._record(self.command, self.path, list(self.headers.items()), body)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    do_POST = do_PUT = do_GET = _any

    def log_message(self, *args):  # keep pytest's output clean
        pass


class Receiver:
    """An HTTP endpoint at 127.0.0.1:PORT recording every request. `fail_with` (an
    HTTP status, 0 for none) makes it refuse whatever arrives, after recording it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.arrivals = []
        self.fail_with = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.receiver = self
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def _record(self, method, path, headers, body):
        with self.lock:
            status = self.fail_with or 200
            self.arrivals.append(Arrival(len(self.arrivals), method, path, headers, body, status))
            return status

    def refuse(self, status=503):
        with self.lock:
            self.fail_with = status

    def recover(self):
        with self.lock:
            self.fail_with = 0

    def requests(self, path=None, ok=None):
        with self.lock:
            got = list(self.arrivals)
        return [a for a in got if (path is None or a.path == path) and (ok is None or a.ok == ok)]

    def records(self, path, fmt):
        """Every record accepted at `path` (2xx answered), in arrival order, each
        request's body parsed strictly as `fmt` prescribes."""
        out = []
        for a in self.requests(path, ok=True):
            out.extend(unwrap(a.body, fmt))
        return out

    def ids(self, path, fmt):
        return [r["log_id"] for r in self.records(path, fmt)]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def unwrap(body, fmt):
    """The records of one request body: JSONLINES is one JSON object a line, JSONARRAY one
    JSON array of them, JSONOBJECT exactly one object per request."""
    text = body.decode("utf-8")
    try:
        if fmt == "JSONLINES":
            lines = [line for line in text.split("\n") if line.strip()]
            assert lines, "an empty JSONLINES body"
            records = [json.loads(line) for line in lines]
        elif fmt == "JSONARRAY":
            records = json.loads(text)
            assert isinstance(records, list) and records, "a JSONARRAY body must be a non-empty JSON array"
        elif fmt == "JSONOBJECT":
            record = json.loads(text)
            assert isinstance(record, dict), "a JSONOBJECT body must be one JSON object"
            records = [record]
        else:
            raise AssertionError(f"unknown format {fmt}")
    except (ValueError, AssertionError) as e:
        raise AssertionError(f"{fmt} body does not parse ({e}): {text[:500]!r}") from None
    for r in records:
        assert isinstance(r, dict) and set(r) == {"log_id", "data"}, f"record is not {{log_id, data}}: {r!r:.500}"
        assert isinstance(r["data"], dict) and r["data"].get("log_id") == r["log_id"], f"data.log_id != log_id: {r!r:.500}"
    return records


@pytest.fixture
def receivers():
    made = []

    def make():
        r = Receiver()
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


# --- servers ----------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASTELLAN_")}
    for k in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
        env.pop(k, None)
    env["NO_COLOR"] = "1"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def psql(sql):
    subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", PG_ADMIN_URL, "-c", sql],
        check=True,
        capture_output=True,
        timeout=30,
    )


class Databases:
    """A fresh PostgreSQL database per call of url() (dropped afterwards), or None on SQLite."""

    def __init__(self):
        self.names = []

    def url(self):
        if BACKEND != "postgres":
            return None
        name = "castellan_streams_" + uuid.uuid4().hex[:12]
        psql(f'CREATE DATABASE "{name}"')
        self.names.append(name)
        return urlunsplit(urlsplit(PG_ADMIN_URL)._replace(path="/" + name))

    def drop(self):
        for name in self.names:
            try:
                psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception:  # best effort: the cluster is thrown away anyway
                pass


class Server:
    """One castellan process serving the tenant `domain`, reached at 127.0.0.1:port with
    that Host header, trusting the CA in its data dir."""

    def __init__(self, workdir, name, *, db_url=None, domain=None, client_id=None, client_secret=None):
        self.workdir = Path(workdir)
        self.name = name
        self.port = free_port()
        self.domain = domain or f"localhost:{self.port}"
        self.data = self.workdir / f"{name}-data"
        self.ca = self.data / "tls" / "ca.pem"
        self.client_id = client_id or "streams" + uuid.uuid4().hex[:16]
        self.client_secret = client_secret or "s-" + uuid.uuid4().hex + uuid.uuid4().hex
        self.args = ["serve", "--data-dir", self.data, "--listen", f"127.0.0.1:{self.port}", "--domain", self.domain]
        if db_url:
            self.args += ["--database-url", db_url]
        self.env = clean_env(
            CASTELLAN_BOOTSTRAP_CLIENT_ID=self.client_id,
            CASTELLAN_BOOTSTRAP_CLIENT_SECRET=self.client_secret,
            CASTELLAN_STREAM_POLL_MS=POLL_MS,
        )
        self.proc = None
        self.runs = 0

    def start(self, timeout=30):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.runs += 1
        with open(self.log_path(), "wb") as log:
            self.proc = subprocess.Popen(
                [str(BIN), *map(str, self.args)], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=self.env,
            )
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode} before /healthz:\n{self.log()}")
            if self.ca.exists():
                try:
                    if self.call("GET", "/healthz", timeout=2).status_code == 200:
                        return self
                except requests.RequestException as e:
                    last = e
            time.sleep(0.05)
        raise AssertionError(f"{self.name}: /healthz did not answer within {timeout}s ({last}):\n{self.log()}")

    def kill(self):
        """SIGKILL, no shutdown of any kind."""
        self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait(timeout=10)

    def stop(self, timeout=5):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_path(self, run=None):
        return self.workdir / f"{self.name}.{run or self.runs}.log"

    def log(self, lines=80):
        out = []
        for run in range(1, self.runs + 1):
            text = self.log_path(run).read_text(errors="replace").splitlines()
            out.append(f"--- {self.name} run {run} (last {lines} lines) ---")
            out.extend(text[-lines:])
        return "\n".join(out)

    def call(self, method, path, token=None, timeout=10, **kw):
        headers = dict(kw.pop("headers", {}))
        headers["Host"] = self.domain
        if token:
            headers["Authorization"] = f"Bearer {token}"
        with requests.Session() as s:
            s.trust_env = False
            return s.request(method, f"https://127.0.0.1:{self.port}{path}", headers=headers,
                             verify=str(self.ca), timeout=timeout, **kw)

    # Events.

    def token_request(self, secret=None):
        return self.call("POST", "/oauth/token", json={
            "grant_type": "client_credentials", "client_id": self.client_id,
            "client_secret": secret or self.client_secret, "audience": f"https://{self.domain}/api/v2/"})

    def token(self):
        """A token for the admin client: one seccft event."""
        r = self.token_request()
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def failed_token(self):
        """A token request with a wrong secret: one feccft event."""
        r = self.token_request(secret="wrong-" + uuid.uuid4().hex)
        assert r.status_code == 401, r.text

    def create_user(self, token):
        """sapi + ss."""
        r = self.call("POST", "/api/v2/users", token=token, json={
            "connection": CONNECTION, "email": f"stream-{uuid.uuid4().hex[:10]}@example.com",
            "password": "Stream-Passw0rd!" + uuid.uuid4().hex[:6]})
        assert r.status_code == 201, r.text
        return r.json()["user_id"]

    def delete_user(self, token, user_id):
        """sapi + sdu."""
        r = self.call("DELETE", f"/api/v2/users/{user_id.replace('|', '%7C')}", token=token)
        assert r.status_code == 204, r.text

    # Management API reads (which record no events).

    def latest_log_id(self, token):
        r = self.call("GET", "/api/v2/logs", token=token, params={"per_page": 1})
        assert r.status_code == 200, r.text
        return r.json()[0]["log_id"] if r.json() else "0"

    def logs_after(self, token, marker):
        """Every event with a log_id after `marker`, oldest first (checkpoint paging)."""
        out = []
        while True:
            r = self.call("GET", "/api/v2/logs", token=token, params={"from": marker, "take": 100})
            assert r.status_code == 200, r.text
            page = r.json()
            out.extend(page)
            if len(page) < 100:
                return out
            marker = page[-1]["log_id"]

    def create_stream(self, token, name, sink):
        r = self.call("POST", "/api/v2/log-streams", token=token, json={"name": name, "type": "http", "sink": sink})
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["status"] == "active" and doc["id"].startswith("lst_"), doc
        return doc


@pytest.fixture
def cluster(tmp_path):
    """make(name, **kw) -> a Server (not started); everything is stopped and every
    database dropped after the test."""
    made, dbs = [], Databases()

    def make(name="server", *, share_db_with=None, **kw):
        if share_db_with is not None:
            i = share_db_with.args.index("--database-url")
            kw.setdefault("db_url", share_db_with.args[i + 1])
        else:
            kw.setdefault("db_url", dbs.url())
        s = Server(tmp_path, name, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()
    dbs.drop()


# --- checking a delivery ------------------------------------------------------------------


class Delivery:
    """What a stream delivered (`records`, in arrival order) against what the API holds
    since `marker` (`expected`, oldest first)."""

    def __init__(self, records, expected):
        self.records = records
        self.expected = expected
        seen, self.firsts, self.duplicates = set(), [], []
        for r in records:
            if r["log_id"] in seen:
                self.duplicates.append(r["log_id"])
            else:
                seen.add(r["log_id"])
                self.firsts.append(r["log_id"])
        self.inversions = [(a, b) for a, b in zip(self.firsts, self.firsts[1:]) if b < a]

    @property
    def ids(self):
        return set(self.firsts)


def wait_delivery(rx, path, fmt, srv, token, marker, *, timeout=20, ordered=True, diag_servers=()):
    """Waits until every event the API lists after `marker` arrived at `path`, lets the
    worker run a few more polls, then checks: the delivered set equals the API's, each
    record's data equals the API's event, first arrivals are in log_id order (unless
    `ordered` is false). Returns the Delivery."""
    servers = diag_servers or (srv,)

    def diag():
        got = rx.requests(path)
        return (f"receiver at {path}: {len(got)} requests, statuses {[a.status for a in got][-30:]}\n"
                + "\n".join(s.log(40) for s in servers))

    def complete():
        expected = srv.logs_after(token, marker)
        return expected and {e["log_id"] for e in expected} <= set(rx.ids(path, fmt))

    wait_for(complete, timeout, f"every event after {marker} at {path}", diag, interval=0.1)
    time.sleep(POLL_MS * 6 / 1000)  # would anything more (extra or repeated) be sent?
    expected = srv.logs_after(token, marker)
    d = Delivery(rx.records(path, fmt), expected)
    by_id = {e["log_id"]: e for e in expected}
    missing = set(by_id) - d.ids
    extra = d.ids - set(by_id)
    assert not missing and not extra, (
        f"delivered set != GET /api/v2/logs since {marker}: missing {sorted(missing)}, "
        f"extra {sorted(extra)}\n{diag()}")
    for r in d.records:
        api = {k: v for k, v in by_id[r["log_id"]].items() if k != "_id"}
        assert r["data"] == api, f"delivered data differs from GET /api/v2/logs:\n{r['data']}\n{api}"
    if ordered:
        assert not d.inversions, f"{len(d.inversions)} events arrived before an earlier log_id: {d.inversions[:5]}"
    return d


def sink(rx, path, fmt=None, **extra):
    s = {"httpEndpoint": rx.url(path)}
    if fmt:
        s["httpContentFormat"] = fmt
    s.update(extra)
    return s


# --- 1. delivery --------------------------------------------------------------------------


def test_every_event_arrives_in_order_with_the_configured_headers(cluster, receivers):
    srv = cluster().start()
    rx = receivers()
    token = srv.token()
    marker = srv.latest_log_id(token)
    tag = uuid.uuid4().hex[:12]
    secret = "Bearer sink-" + uuid.uuid4().hex
    stream = srv.create_stream(token, "all-events", sink(
        rx, "/hook", "JSONLINES", httpContentType="application/json", httpAuthorization=secret,
        httpCustomHeaders=[{"header": "X-Castellan-Test", "value": tag}]))

    made = []
    for i in range(8):
        srv.token()
        if i % 3 == 0:
            made.append(srv.create_user(token))
    srv.failed_token()
    srv.delete_user(token, made[0])

    d = wait_delivery(rx, "/hook", "JSONLINES", srv, token, marker)
    kinds = [r["data"]["type"] for r in d.records]
    assert kinds[0] == "sapi" and d.records[0]["data"]["details"]["request"]["path"] == "/api/v2/log-streams", (
        "the first record is the stream's own creation", d.records[0])
    assert sorted(set(kinds)) == ["feccft", "sapi", "sdu", "seccft", "ss"], kinds
    assert kinds.count("seccft") == 8 and kinds.count("ss") == 3 and kinds.count("sapi") == 1 + 3 + 1, kinds
    assert not d.duplicates, f"{len(d.duplicates)} events sent twice with a healthy receiver: {d.duplicates}"

    got = rx.requests("/hook")
    assert got and all(a.ok for a in got), got
    assert not rx.requests(ok=False)
    for a in got:
        assert a.method == "POST", a
        assert a.headers.get("authorization") == secret, a.header_list
        assert a.headers.get("x-castellan-test") == tag, a.header_list
        assert a.headers.get("content-type") == "application/json", a.header_list
    # The sink's secret is masked in the stream's creation event, and never sent as data.
    assert d.records[0]["data"]["details"]["request"]["body"]["sink"]["httpAuthorization"] == "*****"
    assert not any(secret.encode() in a.body for a in got), "the httpAuthorization secret appears in a payload"
    assert srv.call("GET", f"/api/v2/log-streams/{stream['id']}", token=token).json()["status"] == "active"


# --- 2. outage ----------------------------------------------------------------------------


def test_outage_is_retried_with_backoff_and_everything_arrives_in_order(cluster, receivers):
    srv = cluster().start()
    rx = receivers()
    token = srv.token()
    marker = srv.latest_log_id(token)
    stream = srv.create_stream(token, "outage", sink(rx, "/in"))  # JSONLINES by default
    for _ in range(3):
        srv.token()
    first = srv.logs_after(token, marker)
    wait_for(lambda: {e["log_id"] for e in first} <= set(rx.ids("/in", "JSONLINES")), 10,
             "the events before the outage", lambda: srv.log(40))

    rx.refuse(503)
    down_at = time.monotonic()
    during = 0
    while time.monotonic() - down_at < 2.5:  # 25 polls of the worker
        srv.token()
        if during % 4 == 0:
            srv.create_user(token)
        during += 1
        time.sleep(0.1)
    refused = rx.requests("/in", ok=False)
    rx.recover()
    up_at = time.monotonic()
    for _ in range(3):
        srv.token()

    assert len(refused) >= 2, f"the worker tried only {len(refused)} times in 2.5 s of outage"
    # Exponential backoff (1 s, 2 s, ...), not one attempt per 100 ms poll.
    assert len(refused) <= 5, f"{len(refused)} attempts in 2.5 s: no backoff? {[round(a.at - down_at, 2) for a in refused]}"

    d = wait_delivery(rx, "/in", "JSONLINES", srv, token, marker, timeout=20)
    recovered_in = max(a.at for a in rx.requests("/in", ok=True)) - up_at
    assert recovered_in < 10, f"the backlog took {recovered_in:.1f}s after recovery"
    assert len(d.ids) >= 1 + 3 + during + 3, len(d.ids)
    assert srv.call("GET", f"/api/v2/log-streams/{stream['id']}", token=token).json()["status"] == "active"
    print(f"outage: {len(refused)} refused attempts, {len(d.records)} records, {len(d.duplicates)} re-sent")


# --- 3. crash -----------------------------------------------------------------------------


def test_queue_survives_sigkill_and_is_delivered_after_restart(cluster, receivers):
    srv = cluster().start()
    rx = receivers()
    token = srv.token()
    marker = srv.latest_log_id(token)
    srv.create_stream(token, "crash", sink(rx, "/in", "JSONLINES"))
    srv.token()
    wait_for(lambda: len(rx.ids("/in", "JSONLINES")) >= 2, 10, "the first events", lambda: srv.log(40))
    delivered_before = set(rx.ids("/in", "JSONLINES"))

    rx.refuse(503)
    for _ in range(3):
        srv.token()
    srv.create_user(token)
    wait_for(lambda: rx.requests("/in", ok=False), 5, "a refused delivery", lambda: srv.log(40))
    srv.failed_token()
    srv.token()
    queued = [e["log_id"] for e in srv.logs_after(token, marker) if e["log_id"] not in delivered_before]
    assert len(queued) == 3 + 2 + 1 + 1, queued
    status = srv.kill()
    assert status == -signal.SIGKILL, status
    assert set(rx.ids("/in", "JSONLINES")) == delivered_before, "nothing was accepted during the outage"

    rx.recover()
    srv.start()
    restarted_at = time.monotonic()
    token = srv.token()  # after the restart: one more event
    wait_for(lambda: set(queued) <= set(rx.ids("/in", "JSONLINES")), 50,
             "the events queued before the SIGKILL, after the restart", lambda: srv.log(40))
    took = time.monotonic() - restarted_at
    d = wait_delivery(rx, "/in", "JSONLINES", srv, token, marker, timeout=20)
    assert set(queued) <= d.ids
    print(f"crash: {len(queued)} queued events delivered {took:.1f}s after the restart "
          f"(the killed instance's lease is 30 s), {len(d.duplicates)} re-sent")


# --- 4. two instances, one database ----------------------------------------------------------


@postgres_only
def test_two_instances_on_one_database_deliver_each_event_once(cluster, receivers):
    a = cluster("a").start()
    b = cluster("b", share_db_with=a, domain=a.domain, client_id=a.client_id, client_secret=a.client_secret).start()
    rx = receivers()
    token = a.token()
    marker = a.latest_log_id(token)
    a.create_stream(token, "shared", sink(rx, "/in", "JSONLINES"))
    # The stream exists for both: b's events are queued for it too.
    assert [s["name"] for s in b.call("GET", "/api/v2/log-streams", token=token).json()] == ["shared"]

    def work(srv):
        t = srv.token()
        for i in range(10):
            srv.token()
            if i % 3 == 0:
                srv.create_user(t)
        srv.failed_token()

    with ThreadPoolExecutor(2) as pool:
        for f in [pool.submit(work, a), pool.submit(work, b)]:
            f.result(timeout=60)

    d = wait_delivery(rx, "/in", "JSONLINES", a, token, marker, timeout=20, ordered=False, diag_servers=(a, b))
    assert len(d.ids) == 1 + 2 * (1 + 10 + 4 * 2 + 1), len(d.ids)
    print(f"two instances: {len(d.ids)} events, {len(d.duplicates)} duplicates, "
          f"{len(d.inversions)} out of log_id order")
    assert not d.duplicates, (
        f"{len(d.duplicates)} of {len(d.ids)} events were delivered more than once by two instances "
        f"sharing one database, with no crash and a healthy receiver: {d.duplicates[:10]}")


# --- 5. formats ---------------------------------------------------------------------------


def test_jsonarray_and_jsonobject_sinks(cluster, receivers):
    srv = cluster().start()
    rx = receivers()
    token = srv.token()
    # The receiver refuses at first, so that the burst below queues up and batches hold
    # several events.
    rx.refuse(503)
    marker_array = srv.latest_log_id(token)
    srv.create_stream(token, "array", sink(rx, "/array", "JSONARRAY"))
    marker_object = srv.latest_log_id(token)  # the array stream's creation
    srv.create_stream(token, "object", sink(rx, "/object", "JSONOBJECT"))
    wait_for(lambda: rx.requests(ok=False), 5, "a refused delivery", lambda: srv.log(40))
    for i in range(6):
        srv.token()
        if i % 2 == 0:
            srv.create_user(token)
    rx.recover()

    arr = wait_delivery(rx, "/array", "JSONARRAY", srv, token, marker_array)
    obj = wait_delivery(rx, "/object", "JSONOBJECT", srv, token, marker_object)
    assert arr.ids - obj.ids == {marker_object}, "the object stream misses only what preceded it"
    assert len(obj.ids) == 1 + 6 + 3 * 2, len(obj.ids)
    array_sizes = [len(json.loads(a.body)) for a in rx.requests("/array", ok=True)]
    assert max(array_sizes) > 1, f"every JSONARRAY request held one event: {array_sizes}"
    for a in rx.requests(ok=True):
        assert a.headers.get("content-type") == "application/json", a.header_list
        assert "authorization" not in a.headers, a.header_list
    print(f"formats: JSONARRAY request sizes {array_sizes}; JSONOBJECT {len(obj.records)} requests, "
          f"re-sent {len(arr.duplicates)} / {len(obj.duplicates)}")


# --- 6. castellan logs tail -------------------------------------------------------------------


def tail_args(srv, *extra):
    return [str(BIN), "logs", "tail", "--domain", srv.domain, "--client-id", srv.client_id,
            "--client-secret", srv.client_secret, "--ca-file", str(srv.ca), *map(str, extra)]


def test_logs_tail_once_and_following(cluster):
    srv = cluster().start()
    token = srv.token()
    srv.failed_token()
    srv.create_user(token)
    srv.token()

    r = subprocess.run(tail_args(srv, "--once", "-n", 5, "--json"), env=clean_env(), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    printed = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    latest = srv.call("GET", "/api/v2/logs", token=token, params={"per_page": 5}).json()
    assert [e["log_id"] for e in printed] == [e["log_id"] for e in reversed(latest)], (r.stdout, latest)
    assert [e["log_id"] for e in printed] == sorted(e["log_id"] for e in printed), "oldest first"
    assert printed[-1]["type"] == "seccft" and printed[-1]["client_id"] == srv.client_id, "its own token request"
    assert printed == list(reversed(latest))

    proc = subprocess.Popen(tail_args(srv, "--interval", 1, "--q", "type:feccft", "--json"), env=clean_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = [], []

    def pump(stream, into):
        for line in stream:
            into.append(line)

    pumps = [threading.Thread(target=pump, args=(proc.stdout, out), daemon=True),
             threading.Thread(target=pump, args=(proc.stderr, err), daemon=True)]
    for t in pumps:
        t.start()
    try:
        diag = lambda: f"stdout: {''.join(out)}\nstderr: {''.join(err)}\n{srv.log(20)}"  # noqa: E731
        old = [e["log_id"] for e in srv.call("GET", "/api/v2/logs", token=token, params={"q": "type:feccft"}).json()]
        assert len(old) == 1, old
        wait_for(lambda: len(out) >= 1, 15, "the tail's first (recent) event", diag)
        srv.token()
        srv.failed_token()
        srv.token()
        new = [e["log_id"] for e in srv.call("GET", "/api/v2/logs", token=token, params={"q": "type:feccft"}).json()
               if e["log_id"] not in old]
        assert len(new) == 1, new
        started = time.monotonic()
        wait_for(lambda: any(new[0] in line for line in out), 6, "the new feccft event in the running tail", diag)
        seen_after = time.monotonic() - started
        time.sleep(2.5)  # two more polls: nothing else may come
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        for t in pumps:
            t.join(timeout=5)
    events = [json.loads(line) for line in out if line.strip()]
    assert [e["type"] for e in events] == ["feccft", "feccft"], "".join(out)
    assert [e["log_id"] for e in events] == old + new, "each feccft once, oldest first"
    print(f"logs tail: the new feccft printed {seen_after:.1f}s after it happened")
