//! The Authentication API's end-user endpoints besides /oauth/token:
//! /userinfo, /oauth/revoke, /dbconnections/signup and
//! /dbconnections/change_password.

use castellan_crypto::{verify, Secret, VerifyOptions};
use castellan_domain::log_event::LogEvent;
use castellan_domain::tenant_model::Client;
use castellan_store::RevokeBy;
use serde_json::{json, Map, Value};

use crate::{App, OAuthError, Principal, RequestInfo, ServiceError, Tenant};

/// A /dbconnections error: `{name, code, description, statusCode}`.
#[derive(Debug, Clone, PartialEq)]
pub struct DbError {
    pub status: u16,
    pub name: &'static str,
    pub code: &'static str,
    pub description: Value,
}

impl DbError {
    fn bad(code: &'static str, description: impl Into<String>) -> Self {
        DbError { status: 400, name: "BadRequestError", code, description: Value::String(description.into()) }
    }
    pub fn internal() -> Self {
        DbError {
            status: 500,
            name: "InternalServerError",
            code: "internal_error",
            description: json!("Internal error"),
        }
    }
}

/// Auth0's signup limits on user_metadata: 10 properties, string values of
/// at most 500 characters, names of at most 100.
fn check_signup_metadata(md: &Map<String, Value>) -> Result<(), DbError> {
    if md.len() > 10 {
        return Err(DbError::bad("invalid_signup", "user_metadata can have at most 10 properties"));
    }
    for (k, v) in md {
        if k.chars().count() > 100 || v.as_str().is_none_or(|s| s.chars().count() > 500) {
            return Err(DbError::bad(
                "invalid_signup",
                "user_metadata values must be strings of at most 500 characters",
            ));
        }
    }
    Ok(())
}

impl App {
    /// /userinfo: the claims the access token's scopes allow.
    pub async fn userinfo(&self, tenant: &Tenant, token: &str) -> Result<Value, OAuthError> {
        let invalid = || OAuthError::new(401, "invalid_token", "The access token is invalid or expired.");
        let audience = format!("https://{}/userinfo", tenant.domain);
        let opts = VerifyOptions { issuer: &tenant.issuer, audience: &audience, now_secs: self.now_ms() / 1000 };
        let claims = verify(token, &tenant.keys, &opts).map_err(|_| invalid())?;
        let scope: Vec<String> =
            claims.get("scope").and_then(Value::as_str).unwrap_or("").split_whitespace().map(str::to_string).collect();
        if !scope.iter().any(|s| s == "openid") {
            return Err(OAuthError::new(403, "insufficient_scope", "The access token lacks the openid scope."));
        }
        let sub = claims.get("sub").and_then(Value::as_str).ok_or_else(invalid)?;
        let user =
            self.store.get_user(tenant.id, sub).await.map_err(|_| OAuthError::internal())?.ok_or_else(invalid)?;
        Ok(self.profile_claims(&user.user, &scope))
    }

