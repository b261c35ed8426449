// openid-client (npm, pinned in package.json) against castellan's hosted login: what a
// Node web application does with the library, unchanged. Discovery from the issuer
// URL, an authorization URL with PKCE S256, state and nonce, the hosted login page
// driven over plain HTTP (cookies kept, the form posted), the code exchanged by the
// library (ID token checked: iss, aud, nonce, exp and, with non-repudiation checks on,
// its RS256 signature against the JWKS), userinfo, refresh with rotation and reuse
// detection, revocation, form_post, a public client, and logout.
//
// Starts a server of its own: run it through compat/enduser.sh (see harness.mjs).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import * as client from 'openid-client';

import { get, inputValue, Jar, loginThroughPage, postForm, startServer, tag } from './harness.mjs';

const CB = 'https://app.example/callback';
const SPA_CB = 'https://spa.example/callback';
const BYE = 'https://app.example/bye';
const SCOPE = 'openid profile email offline_access';
const ROTATING = {
  rotation_type: 'rotating',
  expiration_type: 'expiring',
  token_lifetime: 3600,
  infinite_token_lifetime: false,
  leeway: 0,
};

let server;
let web;
let spa;
let config;
let email;
let password;
let userId;
const jar = new Jar(); // one user agent: the castellan_session cookie gives SSO

before(async () => {
  server = await startServer('openid-client');
  web = await server.app({
    app_type: 'regular_web',
    callbacks: [CB],
    allowed_logout_urls: [BYE],
    grant_types: ['authorization_code', 'refresh_token'],
    refresh_token: ROTATING,
  });
  spa = await server.app({
    app_type: 'spa',
    token_endpoint_auth_method: 'none',
    callbacks: [SPA_CB],
    grant_types: ['authorization_code', 'refresh_token'],
    refresh_token: ROTATING,
  });
  const t = tag();
  email = `jane@${t}.example.com`;
  password = `S3cret-Passw0rd!${t}`;
  userId = (await server.user(email, password, { name: 'Jane Roe' })).user_id;
  config = await client.discovery(new URL(`${server.base}/`), web.client_id, web.client_secret, undefined, {
    execute: [client.enableNonRepudiationChecks],
  });
});

after(async () => {
  await server?.stop();
});

/** Fresh PKCE, state and nonce, and the library's authorization URL for them. */
async function authorization(cfg, extra = {}) {
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const expectedState = client.randomState();
  const expectedNonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(cfg, {
    redirect_uri: cfg === config ? CB : SPA_CB,
    scope: SCOPE,
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: 'S256',
    state: expectedState,
    nonce: expectedNonce,
    ...extra,
  });
  return { url, checks: { pkceCodeVerifier, expectedState, expectedNonce, idTokenExpected: true } };
}

/** Asserts a library error of the token endpoint. */
async function rejectsWith(promise, status, error) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof client.ResponseBodyError, `${e}`);
    assert.equal(e.status, status, `${e.error}: ${e.error_description}`);
    assert.equal(e.error, error);
    return true;
  });
}

/** Makes sure the jar holds a session (the code flow test leaves one). */
async function signedIn() {
  if (!jar.get('castellan_session')) {
    const { url } = await authorization(config);
    const { result } = await loginThroughPage(url, jar, email, password);
    assert.equal(result.status, 302, result.text);
    assert.ok(jar.get('castellan_session'));
  }
}

test('discovery from https://DOMAIN/ (issuer, endpoints, PKCE)', async () => {
  const meta = config.serverMetadata();
  assert.equal(meta.issuer, `${server.base}/`);
  assert.equal(meta.authorization_endpoint, `${server.base}/authorize`);
  assert.equal(meta.token_endpoint, `${server.base}/oauth/token`);
  assert.equal(meta.userinfo_endpoint, `${server.base}/userinfo`);
  assert.equal(meta.revocation_endpoint, `${server.base}/oauth/revoke`);
  assert.equal(meta.jwks_uri, `${server.base}/.well-known/jwks.json`);
  assert.ok(config.serverMetadata().supportsPKCE('S256'));
});

let refresh1;
let login; // { authTime, at }: the ID token's auth_time of the page login, and when it was

