//! The user grants of /oauth/token: password (and Auth0's password-realm),
//! refresh_token with rotation and reuse detection, authorization_code with
//! PKCE. Client authentication follows the client's
//! `token_endpoint_auth_method`: public clients (`none`) send no secret.

use castellan_crypto::Secret;
use castellan_domain::log_event::LogEvent;
use castellan_domain::tenant_model::Client;
use castellan_store::RevokeBy;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::login::{user_blocked, Grant, UserTokens};
use crate::{App, OAuthError, RequestInfo, Tenant, TokenRequest};

fn invalid_grant(desc: &str) -> OAuthError {
    OAuthError::new(403, "invalid_grant", desc)
}

fn missing(p: &str) -> OAuthError {
    OAuthError::new(400, "invalid_request", format!("Missing required parameter: {p}"))
}

impl App {
    /// The client, authenticated as its settings require, allowed `grant`.
    pub(crate) async fn authenticate_client(
        &self,
        tenant: &Tenant,
        client_id: Option<&str>,
        secret: Option<&Secret>,
        grant: &str,
    ) -> Result<Client, OAuthError> {
        let client = self.verify_client(tenant, client_id, secret).await?;
        let allowed = client.grant_types.iter().any(|g| g == grant)
            || (grant == "http://auth0.com/oauth/grant-type/password-realm"
                && client.grant_types.iter().any(|g| g == "password"));
        if !allowed {
            let mut e = OAuthError::new(
                403,
                "unauthorized_client",
                format!("Grant type '{grant}' not allowed for the client."),
            );
            e.uri = Some("https://auth0.com/docs/clients/client-grant-types");
            return Err(e);
        }
        Ok(client)
    }

    /// The client, authenticated: a confidential client must present its
    /// secret; a public one (`token_endpoint_auth_method: none`) need not.
    pub(crate) async fn verify_client(
        &self,
        tenant: &Tenant,
        client_id: Option<&str>,
        secret: Option<&Secret>,
    ) -> Result<Client, OAuthError> {
        let client_id = client_id.ok_or_else(|| missing("client_id"))?;
        let (client, stored) = self
            .store
            .client_by_id(tenant.id, client_id)
            .await
            .map_err(|_| OAuthError::internal())?
            .ok_or_else(|| OAuthError::new(401, "access_denied", "Unauthorized"))?;
        let public = client.extra.get("token_endpoint_auth_method").and_then(Value::as_str) == Some("none");
        match secret {
            Some(s) if !tenant.secrets.verify(s.expose(), &stored) => {
                return Err(OAuthError::new(401, "access_denied", "Unauthorized"));
            }
            None if !public => return Err(OAuthError::new(401, "access_denied", "Unauthorized")),
            _ => {}
        }
        Ok(client)
    }

    async fn finish(
        &self,
        tenant: &Tenant,
        g: Grant,
        info: &RequestInfo,
        family: Option<String>,
        events: Vec<LogEvent>,
    ) -> Result<UserTokens, OAuthError> {
        let (tokens, row) = self.issue_user_tokens(tenant, &g, info, family).await?;
        match row {
            Some(row) => self.store.insert_refresh_token(tenant.id, &row, &events).await,
            None => self.log_events(tenant.id, events).await,
        }
        .map_err(|_| OAuthError::internal())?;
        Ok(tokens)
    }

    fn exchange_event(
        &self,
        kind: &str,
        tenant: &Tenant,
        client: &Client,
        info: &RequestInfo,
        user_id: Option<&str>,
        desc: &str,
    ) -> LogEvent {
        let mut e = LogEvent::new(kind, self.now_ms());
        e.client_id = Some(client.client_id.clone());
        e.client_name = Some(client.name.clone());
        e.user_id = user_id.map(str::to_string);
        e.ip = info.ip.clone();
        e.user_agent = info.user_agent.clone();
        e.hostname = Some(tenant.domain.clone());
        e.description = Some(desc.to_string());
        e
    }

