// Servers of their own for the end-user suites (openid-client, the browser), as
// compat/enduser.sh runs them: each suite starts the real castellan binary on a free
// 127.0.0.1 port with a temporary data dir (and, for PostgreSQL, a fresh database),
// sets up applications and users through the Management API, and stops it at the end.
//
// Environment (compat/enduser.sh sets it):
//   CASTELLAN_BIN               the binary (default target/debug/castellan)
//   CASTELLAN_ENDUSER_CA_DIR    a directory with ca.pem and ca-key.pem: a CA that an
//                               earlier castellan start generated. Every server here
//                               starts with a copy of it in DATA_DIR/tls, keeps it (a
//                               CA on disk is reused) and signs its own certificate
//                               with it, so the CA can be trusted before node starts.
//   NODE_EXTRA_CA_CERTS         must be $CASTELLAN_ENDUSER_CA_DIR/ca.pem (node reads it
//                               only at process start)
//   CASTELLAN_ENDUSER_PG_URL    postgres://... of a cluster: each server gets a fresh
//                               database made (and dropped) with psql; empty: SQLite
//   KEEP_ENDUSER_DATA=1         keep data dirs and server logs
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CONNECTION = 'Username-Password-Authentication';

function binary() {
  const b = process.env.CASTELLAN_BIN || 'target/debug/castellan';
  return isAbsolute(b) ? b : join(ROOT, b);
}

export function caDir() {
  const dir = process.env.CASTELLAN_ENDUSER_CA_DIR;
  if (!dir || !existsSync(join(dir, 'ca.pem')) || !existsSync(join(dir, 'ca-key.pem'))) {
    throw new Error('CASTELLAN_ENDUSER_CA_DIR (with ca.pem and ca-key.pem) is not set: run through compat/enduser.sh');
  }
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (!extra || resolve(extra) !== resolve(dir, 'ca.pem')) {
    throw new Error(`NODE_EXTRA_CA_CERTS must be ${join(dir, 'ca.pem')} when node starts: run through compat/enduser.sh`);
  }
  return dir;
}

export function tag() {
  return 't' + randomBytes(8).toString('hex');
}

export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

