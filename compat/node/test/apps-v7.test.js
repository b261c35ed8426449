'use strict';
// npm auth0 7.x (Fern client): clients, clientGrants, resourceServers, connections
// (and connections.clients) against castellan, and seed 000's machine-to-machine flow.
const test = require('node:test');
const assert = require('node:assert/strict');
const { ManagementClient, ManagementError } = require('auth0-v7');
const { domain, clientId, clientSecret, newTag } = require('../env');
const { verifyRs256, tokenRequest, cleanupList } = require('../apps');

const management = new ManagementClient({ domain, clientId, clientSecret });
const MGMT_AUDIENCE = `https://${domain}/api/v2/`;

async function rejectsWith(promise, statusCode, errorCode) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof ManagementError, `expected ManagementError, got ${err}`);
    assert.equal(err.statusCode, statusCode, `${err.message} ${JSON.stringify(err.body)}`);
    if (errorCode) assert.equal(err.body && err.body.errorCode, errorCode, JSON.stringify(err.body));
    return true;
  });
}

async function collect(page, key = (x) => x) {
  const out = [];
  for await (const item of page) out.push(key(item));
  return out;
}

test('v7 seed 000: M2M app, custom API, grant, token, revocation', async (t) => {
  const undo = cleanupList();
  t.after(() => undo.run());
  const tag = newTag();

  const app = await management.clients.create({ name: `Reporting job ${tag}`, app_type: 'non_interactive' });
  undo.add(() => management.clients.delete(app.client_id));
  assert.match(app.client_id, /^[A-Za-z0-9]{32}$/);
  assert.ok(app.client_secret);
  assert.deepEqual(app.grant_types, ['client_credentials']);

  const identifier = `https://orders-${tag}.example/`;
  const api = await management.resourceServers.create({
    name: `Orders ${tag}`,
    identifier,
    scopes: [{ value: 'read:orders' }, { value: 'write:orders' }, { value: 'delete:orders' }],
    token_dialect: 'access_token_authz',
  });
  undo.add(() => management.resourceServers.delete(api.id));
  assert.equal(api.token_dialect, 'access_token_authz');

  const denied = await tokenRequest(app.client_id, app.client_secret, identifier);
  assert.equal(denied.status, 403);
  assert.equal(denied.body.error, 'access_denied');

  const grant = await management.clientGrants.create({
    client_id: app.client_id,
    audience: identifier,
    scope: ['read:orders', 'write:orders'],
  });
  assert.match(grant.id, /^cgr_/);
  assert.deepEqual(await management.clientGrants.get(grant.id), grant);

  const tok = await tokenRequest(app.client_id, app.client_secret, identifier);
  assert.equal(tok.status, 200, JSON.stringify(tok.body));
  const claims = await verifyRs256(tok.body.access_token, identifier);
  assert.equal(claims.azp, app.client_id);
  assert.deepEqual(claims.scope.split(' ').sort(), ['read:orders', 'write:orders']);
  assert.deepEqual([...claims.permissions].sort(), ['read:orders', 'write:orders']);

  // The new app, given a Management API grant, drives the SDK itself.
  const mgmtGrant = await management.clientGrants.create({
    client_id: app.client_id,
    audience: MGMT_AUDIENCE,
    scope: ['read:clients'],
  });
  undo.add(() => management.clientGrants.delete(mgmtGrant.id));
  const limited = new ManagementClient({ domain, clientId: app.client_id, clientSecret: app.client_secret });
  const self = await limited.clients.get(app.client_id);
  assert.equal(self.name, `Reporting job ${tag}`);
  assert.equal(self.client_secret, undefined, 'no client_secret without read:client_keys');
  await rejectsWith(limited.clients.create({ name: 'nope' }), 403, 'insufficient_scope');

  const del = await management.clients.delete(app.client_id).withRawResponse();
  assert.equal(del.rawResponse.status, 204);
  assert.equal((await tokenRequest(app.client_id, app.client_secret, identifier)).status, 401);
  const left = await collect(await management.clientGrants.list({ client_id: app.client_id }));
  assert.deepEqual(left, []);
});

