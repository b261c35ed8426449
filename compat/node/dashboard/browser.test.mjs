// The dashboard in a real browser: Debian's chromium driven by playwright-core, on a
// fresh server of its own (harness.mjs), the way an administrator uses it day to day
// (seed 001) and the way seed 003 gets a Management API token for a new M2M
// application. The steps run in order in one signed-in browser context:
//
//   sign in; create a user; a bad search explains itself; metadata (a JSON error,
//   then saved); block and unblock; an M2M application authorized for the Management
//   API with chosen permissions, and the API's Test tab issuing it a token; an API
//   with scopes; a role with a permission, assigned to the user; the logs list and an
//   event's page; the database connection's settings; delete the user (after the
//   confirmation); sign out.
//
// Each step checks what it did through the Management API too, and saves a
// screenshot to $CASTELLAN_SCREENSHOT_DIR (compat/enduser.sh:
// target/screenshots/dashboard-BACKEND), printed at the end: the CI artifact.
//
// TLS is trusted, not ignored (see harness.mjs browserHome). Run it through
// compat/enduser.sh (ENDUSER_SUITES=dashboard for this suite alone).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { browserHome, CHROMIUM, CONNECTION, launchBrowser, ROOT, startServer, tag } from '../enduser/harness.mjs';

const SHOTS = process.env.CASTELLAN_SCREENSHOT_DIR || join(ROOT, 'target', 'screenshots', 'dashboard');

let server;
let browser;
let home;
let context;
let page;
let n = 0;
const t = tag();
const email = `dana@${t}.example.com`;
let userId;
let userPage;
let appId;

async function shot(name) {
  mkdirSync(SHOTS, { recursive: true });
  n += 1;
  await page.screenshot({ path: join(SHOTS, `${String(n).padStart(2, '0')}-${name}.png`), fullPage: true });
}

async function flash(text) {
  await page.locator('p.flash').filter({ hasText: text }).waitFor();
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no browser at ${CHROMIUM} (Debian: apt-get install chromium)`);
  server = await startServer('dashboard');
  home = browserHome();
  browser = await launchBrowser(chromium, home);
  // A narrow window: the layout must work there too.
  context = await browser.newContext({ viewport: { width: 760, height: 900 }, locale: 'en-US' });
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(15_000);
  page = await context.newPage();
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
  if (home) {
    rmSync(home, { recursive: true, force: true });
  }
  console.log(`dashboard screenshots: ${SHOTS}`);
});

test('sign in', async () => {
  await page.goto(`${server.base}/dashboard/users`);
  assert.equal(new URL(page.url()).pathname, '/dashboard/login');
  await page.getByLabel('Email').fill(server.dashboardEmail);
  await page.getByLabel('Password').fill('not the password');
  await page.locator('#sign-in').click();
  await page.getByRole('alert').waitFor();
  await shot('sign-in-error');
  await page.getByLabel('Password').fill(server.dashboardPassword);
  await page.locator('#sign-in').click();
  await page.waitForURL('**/dashboard/users');
  await page.locator('#admin-email').filter({ hasText: server.dashboardEmail }).waitFor();
  const cookie = (await context.cookies()).find((c) => c.name === 'castellan_dashboard');
  assert.ok(cookie.httpOnly && cookie.secure && cookie.sameSite === 'Strict', JSON.stringify(cookie));
  await shot('users-empty');
});

test('create a user', async () => {
  await page.locator('#create-user').click();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill('S3cret-Passw0rd!');
  await page.getByLabel('Repeat password').fill('S3cret-Passw0rd?');
  await page.locator('#create').click();
  await page.getByRole('alert').filter({ hasText: 'The passwords do not match.' }).waitFor();
  await shot('create-user-mismatch');
  await page.getByLabel('Password', { exact: true }).fill('S3cret-Passw0rd!');
  await page.getByLabel('Repeat password').fill('S3cret-Passw0rd!');
  await page.locator('#create').click();
  await flash('The user was created.');
  userPage = new URL(page.url()).pathname;
  const [u] = await server.userByEmail(email);
  userId = u.user_id;
  assert.equal(userPage, `/dashboard/users/${encodeURIComponent(userId)}`);
  await shot('user-created');
});

test('a bad search explains itself, a good one finds the user', async () => {
  await page.goto(`${server.base}/dashboard/users`);
  await page.getByLabel('Search users').fill('email:(dana');
  await page.locator('#search').click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.innerText(), /Check the query syntax/);
  await shot('search-error');
  await page.getByLabel('Search users').fill(`email:"${email}"`);
  await page.locator('#search').click();
  await page.getByRole('link', { name: email }).waitFor();
  await shot('search-found');
});

test('metadata: invalid JSON is explained, valid JSON saved', async () => {
  await page.goto(`${server.base}${userPage}`);
  await page.getByLabel('user_metadata').fill('{"theme": ');
  await page.locator('#save-metadata').click();
  await page.getByRole('alert').filter({ hasText: 'not valid JSON' }).waitFor();
  await shot('metadata-error');
  await page.getByLabel('user_metadata').fill('{"theme": "dark"}');
  await page.locator('#save-metadata').click();
  await flash('The user was saved.');
  const u = await server.mgmt('GET', `/users/${encodeURIComponent(userId)}`);
  assert.deepEqual(u.user_metadata, { theme: 'dark' });
  await shot('metadata-saved');
});

test('block and unblock', async () => {
  await page.locator('#block-user').click();
  await flash('The user is blocked.');
  assert.equal((await server.mgmt('GET', `/users/${encodeURIComponent(userId)}`)).blocked, true);
  await shot('user-blocked');
  await page.locator('#unblock-user').click();
  await flash('The user is unblocked.');
  assert.equal((await server.mgmt('GET', `/users/${encodeURIComponent(userId)}`)).blocked, false);
});

test('an M2M application authorized for the Management API gets a token on the Test tab', async () => {
  await page.goto(`${server.base}/dashboard/applications`);
  await page.getByLabel('Name').fill(`worker ${t}`);
  await page.getByLabel('Type').selectOption('non_interactive');
  await page.locator('#create-application').click();
  await flash('The application was created.');
  appId = await page.locator('#client-id').innerText();
  await shot('application-created');
  await page.locator('#tab-apis').click();
  const mgmt = page.locator(`details[data-audience="${server.base}/api/v2/"]`);
  await mgmt.locator('summary').click();
  await mgmt.getByLabel('read:users', { exact: true }).check();
  await mgmt.getByLabel('read:clients', { exact: true }).check();
  await shot('application-apis-choose');
  await mgmt.getByRole('button', { name: 'Authorize' }).click();
  await flash('The application is authorized for the API.');
  const grants = await server.mgmt('GET', `/client-grants?client_id=${appId}`);
  assert.deepEqual(grants[0].scope.sort(), ['read:clients', 'read:users']);
  await shot('application-apis-authorized');

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'APIs' }).click();
  await page.getByRole('link', { name: 'Auth0 Management API' }).click();
  await page.getByLabel('Application').selectOption(appId);
  await page.locator('#get-token').click();
  const response = page.locator('pre').filter({ hasText: 'access_token' });
  await response.waitFor();
  const token = JSON.parse(await response.innerText());
  assert.equal(token.token_type, 'Bearer');
  assert.deepEqual(token.scope.split(' ').sort(), ['read:clients', 'read:users']);
  assert.match(await page.locator('#curl').innerText(), /curl --request POST/);
  // The token works on the Management API.
  const r = await fetch(`${server.base}/api/v2/users?q=${encodeURIComponent(`email:"${email}"`)}`, {
    headers: { authorization: `Bearer ${token.access_token}` },
  });
  assert.equal(r.status, 200);
  await shot('api-test-token');
});

test('create an API with scopes', async () => {
  await page.goto(`${server.base}/dashboard/apis`);
  await page.getByLabel('Name').fill('Reports');
  await page.getByLabel('Identifier').fill(`https://reports.${t}.example`);
  await page.locator('#create-api').click();
  await flash('The API was created.');
  await page.getByLabel('Scopes').fill('read:reports Read the reports\nwrite:reports Write reports');
  await page.locator('#save-scopes').click();
  await flash('The API was saved.');
  const apis = await server.mgmt('GET', '/resource-servers');
  const reports = apis.find((a) => a.identifier === `https://reports.${t}.example`);
  assert.deepEqual(
    reports.scopes.map((s) => s.value),
    ['read:reports', 'write:reports'],
  );
  await shot('api-scopes');
});

