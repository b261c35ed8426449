//! End-user authentication: password checks with brute-force protection and
//! login bookkeeping, and the tokens a login earns (access token for an API
//! or for /userinfo, ID token, refresh token with optional rotation).

use castellan_domain::clock::format_ms;
use castellan_domain::ids;
use castellan_domain::log_event::LogEvent;
use castellan_domain::tenant_model::{Client, Connection};
use castellan_domain::user::User;
use castellan_store::{Bucket, RefreshTokenRow, StoredUser};
use serde_json::{json, Value};

use crate::attack_protection::BruteForceMode;
use crate::{App, OAuthError, RequestInfo, Tenant};

/// Auth0's default brute-force threshold (failed logins per user and IP);
/// the tenant's `brute_force_protection.max_attempts` replaces it.
pub const BRUTE_FORCE_THRESHOLD: i64 = 10;

fn wrong_credentials() -> OAuthError {
    OAuthError::new(403, "invalid_grant", "Wrong email or password.")
}

pub fn user_blocked() -> OAuthError {
    OAuthError::new(401, "unauthorized", "user is blocked")
}

fn too_many_attempts() -> OAuthError {
    OAuthError::new(
        429,
        "too_many_attempts",
        "Your account has been blocked after multiple consecutive login attempts. We've sent you an email with instructions on how to unblock it.",
    )
}

/// A username (or email) and password presented at login.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    pub username: &'a str,
    pub password: &'a str,
}

/// What a login earns: used to build tokens.
#[derive(Debug, Clone)]
pub struct Grant {
    pub user: User,
    pub client: Client,
    pub audience: Option<String>,
    pub scope: Vec<String>,
    pub nonce: Option<String>,
    pub auth_time: i64,
    pub session_id: Option<String>,
    /// `gty` of the access token (`password`, `authorization_code`, `refresh_token`).
    pub gty: &'static str,
}

#[derive(Debug, serde::Serialize)]
pub struct UserTokens {
    pub access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
    pub expires_in: i64,
    pub token_type: &'static str,
}

impl App {
    fn login_event(
        &self,
        kind: &str,
        tenant: &Tenant,
        client: &Client,
        info: &RequestInfo,
        conn: Option<&Connection>,
    ) -> LogEvent {
        let mut e = LogEvent::new(kind, self.now_ms());
        e.client_id = Some(client.client_id.clone());
        e.client_name = Some(client.name.clone());
        e.ip = info.ip.clone();
        e.user_agent = info.user_agent.clone();
        e.hostname = Some(tenant.domain.clone());
        if let Some(c) = conn {
            e.connection = Some(c.name.clone());
            e.connection_id = Some(c.id.clone());
            e.strategy = Some(c.strategy.clone());
            e.strategy_type = Some("database".into());
        }
        e
    }

    /// The database connection a login uses: the realm, or the first
    /// database connection enabled for the client.
    pub async fn login_connection(
        &self,
        tenant: &Tenant,
        client: &Client,
        realm: Option<&str>,
    ) -> Result<Connection, OAuthError> {
        let conn = match realm {
            Some(r) => self.store.connection_by_name(tenant.id, r).await.map_err(|_| OAuthError::internal())?,
            None => {
                let all = self
                    .list_connections(tenant, &["auth0".to_string()], None)
                    .await
                    .map_err(|_| OAuthError::internal())?;
                all.into_iter()
                    .filter_map(|c| serde_json::from_value::<Connection>(c).ok())
                    .find(|c| c.enabled_clients.iter().any(|e| e == &client.client_id))
            }
        };
        let conn = conn.filter(|c| c.is_database()).ok_or_else(|| {
            OAuthError::new(400, "invalid_request", "The connection does not exist or is not a database connection.")
        })?;
        if !conn.enabled_clients.iter().any(|c| c == &client.client_id) {
            return Err(OAuthError::new(403, "unauthorized_client", "The connection is not enabled for this client."));
        }
        Ok(conn)
    }

