// A real browser on castellan's hosted pages: Debian's chromium driven by
// playwright-core (pinned in package.json; never `playwright install`: the browser is
// the system's /usr/bin/chromium). A person opens the application's authorization URL,
// types an e-mail and password into the hosted login page, and lands on the
// application's callback (a small HTTP server here that records what arrives); the test
// then exchanges the code as the application would. Also: the error a wrong password
// shows, signing up on the hosted page, SSO in the same browser (the page is skipped),
// form_post, and logout.
//
// TLS is trusted, not ignored: the browser runs with a HOME of its own whose NSS
// database (~/.pki/nssdb, made with certutil) holds the server's CA as a trusted
// authority, which is how Chromium on Linux picks up a local CA. The contexts do not
// set ignoreHTTPSErrors and chromium gets no --ignore-certificate-errors flag.
//
// Screenshots of the login page, its error state and the signup page are written to
// $CASTELLAN_SCREENSHOT_DIR (compat/enduser.sh: target/screenshots/enduser-BACKEND).
//
// Starts a server of its own: run it through compat/enduser.sh (see harness.mjs).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { browserHome, CHROMIUM, launchBrowser, ROOT, startServer, tag } from './harness.mjs';

const SHOTS = process.env.CASTELLAN_SCREENSHOT_DIR || join(ROOT, 'target', 'screenshots', 'enduser');

let server;
let app;
let browser;
let home;
let callback; // { server, base, hits: [{ method, path, params }] }
let email;
let password;
let userId;

/** The application's side: records each request to /cb and /bye, answers a page. */
function startCallback() {
  const hits = [];
  const srv = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const url = new URL(req.url, 'http://127.0.0.1');
      const params = new URLSearchParams(req.method === 'POST' ? body : url.search);
      hits.push({ method: req.method, path: url.pathname, params });
      const title = url.pathname === '/bye' ? 'Signed out' : 'Signed in';
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><html lang="en"><title>${title}</title><h1>${title}</h1></html>`);
    });
  });
  return new Promise((ok) => {
    srv.listen(0, '127.0.0.1', () => {
      const base = `http://127.0.0.1:${srv.address().port}`;
      ok({ server: srv, base, hits });
    });
  });
}

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

/** An authorization URL for the app, with fresh PKCE, state and nonce. */
function authorization(extra = {}) {
  const { verifier, challenge } = pkce();
  const state = randomBytes(12).toString('base64url');
  const nonce = randomBytes(12).toString('base64url');
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: app.client_id,
    redirect_uri: `${callback.base}/cb`,
    scope: 'openid profile email',
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
  return { url: `${server.base}/authorize?${q}`, verifier, state, nonce };
}

/** What the application does with the code: the token request, then the ID token. */
async function exchange(code, verifier) {
  const r = await fetch(`${server.base}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: app.client_id,
      client_secret: app.client_secret,
      code,
      code_verifier: verifier,
      redirect_uri: `${callback.base}/cb`,
    }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = await r.json();
  assert.equal(r.status, 200, JSON.stringify(body));
  const idToken = JSON.parse(Buffer.from(body.id_token.split('.')[1], 'base64url').toString());
  return { body, idToken };
}

/** The last request the callback server received at `path`. */
function lastHit(path) {
  const hit = callback.hits.filter((h) => h.path === path).at(-1);
  assert.ok(hit, `nothing arrived at ${path}`);
  return hit;
}

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 720, height: 760 }, locale: 'en-US' });
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(15_000);
  const page = await context.newPage();
  return { context, page };
}

async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no browser at ${CHROMIUM} (Debian: apt-get install chromium)`);
  server = await startServer('browser');
  callback = await startCallback();
  app = await server.app({
    app_type: 'regular_web',
    callbacks: [`${callback.base}/cb`],
    allowed_logout_urls: [`${callback.base}/bye`],
    grant_types: ['authorization_code', 'refresh_token'],
  });
  const t = tag();
  email = `jane@${t}.example.com`;
  password = `S3cret-Passw0rd!${t}`;
  userId = (await server.user(email, password, { name: 'Jane Roe' })).user_id;
  home = browserHome();
  browser = await launchBrowser(chromium, home);
});

after(async () => {
  await browser?.close().catch(() => {});
  await new Promise((ok) => (callback ? callback.server.close(ok) : ok()));
  await server?.stop();
  if (home) {
    rmSync(home, { recursive: true, force: true });
  }
});

let signedIn; // the browser context holding a session after the login test