test('code flow: PKCE S256 + state + nonce, hosted login page, ID token checked by the library', async () => {
  const { url, checks } = await authorization(config);
  assert.equal(url.origin + url.pathname, `${server.base}/authorize`);
  assert.equal(url.searchParams.get('code_challenge_method'), 'S256');

  // A wrong password first: the page again, with the error, and a fresh form.
  const { page, result: wrong } = await loginThroughPage(url, jar, email, 'not-the-password');
  assert.ok(page.text.includes('name="password"'), 'the login page has a password field');
  assert.equal(jar.get('castellan_csrf') !== undefined, true, 'the page set the CSRF cookie');
  assert.equal(wrong.status, 400);
  assert.match(wrong.text, /role="alert"[^>]*>Wrong email or password\.</);
  assert.equal(inputValue(wrong.text, 'username'), email, 'the e-mail is kept');
  assert.equal(jar.get('castellan_session'), undefined, 'no session after a failure');

  const ok = await postForm(new URL('/u/login', server.base), jar, {
    state: inputValue(wrong.text, 'state'),
    csrf: inputValue(wrong.text, 'csrf'),
    username: email,
    password,
  });
  assert.equal(ok.status, 302, ok.text);
  const callback = new URL(ok.location);
  assert.equal(callback.origin + callback.pathname, CB);
  assert.equal(callback.searchParams.get('state'), checks.expectedState);
  assert.ok(jar.get('castellan_session'), 'a session cookie for SSO');

  const tokens = await client.authorizationCodeGrant(config, callback, checks);
  assert.equal(tokens.token_type, 'bearer');
  assert.ok(tokens.expires_in > 0);
  assert.equal(typeof tokens.access_token, 'string');
  assert.equal(typeof tokens.refresh_token, 'string', 'offline_access gives a refresh token');
  const claims = tokens.claims();
  assert.equal(claims.iss, `${server.base}/`);
  assert.equal(claims.aud, web.client_id);
  assert.equal(claims.sub, userId);
  assert.equal(claims.nonce, checks.expectedNonce);
  assert.equal(claims.email, email);
  assert.equal(claims.name, 'Jane Roe');
  assert.equal(typeof claims.auth_time, 'number');
  assert.equal(typeof claims.sid, 'string');
  refresh1 = tokens.refresh_token;
  login = { authTime: claims.auth_time, at: Date.now() };

  // userinfo through the library (it checks that sub is the ID token's).
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.sub, userId);
  assert.equal(info.email, email);
  assert.equal(info.name, 'Jane Roe');
  await assert.rejects(client.fetchUserInfo(config, tokens.access_token, 'auth0|someone-else'));
  await assert.rejects(client.fetchUserInfo(config, 'junk', client.skipSubjectCheck), (e) => {
    assert.ok(e instanceof client.WWWAuthenticateChallengeError, `${e}`);
    assert.equal(e.status, 401);
    return true;
  });
});

test('refresh with a rotating client; reusing a rotated token revokes the family', async () => {
  if (!refresh1) {
    await signedIn();
    const { url, checks } = await authorization(config);
    const r = await get(url, jar);
    refresh1 = (await client.authorizationCodeGrant(config, new URL(r.location), checks)).refresh_token;
  }
  const second = await client.refreshTokenGrant(config, refresh1);
  assert.equal(typeof second.refresh_token, 'string');
  assert.notEqual(second.refresh_token, refresh1, 'rotation gives a new refresh token');
  if (second.id_token) {
    assert.equal(second.claims().sub, userId);
  }
  const info = await client.fetchUserInfo(config, second.access_token, userId);
  assert.equal(info.email, email);

  const third = await client.refreshTokenGrant(config, second.refresh_token);
  assert.notEqual(third.refresh_token, second.refresh_token);

  // The first token again: reuse. It fails, and so does the family's newest token.
  await rejectsWith(client.refreshTokenGrant(config, refresh1), 403, 'invalid_grant');
  await rejectsWith(client.refreshTokenGrant(config, third.refresh_token), 403, 'invalid_grant');
});

test('an SSO login keeps the auth_time of the authentication', async () => {
  if (!login) {
    jar.cookies.clear();
    const { url, checks } = await authorization(config);
    const { result } = await loginThroughPage(url, jar, email, password);
    const tokens = await client.authorizationCodeGrant(config, new URL(result.location), checks);
    login = { authTime: tokens.claims().auth_time, at: Date.now() };
  }
  // At least 1.1 s after the page login, so that a later time shows in whole seconds.
  await new Promise((ok) => setTimeout(ok, Math.max(0, 1100 - (Date.now() - login.at))));
  const { url, checks } = await authorization(config);
  const r = await get(url, jar);
  assert.equal(r.status, 302, 'SSO: no login page');
  const tokens = await client.authorizationCodeGrant(config, new URL(r.location), checks);
  // OIDC Core 2: auth_time is the "time when the End-User authentication occurred";
  // an SSO login authenticates no one anew.
  assert.equal(tokens.claims().auth_time, login.authTime, 'auth_time of an SSO login is the session login time');
});