// Node may run the test files in parallel: the list tests page over one app_type each
// (spa here, native in apps-v4), which no other node test creates.
test('v7 clients: list pages, get with fields, update, rotateSecret, delete', async (t) => {
  const undo = cleanupList();
  t.after(() => undo.run());
  const tag = newTag();
  const ids = [];
  for (let i = 0; i < 3; i++) {
    const c = await management.clients.create({ name: `v7 ${tag} ${i}`, app_type: 'spa' });
    undo.add(() => management.clients.delete(c.client_id));
    ids.push(c.client_id);
  }
  // Defaults: page=0, per_page=50, include_totals=true; iterates until an empty page.
  const all = await collect(await management.clients.list({ app_type: 'spa' }), (c) => c.client_id);
  for (const id of ids) assert.ok(all.includes(id), `${id} listed`);
  assert.equal(new Set(all).size, all.length, 'no client listed twice');
  // Explicit per_page: pages 0, 1, ... until a short page.
  const page = await management.clients.list({ app_type: 'spa', per_page: 2 });
  assert.equal(page.response.total, all.length);
  assert.equal(page.response.limit, 2);
  assert.deepEqual(await collect(page, (c) => c.client_id), all);

  const got = await management.clients.get(ids[0], { fields: 'client_id,name', include_fields: true });
  assert.deepEqual(got, { client_id: ids[0], name: `v7 ${tag} 0` });
  const full = await management.clients.get(ids[0]);
  assert.equal(full.token_endpoint_auth_method, 'none');

  const updated = await management.clients.update(ids[0], { description: 'seven', web_origins: ['https://w.example'] });
  assert.equal(updated.description, 'seven');
  assert.deepEqual(updated.web_origins, ['https://w.example']);
  const rotated = await management.clients.rotateSecret(ids[0]);
  assert.notEqual(rotated.client_secret, full.client_secret);
  assert.equal((await management.clients.get(ids[0])).client_secret, rotated.client_secret);

  await management.clients.delete(ids[1]);
  await rejectsWith(management.clients.get(ids[1]), 404, 'inexistent_client');
  await rejectsWith(management.clients.update(ids[1], { name: 'x' }), 404, 'inexistent_client');
  await rejectsWith(management.clients.create({ description: 'no name' }), 400, 'invalid_body');
});

test('v7 client grants and resource servers', async (t) => {
  const undo = cleanupList();
  t.after(() => undo.run());
  const tag = newTag();
  const app = await management.clients.create({ name: `v7 grants ${tag}`, app_type: 'non_interactive' });
  undo.add(() => management.clients.delete(app.client_id));
  const apis = [];
  for (let i = 0; i < 3; i++) {
    const api = await management.resourceServers.create({ identifier: `urn:v7:${tag}:${i}`, scopes: [{ value: 's' }] });
    undo.add(() => management.resourceServers.delete(api.id));
    apis.push(api);
  }
  assert.equal(apis[0].name, `urn:v7:${tag}:0`);
  assert.deepEqual(await management.resourceServers.get(apis[0].id), apis[0]);
  assert.deepEqual(await management.resourceServers.get(apis[0].identifier), apis[0]);

  const listed = await collect(await management.resourceServers.list({ per_page: 2 }), (r) => r.identifier);
  assert.ok(listed.includes(MGMT_AUDIENCE));
  for (const a of apis) assert.ok(listed.includes(a.identifier));
  const some = await collect(
    await management.resourceServers.list({ identifiers: [apis[0].identifier, apis[2].identifier] }),
    (r) => r.id,
  );
  assert.deepEqual(some.sort(), [apis[0].id, apis[2].id].sort());

  const upd = await management.resourceServers.update(apis[1].id, { token_lifetime: 900, allow_offline_access: true });
  assert.equal(upd.token_lifetime, 900);
  assert.equal(upd.allow_offline_access, true);
  await rejectsWith(management.resourceServers.create({ identifier: apis[1].identifier }), 409);
  await rejectsWith(management.resourceServers.delete(MGMT_AUDIENCE), 400, 'operation_not_supported');

  const grants = [];
  for (const api of apis) {
    grants.push(await management.clientGrants.create({ client_id: app.client_id, audience: api.identifier, scope: ['s'] }));
  }
  // Checkpoint list (take=50 by default), and with a small take across pages.
  const mine = await collect(await management.clientGrants.list({ client_id: app.client_id }), (g) => g.id);
  assert.deepEqual(mine.sort(), grants.map((g) => g.id).sort());
  const small = await management.clientGrants.list({ client_id: app.client_id, take: 2 });
  assert.equal(small.data.length, 2);
  assert.ok(small.response.next);
  assert.deepEqual((await collect(small, (g) => g.id)).sort(), grants.map((g) => g.id).sort());
  const byAudience = await collect(await management.clientGrants.list({ audience: apis[1].identifier }), (g) => g.id);
  assert.deepEqual(byAudience, [grants[1].id]);

  const patched = await management.clientGrants.update(grants[0].id, { scope: [] });
  assert.deepEqual(patched.scope, []);
  assert.equal((await tokenRequest(app.client_id, app.client_secret, apis[0].identifier)).body.scope, '');
  const withLifetime = await tokenRequest(app.client_id, app.client_secret, apis[1].identifier);
  assert.equal(withLifetime.body.expires_in, 900);

  const gdel = await management.clientGrants.delete(grants[0].id).withRawResponse();
  assert.equal(gdel.rawResponse.status, 204);
  await rejectsWith(management.clientGrants.get(grants[0].id), 404, 'inexistent_client_grant');

  const rdel = await management.resourceServers.delete(apis[2].id).withRawResponse();
  assert.equal(rdel.rawResponse.status, 204);
  await rejectsWith(management.clientGrants.get(grants[2].id), 404, 'inexistent_client_grant');
  await rejectsWith(management.resourceServers.get(apis[2].id), 404);
});