test('log in on the hosted page: a wrong password shows the error, the right one reaches the app', async () => {
  const { context, page } = await newPage();
  const a = authorization();
  const response = await page.goto(a.url);
  assert.equal(response.status(), 200);
  assert.equal(new URL(page.url()).pathname, '/u/login');
  assert.equal(await page.locator('h1').innerText(), 'Log in');
  assert.match(await page.title(), /^Log in · localhost:\d+$/);
  assert.equal(await page.getByLabel('Email address').getAttribute('type'), 'email');
  assert.equal(await page.getByLabel('Password').getAttribute('type'), 'password');
  await shot(page, 'login');

  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill('not-the-password');
  await Promise.all([page.waitForURL('**/u/login'), page.getByRole('button', { name: 'Continue' }).click()]);
  const alert = page.getByRole('alert');
  assert.equal((await alert.innerText()).trim(), 'Wrong email or password.');
  assert.equal(await page.getByLabel('Email address').inputValue(), email, 'the e-mail is kept');
  assert.equal(await page.getByLabel('Password').inputValue(), '', 'the password is not');
  await shot(page, 'login-error');

  await page.getByLabel('Password').fill(password);
  await Promise.all([
    page.waitForURL(`${callback.base}/cb?**`),
    page.getByRole('button', { name: 'Continue' }).click(),
  ]);
  assert.equal(await page.locator('h1').innerText(), 'Signed in');
  const hit = lastHit('/cb');
  assert.equal(hit.params.get('state'), a.state);
  const { body, idToken } = await exchange(hit.params.get('code'), a.verifier);
  assert.equal(body.token_type, 'Bearer');
  assert.equal(idToken.sub, userId);
  assert.equal(idToken.email, email);
  assert.equal(idToken.nonce, a.nonce);
  assert.equal(idToken.aud, app.client_id);

  const session = (await context.cookies(server.base)).find((c) => c.name === 'castellan_session');
  assert.ok(session, 'the browser keeps a session cookie');
  assert.equal(session.httpOnly, true);
  assert.equal(session.secure, true);
  assert.equal(session.sameSite, 'Lax');
  signedIn = { context, page };
});

test('SSO: a second authorization in the same browser skips the login page', async () => {
  assert.ok(signedIn, 'needs the login test');
  const { page } = signedIn;
  const visited = [];
  const onRequest = (r) => {
    if (r.isNavigationRequest()) {
      visited.push(new URL(r.url()).pathname);
    }
  };
  page.on('request', onRequest);
  const a = authorization();
  await page.goto(a.url);
  await page.waitForURL(`${callback.base}/cb?**`);
  page.off('request', onRequest);
  assert.ok(!visited.includes('/u/login'), `no login page on the way: ${visited.join(' → ')}`);
  const { idToken } = await exchange(lastHit('/cb').params.get('code'), a.verifier);
  assert.equal(idToken.sub, userId);
  assert.equal(idToken.nonce, a.nonce);

  // form_post: a page with a Continue button posts the code to the app.
  const f = authorization({ response_mode: 'form_post' });
  await page.goto(f.url);
  assert.equal(await page.locator('h1').innerText(), 'Continue to the application');
  await Promise.all([
    page.waitForURL(`${callback.base}/cb`),
    page.getByRole('button', { name: 'Continue' }).click(),
  ]);
  const posted = lastHit('/cb');
  assert.equal(posted.method, 'POST');
  assert.equal(posted.params.get('state'), f.state);
  const { idToken: again } = await exchange(posted.params.get('code'), f.verifier);
  assert.equal(again.sub, userId);
});

test('logout ends the session: the next authorization shows the login page again', async () => {
  assert.ok(signedIn, 'needs the login test');
  const { context, page } = signedIn;
  const q = new URLSearchParams({ client_id: app.client_id, returnTo: `${callback.base}/bye` });
  await page.goto(`${server.base}/v2/logout?${q}`);
  await page.waitForURL(`${callback.base}/bye`);
  assert.equal(await page.locator('h1').innerText(), 'Signed out');
  await page.goto(authorization().url);
  assert.equal(new URL(page.url()).pathname, '/u/login');
  await context.close();
});

test('sign up on the hosted page, then straight back to the app', async () => {
  const { context, page } = await newPage();
  const t = tag();
  const newEmail = `new.person@${t}.example.com`;
  const a = authorization();
  await page.goto(a.url);
  assert.equal(new URL(page.url()).pathname, '/u/login');
  await Promise.all([page.waitForURL('**/u/signup?**'), page.getByRole('link', { name: 'Sign up' }).click()]);
  assert.equal(await page.locator('h1').innerText(), 'Sign up');
  await shot(page, 'signup');

  await page.getByLabel('Email address').fill(newEmail);
  await page.getByLabel('Password').fill('weak');
  await Promise.all([page.waitForURL('**/u/signup'), page.getByRole('button', { name: 'Continue' }).click()]);
  assert.match(await page.getByRole('alert').innerText(), /too weak/i);

  await page.getByLabel('Password').fill(`S3cret-Passw0rd!${t}`);
  await Promise.all([
    page.waitForURL(`${callback.base}/cb?**`),
    page.getByRole('button', { name: 'Continue' }).click(),
  ]);
  const hit = lastHit('/cb');
  assert.equal(hit.params.get('state'), a.state);
  const { idToken } = await exchange(hit.params.get('code'), a.verifier);
  assert.equal(idToken.email, newEmail);
  const found = await server.userByEmail(newEmail);
  assert.equal(found.length, 1);
  assert.equal(found[0].user_id, idToken.sub);

  // screen_hint=signup opens the signup page directly.
  const { context: other, page: fresh } = await newPage();
  await fresh.goto(authorization({ screen_hint: 'signup' }).url);
  assert.equal(new URL(fresh.url()).pathname, '/u/signup');
  assert.equal(await fresh.locator('h1').innerText(), 'Sign up');
  await other.close();
  await context.close();
});
