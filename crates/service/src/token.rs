//! /oauth/token (client credentials) and the verification of Management API
//! bearer tokens.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use castellan_crypto::{verify, JwtError, VerifyOptions};
use castellan_domain::log_event::LogEvent;
use castellan_domain::tenant_model::{Client, ClientGrant, ResourceServer};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{App, OAuthError, Tenant};

/// A token request from a JSON or form body (null and "" mean absent).
#[derive(Debug, Default, Clone)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<castellan_crypto::Secret>,
    pub audience: Option<String>,
    pub scope: Option<String>,
    /// password grants
    pub username: Option<String>,
    pub password: Option<castellan_crypto::Secret>,
    pub realm: Option<String>,
    /// refresh_token grant
    pub refresh_token: Option<castellan_crypto::Secret>,
    /// authorization_code grant
    pub code: Option<castellan_crypto::Secret>,
    pub code_verifier: Option<String>,
    pub redirect_uri: Option<String>,
    /// Where the request came from, for its log event.
    pub info: crate::audit::RequestInfo,
}

/// A token endpoint answer: client credentials, or a user's tokens.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum TokenAnswer {
    Client(TokenResponse),
    User(crate::login::UserTokens),
}

#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub scope: String,
    pub expires_in: i64,
    pub token_type: &'static str,
}

/// How long another instance's change to a client, API or grant may go
/// unseen by this one's token endpoint.
const M2M_CACHE_TTL: Duration = Duration::from_secs(5);
/// Entries kept at most; the cache starts over when full.
const M2M_CACHE_MAX: usize = 10_000;

pub(crate) struct M2mConfig {
    client: Option<(Client, String)>,
    api: Option<ResourceServer>,
    grant: Option<ClientGrant>,
}

impl M2mConfig {
    pub(crate) fn client_name(&self) -> Option<String> {
        self.client.as_ref().map(|(c, _)| c.name.clone())
    }
}

type M2mKey = (i64, String, Option<String>);
/// When it was read, the configuration generation it was read at, the data.
type M2mEntry = (Instant, u64, Arc<M2mConfig>);

#[derive(Default)]
pub(crate) struct M2mCache {
    entries: Mutex<HashMap<M2mKey, M2mEntry>>,
}

impl M2mCache {
    fn lookup(&self, key: &M2mKey, generation: u64) -> Option<Arc<M2mConfig>> {
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let (at, g, cfg) = map.get(key)?;
        (*g == generation && at.elapsed() < M2M_CACHE_TTL).then(|| cfg.clone())
    }

    fn keep(&self, key: M2mKey, generation: u64, cfg: Arc<M2mConfig>) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= M2M_CACHE_MAX {
            map.clear();
        }
        map.insert(key, (Instant::now(), generation, cfg));
    }
}

/// RS256 access tokens of the current second, by key id, `typ` and claims.
/// An Auth0-profile machine-to-machine token has no random part (no `jti`)
/// and RS256 (PKCS#1 v1.5) signatures are deterministic: every request for
/// the same claims within the same second (`iat`) gets the same bytes
/// whether the token is signed again or not, so it is signed once. Requests
/// are authenticated and authorized before this (the secret, the grant, the
/// scopes); the claims (client, audience, scopes, times) are the key. Entries
/// last until the second changes; tokens with a `jti` (RFC 9068 profile)
/// are never kept.
#[derive(Default)]
pub(crate) struct SignedTokens {
    inner: Mutex<(i64, HashMap<String, String>)>,
}

/// Tokens kept at most within one second; past it the map starts over.
const SIGNED_MAX: usize = 10_000;

impl SignedTokens {
    fn get(&self, second: i64, key: &str) -> Option<String> {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (map.0 == second).then(|| map.1.get(key).cloned()).flatten()
    }

    fn keep(&self, second: i64, key: String, token: &str) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if map.0 != second || map.1.len() >= SIGNED_MAX {
            map.0 = second;
            map.1.clear();
        }
        map.1.insert(key, token.to_string());
    }
}

/// Whether every token is signed anew (`CASTELLAN_BENCH_SIGN_EVERY_TOKEN=1`,
/// a benchmarking aid: the token workload then measures signing).
pub fn set_sign_every_token(on: bool) {
    SIGN_EVERY_TOKEN.store(on, std::sync::atomic::Ordering::Relaxed);
}

static SIGN_EVERY_TOKEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn unauthorized() -> OAuthError {
    OAuthError::new(401, "access_denied", "Unauthorized")
}

