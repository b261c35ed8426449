'use strict';
// Helpers shared by the apps suites (clients, client grants, resource servers,
// connections) of both SDK versions: token requests and JWT checks done by hand, so
// the checks do not depend on the SDK under test.
const crypto = require('node:crypto');
const assert = require('node:assert/strict');
const { domain } = require('./env');

function b64json(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

// Verifies an RS256 JWT against the server's JWKS; returns its claims.
async function verifyRs256(token, audience) {
  const [h, p, s] = token.split('.');
  const header = b64json(h);
  assert.equal(header.alg, 'RS256');
  const res = await fetch(`https://${domain}/.well-known/jwks.json`);
  assert.equal(res.status, 200);
  const jwk = (await res.json()).keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `no JWKS key with kid ${header.kid}`);
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  const ok = crypto.verify('RSA-SHA256', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'));
  assert.ok(ok, 'RS256 signature does not verify against the JWKS');
  const claims = b64json(p);
  assert.equal(claims.iss, `https://${domain}/`);
  assert.equal(claims.aud, audience);
  const now = Math.floor(Date.now() / 1000);
  assert.ok(claims.iat <= now + 5 && claims.exp > now, 'token is not currently valid');
  return claims;
}

// client_credentials by hand (form body, as node SDKs send it); returns the response.
async function tokenRequest(clientId, clientSecret, audience, extra = {}) {
  const res = await fetch(`https://${domain}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
      audience,
      ...extra,
    }),
  });
  return { status: res.status, body: await res.json() };
}

// Runs the cleanup steps newest first, ignoring failures (things may be gone already).
function cleanupList() {
  const steps = [];
  return {
    add(fn) {
      steps.push(fn);
    },
    async run() {
      for (const fn of steps.reverse()) {
        try {
          await fn();
        } catch {
          // already deleted, or a failure another assertion reports
        }
      }
    },
  };
}

module.exports = { verifyRs256, tokenRequest, cleanupList };