    pub(crate) async fn password_grant(&self, tenant: &Tenant, req: TokenRequest) -> Result<UserTokens, OAuthError> {
        let grant = req.grant_type.clone().unwrap_or_default();
        let client =
            self.authenticate_client(tenant, req.client_id.as_deref(), req.client_secret.as_ref(), &grant).await?;
        let username = req.username.as_deref().ok_or_else(|| missing("username"))?;
        let password = req.password.as_ref().ok_or_else(|| missing("password"))?;
        let realm =
            if grant == "password" { None } else { Some(req.realm.as_deref().ok_or_else(|| missing("realm"))?) };
        let conn = self.login_connection(tenant, &client, realm).await?;
        let creds = crate::login::Credentials { username, password: password.expose() };
        let user = self.password_login(tenant, &client, &conn, creds, &req.info, "sepft").await?;
        let scope: Vec<String> = req.scope.as_deref().unwrap_or("").split_whitespace().map(str::to_string).collect();
        let g = Grant {
            user,
            client,
            audience: req.audience.clone(),
            scope,
            nonce: None,
            auth_time: self.now_ms(),
            session_id: None,
            gty: "password",
        };
        self.finish(tenant, g, &req.info, None, Vec::new()).await
    }

    pub(crate) async fn refresh_grant(&self, tenant: &Tenant, req: TokenRequest) -> Result<UserTokens, OAuthError> {
        let client = self
            .authenticate_client(tenant, req.client_id.as_deref(), req.client_secret.as_ref(), "refresh_token")
            .await?;
        let presented = req.refresh_token.as_ref().ok_or_else(|| missing("refresh_token"))?;
        let hash = tenant.secrets.hash(presented.expose());
        let unknown = || invalid_grant("Unknown or invalid refresh token.");
        let row = self
            .store
            .refresh_token_by_hash(tenant.id, &hash)
            .await
            .map_err(|_| OAuthError::internal())?
            .ok_or_else(unknown)?;
        let now = self.now_ms();
        let fail = |desc: &str| self.exchange_event("fertft", tenant, &client, &req.info, Some(&row.user_id), desc);
        if row.client_id != client.client_id {
            self.store
                .insert_logs(tenant.id, &[fail("Refresh token issued to another client")])
                .await
                .map_err(|_| OAuthError::internal())?;
            return Err(unknown());
        }
        // A rotated token presented again within the client's leeway is a
        // retry (a lost response), not a breach.
        let leeway_ms = client
            .extra
            .get("refresh_token")
            .and_then(|p| p.get("leeway"))
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0)
            .max(0)
            * 1000;
        let within_leeway = leeway_ms > 0 && row.rotated_at.is_some_and(|r| now - r < leeway_ms);
        if row.rotated_at.is_some() && !within_leeway {
            // Reuse of a rotated token: revoke the whole family.
            let mut e = self.exchange_event(
                "ferrt",
                tenant,
                &client,
                &req.info,
                Some(&row.user_id),
                "Reused rotating refresh token detected; the family is revoked",
            );
            e.details = Some(json!({"family": row.family}));
            self.store
                .revoke_refresh_tokens(tenant.id, RevokeBy::Family(&row.family), now, &[e])
                .await
                .map_err(|_| OAuthError::internal())?;
            return Err(unknown());
        }
        if row.revoked_at.is_some()
            || row.expires_at.is_some_and(|e| e <= now)
            || row.idle_expires_at.is_some_and(|e| e <= now)
        {
            self.store
                .insert_logs(tenant.id, &[fail("Unknown or invalid refresh token.")])
                .await
                .map_err(|_| OAuthError::internal())?;
            return Err(unknown());
        }
        let Some(stored) = self.store.get_user(tenant.id, &row.user_id).await.map_err(|_| OAuthError::internal())?
        else {
            return Err(unknown());
        };
        if stored.user.blocked == Some(true) {
            self.log_events(tenant.id, vec![fail("user is blocked")]).await.map_err(|_| OAuthError::internal())?;
            return Err(user_blocked());
        }
        // A refresh may narrow the scope, never widen it.
        let granted: Vec<String> = row.scope.split_whitespace().map(str::to_string).collect();
        let scope = match req.scope.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(asked) => {
                let asked: Vec<String> = asked.split_whitespace().map(str::to_string).collect();
                if let Some(extra) = asked.iter().find(|s| !granted.contains(s)) {
                    return Err(OAuthError::new(
                        403,
                        "access_denied",
                        format!("The refresh token was not granted the scope {extra}"),
                    ));
                }
                asked
            }
            None => granted,
        };
        let g = Grant {
            user: stored.user,
            client,
            audience: row.audience.clone(),
            scope,
            nonce: None,
            auth_time: row.auth_time.unwrap_or(row.created_at),
            session_id: row.session_id.clone(),
            gty: "refresh_token",
        };
        let ok = self.exchange_event(
            "sertft",
            tenant,
            &g.client,
            &req.info,
            Some(&row.user_id),
            "Refresh Token for Access Token",
        );
        let (mut tokens, new_row) = self.issue_user_tokens(tenant, &g, &req.info, Some(row.family.clone())).await?;
        let mut device = row.device.clone();
        device["last_ip"] = json!(req.info.ip);
        device["last_user_agent"] = json!(req.info.user_agent);
        let idle = new_row.as_ref().and_then(|r| r.idle_expires_at);
        match new_row.filter(|_| row.rotating) {
            Some(mut new_row) => {
                new_row.device = device;
                new_row.created_at = now;
                // Rotation never extends the family's absolute lifetime.
                new_row.expires_at = row.expires_at;
                new_row.auth_time = row.auth_time;
                if within_leeway {
                    self.store
                        .insert_refresh_token(tenant.id, &new_row, &[ok])
                        .await
                        .map_err(|_| OAuthError::internal())?;
                } else {
                    let rotated = self
                        .store
                        .rotate_refresh_token(tenant.id, &row.id, &new_row, now, &[ok])
                        .await
                        .map_err(|_| OAuthError::internal())?;
                    if !rotated {
                        return Err(unknown());
                    }
                }
            }
            None => {
                // Non-rotating: the same refresh token stays valid; none is returned.
                tokens.refresh_token = None;
                self.store
                    .touch_refresh_token(tenant.id, &row.id, now, &device, idle.or(row.idle_expires_at), &[ok])
                    .await
                    .map_err(|_| OAuthError::internal())?;
            }
        }
        Ok(tokens)
    }

    pub(crate) async fn code_grant(&self, tenant: &Tenant, req: TokenRequest) -> Result<UserTokens, OAuthError> {
        let client = self
            .authenticate_client(tenant, req.client_id.as_deref(), req.client_secret.as_ref(), "authorization_code")
            .await?;
        let code = req.code.as_ref().ok_or_else(|| missing("code"))?;
        let now = self.now_ms();
        let (doc, expires) = self
            .store
            .take_auth_code(tenant.id, &tenant.secrets.hash(code.expose()))
            .await
            .map_err(|_| OAuthError::internal())?
            .ok_or_else(|| invalid_grant("Invalid authorization code"))?;
        let s = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
        let fail = |desc: &str| {
            let e = self.exchange_event("feacft", tenant, &client, &req.info, s("user_id").as_deref(), desc);
            (e, invalid_grant(desc))
        };
        let check = if expires <= now || s("client_id").as_deref() != Some(client.client_id.as_str()) {
            Err(fail("Invalid authorization code"))
        } else if s("redirect_uri") != req.redirect_uri {
            Err(fail("The redirect_uri does not match the one of the authorization request"))
        } else {
            match (s("code_challenge"), req.code_verifier.as_deref()) {
                (Some(challenge), Some(verifier)) => {
                    let method = s("code_challenge_method").unwrap_or_else(|| "plain".into());
                    let computed = if method == "S256" {
                        use base64::Engine as _;
                        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
                    } else {
                        verifier.to_string()
                    };
                    if computed == challenge && (43..=128).contains(&verifier.len()) {
                        Ok(())
                    } else {
                        Err(fail("Failed to verify code verifier"))
                    }
                }
                (Some(_), None) => Err(fail("Parameter 'code_verifier' is required")),
                (None, _) if req.client_secret.is_none() => Err(fail("A public client must use PKCE")),
                (None, _) => Ok(()),
            }
        };
        if let Err((event, err)) = check {
            self.log_events(tenant.id, vec![event]).await.map_err(|_| OAuthError::internal())?;
            return Err(err);
        }
        let user_id = s("user_id").unwrap_or_default();
        let stored = self
            .store
            .get_user(tenant.id, &user_id)
            .await
            .map_err(|_| OAuthError::internal())?
            .ok_or_else(|| invalid_grant("Invalid authorization code"))?;
        if stored.user.blocked == Some(true) {
            return Err(user_blocked());
        }
        let g = Grant {
            user: stored.user,
            client,
            audience: s("audience"),
            scope: s("scope").unwrap_or_default().split_whitespace().map(str::to_string).collect(),
            nonce: s("nonce"),
            auth_time: doc.get("auth_time").and_then(Value::as_i64).unwrap_or(now),
            session_id: s("session_id"),
            gty: "authorization_code",
        };
        let ok = self.exchange_event(
            "seacft",
            tenant,
            &g.client,
            &req.info,
            Some(&user_id),
            "Authorization Code for Access Token",
        );
        self.finish(tenant, g, &req.info, None, vec![ok]).await
    }
}
