// oidc-provider as a client-credentials token server, for castellan-bench.
//
// - one confidential client (client_secret_post or basic) allowed only the
//   client_credentials grant;
// - RFC 8707 resource indicators: the API https://api.bench/ gets RS256 JWT
//   access tokens (24 h), like castellan's Management API tokens;
// - HTTPS on 127.0.0.1 with the certificate of a castellan data dir
//   (TLS_DIR/server.pem, server-key.pem), so both servers offer the same TLS;
// - WORKERS processes (node:cluster, default: the number of cores) sharing
//   one signing key; their pids are written to PID_FILE.
//
// Env: TLS_DIR (required), PORT (default 9443), WORKERS, PID_FILE,
//      CLIENT_ID, CLIENT_SECRET, SCOPES (space-separated).
import cluster from 'node:cluster';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';

const PORT = Number(process.env.PORT || 9443);
const WORKERS = Number(process.env.WORKERS || os.availableParallelism());
const AUDIENCE = 'https://api.bench/';
const SCOPES = (process.env.SCOPES || 'read:users update:users create:users').split(' ');

if (cluster.isPrimary) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-rs256', alg: 'RS256', use: 'sig' };
  const pids = [process.pid];
  for (let i = 0; i < WORKERS; i += 1) {
    pids.push(cluster.fork({ BENCH_JWK: JSON.stringify(jwk) }).process.pid);
  }
  if (process.env.PID_FILE) writeFileSync(process.env.PID_FILE, pids.join(','));
  const stop = () => {
    for (const w of Object.values(cluster.workers)) w.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  const { default: Provider } = await import('oidc-provider');
  const jwk = JSON.parse(process.env.BENCH_JWK);
  const provider = new Provider(`https://localhost:${PORT}`, {
    clients: [{
      client_id: process.env.CLIENT_ID || 'bench-client',
      client_secret: process.env.CLIENT_SECRET || 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_post',
    }],
    jwks: { keys: [jwk] },
    scopes: ['openid', ...SCOPES],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource) => {
          if (resource !== AUDIENCE) throw new Error('unknown resource');
          return {
            scope: SCOPES.join(' '),
            audience: AUDIENCE,
            accessTokenTTL: 24 * 60 * 60,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
  });
  const dir = process.env.TLS_DIR;
  const server = https.createServer({
    cert: readFileSync(path.join(dir, 'server.pem')),
    key: readFileSync(path.join(dir, 'server-key.pem')),
    keepAliveTimeout: 60_000,
  }, provider.callback());
  server.listen(PORT, '127.0.0.1');
}
