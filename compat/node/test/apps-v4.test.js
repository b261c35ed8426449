'use strict';
// npm auth0 4.x: clients, client grants, resource servers and connections managers
// against castellan, and seed 000's machine-to-machine flow.
const test = require('node:test');
const assert = require('node:assert/strict');
const { ManagementClient, ManagementApiError, AuthenticationClient, AuthApiError } = require('auth0-v4');
const { domain, clientId, clientSecret, newTag } = require('../env');
const { verifyRs256, tokenRequest, cleanupList } = require('../apps');

const management = new ManagementClient({ domain, clientId, clientSecret });
const MGMT_AUDIENCE = `https://${domain}/api/v2/`;

async function rejectsWith(promise, statusCode, errorCode) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof ManagementApiError, `expected ManagementApiError, got ${err}`);
    assert.equal(err.statusCode, statusCode, `${err.message} ${err.body}`);
    if (errorCode) assert.equal(err.errorCode, errorCode, err.body);
    return true;
  });
}

test('v4 seed 000: M2M app, custom API, grant, token, revocation', async (t) => {
  const undo = cleanupList();
  t.after(() => undo.run());
  const tag = newTag();

  const app = await management.clients.create({ name: `Reporting job ${tag}`, app_type: 'non_interactive' });
  assert.equal(app.status, 201);
  undo.add(() => management.clients.delete({ client_id: app.data.client_id }));
  assert.match(app.data.client_id, /^[A-Za-z0-9]{32}$/);
  assert.deepEqual(app.data.grant_types, ['client_credentials']);

  const identifier = `https://orders-${tag}.example/`;
  const api = await management.resourceServers.create({
    name: `Orders ${tag}`,
    identifier,
    scopes: [{ value: 'read:orders', description: 'Read' }, { value: 'write:orders' }, { value: 'delete:orders' }],
    token_dialect: 'access_token_authz',
    enforce_policies: true,
  });
  assert.equal(api.status, 201);
  undo.add(() => management.resourceServers.delete({ id: api.data.id }));

  const auth = new AuthenticationClient({
    domain,
    clientId: app.data.client_id,
    clientSecret: app.data.client_secret,
  });
  await assert.rejects(auth.oauth.clientCredentialsGrant({ audience: identifier }), (err) => {
    assert.ok(err instanceof AuthApiError, String(err));
    assert.equal(err.statusCode, 403);
    assert.equal(err.error, 'access_denied');
    return true;
  });

  const grant = await management.clientGrants.create({
    client_id: app.data.client_id,
    audience: identifier,
    scope: ['read:orders', 'write:orders'],
  });
  assert.equal(grant.status, 201);
  assert.match(grant.data.id, /^cgr_/);

  const tok = await auth.oauth.clientCredentialsGrant({ audience: identifier });
  assert.equal(tok.data.token_type, 'Bearer');
  assert.equal(tok.data.expires_in, 86400);
  const claims = await verifyRs256(tok.data.access_token, identifier);
  assert.equal(claims.sub, `${app.data.client_id}@clients`);
  assert.deepEqual(claims.scope.split(' ').sort(), ['read:orders', 'write:orders']);
  assert.deepEqual([...claims.permissions].sort(), ['read:orders', 'write:orders']);

  // Narrowing the grant narrows new tokens.
  const narrowed = await management.clientGrants.update({ id: grant.data.id }, { scope: ['read:orders'] });
  assert.equal(narrowed.status, 200);
  assert.deepEqual(narrowed.data.scope, ['read:orders']);
  const tok2 = await auth.oauth.clientCredentialsGrant({ audience: identifier });
  assert.equal((await verifyRs256(tok2.data.access_token, identifier)).scope, 'read:orders');

  const del = await management.clients.delete({ client_id: app.data.client_id });
  assert.equal(del.status, 204);
  await assert.rejects(auth.oauth.clientCredentialsGrant({ audience: identifier }), (err) => {
    assert.ok(err instanceof AuthApiError, String(err));
    assert.equal(err.statusCode, 401);
    return true;
  });
  const left = await management.clientGrants.getAll({ client_id: app.data.client_id });
  assert.deepEqual(left.data, []);
});