impl App {
    pub async fn token(&self, tenant: &Tenant, req: TokenRequest) -> Result<TokenAnswer, OAuthError> {
        let grant = req
            .grant_type
            .as_deref()
            .ok_or_else(|| OAuthError::new(400, "invalid_request", "Missing required parameter: grant_type"))?;
        match grant {
            "client_credentials" => {
                let (client_id, audience, info) = (req.client_id.clone(), req.audience.clone(), req.info.clone());
                let result = self.client_credentials(tenant, req).await;
                let mut e = LogEvent::new(if result.is_ok() { "seccft" } else { "feccft" }, self.now_ms());
                e.client_id = client_id;
                e.audience = audience;
                e.ip = info.ip;
                e.user_agent = info.user_agent;
                e.hostname = Some(tenant.domain.clone());
                match &result {
                    Ok((resp, client_name)) => {
                        e.description = Some("Client Credentials for Access Token".into());
                        e.scope = Some(resp.scope.clone());
                        e.client_name = client_name.clone();
                    }
                    Err(err) => e.description = Some(err.description.clone()),
                }
                if let Err(log_err) = self.log_events(tenant.id, vec![e]).await {
                    tracing::error!(error = %log_err, "could not record the token event");
                    return Err(OAuthError::internal());
                }
                result.map(|(resp, _)| TokenAnswer::Client(resp))
            }
            "password" | "http://auth0.com/oauth/grant-type/password-realm" => {
                self.password_grant(tenant, req).await.map(TokenAnswer::User)
            }
            "refresh_token" => self.refresh_grant(tenant, req).await.map(TokenAnswer::User),
            "authorization_code" => self.code_grant(tenant, req).await.map(TokenAnswer::User),
            "urn:ietf:params:oauth:grant-type:device_code"
            | "urn:ietf:params:oauth:grant-type:token-exchange"
            | "http://auth0.com/oauth/grant-type/passwordless/otp"
            | "http://auth0.com/oauth/grant-type/mfa-otp"
            | "http://auth0.com/oauth/grant-type/mfa-oob"
            | "http://auth0.com/oauth/grant-type/mfa-recovery-code" => Err(OAuthError::new(
                501,
                "unsupported_grant_type",
                format!("castellan does not support the grant type '{grant}' yet."),
            )),
            other => Err(OAuthError::new(403, "unsupported_grant_type", format!("Unsupported grant type: {other}"))),
        }
    }