function psql(adminUrl, sql) {
  const r = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', adminUrl, '-c', sql], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.status !== 0) {
    throw new Error(`psql ${sql}: ${r.error || r.stderr}`);
  }
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** The promise's value, or null after `ms` (the timer does not keep node alive). */
function within(promise, ms) {
  let timer;
  const late = new Promise((ok) => {
    timer = setTimeout(() => ok(null), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** One castellan process with an admin application from the bootstrap variables. */
export class Server {
  constructor(name) {
    this.name = name;
    this.dir = mkdtempSync(join(process.env.TMPDIR || tmpdir(), `castellan-enduser-${name}-`));
    this.adminId = 'admin' + randomBytes(8).toString('hex');
    this.adminSecret = randomBytes(36).toString('base64url');
    // The first dashboard administrator (the dashboard suite signs in with it).
    this.dashboardEmail = 'admin@example.com';
    this.dashboardPassword = randomBytes(18).toString('base64url');
    this.proc = null;
    this.db = null;
    this.pgAdmin = (process.env.CASTELLAN_ENDUSER_PG_URL || '').trim();
    this._token = null;
    this._connection = null;
  }

  get base() {
    return `https://${this.domain}`;
  }

  log() {
    try {
      return readFileSync(join(this.dir, 'server.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async start() {
    const ca = caDir();
    const data = join(this.dir, 'data');
    mkdirSync(join(data, 'tls'), { recursive: true });
    copyFileSync(join(ca, 'ca.pem'), join(data, 'tls', 'ca.pem'));
    copyFileSync(join(ca, 'ca-key.pem'), join(data, 'tls', 'ca-key.pem'));
    this.port = await freePort();
    this.domain = `localhost:${this.port}`;
    const args = ['serve', '--data-dir', data, '--listen', `127.0.0.1:${this.port}`, '--domain', this.domain];
    if (this.pgAdmin) {
      this.db = `castellan_enduser_${randomBytes(6).toString('hex')}`;
      psql(this.pgAdmin, `CREATE DATABASE "${this.db}"`);
      const u = new URL(this.pgAdmin);
      u.pathname = '/' + this.db;
      args.push('--database-url', u.toString());
    }
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CASTELLAN_')));
    Object.assign(env, {
      NO_COLOR: '1',
      CASTELLAN_BOOTSTRAP_CLIENT_ID: this.adminId,
      CASTELLAN_BOOTSTRAP_CLIENT_SECRET: this.adminSecret,
      CASTELLAN_BOOTSTRAP_ADMIN_EMAIL: this.dashboardEmail,
      CASTELLAN_BOOTSTRAP_ADMIN_PASSWORD: this.dashboardPassword,
    });
    const out = openSync(join(this.dir, 'server.log'), 'w');
    this.proc = spawn(binary(), args, { env, stdio: ['ignore', out, out] });
    closeSync(out);
    this.exited = new Promise((ok) => this.proc.once('exit', (code, signal) => ok({ code, signal })));
    await this.waitReady();
    return this;
  }

  async waitReady(timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    let last;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
        throw new Error(`castellan exited before /healthz answered:\n${this.log()}`);
      }
      try {
        const r = await fetch(`${this.base}/healthz`, { signal: AbortSignal.timeout(2000) });
        if (r.status === 200) {
          return;
        }
        last = r.status;
      } catch (e) {
        last = e.cause?.code || e.message;
      }
      await sleep(100);
    }
    throw new Error(`/healthz did not answer 200 within ${timeoutMs} ms (${last}):\n${this.log()}`);
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      if (!(await within(this.exited, 10_000))) {
        this.proc.kill('SIGKILL');
        await within(this.exited, 5_000);
      }
    }
    if (this.db) {
      try {
        psql(this.pgAdmin, `DROP DATABASE IF EXISTS "${this.db}" WITH (FORCE)`);
      } catch {
        // best effort: the cluster is thrown away anyway
      }
    }
    if (process.env.KEEP_ENDUSER_DATA === '1') {
      console.log(`enduser: kept ${this.dir}`);
    } else {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  // --- Management API -----------------------------------------------------------

  async adminToken() {
    if (!this._token) {
      const r = await fetch(`${this.base}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          grant_type: 'client_credentials',
          client_id: this.adminId,
          client_secret: this.adminSecret,
          audience: `${this.base}/api/v2/`,
        }),
        signal: AbortSignal.timeout(10_000),
      });
      const body = await r.json();
      if (r.status !== 200) {
        throw new Error(`admin token: ${r.status} ${JSON.stringify(body)}`);
      }
      this._token = body.access_token;
    }
    return this._token;
  }

  /** A Management API call; throws unless the status is 2xx. */
  async mgmt(method, path, body) {
    const r = await fetch(`${this.base}/api/v2${path}`, {
      method,
      headers: {
        authorization: `Bearer ${await this.adminToken()}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await r.text();
    if (r.status < 200 || r.status > 299) {
      throw new Error(`${method} /api/v2${path}: ${r.status} ${text}`);
    }
    return text ? JSON.parse(text) : null;
  }

  async connectionId() {
    if (!this._connection) {
      const list = await this.mgmt('GET', `/connections?name=${encodeURIComponent(CONNECTION)}`);
      this._connection = list[0].id;
    }
    return this._connection;
  }

  /** Creates an application and enables it on the database connection. */
  async app(fields) {
    const app = await this.mgmt('POST', '/clients', { name: `enduser ${tag()}`, ...fields });
    await this.mgmt('PATCH', `/connections/${await this.connectionId()}/clients`, [
      { client_id: app.client_id, status: true },
    ]);
    return app;
  }

  async user(email, password, extra = {}) {
    return this.mgmt('POST', '/users', { connection: CONNECTION, email, password, ...extra });
  }

  async userByEmail(email) {
    return this.mgmt('GET', `/users-by-email?email=${encodeURIComponent(email)}`);
  }
}

// --- a real browser ------------------------------------------------------------

export const CHROMIUM = process.env.CASTELLAN_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')}: ${r.error || r.stderr}`);
  }
}

/**
 * A HOME for chromium whose NSS database (~/.pki/nssdb, made with certutil) trusts
 * the suites' CA: how Chromium on Linux picks up a local CA, so TLS is verified.
 */
export function browserHome() {
  const dir = mkdtempSync(join(process.env.TMPDIR || tmpdir(), 'castellan-enduser-chromium-'));
  const db = join(dir, '.pki', 'nssdb');
  mkdirSync(db, { recursive: true });
  run('certutil', ['-d', `sql:${db}`, '-N', '--empty-password']);
  run('certutil', ['-d', `sql:${db}`, '-A', '-t', 'C,,', '-n', 'castellan enduser CA', '-i', join(caDir(), 'ca.pem')]);
  return dir;
}

/**
 * Starts headless chromium (playwright-core's `chromium`, passed in so that this
 * module needs no browser driver) with `home` as HOME, so it trusts the suites' CA.
 */
export function launchBrowser(chromium, home) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    env: { ...process.env, HOME: home },
    timeout: 60_000,
  });
}

export async function startServer(name) {
  const s = new Server(name);
  try {
    await s.start();
  } catch (e) {
    await s.stop();
    throw e;
  }
  return s;
}

// --- driving the hosted pages over plain HTTP ------------------------------------

/** A cookie jar for one host: name=value pairs from Set-Cookie, attributes ignored. */
export class Jar {
  constructor() {
    this.cookies = new Map();
  }

  take(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      if (/max-age=0/i.test(line) || value === '') {
        this.cookies.delete(name);
      } else {
        this.cookies.set(name, value);
      }
    }
  }

  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  get(name) {
    return this.cookies.get(name);
  }
}

/** GET without following redirects; the jar sends and keeps cookies. */
export async function get(url, jar) {
  const r = await fetch(url, {
    redirect: 'manual',
    headers: jar && jar.cookies.size ? { cookie: jar.header() } : {},
    signal: AbortSignal.timeout(10_000),
  });
  jar?.take(r);
  return { status: r.status, location: r.headers.get('location'), headers: r.headers, text: await r.text() };
}

/** POSTs an HTML form (urlencoded) without following redirects. */
export async function postForm(url, jar, fields) {
  const r = await fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
    body: new URLSearchParams(fields).toString(),
    signal: AbortSignal.timeout(10_000),
  });
  jar.take(r);
  return { status: r.status, location: r.headers.get('location'), headers: r.headers, text: await r.text() };
}