// Node may run the test files in parallel: the list tests page over one app_type each
// (native here, spa in apps-v7), which no other node test creates.
test('v4 clients: get, fields, update, rotate secret, getAll paging, delete', async (t) => {
  const undo = cleanupList();
  t.after(() => undo.run());
  const tag = newTag();
  const ids = [];
  for (let i = 0; i < 3; i++) {
    const c = await management.clients.create({ name: `v4 ${tag} ${i}`, app_type: 'native' });
    undo.add(() => management.clients.delete({ client_id: c.data.client_id }));
    ids.push(c.data.client_id);
  }
  const created = (await management.clients.get({ client_id: ids[0] })).data;
  assert.equal(created.name, `v4 ${tag} 0`);
  assert.deepEqual(created.grant_types, ['authorization_code', 'implicit', 'refresh_token']);
  assert.equal(created.token_endpoint_auth_method, 'none');
  assert.ok(created.client_secret, 'the admin holds read:client_keys');

  const slim = await management.clients.get({ client_id: ids[0], fields: 'name,app_type', include_fields: true });
  assert.deepEqual(slim.data, { name: `v4 ${tag} 0`, app_type: 'native' });

  const updated = await management.clients.update(
    { client_id: ids[0] },
    { name: `v4 ${tag} renamed`, client_metadata: { tier: 'gold' }, allowed_origins: ['https://a.example'] },
  );
  assert.equal(updated.status, 200);
  assert.equal(updated.data.name, `v4 ${tag} renamed`);
  assert.deepEqual(updated.data.client_metadata, { tier: 'gold' });
  assert.deepEqual(updated.data.allowed_origins, ['https://a.example']);

  const rotated = await management.clients.rotateClientSecret({ client_id: ids[0] });
  assert.equal(rotated.status, 200);
  assert.notEqual(rotated.data.client_secret, created.client_secret);
  assert.equal((await tokenRequest(ids[0], created.client_secret, MGMT_AUDIENCE)).status, 401);

  // Offset paging over the native apps (what exists besides ours is not ours to count).
  const all = await management.clients.getAll({ app_type: 'native' });
  assert.ok(Array.isArray(all.data));
  const natives = all.data.map((c) => c.client_id);
  for (const id of ids) assert.ok(natives.includes(id), `${id} listed`);
  const seen = [];
  for (let page = 0; page * 2 < natives.length; page++) {
    const res = await management.clients.getAll({ app_type: 'native', page, per_page: 2, include_totals: true });
    assert.equal(res.data.total, natives.length);
    assert.equal(res.data.start, page * 2);
    assert.equal(res.data.limit, 2);
    seen.push(...res.data.clients.map((c) => c.client_id));
  }
  assert.deepEqual(seen, natives);
  const past = await management.clients.getAll({ app_type: 'native', page: 500, per_page: 2 });
  assert.deepEqual(past.data, []);

  // Checkpoint paging.
  const first = await management.clients.getAll({ app_type: 'native', take: 2 });
  let walked = first.data.clients.map((c) => c.client_id);
  let next = first.data.next;
  while (next) {
    const res = await management.clients.getAll({ app_type: 'native', take: 2, from: next });
    walked = walked.concat(res.data.clients.map((c) => c.client_id));
    next = res.data.next;
  }
  assert.deepEqual(walked, natives);

  const fieldsOnly = await management.clients.getAll({ fields: 'client_id', include_fields: true, app_type: 'native' });
  assert.ok(fieldsOnly.data.every((c) => Object.keys(c).join() === 'client_id'));

  const del = await management.clients.delete({ client_id: ids[2] });
  assert.equal(del.status, 204);
  await rejectsWith(management.clients.get({ client_id: ids[2] }), 404, 'inexistent_client');
  assert.equal((await management.clients.delete({ client_id: ids[2] })).status, 204);
  await rejectsWith(management.clients.create({ name: 'x', bogus: 1 }), 400, 'invalid_body');
});