test('create a role with a permission and assign it to the user', async () => {
  await page.goto(`${server.base}/dashboard/roles`);
  await page.getByLabel('Name').fill('report-reader');
  await page.getByLabel('Description').fill('Reads reports');
  await page.locator('#create-role').click();
  await flash('The role was created.');
  await page.getByLabel('Add a permission').selectOption(`https://reports.${t}.example read:reports`);
  await page.locator('#add-permission').click();
  await page.locator('#role-permissions').filter({ hasText: 'read:reports' }).waitFor();
  await shot('role-permission');
  await page.goto(`${server.base}${userPage}`);
  await page.getByLabel('Assign a role').selectOption({ label: 'report-reader' });
  await page.locator('#assign-role').click();
  await flash('The role was assigned.');
  await page.locator('#user-roles').filter({ hasText: 'report-reader' }).waitFor();
  const roles = await server.mgmt('GET', `/users/${encodeURIComponent(userId)}/roles`);
  assert.deepEqual(
    roles.map((r) => r.name),
    ['report-reader'],
  );
  await shot('user-role');
});

test('logs: filtered list and an event page', async () => {
  await page.goto(`${server.base}/dashboard/logs`);
  await page.getByLabel('Type').fill('sapi');
  await page.locator('#filter').click();
  const first = page.locator('#logs tbody a').first();
  await first.waitFor();
  await shot('logs');
  await first.click();
  await page.locator('pre').filter({ hasText: '"type": "sapi"' }).waitFor();
  await shot('log-event');
});

test('connection settings', async () => {
  await page.goto(`${server.base}/dashboard/connections`);
  await page.getByRole('link', { name: CONNECTION }).click();
  await page.getByLabel('Password policy').selectOption('fair');
  await page.locator('#save-connection').click();
  await flash('The connection was saved.');
  const [conn] = await server.mgmt('GET', `/connections?name=${CONNECTION}`);
  assert.equal(conn.options.password_policy, 'fair');
  await shot('connection-saved');
});

test('delete the user after the confirmation', async () => {
  await page.goto(`${server.base}${userPage}`);
  await page.locator('#delete-user').click();
  await page.getByRole('alert').filter({ hasText: 'This cannot be undone' }).waitFor();
  await shot('delete-confirmation');
  await page.locator('#confirm-delete').click();
  await flash('The user was deleted.');
  assert.deepEqual(await server.userByEmail(email), []);
  await shot('user-deleted');
});

test('sign out', async () => {
  await page.locator('#sign-out').click();
  await page.waitForURL('**/dashboard/login');
  await page.goto(`${server.base}/dashboard/users`);
  assert.equal(new URL(page.url()).pathname, '/dashboard/login');
  await shot('signed-out');
});
