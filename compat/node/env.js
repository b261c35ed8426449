'use strict';
// Connection settings for the node suites, as compat/run.sh exports them.
const { randomUUID } = require('node:crypto');

function need(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the suite through compat/run.sh`);
  }
  return value;
}

const domain = need('CASTELLAN_DOMAIN');
const clientId = need('CLIENT_ID');
const clientSecret = need('CLIENT_SECRET');
const CONNECTION = 'Username-Password-Authentication';
const MISSING_ID = 'auth0|000000000000000000000000';

// A fresh tag per test: its users carry it in app_metadata.tag and their e-mail
// domain, so tests are independent and can share one server.
function newTag() {
  return 't' + randomUUID().replace(/-/g, '').slice(0, 16);
}

function userBody(tag, n, extra = {}) {
  return {
    connection: CONNECTION,
    email: `user${n}@${tag}.example.com`,
    password: `Compat-Passw0rd!${tag}`,
    app_metadata: { tag },
    ...extra,
  };
}

module.exports = { domain, clientId, clientSecret, CONNECTION, MISSING_ID, newTag, userBody };