    async fn find_login_user(
        &self,
        tenant: &Tenant,
        conn: &Connection,
        username: &str,
    ) -> Result<Option<StoredUser>, OAuthError> {
        let needle = username.trim().to_lowercase();
        let found = self.store.users_by_email(tenant.id, &needle).await.map_err(|_| OAuthError::internal())?;
        if let Some(u) = found.into_iter().find(|u| u.user.connection() == Some(conn.name.as_str())) {
            return Ok(Some(u));
        }
        // Usernames, for connections that use them.
        let filter = castellan_query::Filter::Field {
            path: "username".into(),
            kind: castellan_query::FieldKind::Text { case_insensitive: true },
            cond: castellan_query::Cond::Eq(castellan_query::Scalar::Text(needle)),
        };
        let page = self
            .store
            .search_users(tenant.id, &filter, None, 0, 10, false)
            .await
            .map_err(|_| OAuthError::internal())?;
        Ok(page.users.into_iter().find(|u| u.user.connection() == Some(conn.name.as_str())))
    }

    /// Checks a username/email and password against a database connection,
    /// with brute-force protection, and records the outcome. On success the
    /// user's logins_count, last_login and last_ip are updated.
    pub async fn password_login(
        &self,
        tenant: &Tenant,
        client: &Client,
        conn: &Connection,
        creds: Credentials<'_>,
        info: &RequestInfo,
        success_kind: &str,
    ) -> Result<User, OAuthError> {
        let Credentials { username, password } = creds;
        let ip = info.ip.clone().unwrap_or_else(|| "0.0.0.0".into());
        let fail = |kind: &str, desc: &str, user: Option<&User>| {
            let mut e = self.login_event(kind, tenant, client, info, Some(conn));
            e.description = Some(desc.to_string());
            e.user_name = Some(username.to_string());
            if let Some(u) = user {
                e.user_id = Some(u.user_id.clone());
            }
            e
        };
        let brute_force = tenant.settings.brute_force();
        let throttling = tenant.settings.suspicious_ip();
        let throttles = throttling.throttles(&ip);
        let bucket = Bucket { max: throttling.stage.pre_login.max_attempts, rate_ms: throttling.stage.pre_login.rate };
        let now = self.now_ms();
        let throttled = throttles
            && self.store.ip_throttled(tenant.id, &ip, now, bucket).await.map_err(|_| OAuthError::internal())?;
        if throttled || self.store.ip_blocked(tenant.id, &ip).await.map_err(|_| OAuthError::internal())? {
            return Err(OAuthError::new(429, "too_many_attempts", "We have detected suspicious login behavior and further attempts will be blocked. Please contact the administrator."));
        }
        // Suspicious-IP throttling counts failed logins from one IP, whoever they name.
        let ip_failure = |user: Option<&User>| {
            let (store, ip) = (&self.store, ip.clone());
            let mut e = fail("limit_mu", "Blocked IP address: too many failed logins from it", user);
            e.details = Some(json!({"ip": ip}));
            async move {
                let blocked = throttles
                    && store
                        .record_ip_failure(tenant.id, &ip, now, bucket)
                        .await
                        .map_err(|_| OAuthError::internal())?;
                Ok::<_, OAuthError>(blocked.then_some(e))
            }
        };
        let Some(stored) = self.find_login_user(tenant, conn, username).await? else {
            let mut events = vec![fail("fu", "Wrong email or password.", None)];
            events.extend(ip_failure(None).await?);
            self.log_events(tenant.id, events).await.map_err(|_| OAuthError::internal())?;
            return Err(wrong_credentials());
        };
        let user = stored.user;
        let protect = conn.options.brute_force_protection.unwrap_or(true) && brute_force.blocks(&ip);
        let max_attempts = brute_force.max_attempts;
        if protect
            && self
                .store
                .login_blocked(tenant.id, &user.user_id, &ip, max_attempts)
                .await
                .map_err(|_| OAuthError::internal())?
        {
            let e = fail("f", "Blocked by brute-force protection", Some(&user));
            self.log_events(tenant.id, vec![e]).await.map_err(|_| OAuthError::internal())?;
            return Err(too_many_attempts());
        }
        let ok = match &stored.password_hash {
            Some(h) => self.hasher.verify(password.to_string(), h.clone()).await.map_err(|_| OAuthError::internal())?,
            None => false,
        };
        if !ok {
            let mut events = vec![fail("fp", "Wrong email or password.", Some(&user))];
            if protect {
                // Account Lockout counts every IP together, under the IP "".
                let (key, what) = match brute_force.mode {
                    BruteForceMode::CountPerIdentifier => ("", "Blocked account: too many failed logins"),
                    BruteForceMode::CountPerIdentifierAndIp => {
                        (ip.as_str(), "Blocked account: too many failed logins from this IP")
                    }
                };
                let (_, blocked) = self
                    .store
                    .record_login_failure(tenant.id, &user.user_id, key, now, max_attempts)
                    .await
                    .map_err(|_| OAuthError::internal())?;
                if blocked {
                    let mut b = fail("limit_wc", what, Some(&user));
                    b.details = Some(json!({"ip": ip}));
                    events.push(b);
                }
            }
            events.extend(ip_failure(Some(&user)).await?);
            self.log_events(tenant.id, events).await.map_err(|_| OAuthError::internal())?;
            return Err(wrong_credentials());
        }
        if user.blocked == Some(true) {
            let e = fail("f", "user is blocked", Some(&user));
            self.log_events(tenant.id, vec![e]).await.map_err(|_| OAuthError::internal())?;
            return Err(user_blocked());
        }
        let before = user.clone();
        let mut u = user;
        u.logins_count = Some(u.logins_count.unwrap_or(0) + 1);
        u.last_login = Some(format_ms(now));
        u.last_ip = Some(ip.clone());
        let mut e = self.login_event(success_kind, tenant, client, info, Some(conn));
        e.user_id = Some(u.user_id.clone());
        e.user_name = u.email.clone().or_else(|| u.username.clone());
        e.description =
            Some(if success_kind == "s" { "Successful login".into() } else { "Password for Access Token".into() });
        e.details = Some(json!({"stats": {"loginsCount": u.logins_count}}));
        if protect {
            self.store
                .clear_login_failures(tenant.id, &u.user_id, Some(&ip), &[])
                .await
                .map_err(|_| OAuthError::internal())?;
        }
        // Queued events that happened before (a failed attempt) first.
        self.flush_events().await;
        self.store
            .update_user(tenant.id, stored.pk, &before, &u, None, &[e])
            .await
            .map_err(|_| OAuthError::internal())?;
        Ok(u)
    }