test('v7 connections: list, get, update, clients.get pages, clients.update, delete', async (t) => {
  const undo = cleanupList();
  t.after(() => undo.run());
  const tag = newTag();
  const name = `v7-${tag}`;
  const conn = await management.connections.create({ name, strategy: 'auth0', enabled_clients: [clientId] });
  undo.add(() => management.connections.delete(conn.id));
  assert.match(conn.id, /^con_[A-Za-z0-9]{16}$/);
  assert.equal(conn.options.passwordPolicy, 'good', 'new auth0 connections default to good');
  assert.deepEqual(await management.connections.get(conn.id), conn);
  assert.deepEqual(await management.connections.get(conn.id, { fields: 'name', include_fields: true }), { name });

  // list: take=50 and include_totals=true by default; checkpoint wins.
  const all = await collect(await management.connections.list(), (c) => c.name);
  assert.ok(all.includes(name) && all.includes('Username-Password-Authentication'));
  assert.equal(new Set(all).size, all.length, 'no connection listed twice');
  const small = await collect(await management.connections.list({ take: 1 }), (c) => c.name);
  assert.equal(new Set(small).size, small.length, 'no connection listed twice');
  // Other suites may add or remove connections meanwhile: compare what both walks saw.
  assert.ok(small.includes(name) && small.includes('Username-Password-Authentication'));
  assert.deepEqual(
    small.filter((n) => all.includes(n)),
    all.filter((n) => small.includes(n)),
  );
  assert.deepEqual(await collect(await management.connections.list({ name }), (c) => c.id), [conn.id]);
  assert.deepEqual(await collect(await management.connections.list({ strategy: ['auth0'], name }), (c) => c.id), [conn.id]);

  const updated = await management.connections.update(conn.id, { options: { passwordPolicy: 'none' }, display_name: 'Seven' });
  assert.deepEqual(updated.options, { passwordPolicy: 'none' });
  assert.equal(updated.display_name, 'Seven');

  const extra = [];
  for (let i = 0; i < 2; i++) {
    const c = await management.clients.create({ name: `v7 conn ${tag} ${i}`, app_type: 'regular_web' });
    undo.add(() => management.clients.delete(c.client_id));
    extra.push(c.client_id);
  }
  const upd = await management.connections.clients
    .update(conn.id, extra.map((id) => ({ client_id: id, status: true })))
    .withRawResponse();
  assert.equal(upd.rawResponse.status, 204);
  const enabledPage = await management.connections.clients.get(conn.id, { take: 2 });
  assert.equal(enabledPage.data.length, 2);
  const enabled = await collect(enabledPage, (c) => c.client_id);
  assert.deepEqual(enabled.sort(), [clientId, ...extra].sort());
  await management.connections.clients.update(conn.id, [{ client_id: extra[0], status: false }]);
  const after = await collect(await management.connections.clients.get(conn.id), (c) => c.client_id);
  assert.deepEqual(after.sort(), [clientId, extra[1]].sort());
  await rejectsWith(management.connections.clients.update(conn.id, [{ client_id: extra[0] }]), 400);

  const del = await management.connections.delete(conn.id).withRawResponse();
  assert.equal(del.rawResponse.status, 202);
  await rejectsWith(management.connections.get(conn.id), 404, 'inexistent_connection');
  await rejectsWith(management.connections.create({ name: 'bad name', strategy: 'auth0' }), 400);
});