test('v4 client grants and resource servers', async (t) => {
  const undo = cleanupList();
  t.after(() => undo.run());
  const tag = newTag();
  const app = (await management.clients.create({ name: `v4 grants ${tag}`, app_type: 'non_interactive' })).data;
  undo.add(() => management.clients.delete({ client_id: app.client_id }));
  const ident = `urn:v4:${tag}`;
  const api = await management.resourceServers.create({ identifier: ident, scopes: [{ value: 'a' }, { value: 'b' }] });
  undo.add(() => management.resourceServers.delete({ id: api.data.id }));
  assert.equal(api.data.name, ident);
  assert.equal(api.data.signing_alg, 'RS256');
  assert.equal(api.data.token_lifetime, 86400);

  // By id and by identifier (the SDK URL-encodes it).
  assert.deepEqual((await management.resourceServers.get({ id: api.data.id })).data, api.data);
  assert.deepEqual((await management.resourceServers.get({ id: ident })).data, api.data);
  const mgmt = await management.resourceServers.get({ id: MGMT_AUDIENCE });
  assert.equal(mgmt.data.is_system, true);
  const byIdent = await management.resourceServers.getAll({ identifiers: [ident, MGMT_AUDIENCE] });
  assert.deepEqual(byIdent.data.map((r) => r.identifier).sort(), [ident, MGMT_AUDIENCE].sort());
  const paged = await management.resourceServers.getAll({ page: 0, per_page: 1, include_totals: true });
  assert.equal(paged.data.resource_servers.length, 1);
  assert.ok(paged.data.total >= 2);

  const upd = await management.resourceServers.update({ id: api.data.id }, { token_lifetime: 1200, name: `API ${tag}` });
  assert.equal(upd.status, 200);
  assert.equal(upd.data.token_lifetime, 1200);
  assert.equal(upd.data.name, `API ${tag}`);
  await rejectsWith(management.resourceServers.create({ identifier: ident }), 409, 'resource_server_conflict');
  await rejectsWith(management.resourceServers.update({ id: MGMT_AUDIENCE }, { name: 'Mine' }), 400, 'operation_not_supported');

  const g = await management.clientGrants.create({ client_id: app.client_id, audience: ident, scope: ['a'] });
  assert.equal(g.status, 201);
  const listed = await management.clientGrants.getAll({ audience: ident });
  assert.deepEqual(listed.data, [g.data]);
  const env = await management.clientGrants.getAll({ client_id: app.client_id, include_totals: true, per_page: 10, page: 0 });
  assert.equal(env.data.total, 1);
  assert.deepEqual(env.data.client_grants, [g.data]);
  const ck = await management.clientGrants.getAll({ client_id: app.client_id, take: 10 });
  assert.deepEqual(ck.data.client_grants, [g.data]);
  assert.equal(ck.data.next, undefined);
  const upd2 = await management.clientGrants.update({ id: g.data.id }, { scope: ['a', 'b'] });
  assert.deepEqual(upd2.data.scope, ['a', 'b']);
  const tok = await tokenRequest(app.client_id, app.client_secret, ident);
  assert.equal(tok.status, 200, JSON.stringify(tok.body));
  assert.equal(tok.body.scope, 'a b');
  assert.equal(tok.body.expires_in, 1200);

  await rejectsWith(management.clientGrants.create({ client_id: app.client_id, audience: ident, scope: [] }), 409, 'client_grant_conflict');
  await rejectsWith(management.clientGrants.create({ client_id: app.client_id, audience: 'urn:nowhere', scope: [] }), 404, 'inexistent_resource_server');
  assert.equal((await management.clientGrants.delete({ id: g.data.id })).status, 204);
  assert.equal((await management.clientGrants.delete({ id: g.data.id })).status, 204);
  await rejectsWith(management.clientGrants.update({ id: g.data.id }, { scope: [] }), 404, 'inexistent_client_grant');
  assert.equal((await tokenRequest(app.client_id, app.client_secret, ident)).status, 403);

  assert.equal((await management.resourceServers.delete({ id: api.data.id })).status, 204);
  assert.equal((await management.resourceServers.delete({ id: api.data.id })).status, 204);
  await rejectsWith(management.resourceServers.get({ id: api.data.id }), 404);
});