    /// Access token (for the audience, or for /userinfo), ID token when
    /// `openid` was granted, refresh token when `offline_access` was granted
    /// and the API allows it.
    pub async fn issue_user_tokens(
        &self,
        tenant: &Tenant,
        g: &Grant,
        info: &RequestInfo,
        family: Option<String>,
    ) -> Result<(UserTokens, Option<RefreshTokenRow>), OAuthError> {
        let now_ms = self.now_ms();
        let now = now_ms / 1000;
        let userinfo = format!("https://{}/userinfo", tenant.domain);
        let api = match &g.audience {
            Some(a) => Some(
                self.store
                    .resource_server_by_identifier(tenant.id, a)
                    .await
                    .map_err(|_| OAuthError::internal())?
                    .ok_or_else(|| {
                        OAuthError::new(403, "access_denied", format!("Service not enabled within domain: {a}"))
                    })?,
            ),
            None => None,
        };
        // Granted scopes: OIDC scopes always; API scopes that the API defines,
        // narrowed to the user's permissions when the API enforces policies.
        const OIDC: &[&str] = &["openid", "profile", "email", "offline_access", "address", "phone"];
        let mut permissions: Vec<String> = Vec::new();
        if let Some(api) = &api {
            if api.enforce_policies() || api.adds_permissions_claim() {
                permissions = self
                    .store
                    .user_permissions_for_audience(tenant.id, &g.user.user_id, &api.identifier)
                    .await
                    .map_err(|_| OAuthError::internal())?;
            }
        }
        let scope: Vec<String> = g
            .scope
            .iter()
            .filter(|s| {
                OIDC.contains(&s.as_str())
                    || api.as_ref().is_some_and(|a| {
                        a.scopes.iter().any(|d| &d.value == *s) && (!a.enforce_policies() || permissions.contains(s))
                    })
            })
            .cloned()
            .collect();
        let has = |s: &str| scope.iter().any(|x| x == s);
        let lifetime = api.as_ref().map(|a| a.token_lifetime).unwrap_or(86400);
        let aud = match &api {
            Some(a) if has("openid") => json!([a.identifier, userinfo]),
            Some(a) => json!(a.identifier),
            None => json!(userinfo),
        };
        let mut claims = json!({
            "iss": tenant.issuer, "sub": g.user.user_id, "aud": aud, "iat": now, "exp": now + lifetime,
            "scope": scope.join(" "), "azp": g.client.client_id, "gty": g.gty,
        });
        if api.as_ref().is_some_and(|a| a.adds_permissions_claim()) {
            claims["permissions"] = json!(permissions);
        }
        let key = tenant.keys.current().ok_or_else(OAuthError::internal)?;
        let access_token = match api.as_ref().and_then(|a| a.hs256_secret()) {
            Some(secret) => castellan_crypto::keys::sign_hs256(secret.as_bytes(), &claims, "JWT"),
            None => key.sign_jwt(&claims).map_err(|_| OAuthError::internal())?,
        };
        let id_token = if has("openid") {
            let lifetime = g
                .client
                .extra
                .get("jwt_configuration")
                .and_then(|j| j.get("lifetime_in_seconds"))
                .and_then(Value::as_i64)
                .unwrap_or(36000);
            let mut c = self.profile_claims(&g.user, &scope);
            c["iss"] = json!(tenant.issuer);
            c["aud"] = json!(g.client.client_id);
            c["iat"] = json!(now);
            c["exp"] = json!(now + lifetime);
            c["auth_time"] = json!(g.auth_time / 1000);
            c["at_hash"] = json!(castellan_crypto::keys::at_hash(&access_token));
            if let Some(n) = &g.nonce {
                c["nonce"] = json!(n);
            }
            if let Some(s) = &g.session_id {
                c["sid"] = json!(s);
            }
            Some(key.sign_jwt(&c).map_err(|_| OAuthError::internal())?)
        } else {
            None
        };
        let offline_ok = api.as_ref().is_none_or(|a| a.allow_offline_access);
        let (refresh_token, row) = if has("offline_access") && offline_ok {
            let token = ids::client_secret();
            let policy = g.client.extra.get("refresh_token").cloned().unwrap_or(json!({}));
            let rotating = policy.get("rotation_type").and_then(Value::as_str) == Some("rotating");
            let infinite = policy.get("infinite_token_lifetime").and_then(Value::as_bool).unwrap_or(true);
            let infinite_idle = policy.get("infinite_idle_token_lifetime").and_then(Value::as_bool).unwrap_or(true);
            let idle = policy.get("idle_token_lifetime").and_then(Value::as_i64).unwrap_or(1_296_000);
            let lifetime = policy.get("token_lifetime").and_then(Value::as_i64).unwrap_or(2_592_000);
            let row = RefreshTokenRow {
                id: ids::random_token(24),
                family: family.unwrap_or_else(|| ids::random_token(24)),
                token_hash: tenant.secrets.hash(&token),
                user_id: g.user.user_id.clone(),
                client_id: g.client.client_id.clone(),
                audience: g.audience.clone(),
                scope: scope.join(" "),
                session_id: g.session_id.clone(),
                rotating,
                created_at: now_ms,
                expires_at: (!infinite).then_some(now_ms + lifetime * 1000),
                idle_expires_at: (!infinite_idle).then_some(now_ms + idle * 1000),
                last_used_at: None,
                rotated_at: None,
                revoked_at: None,
                device: json!({"initial_ip": info.ip, "initial_user_agent": info.user_agent, "last_ip": info.ip, "last_user_agent": info.user_agent}),
                auth_time: Some(g.auth_time),
            };
            (Some(token), Some(row))
        } else {
            (None, None)
        };
        Ok((
            UserTokens {
                access_token,
                id_token,
                refresh_token,
                scope: scope.join(" "),
                expires_in: lifetime,
                token_type: "Bearer",
            },
            row,
        ))
    }

    /// OIDC claims of a user for the granted scopes (ID token, /userinfo).
    pub fn profile_claims(&self, u: &User, scope: &[String]) -> Value {
        let has = |s: &str| scope.iter().any(|x| x == s);
        let mut c = json!({"sub": u.user_id});
        if has("profile") {
            for (k, v) in [
                ("name", &u.name),
                ("nickname", &u.nickname),
                ("picture", &u.picture),
                ("given_name", &u.given_name),
                ("family_name", &u.family_name),
            ] {
                if let Some(v) = v {
                    c[k] = json!(v);
                }
            }
            c["updated_at"] = json!(u.updated_at);
        }
        if has("email") {
            if let Some(e) = &u.email {
                c["email"] = json!(e);
                c["email_verified"] = json!(u.email_verified);
            }
        }
        c
    }
}
