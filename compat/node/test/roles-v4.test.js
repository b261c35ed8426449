'use strict';
// npm auth0 4.x (v4 managers: {data, headers, status}) against castellan: roles CRUD,
// role permissions and users, a user's roles and effective permissions.
// Permissions come from the Management API itself, which every tenant has.
const test = require('node:test');
const assert = require('node:assert/strict');
const { ManagementClient, ManagementApiError } = require('auth0-v4');
const { domain, clientId, clientSecret, newTag, userBody } = require('../env');

const management = new ManagementClient({ domain, clientId, clientSecret });
const audience = `https://${domain}/api/v2/`;
const perm = (name) => ({ resource_server_identifier: audience, permission_name: name });

async function rejectsWith(promise, statusCode, message) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof ManagementApiError, `expected ManagementApiError, got ${err}`);
    assert.equal(err.statusCode, statusCode, `${err.message} ${err.body}`);
    if (message) assert.equal(JSON.parse(err.body).message, message);
    return true;
  });
}

test('v4: role CRUD with Auth0 status codes', async () => {
  const tag = newTag();
  const created = await management.roles.create({ name: `admin-${tag}`, description: 'Admins' });
  assert.equal(created.status, 200, 'create is 200');
  const id = created.data.id;
  assert.match(id, /^rol_[A-Za-z0-9]{16}$/);
  assert.deepEqual(created.data, { id, name: `admin-${tag}`, description: 'Admins' });

  assert.deepEqual((await management.roles.get({ id })).data, created.data);
  const updated = await management.roles.update({ id }, { description: 'The Administrator' });
  assert.equal(updated.status, 200);
  assert.equal(updated.data.description, 'The Administrator');

  // v4 passes parameters as given: without include_totals, a bare array.
  const bare = await management.roles.getAll({ name_filter: tag });
  assert.deepEqual(bare.data, [updated.data]);
  const totals = await management.roles.getAll({ name_filter: tag.toUpperCase(), include_totals: true, per_page: 10 });
  assert.deepEqual(totals.data, { roles: [updated.data], start: 0, limit: 10, total: 1 });

  await rejectsWith(management.roles.create({ name: `admin-${tag}` }), 409, 'The role already exists.');
  const deleted = await management.roles.delete({ id });
  assert.equal(deleted.status, 200, 'delete is 200');
  await rejectsWith(management.roles.get({ id }), 404, 'The role does not exist.');
  await rejectsWith(management.roles.delete({ id }), 404, 'The role does not exist.');
});

test('v4: role permissions and users, user roles and permissions', async () => {
  const tag = newTag();
  const role = (await management.roles.create({ name: `editor-${tag}` })).data;
  const user = (await management.users.create(userBody(tag, 1))).data;
  try {
    const added = await management.roles.addPermissions({ id: role.id }, { permissions: [perm('read:users'), perm('read:roles')] });
    assert.equal(added.status, 201);
    const listed = await management.roles.getPermissions({ id: role.id, include_totals: true, per_page: 50 });
    assert.equal(listed.data.total, 2);
    assert.deepEqual(listed.data.permissions.map((p) => p.permission_name), ['read:roles', 'read:users']);
    assert.equal(listed.data.permissions[0].resource_server_name, 'Auth0 Management API');
    const removed = await management.roles.deletePermissions({ id: role.id }, { permissions: [perm('read:roles')] });
    assert.equal(removed.status, 204);
    await rejectsWith(
      management.roles.addPermissions({ id: role.id }, { permissions: [perm('read:nothing')] }),
      404,
    );

    const assigned = await management.roles.assignUsers({ id: role.id }, { users: [user.user_id] });
    assert.equal(assigned.status, 200);
    const members = await management.roles.getUsers({ id: role.id, take: 1 });
    assert.deepEqual(members.data, {
      users: [{ user_id: user.user_id, email: user.email, picture: user.picture, name: user.name }],
    });

    const userRoles = await management.users.getRoles({ id: user.user_id });
    assert.deepEqual(userRoles.data, [{ id: role.id, name: role.name }]);
    const direct = await management.users.assignPermissions({ id: user.user_id }, { permissions: [perm('update:users')] });
    assert.equal(direct.status, 201);
    const perms = await management.users.getPermissions({ id: user.user_id, include_totals: true, per_page: 10 });
    assert.equal(perms.data.total, 2);
    assert.deepEqual(
      perms.data.permissions.map((p) => [p.permission_name, p.sources.map((s) => s.source_type)]),
      [['read:users', ['ROLE']], ['update:users', ['DIRECT']]],
    );
    assert.equal((await management.users.deletePermissions({ id: user.user_id }, { permissions: [perm('update:users')] })).status, 204);
    assert.equal((await management.users.deleteRoles({ id: user.user_id }, { roles: [role.id] })).status, 204);
    assert.deepEqual((await management.users.getPermissions({ id: user.user_id })).data, []);
    const again = await management.users.assignRoles({ id: user.user_id }, { roles: [role.id] });
    assert.equal(again.status, 204);
    await rejectsWith(management.users.assignRoles({ id: user.user_id }, { roles: ['rol_0000000000000000'] }), 404);
  } finally {
    await management.roles.delete({ id: role.id });
    await management.users.delete({ id: user.user_id });
  }
});