    /// The token and the client's name (for the event).
    async fn client_credentials(
        &self,
        tenant: &Tenant,
        req: TokenRequest,
    ) -> Result<(TokenResponse, Option<String>), OAuthError> {
        let client_id =
            req.client_id.as_deref().ok_or_else(|| OAuthError::new(401, "access_denied", "Unauthorized"))?;
        let secret = req.client_secret.as_ref().ok_or_else(unauthorized)?;
        let cfg = self.m2m_config(tenant.id, client_id, req.audience.as_deref()).await?;
        let (client, stored_hash) = cfg.client.as_ref().ok_or_else(unauthorized)?;
        if !tenant.secrets.verify(secret.expose(), stored_hash) {
            return Err(unauthorized());
        }
        if !client.grant_types.iter().any(|g| g == "client_credentials") {
            let mut e = OAuthError::new(
                403,
                "unauthorized_client",
                "Grant type 'client_credentials' not allowed for the client.",
            );
            e.uri = Some("https://auth0.com/docs/clients/client-grant-types");
            return Err(e);
        }
        let audience = req.audience.as_deref().ok_or_else(|| {
            OAuthError::new(
                403,
                "access_denied",
                "No audience parameter was provided, and no default audience has been configured",
            )
        })?;
        let api = cfg.api.as_ref().ok_or_else(|| {
            OAuthError::new(403, "access_denied", format!("Service not enabled within domain: {audience}"))
        })?;
        let grant = cfg.grant.as_ref().ok_or_else(|| {
            OAuthError::new(
                403,
                "access_denied",
                format!("Client is not authorized to access \"{audience}\". You need to create a \"client-grant\" associated to this API."),
            )
        })?;
        // A grant for user flows does not authorize machine-to-machine tokens.
        if grant.extra.get("subject_type").and_then(|v| v.as_str()).is_some_and(|t| t != "client") {
            return Err(OAuthError::new(
                403,
                "access_denied",
                format!("Client is not authorized to access \"{audience}\". You need to create a \"client-grant\" associated to this API."),
            ));
        }
        let scopes: Vec<String> = match req.scope.as_deref() {
            Some(requested) => {
                let asked: BTreeSet<&str> = requested.split_whitespace().collect();
                let missing: Vec<&str> =
                    asked.iter().copied().filter(|s| !grant.scope.iter().any(|g| g == s)).collect();
                if !missing.is_empty() {
                    return Err(OAuthError::new(
                        403,
                        "access_denied",
                        format!("Client has not been granted scopes: {}", missing.join(" ")),
                    ));
                }
                grant.scope.iter().filter(|s| asked.contains(s.as_str())).cloned().collect()
            }
            None => grant.scope.clone(),
        };
        let scope = scopes.join(" ");
        let now = self.now_ms() / 1000;
        let mut claims = json!({
            "iss": tenant.issuer,
            "sub": format!("{client_id}@clients"),
            "aud": audience,
            "iat": now,
            "exp": now + api.token_lifetime,
            "scope": scope,
            "gty": "client-credentials",
            "azp": client_id,
        });
        let typ = if api.rfc9068() {
            // RFC 9068: client_id and jti instead of Auth0's azp and gty.
            if let Some(c) = claims.as_object_mut() {
                c.remove("azp");
                c.remove("gty");
                c.insert("client_id".into(), json!(client_id));
                c.insert("jti".into(), json!(castellan_domain::ids::random_token(24)));
            }
            "at+jwt"
        } else {
            "JWT"
        };
        if api.adds_permissions_claim() {
            // For machine-to-machine tokens the permissions are the granted scopes.
            claims["permissions"] = json!(scopes);
        }
        let access_token = match api.hs256_secret() {
            Some(secret) => castellan_crypto::keys::sign_hs256(secret.as_bytes(), &claims, typ),
            None => {
                let key = tenant.keys.current().ok_or_else(OAuthError::internal)?;
                let memo = claims.get("jti").is_none_or(|j| j.is_null())
                    && !SIGN_EVERY_TOKEN.load(std::sync::atomic::Ordering::Relaxed);
                let memo_key = memo.then(|| format!("{}\n{typ}\n{claims}", key.kid));
                match memo_key.as_deref().and_then(|k| self.signed.get(now, k)) {
                    Some(token) => token,
                    None => {
                        let token = key.sign_jwt_typed(&claims, typ).map_err(|_| OAuthError::internal())?;
                        if let Some(k) = memo_key {
                            self.signed.keep(now, k, &token);
                        }
                        token
                    }
                }
            }
        };
        Ok((
            TokenResponse { access_token, scope, expires_in: api.token_lifetime, token_type: "Bearer" },
            Some(client.name.clone()),
        ))
    }

    /// The client, API and grant a client-credentials request needs, from a
    /// short-lived cache: the token path then runs no SQL. An entry is used
    /// while no configuration change was committed in this process since it
    /// was read (`Store::config_generation`), and for at most
    /// `M2M_CACHE_TTL` (changes made by other instances).
    pub(crate) async fn m2m_config(
        &self,
        tenant: i64,
        client_id: &str,
        audience: Option<&str>,
    ) -> Result<Arc<M2mConfig>, OAuthError> {
        let key = (tenant, client_id.to_string(), audience.map(str::to_string));
        let generation = self.store.config_generation();
        if let Some(hit) = self.m2m.lookup(&key, generation) {
            return Ok(hit);
        }
        let client = self.store.client_by_id(tenant, client_id).await.map_err(|_| OAuthError::internal())?;
        let (mut api, mut grant) = (None, None);
        if let (Some(_), Some(aud)) = (&client, audience) {
            api = self.store.resource_server_by_identifier(tenant, aud).await.map_err(|_| OAuthError::internal())?;
            if api.is_some() {
                grant =
                    self.store.client_grant_for(tenant, client_id, aud).await.map_err(|_| OAuthError::internal())?;
            }
        }
        let found = client.is_some();
        let cfg = Arc::new(M2mConfig { client, api, grant });
        if found {
            // Unknown client ids are not kept: they would let anyone fill
            // the cache.
            self.m2m.keep(key, generation, cfg.clone());
        }
        Ok(cfg)
    }

    /// Verifies a Management API bearer token for this tenant.
    pub fn management_principal(&self, tenant: &Tenant, token: &str) -> Result<Principal, JwtError> {
        let now_secs = self.now_ms() / 1000;
        let digest: Digest32 = Sha256::digest(token.as_bytes()).into();
        if let Some(caller) = tenant.verified.get(&digest, now_secs) {
            return Ok(caller.principal());
        }
        let opts = VerifyOptions { issuer: &tenant.issuer, audience: &tenant.management_audience, now_secs };
        let claims = verify(token, &tenant.keys, &opts)?;
        let scopes: BTreeSet<String> = claims
            .get("scope")
            .and_then(|s| s.as_str())
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        let caller = Verified {
            subject: claims.get("sub").and_then(|s| s.as_str()).unwrap_or_default().to_string(),
            client_id: claims.get("azp").and_then(|s| s.as_str()).map(str::to_string),
            scopes: Arc::new(scopes),
            not_before: claims.get("nbf").and_then(|n| n.as_i64()),
        };
        let principal = caller.principal();
        // `verify` has checked that `exp` is there and a number.
        if let Some(exp) = claims.get("exp").and_then(|e| e.as_i64()) {
            tenant.verified.keep(digest, exp, caller);
        }
        Ok(principal)
    }
}