test('SSO with response_mode=form_post, then revocation through the library', async () => {
  await signedIn();
  const { url, checks } = await authorization(config, { response_mode: 'form_post' });
  const r = await get(url, jar);
  assert.equal(r.status, 200, 'the session skips the login page: an auto-submit form for the callback');
  assert.match(r.text, new RegExp(`<form method="post" action="${CB}"`));
  const body = new URLSearchParams({ code: inputValue(r.text, 'code'), state: inputValue(r.text, 'state') });
  const request = new Request(CB, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  const tokens = await client.authorizationCodeGrant(config, request, checks);
  assert.equal(tokens.claims().sub, userId);
  assert.equal(tokens.claims().nonce, checks.expectedNonce);

  await client.tokenRevocation(config, tokens.refresh_token);
  await rejectsWith(client.refreshTokenGrant(config, tokens.refresh_token), 403, 'invalid_grant');
  // Unknown tokens are not an error (RFC 7009).
  await client.tokenRevocation(config, 'not-a-token-castellan-ever-issued');
});

test('a wrong PKCE verifier is refused, and the code is used up', async () => {
  await signedIn();
  const { url, checks } = await authorization(config);
  const r = await get(url, jar);
  assert.equal(r.status, 302);
  const callback = new URL(r.location);
  assert.ok(callback.searchParams.get('code'));
  await rejectsWith(
    client.authorizationCodeGrant(config, callback, {
      ...checks,
      pkceCodeVerifier: client.randomPKCECodeVerifier(),
    }),
    403,
    'invalid_grant',
  );
  await rejectsWith(client.authorizationCodeGrant(config, callback, checks), 403, 'invalid_grant');
});

test('an ID token whose signature does not verify is refused by the library', async () => {
  await signedIn();
  const { url, checks } = await authorization(config);
  const r = await get(url, jar);
  assert.equal(r.status, 302);
  const tampering = await client.discovery(new URL(`${server.base}/`), web.client_id, web.client_secret, undefined, {
    execute: [client.enableNonRepudiationChecks],
  });
  // The response of the token endpoint, with the last signature byte flipped.
  tampering[client.customFetch] = async (u, options) => {
    const res = await fetch(u, options);
    if (!String(u).endsWith('/oauth/token')) {
      return res;
    }
    const json = await res.json();
    const [h, p, s] = json.id_token.split('.');
    const sig = Buffer.from(s, 'base64url');
    sig[sig.length - 1] ^= 1;
    json.id_token = [h, p, sig.toString('base64url')].join('.');
    return new Response(JSON.stringify(json), { status: res.status, headers: res.headers });
  };
  await assert.rejects(client.authorizationCodeGrant(tampering, new URL(r.location), checks), (e) => {
    assert.ok(e instanceof client.ClientError, `${e}`);
    assert.equal(e.code, 'OAUTH_INVALID_RESPONSE');
    assert.match(String(e.cause?.message), /JWT signature verification failed/);
    return true;
  });
});

test('a public client (token_endpoint_auth_method none): PKCE required, no secret', async () => {
  const pub = await client.discovery(new URL(`${server.base}/`), spa.client_id, undefined, client.None(), {
    execute: [client.enableNonRepudiationChecks],
  });
  // Without a code challenge: an error back at the callback, which the library raises.
  const state = client.randomState();
  const bare = client.buildAuthorizationUrl(pub, { redirect_uri: SPA_CB, scope: 'openid', state });
  const r0 = await get(bare, jar);
  assert.equal(r0.status, 302);
  await assert.rejects(
    client.authorizationCodeGrant(pub, new URL(r0.location), { expectedState: state }),
    (e) => {
      assert.ok(e instanceof client.AuthorizationResponseError, `${e}`);
      assert.equal(e.error, 'invalid_request');
      return true;
    },
  );

  // With PKCE (and the session from the other app's login: SSO across apps).
  await signedIn();
  const { url, checks } = await authorization(pub);
  const r = await get(url, jar);
  assert.equal(r.status, 302);
  const tokens = await client.authorizationCodeGrant(pub, new URL(r.location), checks);
  assert.equal(tokens.claims().aud, spa.client_id);
  assert.equal(tokens.claims().sub, userId);
  const next = await client.refreshTokenGrant(pub, tokens.refresh_token);
  assert.notEqual(next.refresh_token, tokens.refresh_token);
});

test('logout: /v2/logout to an allowed URL ends the session (prompt=none then needs a login)', async () => {
  await signedIn();
  const bad = await get(
    `${server.base}/v2/logout?client_id=${web.client_id}&returnTo=${encodeURIComponent('https://evil.example/')}`,
    jar,
  );
  assert.equal(bad.status, 400, 'returnTo must be one of allowed_logout_urls');

  const r = await get(
    `${server.base}/v2/logout?client_id=${web.client_id}&returnTo=${encodeURIComponent(BYE)}`,
    jar,
  );
  assert.equal(r.status, 302);
  assert.equal(r.location, BYE);

  const { url, checks } = await authorization(config, { prompt: 'none' });
  const after = await get(url, jar);
  assert.equal(after.status, 302);
  await assert.rejects(client.authorizationCodeGrant(config, new URL(after.location), checks), (e) => {
    assert.ok(e instanceof client.AuthorizationResponseError, `${e}`);
    assert.equal(e.error, 'login_required');
    return true;
  });
});