    /// POST /tokeninfo (legacy): the profile behind a valid ID token issued by
    /// this tenant to one of its clients.
    pub async fn tokeninfo(&self, tenant: &Tenant, id_token: Option<&str>) -> Result<Value, OAuthError> {
        let invalid = || OAuthError::new(401, "invalid_token", "The id_token is invalid or expired.");
        let token = id_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::new(400, "invalid_request", "Missing required parameter: id_token"))?;
        // The audience is the client the token was issued to: read it, then
        // verify the whole token strictly against that audience.
        let aud = token
            .split('.')
            .nth(1)
            .and_then(|p| {
                use base64::Engine as _;
                base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok()
            })
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|c| c.get("aud").and_then(Value::as_str).map(str::to_string))
            .ok_or_else(invalid)?;
        let (client, _) =
            self.store.client_by_id(tenant.id, &aud).await.map_err(|_| OAuthError::internal())?.ok_or_else(invalid)?;
        let opts =
            VerifyOptions { issuer: &tenant.issuer, audience: &client.client_id, now_secs: self.now_ms() / 1000 };
        let claims = verify(token, &tenant.keys, &opts).map_err(|_| invalid())?;
        let sub = claims.get("sub").and_then(Value::as_str).ok_or_else(invalid)?;
        let u =
            self.store.get_user(tenant.id, sub).await.map_err(|_| OAuthError::internal())?.ok_or_else(invalid)?.user;
        let mut out = u.to_json();
        if let Some(m) = out.as_object_mut() {
            m.insert("clientID".into(), json!(client.client_id));
            m.insert("global_client_id".into(), json!(client.client_id));
        }
        Ok(out)
    }

    /// /oauth/revoke (RFC 7009): revokes a refresh token of the client (its
    /// whole family when it rotates). Unknown tokens are not an error.
    pub async fn revoke(
        &self,
        tenant: &Tenant,
        client_id: Option<&str>,
        secret: Option<&Secret>,
        token: Option<&str>,
        info: &RequestInfo,
    ) -> Result<(), OAuthError> {
        let client = self.verify_client(tenant, client_id, secret).await?;
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::new(400, "invalid_request", "Missing required parameter: token"))?;
        let Some(row) = self
            .store
            .refresh_token_by_hash(tenant.id, &tenant.secrets.hash(token))
            .await
            .map_err(|_| OAuthError::internal())?
        else {
            return Ok(());
        };
        if row.client_id != client.client_id {
            return Ok(());
        }
        let mut e = LogEvent::new("srrt", self.now_ms());
        e.client_id = Some(client.client_id.clone());
        e.client_name = Some(client.name.clone());
        e.user_id = Some(row.user_id.clone());
        e.ip = info.ip.clone();
        e.user_agent = info.user_agent.clone();
        e.description = Some("Refresh token revoked".into());
        self.store
            .revoke_refresh_tokens(tenant.id, RevokeBy::Family(&row.family), self.now_ms(), &[e])
            .await
            .map_err(|_| OAuthError::internal())?;
        Ok(())
    }

    async fn signup_client(&self, tenant: &Tenant, client_id: Option<&str>) -> Result<Client, DbError> {
        let id = client_id
            .filter(|c| !c.is_empty())
            .ok_or_else(|| DbError::bad("bad.client_id", "Missing required parameter: client_id"))?;
        let (client, _) = self
            .store
            .client_by_id(tenant.id, id)
            .await
            .map_err(|_| DbError::internal())?
            .ok_or_else(|| DbError::bad("bad.client_id", "Unknown client"))?;
        Ok(client)
    }

    /// /dbconnections/signup: `{_id, email, email_verified, …}`. A refused
    /// signup records `fs`.
    pub async fn signup(
        &self,
        tenant: &Tenant,
        body: &Map<String, Value>,
        info: &RequestInfo,
    ) -> Result<Value, DbError> {
        let result = self.signup_inner(tenant, body, info).await;
        if let Err(e) = &result {
            if e.status < 500 {
                let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
                let mut ev = LogEvent::new("fs", self.now_ms());
                ev.client_id = s("client_id");
                ev.user_name = s("email").map(|e| e.to_lowercase());
                ev.connection = s("connection");
                ev.ip = info.ip.clone();
                ev.user_agent = info.user_agent.clone();
                ev.description = Some(match &e.description {
                    Value::String(d) => d.clone(),
                    _ => e.name.to_string(),
                });
                if self.log_events(tenant.id, vec![ev]).await.is_err() {
                    return Err(DbError::internal());
                }
            }
        }
        result
    }

    async fn signup_inner(
        &self,
        tenant: &Tenant,
        body: &Map<String, Value>,
        info: &RequestInfo,
    ) -> Result<Value, DbError> {
        let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
        let client = self.signup_client(tenant, s("client_id").as_deref()).await?;
        let conn_name =
            s("connection").ok_or_else(|| DbError::bad("bad.connection", "Missing required parameter: connection"))?;
        let email = s("email").ok_or_else(|| DbError::bad("bad.email", "Missing required parameter: email"))?;
        let password =
            s("password").ok_or_else(|| DbError::bad("bad.password", "Missing required parameter: password"))?;
        let conn = self
            .store
            .connection_by_name(tenant.id, &conn_name)
            .await
            .map_err(|_| DbError::internal())?
            .filter(|c| c.is_database())
            .ok_or_else(|| DbError::bad("bad.connection", "Connection does not exist"))?;
        if !conn.enabled_clients.iter().any(|c| c == &client.client_id) {
            return Err(DbError::bad("bad.connection", "The connection is not enabled for this client"));
        }
        if conn.options.disable_signup.unwrap_or(false) {
            return Err(DbError {
                status: 403,
                name: "ForbiddenError",
                code: "operation_not_allowed",
                description: json!("Public signup is disabled"),
            });
        }
        let mut create = Map::new();
        create.insert("connection".into(), json!(conn.name));
        create.insert("email".into(), json!(email));
        create.insert("password".into(), json!(password));
        for k in ["username", "given_name", "family_name", "name", "nickname", "picture", "phone_number"] {
            if let Some(v) = body.get(k).filter(|v| !v.is_null()) {
                create.insert(k.into(), v.clone());
            }
        }
        if let Some(md) = body.get("user_metadata").filter(|v| !v.is_null()) {
            let m = md.as_object().ok_or_else(|| DbError::bad("invalid_signup", "user_metadata must be an object"))?;
            check_signup_metadata(m)?;
            create.insert("user_metadata".into(), md.clone());
        }
        let caller = Principal {
            client_id: Some(client.client_id.clone()),
            client_name: Some(client.name.clone()),
            request: info.clone(),
            ..Default::default()
        };
        let policy = conn.options.policy();
        match self.create_user_from(tenant, &caller, &Value::Object(create), false).await {
            Ok(u) => {
                let mut out = json!({"_id": u["identities"][0]["user_id"], "email": u["email"], "email_verified": u["email_verified"]});
                for k in ["username", "given_name", "family_name", "name", "nickname", "picture"] {
                    if let Some(v) = body.get(k).filter(|v| !v.is_null()) {
                        out[k] = v.clone();
                    }
                }
                Ok(out)
            }
            Err(ServiceError::Conflict { .. }) => Err(DbError::bad("invalid_signup", "Invalid sign up")),
            Err(ServiceError::BadRequest { message, .. }) if message.starts_with("PasswordStrengthError") => {
                Err(DbError {
                    status: 400,
                    name: "PasswordStrengthError",
                    code: "invalid_password",
                    description: json!({"rules": [{"message": format!("The password does not meet the {policy:?} policy").to_lowercase(), "verified": false}]}),
                })
            }
            Err(ServiceError::BadRequest { message, .. }) => Err(DbError {
                status: 400,
                name: "BadRequestError",
                code: "invalid_signup",
                description: json!(message),
            }),
            Err(_) => Err(DbError::internal()),
        }
    }

    /// /dbconnections/change_password: always the same answer, so it does not
    /// tell whether the email exists. castellan sends no email; the request
    /// is recorded (`scpr`) for an operator or a password-change ticket flow.
    pub async fn change_password_request(
        &self,
        tenant: &Tenant,
        body: &Map<String, Value>,
        info: &RequestInfo,
    ) -> Result<&'static str, DbError> {
        let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
        let client = self.signup_client(tenant, s("client_id").as_deref()).await?;
        let email = s("email").ok_or_else(|| DbError::bad("bad.email", "Missing required parameter: email"))?;
        let mut e = LogEvent::new("scpr", self.now_ms());
        e.client_id = Some(client.client_id.clone());
        e.client_name = Some(client.name);
        e.user_name = Some(email.to_lowercase());
        e.connection = s("connection");
        e.ip = info.ip.clone();
        e.user_agent = info.user_agent.clone();
        e.description = Some("Change password request (no email is sent by castellan)".into());
        self.log_events(tenant.id, vec![e]).await.map_err(|_| DbError::internal())?;
        Ok("We've just sent you an email to reset your password.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signup_metadata_limits() {
        let ok: Map<String, Value> = serde_json::from_value(json!({"a": "x"})).unwrap();
        assert!(check_signup_metadata(&ok).is_ok());
        let many: Map<String, Value> = (0..11).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert!(check_signup_metadata(&many).is_err());
        let long: Map<String, Value> = serde_json::from_value(json!({"a": "x".repeat(501)})).unwrap();
        assert!(check_signup_metadata(&long).is_err());
        let num: Map<String, Value> = serde_json::from_value(json!({"a": 1})).unwrap();
        assert!(check_signup_metadata(&num).is_err());
    }
}
