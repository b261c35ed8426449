'use strict';
// npm auth0 7.x (Fern-generated client: users.list returns an async-iterable Page)
// against castellan.
const test = require('node:test');
const assert = require('node:assert/strict');
const { ManagementClient, ManagementError } = require('auth0-v7');
const { domain, clientId, clientSecret, CONNECTION, MISSING_ID, newTag, userBody } = require('../env');

// The client fetches its own token (form-encoded client_credentials, spec 5.2).
const management = new ManagementClient({ domain, clientId, clientSecret });

async function rejectsWith(promise, statusCode, errorCode) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof ManagementError, `expected ManagementError, got ${err}`);
    assert.equal(err.statusCode, statusCode, `${err.message} ${JSON.stringify(err.body)}`);
    if (errorCode) assert.equal(err.body && err.body.errorCode, errorCode, JSON.stringify(err.body));
    return true;
  });
}

async function collect(page) {
  const ids = [];
  for await (const user of page) ids.push(user.user_id);
  return ids;
}

test('v7: create, get, update (metadata merge), delete', async () => {
  const tag = newTag();
  const created = await management.users.create(userBody(tag, 1, { user_metadata: { theme: 'light' } }));
  const id = created.user_id;
  assert.match(id, /^auth0\|[0-9a-f]{24}$/);
  assert.equal(created.email, `user1@${tag}.example.com`);
  assert.equal(created.identities[0].connection, CONNECTION);

  const got = await management.users.get(id);
  assert.equal(got.user_id, id);
  assert.deepEqual(got.user_metadata, { theme: 'light' });

  const updated = await management.users.update(id, {
    name: 'Renamed',
    user_metadata: { font_size: '16px' },
    app_metadata: { winner: true },
  });
  assert.equal(updated.name, 'Renamed');
  assert.deepEqual(updated.user_metadata, { theme: 'light', font_size: '16px' });
  assert.deepEqual(updated.app_metadata, { tag, winner: true });

  const byEmail = await management.users.listUsersByEmail({ email: created.email });
  assert.deepEqual(byEmail.map((u) => u.user_id), [id]);

  const deleted = await management.users.delete(id).withRawResponse();
  assert.equal(deleted.rawResponse.status, 204);
  await rejectsWith(management.users.get(id), 404, 'inexistent_user');
  const again = await management.users.delete(id).withRawResponse(); // missing user: 204 too
  assert.equal(again.rawResponse.status, 204);
});

test('v7: list iterates all pages', async () => {
  const tag = newTag();
  const ids = [];
  for (let i = 0; i < 5; i++) {
    ids.push((await management.users.create(userBody(tag, i))).user_id);
  }
  const q = `app_metadata.tag:${tag}`;

  // Explicit per_page: v7 sends page=0,1,2 and stops on the short page.
  const page = await management.users.list({ q, search_engine: 'v3', per_page: 2 });
  assert.equal(page.response.total, 5);
  assert.equal(page.response.start, 0);
  assert.equal(page.response.limit, 2);
  assert.equal(page.data.length, 2);
  const paged = await collect(page);
  assert.deepEqual([...paged].sort(), [...ids].sort());

  // Defaults (page=0, per_page=50, include_totals=true): stops on an empty page.
  const all = await collect(await management.users.list({ q, search_engine: 'v3' }));
  assert.deepEqual([...all].sort(), [...ids].sort());

  // Explicit page navigation
  const second = await management.users.list({ q, search_engine: 'v3', per_page: 2, page: 1 });
  assert.equal(second.response.start, 2);
  assert.equal(second.data.length, 2);

  const sorted = await management.users.list({ q, search_engine: 'v3', sort: 'email:1' });
  assert.deepEqual(
    sorted.data.map((u) => u.email),
    [0, 1, 2, 3, 4].map((i) => `user${i}@${tag}.example.com`),
  );
});

test('v7: errors', async () => {
  await rejectsWith(management.users.get(MISSING_ID), 404, 'inexistent_user');
  const tag = newTag();
  await management.users.create(userBody(tag, 1));
  await rejectsWith(management.users.create(userBody(tag, 1)), 409, 'auth0_idp_error');
  await rejectsWith(management.users.create({ ...userBody(tag, 2), enabled: true }), 400, 'invalid_body');
});