test('v4 connections: CRUD, enabled clients, delete is 202', async (t) => {
  const undo = cleanupList();
  t.after(() => undo.run());
  const tag = newTag();
  const name = `v4-${tag}`;
  const c = await management.connections.create({
    name,
    strategy: 'auth0',
    options: { passwordPolicy: 'fair' },
    enabled_clients: [clientId],
  });
  assert.equal(c.status, 201);
  const id = c.data.id;
  undo.add(() => management.connections.delete({ id }));
  assert.match(id, /^con_[A-Za-z0-9]{16}$/);
  assert.deepEqual(c.data.realms, [name]);
  assert.deepEqual(c.data.enabled_clients, [clientId]);

  assert.deepEqual((await management.connections.get({ id })).data, c.data);
  assert.deepEqual(
    (await management.connections.get({ id, fields: 'id,strategy', include_fields: true })).data,
    { id, strategy: 'auth0' },
  );
  const byName = await management.connections.getAll({ name });
  assert.deepEqual(byName.data.map((x) => x.id), [id]);
  const byStrategy = await management.connections.getAll({ strategy: ['auth0'] });
  assert.ok(byStrategy.data.some((x) => x.id === id));
  const none = await management.connections.getAll({ strategy: ['google-oauth2'], name });
  assert.deepEqual(none.data, []);
  const ck = await management.connections.getAll({ take: 1 });
  assert.equal(ck.data.connections.length, 1);
  assert.ok(ck.data.next);

  const upd = await management.connections.update({ id }, { options: { passwordPolicy: 'low' }, display_name: 'V4' });
  assert.equal(upd.status, 200);
  assert.deepEqual(upd.data.options, { passwordPolicy: 'low' });
  assert.equal(upd.data.display_name, 'V4');

  const other = (await management.clients.create({ name: `v4 conn ${tag}`, app_type: 'regular_web' })).data;
  undo.add(() => management.clients.delete({ client_id: other.client_id }));
  const patched = await management.connections.updateEnabledClients({ id }, [{ client_id: other.client_id, status: true }]);
  assert.equal(patched.status, 204);
  const first = await management.connections.getEnabledClients({ id, take: 1 });
  assert.equal(first.status, 200);
  assert.equal(first.data.clients.length, 1);
  assert.ok(first.data.next);
  const second = await management.connections.getEnabledClients({ id, take: 1, from: first.data.next });
  assert.equal(second.data.clients.length, 1);
  assert.equal(second.data.next, undefined);
  assert.deepEqual(
    [...first.data.clients, ...second.data.clients].map((x) => x.client_id).sort(),
    [clientId, other.client_id].sort(),
  );
  await management.connections.updateEnabledClients({ id }, [{ client_id: other.client_id, status: false }]);
  assert.deepEqual((await management.connections.getEnabledClients({ id })).data.clients, [{ client_id: clientId }]);

  await rejectsWith(management.connections.create({ name, strategy: 'auth0' }), 409, 'connection_conflict');
  const del = await management.connections.delete({ id });
  assert.equal(del.status, 202);
  await rejectsWith(management.connections.get({ id }), 404, 'inexistent_connection');
  await rejectsWith(management.connections.delete({ id }), 404, 'inexistent_connection');
});