function unescapeHtml(s) {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The value of the (first) input named `name` in an HTML page, or undefined. */
export function inputValue(html, name) {
  for (const m of html.matchAll(/<input\b[^>]*>/g)) {
    const tagText = m[0];
    const n = /\bname="([^"]*)"/.exec(tagText);
    if (n && unescapeHtml(n[1]) === name) {
      const v = /\bvalue="([^"]*)"/.exec(tagText);
      return v ? unescapeHtml(v[1]) : '';
    }
  }
  return undefined;
}

/** The `action` of the first form in a page. */
export function formAction(html) {
  const m = /<form\b[^>]*\baction="([^"]*)"/.exec(html);
  return m ? unescapeHtml(m[1]) : undefined;
}

/**
 * Follows an /authorize URL to the hosted login page and submits it, like a person
 * with a browser that does no JavaScript. Returns the final response (the redirect
 * to the callback, or the page again with an error) and the login page.
 */
export async function loginThroughPage(authorizeUrl, jar, username, password) {
  const first = await get(authorizeUrl, jar);
  if (first.status !== 302) {
    throw new Error(`/authorize answered ${first.status}: ${first.text}`);
  }
  const pageUrl = new URL(first.location, authorizeUrl);
  if (pageUrl.pathname !== '/u/login' && pageUrl.pathname !== '/u/signup') {
    return { first, page: null, result: first };
  }
  const page = await get(pageUrl, jar);
  if (page.status !== 200) {
    throw new Error(`${pageUrl.pathname} answered ${page.status}: ${page.text}`);
  }
  const action = new URL(formAction(page.text), pageUrl);
  const result = await postForm(action, jar, {
    state: inputValue(page.text, 'state'),
    csrf: inputValue(page.text, 'csrf'),
    username,
    password,
  });
  return { first, page, result };
}
