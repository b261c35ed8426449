'use strict';
// npm auth0 7.x (Fern-generated client: lists return async-iterable Pages) against
// castellan: roles CRUD, role permissions and users (checkpoint pages), a user's roles
// and effective permissions. Permissions come from the Management API itself.
const test = require('node:test');
const assert = require('node:assert/strict');
const { ManagementClient, ManagementError } = require('auth0-v7');
const { domain, clientId, clientSecret, newTag, userBody } = require('../env');

const management = new ManagementClient({ domain, clientId, clientSecret });
const audience = `https://${domain}/api/v2/`;
const perm = (name) => ({ resource_server_identifier: audience, permission_name: name });

async function rejectsWith(promise, statusCode, message) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof ManagementError, `expected ManagementError, got ${err}`);
    assert.equal(err.statusCode, statusCode, `${err.message} ${JSON.stringify(err.body)}`);
    if (message) assert.equal(err.body && err.body.message, message);
    return true;
  });
}

async function collect(page, key) {
  const out = [];
  for await (const item of page) out.push(item[key]);
  return out;
}

test('v7: role CRUD and paged lists', async () => {
  const tag = newTag();
  const made = [];
  try {
    for (const base of ['c', 'a', 'b']) {
      made.push(await management.roles.create({ name: `${base}-${tag}`, description: `${base} role` }));
    }
    const role = made[1];
    assert.match(role.id, /^rol_[A-Za-z0-9]{16}$/);
    assert.deepEqual(await management.roles.get(role.id), role);
    const updated = await management.roles.update(role.id, { name: `a2-${tag}` });
    assert.deepEqual(updated, { ...role, name: `a2-${tag}` });

    // Defaults (page=0, per_page=50, include_totals=true): stops on an empty page.
    const all = await collect(await management.roles.list({ name_filter: tag }), 'name');
    assert.deepEqual(all, [`a2-${tag}`, `b-${tag}`, `c-${tag}`]);
    // per_page=2: pages 0 and 1, stops on the short page.
    const page = await management.roles.list({ name_filter: tag, per_page: 2 });
    assert.equal(page.response.total, 3);
    assert.deepEqual(await collect(page, 'name'), all);

    await rejectsWith(management.roles.create({ name: `b-${tag}` }), 409, 'The role already exists.');
    const deleted = await management.roles.delete(role.id).withRawResponse();
    assert.equal(deleted.rawResponse.status, 200);
    await rejectsWith(management.roles.get(role.id), 404, 'The role does not exist.');
  } finally {
    for (const r of made) {
      await management.roles.delete(r.id).catch(() => {});
    }
  }
});

test('v7: permissions, checkpoint members, user roles and permissions', async () => {
  const tag = newTag();
  const role = await management.roles.create({ name: `team-${tag}` });
  const users = [];
  try {
    for (let i = 0; i < 3; i++) users.push(await management.users.create(userBody(tag, i)));
    const ids = users.map((u) => u.user_id).sort();

    await management.roles.permissions.add(role.id, { permissions: [perm('read:users'), perm('read:roles')] });
    const perms = await collect(await management.roles.permissions.list(role.id), 'permission_name');
    assert.deepEqual(perms, ['read:roles', 'read:users']);
    await management.roles.permissions.delete(role.id, { permissions: [perm('read:roles')] });
    assert.deepEqual(await collect(await management.roles.permissions.list(role.id), 'permission_name'), ['read:users']);
    await rejectsWith(
      management.roles.permissions.add(role.id, { permissions: [{ resource_server_identifier: 'https://nope/', permission_name: 'x' }] }),
      404,
      "The resource server does not exist: 'https://nope/'",
    );

    await management.roles.users.assign(role.id, { users: ids });
    // Checkpoint pages of 2 (take=2): the pager follows `next` and stops when it is absent.
    const first = await management.roles.users.list(role.id, { take: 2 });
    assert.equal(first.data.length, 2);
    assert.ok(first.response.next, 'a next cursor while more remain');
    assert.deepEqual(await collect(first, 'user_id'), ids);

    const uid = users[0].user_id;
    await management.users.roles.assign(uid, { roles: [role.id] });
    assert.deepEqual(await collect(await management.users.roles.list(uid), 'id'), [role.id]);
    await management.users.permissions.create(uid, { permissions: [perm('read:users'), perm('update:users')] });
    const effective = [];
    for await (const p of await management.users.permissions.list(uid)) {
      effective.push([p.permission_name, p.sources.map((s) => s.source_type).join('+')]);
    }
    assert.deepEqual(effective, [['read:users', 'DIRECT+ROLE'], ['update:users', 'DIRECT']]);
    await management.users.permissions.delete(uid, { permissions: [perm('read:users'), perm('update:users')] });
    await management.users.roles.delete(uid, { roles: [role.id] });
    assert.deepEqual(await collect(await management.users.permissions.list(uid), 'permission_name'), []);
    await rejectsWith(management.users.roles.assign(uid, { roles: ['rol_0000000000000000'] }), 404);
  } finally {
    await management.roles.delete(role.id).catch(() => {});
    for (const u of users) await management.users.delete(u.user_id).catch(() => {});
  }
});
