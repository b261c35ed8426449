// authhero 0.162 on SQLite (its kysely adapter, better-sqlite3) as a peer
// for castellan-bench: client-credentials tokens and the Management API's
// user endpoints (search, get, patch).
//
// - The primary process creates the schema (the adapter's migrations), seeds
//   one tenant, an RS256 signing key, a database connection and a
//   machine-to-machine application with a secret (authhero 0.162 has no
//   resource servers or client grants: a token carries the audience and
//   scopes the request asks for), loads USERS_FILE (JSON lines from
//   `castellan-bench dump-users`) into the users table, then forks WORKERS
//   processes that serve HTTPS on 127.0.0.1:PORT with the certificate of a
//   castellan data dir (TLS_DIR), as the oidc-provider peer does.
// - Shim: authhero's Management API reads the tenant from a `tenant-id`
//   request header (Auth0 has none, the load tool sends none). Each worker
//   appends `tenant-id: TENANT` to requests that lack it before authhero sees
//   them: a scan of the raw headers and one push per request.
// - The Management API checks bearer tokens against the JWKS it fetches
//   through env.JWKS_SERVICE on every request (a service binding on
//   Cloudflare); here that fetch is answered in-process by authhero's own
//   /.well-known/jwks.json route, without a socket.
// - SQLite runs in WAL mode (several processes share the file).
//
// Env: TLS_DIR (required), PORT (9444), WORKERS (cores), DB (the SQLite
// file), USERS_FILE and USERS (its line count: skip it when the store holds
// that many), PID_FILE, TENANT, CLIENT_ID, CLIENT_SECRET.
import cluster from 'node:cluster';
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import createAdapters, { migrateToLatest } from '@authhero/kysely-adapter';
import { init } from 'authhero';
import { getRequestListener } from '@hono/node-server';

const PORT = Number(process.env.PORT || 9444);
const WORKERS = Number(process.env.WORKERS || os.availableParallelism());
const DB = process.env.DB || '/tmp/authhero-bench/authhero.db';
const TENANT = process.env.TENANT || 'bench';
const CLIENT_ID = process.env.CLIENT_ID || 'bench-client';
const CLIENT_SECRET = process.env.CLIENT_SECRET || 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const CONNECTION = 'Username-Password-Authentication';

function open() {
  const sqlite = new Database(DB);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  const db = new Kysely({ dialect: new SqliteDialect({ database: sqlite }) });
  return { sqlite, db, data: createAdapters(db) };
}

async function seed({ sqlite, db, data }, createKey) {
  await migrateToLatest(db);
  if (!(await data.tenants.get(TENANT))) {
    await data.tenants.create({
      id: TENANT,
      name: 'castellan-bench',
      audience: 'https://api.bench/',
      sender_email: 'bench@localhost',
      sender_name: 'castellan-bench',
    });
    await data.keys.create({ ...(await createKey({ name: 'CN=castellan-bench' })), tenant_id: TENANT });
    await data.connections.create(TENANT, { id: 'bench-db', name: CONNECTION, strategy: 'auth0', options: {} });
    await data.applications.create(TENANT, {
      id: CLIENT_ID,
      name: 'castellan-bench m2m',
      client_secret: CLIENT_SECRET,
      callbacks: [],
      allowed_origins: [],
      web_origins: [],
      allowed_logout_urls: [],
      allowed_clients: [],
      addons: {},
      disable_sign_ups: true,
    });
  }
  const file = process.env.USERS_FILE;
  if (!file) return;
  const have = sqlite.prepare('SELECT count(*) AS n FROM users WHERE tenant_id = ?').get(TENANT).n;
  if (have >= Number(process.env.USERS || Infinity)) return;
  const started = Date.now();
  const insert = sqlite.prepare(`INSERT OR IGNORE INTO users (user_id, tenant_id, email, given_name, family_name,
      nickname, name, picture, created_at, updated_at, last_ip, login_count, last_login, provider, connection,
      email_verified, is_social, app_metadata, user_metadata)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const flush = sqlite.transaction((rows) => {
    for (const u of rows) {
      const id = u.identities[0];
      insert.run(u.user_id, TENANT, u.email, u.given_name, u.family_name, u.nickname, u.name, u.picture,
        u.created_at, u.updated_at, u.last_ip ?? null, u.logins_count ?? 0, u.last_login ?? null,
        id.provider, id.connection, u.email_verified ? 1 : 0, 0,
        JSON.stringify(u.app_metadata ?? {}), JSON.stringify(u.user_metadata ?? {}));
    }
  });
  let rows = [];
  let seen = 0;
  for await (const line of readline.createInterface({ input: createReadStream(file) })) {
    if (!line) continue;
    seen += 1;
    if (seen <= have) continue; // users are dumped in order: the first `have` are there
    rows.push(JSON.parse(line));
    if (rows.length === 5000) {
      flush(rows);
      rows = [];
    }
  }
  flush(rows);
  const now = sqlite.prepare('SELECT count(*) AS n FROM users WHERE tenant_id = ?').get(TENANT).n;
  console.error(`authhero peer: ${now} users in ${DB} (${now - have} loaded in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

if (cluster.isPrimary) {
  const store = open();
  await seed(store, init({ dataAdapter: store.data }).createX509Certificate);
  store.sqlite.close();
  const pids = [process.pid];
  for (let i = 0; i < WORKERS; i += 1) pids.push(cluster.fork().process.pid);
  if (process.env.PID_FILE) writeFileSync(process.env.PID_FILE, pids.join(','));
  const stop = () => {
    for (const w of Object.values(cluster.workers)) w.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  const { data } = open();
  const { app } = init({ dataAdapter: data });
  const issuer = `https://localhost:${PORT}/`;
  const env = {
    ISSUER: issuer,
    AUTH_URL: issuer,
    JWKS_URL: `${issuer}.well-known/jwks.json`,
    JWKS_SERVICE: { fetch: (url) => app.fetch(new Request(url), env) },
  };
  const listener = getRequestListener((req) => app.fetch(req, env));
  const dir = process.env.TLS_DIR;
  const server = https.createServer({
    cert: readFileSync(path.join(dir, 'server.pem')),
    key: readFileSync(path.join(dir, 'server-key.pem')),
    keepAliveTimeout: 60_000,
  }, (req, res) => {
    const raw = req.rawHeaders;
    let has = false;
    for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === 'tenant-id') has = true;
    if (!has) raw.push('tenant-id', TENANT);
    listener(req, res);
  });
  server.listen(PORT, '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
}
