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
        let opts = VerifyOptions {
            issuer: &tenant.issuer,
            audience: &tenant.management_audience,
            now_secs: self.now_ms() / 1000,
        };
        let claims = verify(token, &tenant.keys, &opts)?;
        let scopes = claims
            .get("scope")
            .and_then(|s| s.as_str())
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        let client_id = claims.get("azp").and_then(|s| s.as_str()).map(str::to_string);
        let subject = claims.get("sub").and_then(|s| s.as_str()).unwrap_or_default().to_string();
        Ok(Principal { subject, client_id, scopes, ..Default::default() })
    }
}

/// Who called the Management API, with which scopes, and how (for events).
#[derive(Debug, Clone, Default)]
pub struct Principal {
    pub subject: String,
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    pub scopes: BTreeSet<String>,
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
