'use strict';
// npm auth0 4.x (v4 API: managers returning {data, headers, status}) against castellan.
const test = require('node:test');
const assert = require('node:assert/strict');
const { ManagementClient, ManagementApiError } = require('auth0-v4');
const { domain, clientId, clientSecret, CONNECTION, MISSING_ID, newTag, userBody } = require('../env');

// The client fetches its own token (form-encoded client_credentials, spec 5.2).
const management = new ManagementClient({ domain, clientId, clientSecret });

async function rejectsWith(promise, statusCode, errorCode) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof ManagementApiError, `expected ManagementApiError, got ${err}`);
    assert.equal(err.statusCode, statusCode, `${err.message} ${err.body}`);
    if (errorCode) assert.equal(err.errorCode, errorCode, err.body);
    return true;
  });
}

test('v4: create, get, update (metadata merge), delete', async () => {
  const tag = newTag();
  const created = await management.users.create(userBody(tag, 1, { user_metadata: { theme: 'light' } }));
  assert.equal(created.status, 201);
  const id = created.data.user_id;
  assert.match(id, /^auth0\|[0-9a-f]{24}$/);
  assert.equal(created.data.email, `user1@${tag}.example.com`);
  assert.equal(created.data.identities[0].connection, CONNECTION);

  const got = await management.users.get({ id });
  assert.equal(got.status, 200);
  assert.equal(got.data.user_id, id);
  assert.deepEqual(got.data.user_metadata, { theme: 'light' });

  const updated = await management.users.update(
    { id },
    { name: 'Renamed', user_metadata: { font_size: '16px' }, app_metadata: { winner: true } },
  );
  assert.equal(updated.status, 200);
  assert.equal(updated.data.name, 'Renamed');
  assert.deepEqual(updated.data.user_metadata, { theme: 'light', font_size: '16px' });
  assert.deepEqual(updated.data.app_metadata, { tag, winner: true });

  const byEmail = await management.usersByEmail.getByEmail({ email: created.data.email });
  assert.deepEqual(byEmail.data.map((u) => u.user_id), [id]);

  const deleted = await management.users.delete({ id });
  assert.equal(deleted.status, 204);
  await rejectsWith(management.users.get({ id }), 404, 'inexistent_user');
  const again = await management.users.delete({ id }); // deleting a missing user is 204 too
  assert.equal(again.status, 204);
});

test('v4: getAll paging with include_totals', async () => {
  const tag = newTag();
  const ids = [];
  for (let i = 0; i < 5; i++) {
    ids.push((await management.users.create(userBody(tag, i))).data.user_id);
  }
  const q = `app_metadata.tag:${tag}`;
  const seen = [];
  for (let page = 0; page < 3; page++) {
    const res = await management.users.getAll({ q, search_engine: 'v3', per_page: 2, page, include_totals: true });
    assert.equal(res.status, 200);
    assert.equal(res.data.start, page * 2);
    assert.equal(res.data.limit, 2);
    assert.equal(res.data.total, 5);
    assert.equal(res.data.length, res.data.users.length);
    assert.equal(res.data.users.length, page < 2 ? 2 : 1);
    seen.push(...res.data.users.map((u) => u.user_id));
  }
  assert.deepEqual([...seen].sort(), [...ids].sort());

  const past = await management.users.getAll({ q, search_engine: 'v3', per_page: 2, page: 9, include_totals: true });
  assert.deepEqual(past.data.users, []);

  // Without paging parameters v4 sends only q/search_engine and expects a bare array.
  const plain = await management.users.getAll({ q, search_engine: 'v3' });
  assert.ok(Array.isArray(plain.data), 'getAll without include_totals returns an array');
  assert.deepEqual(plain.data.map((u) => u.user_id).sort(), [...ids].sort());

  const sorted = await management.users.getAll({ q, search_engine: 'v3', sort: 'email:-1' });
  assert.deepEqual(
    sorted.data.map((u) => u.email),
    [4, 3, 2, 1, 0].map((i) => `user${i}@${tag}.example.com`),
  );
});

test('v4: errors', async () => {
  await rejectsWith(management.users.get({ id: MISSING_ID }), 404, 'inexistent_user');
  const tag = newTag();
  await management.users.create(userBody(tag, 1));
  await rejectsWith(management.users.create(userBody(tag, 1)), 409, 'auth0_idp_error');
  await rejectsWith(management.users.create({ ...userBody(tag, 2), enabled: true }), 400, 'invalid_body');
  await rejectsWith(
    management.users.getAll({ q: 'name:"unterminated', search_engine: 'v3' }),
    400,
    'invalid_query_string',
  );
});