/// Management API tokens a tenant has verified, by the SHA-256 of the
/// token (the cache holds digests, never tokens), each until its `exp`.
/// Every Management API request presents its bearer token, and an SDK
/// presents the same one for hours: verifying it again (the RSA signature,
/// base64 and JSON of a payload that may list every scope, and the scope
/// set) was the largest part of a GET's CPU. The cache lives in the
/// `Tenant`, which is read again at least every few seconds and after each
/// change made here, so a signing key removed from the tenant stops
/// accepting its tokens as soon as the tenant itself does.
#[derive(Default)]
pub struct VerifiedTokens {
    inner: Mutex<HashMap<Digest32, (i64, Arc<Verified>)>>,
}

/// A token's SHA-256.
type Digest32 = [u8; 32];

impl std::fmt::Debug for VerifiedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokens").finish_non_exhaustive()
    }
}

/// What a verified Management API token says about its caller.
struct Verified {
    subject: String,
    client_id: Option<String>,
    scopes: Arc<BTreeSet<String>>,
    not_before: Option<i64>,
}

impl Verified {
    fn principal(&self) -> Principal {
        Principal {
            subject: self.subject.clone(),
            client_id: self.client_id.clone(),
            scopes: self.scopes.clone(),
            ..Default::default()
        }
    }
}

/// Tokens kept at most per tenant; past it the cache starts over.
const VERIFIED_MAX: usize = 256;

impl VerifiedTokens {
    /// The caller of a token verified before, while it is still valid
    /// (`exp` not reached, `nbf` passed: the checks `verify` makes on time).
    fn get(&self, digest: &Digest32, now_secs: i64) -> Option<Arc<Verified>> {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (exp, caller) = map.get(digest)?;
        let valid = *exp > now_secs && caller.not_before.is_none_or(|nbf| nbf <= now_secs);
        valid.then(|| caller.clone())
    }

    fn keep(&self, digest: Digest32, exp: i64, caller: Verified) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= VERIFIED_MAX {
            map.clear();
        }
        map.insert(digest, (exp, Arc::new(caller)));
    }
}

/// Who called the Management API, with which scopes, and how (for events).
#[derive(Debug, Clone, Default)]
pub struct Principal {
    pub subject: String,
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    /// Shared: a principal is cloned into each request's extensions, and the
    /// set of an application granted every scope has ~150 entries.
    pub scopes: Arc<BTreeSet<String>>,
    pub request: crate::audit::RequestInfo,
}

impl Principal {
    pub fn has(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }
    pub fn has_any(&self, scopes: &[&str]) -> bool {
        scopes.iter().any(|s| self.has(s))
    }
}

#[cfg(test)]
mod verified_tests {
    use super::*;

    /// A kept token counts only inside its validity window: from `nbf`
    /// (inclusive) to `exp` (exclusive), as `verify` decides.
    #[test]
    fn kept_tokens_follow_nbf_and_exp() {
        let cache = VerifiedTokens::default();
        let caller = |nbf| Verified {
            subject: "app@clients".into(),
            client_id: Some("app".into()),
            scopes: Arc::new(BTreeSet::from(["read:users".to_string()])),
            not_before: nbf,
        };
        cache.keep([1; 32], 100, caller(Some(50)));
        cache.keep([2; 32], 100, caller(None));
        for (now, want) in [(49, false), (50, true), (99, true), (100, false)] {
            assert_eq!(cache.get(&[1; 32], now).is_some(), want, "nbf 50, exp 100, now {now}");
        }
        assert!(cache.get(&[2; 32], 0).is_some());
        assert!(cache.get(&[3; 32], 60).is_none(), "an unknown digest");
        // Full: it starts over instead of growing.
        for i in 0..VERIFIED_MAX as u64 {
            let mut digest = [9u8; 32];
            digest[..8].copy_from_slice(&i.to_le_bytes());
            cache.keep(digest, 100, caller(None));
        }
        assert!(cache.inner.lock().unwrap().len() <= VERIFIED_MAX);
    }
}
