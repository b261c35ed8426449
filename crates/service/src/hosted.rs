//! Universal-login flow: `/authorize` starts a login transaction (kept
//! server-side, single use), the hosted login or signup page completes it
//! with a password, a session cookie remembers the user (SSO, `prompt=none`),
//! and the client receives a one-time authorization code at a registered
//! callback. `/v2/logout` ends the session and returns to an allowed URL.

use castellan_domain::ids;
use castellan_domain::log_event::LogEvent;
use castellan_domain::tenant_model::{Client, Connection};
use castellan_store::NewSession;
use serde_json::{json, Value};

use crate::login::Credentials;
use crate::{App, RequestInfo, Tenant};

/// How long a login page may stay open, an authorization code live, a session last.
pub const TX_TTL_MS: i64 = 30 * 60 * 1000;
pub const CODE_TTL_MS: i64 = 5 * 60 * 1000;
pub const SESSION_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// The query of GET /authorize.
#[derive(Debug, Clone, Default)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub audience: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub response_mode: Option<String>,
    pub prompt: Option<String>,
    pub login_hint: Option<String>,
    pub connection: Option<String>,
    pub screen_hint: Option<String>,
}

/// Where the browser goes next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// A 302 to this URL.
    Redirect(String),
    /// An auto-submitting form POST of `fields` to `url` (response_mode=form_post).
    FormPost { url: String, fields: Vec<(String, String)> },
    /// The hosted page for this transaction.
    Page { tx: String, signup: bool },
}

/// Authorization failures that cannot be sent back to the client (unknown
/// client, unregistered callback): shown as a page.
#[derive(Debug, Clone, PartialEq)]
pub struct PageError {
    pub status: u16,
    pub title: String,
    pub message: String,
}

fn page_error(status: u16, title: &str, message: impl Into<String>) -> PageError {
    PageError { status, title: title.into(), message: message.into() }
}

/// The outcome of a form submitted on a hosted page.
#[derive(Debug)]
pub enum FormOutcome {
    /// Logged in: where to go, and the new session cookie value.
    Done { next: Next, session_cookie: String },
    /// Show the page again with this message.
    Retry { message: String, status: u16 },
}

fn append(url: &str, mode: &str, fields: &[(String, String)]) -> String {
    let pairs = serde_urlencoded::to_string(fields).unwrap_or_default();
    let sep = if mode == "fragment" {
        "#"
    } else if url.contains('?') {
        "&"
    } else {
        "?"
    };
    format!("{url}{sep}{pairs}")
}

fn deliver(tx: &Value, fields: Vec<(String, String)>) -> Next {
    let s = |k: &str| tx.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let mut fields = fields;
    if let Some(state) = tx.get("state").and_then(Value::as_str) {
        fields.push(("state".into(), state.to_string()));
    }
    match s("response_mode").as_str() {
        "form_post" => Next::FormPost { url: s("redirect_uri"), fields },
        mode => Next::Redirect(append(&s("redirect_uri"), mode, &fields)),
    }
}

fn error_next(tx: &Value, error: &str, description: &str) -> Next {
    deliver(tx, vec![("error".into(), error.into()), ("error_description".into(), description.into())])
}

impl App {
    fn tx_key(&self, tenant: &Tenant, tx: &str) -> String {
        tenant.secrets.hash(&format!("tx:{tx}"))
    }

    /// The hash under which a session cookie is stored.
    pub fn session_hash(&self, tenant: &Tenant, cookie: &str) -> String {
        tenant.secrets.hash(&format!("session:{cookie}"))
    }

    /// GET /authorize.
    pub async fn authorize(
        &self,
        tenant: &Tenant,
        p: AuthorizeParams,
        session_cookie: Option<&str>,
        info: &RequestInfo,
    ) -> Result<Next, PageError> {
        let internal = |_| page_error(500, "Something went wrong", "Please try again later.");
        let client_id = p
            .client_id
            .clone()
            .ok_or_else(|| page_error(400, "Invalid request", "Missing required parameter: client_id"))?;
        let (client, _) = self
            .store
            .client_by_id(tenant.id, &client_id)
            .await
            .map_err(internal)?
            .ok_or_else(|| page_error(400, "Unknown client", format!("Unknown client: {client_id}")))?;
        let redirect_uri = p
            .redirect_uri
            .clone()
            .ok_or_else(|| page_error(400, "Invalid request", "Missing required parameter: redirect_uri"))?;
        let callbacks: Vec<String> = client
            .extra
            .get("callbacks")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect();
        if !callbacks.iter().any(|c| c == &redirect_uri) {
            return Err(page_error(
                400,
                "Callback URL mismatch",
                format!("The provided redirect_uri is not in the list of allowed callback URLs of the application: {redirect_uri}"),
            ));
        }
        let mode = p.response_mode.clone().unwrap_or_else(|| "query".into());
        let mut tx = json!({
            "client_id": client_id, "redirect_uri": redirect_uri, "state": p.state, "response_mode": mode,
            "scope": p.scope.clone().unwrap_or_else(|| "openid".into()), "audience": p.audience, "nonce": p.nonce,
            "code_challenge": p.code_challenge, "login_hint": p.login_hint, "connection": p.connection,
        });
        if !["query", "form_post", "fragment"].contains(&mode.as_str()) {
            return Ok(error_next(&tx, "invalid_request", "Unsupported response_mode"));
        }
        if p.response_type.as_deref() != Some("code") {
            return Ok(error_next(
                &tx,
                "unsupported_response_type",
                "Unsupported response_type: only code is supported",
            ));
        }
        if !client.grant_types.iter().any(|g| g == "authorization_code") {
            return Ok(error_next(
                &tx,
                "unauthorized_client",
                "Grant type 'authorization_code' not allowed for the client.",
            ));
        }
        if let Some(ch) = &p.code_challenge {
            let method = p.code_challenge_method.clone().unwrap_or_else(|| "plain".into());
            if !["S256", "plain"].contains(&method.as_str()) || ch.len() < 43 || ch.len() > 128 {
                return Ok(error_next(&tx, "invalid_request", "Invalid code_challenge or code_challenge_method"));
            }
            tx["code_challenge_method"] = json!(method);
        }
        let public = client.extra.get("token_endpoint_auth_method").and_then(Value::as_str) == Some("none");
        if public && p.code_challenge.is_none() {
            return Ok(error_next(&tx, "invalid_request", "Public clients must use PKCE (code_challenge)"));
        }
        // An existing session answers at once unless a fresh login is asked for.
        let prompt = p.prompt.clone().unwrap_or_default();
        if prompt != "login" {
            if let Some(cookie) = session_cookie {
                if let Some((sid, user_id, sdoc)) = self
                    .store
                    .session_by_cookie(tenant.id, &self.session_hash(tenant, cookie), self.now_ms())
                    .await
                    .map_err(internal)?
                {
                    if let Some(u) = self.store.get_user(tenant.id, &user_id).await.map_err(internal)? {
                        if u.user.blocked != Some(true) {
                            // auth_time stays the session's login, not this request.
                            let auth_time =
                                sdoc.get("authenticated_at").and_then(Value::as_i64).unwrap_or_else(|| self.now_ms());
                            let code =
                                self.issue_code(tenant, &tx, &user_id, &sid, auth_time).await.map_err(internal)?;
                            let mut e = LogEvent::new(if prompt == "none" { "ssa" } else { "s" }, self.now_ms());
                            e.user_id = Some(user_id.clone());
                            e.user_name = u.user.email.clone();
                            e.client_id = Some(client.client_id.clone());
                            e.client_name = Some(client.name.clone());
                            e.ip = info.ip.clone();
                            e.user_agent = info.user_agent.clone();
                            e.description = Some("Successful login (single sign-on)".into());
                            self.log_events(tenant.id, vec![e]).await.map_err(internal)?;
                            return Ok(deliver(&tx, vec![("code".into(), code)]));
                        }
                    }
                }
            }
        }
        if prompt == "none" {
            return Ok(error_next(&tx, "login_required", "Login required"));
        }
        let id = ids::client_secret();
        self.store
            .insert_auth_code(
                tenant.id,
                &self.tx_key(tenant, &id),
                &json!({"kind": "tx", "tx": tx}),
                self.now_ms() + TX_TTL_MS,
            )
            .await
            .map_err(internal)?;
        Ok(Next::Page { tx: id, signup: p.screen_hint.as_deref() == Some("signup") })
    }

    /// The transaction behind a hosted page (`None` once expired or used).
    pub async fn login_tx(&self, tenant: &Tenant, tx: &str) -> Option<(Value, Client, Connection)> {
        let (doc, exp) = self.store.peek_auth_code(tenant.id, &self.tx_key(tenant, tx)).await.ok()??;
        if exp <= self.now_ms() || doc.get("kind").and_then(Value::as_str) != Some("tx") {
            return None;
        }
        let tx = doc.get("tx")?.clone();
        let (client, _) = self.store.client_by_id(tenant.id, tx.get("client_id")?.as_str()?).await.ok()??;
        let conn = self.login_connection(tenant, &client, tx.get("connection").and_then(Value::as_str)).await.ok()?;
        Some((tx, client, conn))
    }

    async fn issue_code(
        &self,
        tenant: &Tenant,
        tx: &Value,
        user_id: &str,
        session_id: &str,
        auth_time: i64,
    ) -> Result<String, castellan_store::StoreError> {
        let code = ids::client_secret();
        let mut doc = tx.clone();
        doc["kind"] = json!("code");
        doc["user_id"] = json!(user_id);
        doc["session_id"] = json!(session_id);
        doc["auth_time"] = json!(auth_time);
        self.store.insert_auth_code(tenant.id, &tenant.secrets.hash(&code), &doc, self.now_ms() + CODE_TTL_MS).await?;
        Ok(code)
    }

    async fn finish_login(
        &self,
        tenant: &Tenant,
        tx_id: &str,
        tx: &Value,
        user_id: &str,
        client: &Client,
        info: &RequestInfo,
    ) -> Result<FormOutcome, castellan_store::StoreError> {
        let cookie = ids::client_secret();
        let sid = ids::random_token(32);
        let now = self.now_ms();
        let doc = json!({
            "authenticated_at": now,
            "device": {"initial_ip": info.ip, "initial_user_agent": info.user_agent, "last_ip": info.ip, "last_user_agent": info.user_agent},
            "clients": [{"client_id": client.client_id}],
            "authentication": {"methods": [{"name": "pwd", "timestamp": castellan_domain::clock::format_ms(now)}]},
        });
        self.store
            .insert_session(
                tenant.id,
                &NewSession {
                    id: sid.clone(),
                    cookie_hash: self.session_hash(tenant, &cookie),
                    user_id: user_id.to_string(),
                    created_at: now,
                    expires_at: now + SESSION_TTL_MS,
                    doc,
                },
            )
            .await?;
        let code = self.issue_code(tenant, tx, user_id, &sid, now).await?;
        self.store.take_auth_code(tenant.id, &self.tx_key(tenant, tx_id)).await?;
        Ok(FormOutcome::Done { next: deliver(tx, vec![("code".into(), code)]), session_cookie: cookie })
    }

    /// POST of the hosted login page.
    pub async fn login_page_submit(
        &self,
        tenant: &Tenant,
        tx_id: &str,
        username: &str,
        password: &str,
        info: &RequestInfo,
    ) -> Result<FormOutcome, PageError> {
        let (tx, client, conn) = self.login_tx(tenant, tx_id).await.ok_or_else(|| {
            page_error(
                400,
                "Login expired",
                "This login page has expired. Please go back to the application and try again.",
            )
        })?;
        if username.trim().is_empty() || password.is_empty() {
            return Ok(FormOutcome::Retry { message: "Enter your email and password.".into(), status: 400 });
        }
        match self.password_login(tenant, &client, &conn, Credentials { username, password }, info, "s").await {
            Ok(user) => self
                .finish_login(tenant, tx_id, &tx, &user.user_id, &client, info)
                .await
                .map_err(|_| page_error(500, "Something went wrong", "Please try again later.")),
            Err(e) => Ok(FormOutcome::Retry {
                message: match e.error {
                    "unauthorized" => "Your account is blocked. Contact the administrator.".into(),
                    "too_many_attempts" => e.description.clone(),
                    _ => "Wrong email or password.".into(),
                },
                status: if e.status == 429 { 429 } else { 400 },
            }),
        }
    }

    /// POST of the hosted signup page: creates the user, then logs in.
    pub async fn signup_page_submit(
        &self,
        tenant: &Tenant,
        tx_id: &str,
        email: &str,
        password: &str,
        info: &RequestInfo,
    ) -> Result<FormOutcome, PageError> {
        let (_tx, client, conn) = self.login_tx(tenant, tx_id).await.ok_or_else(|| {
            page_error(400, "Signup expired", "This page has expired. Please go back to the application and try again.")
        })?;
        let body: serde_json::Map<String, Value> = [
            ("client_id".to_string(), json!(client.client_id)),
            ("connection".to_string(), json!(conn.name)),
            ("email".to_string(), json!(email.trim())),
            ("password".to_string(), json!(password)),
        ]
        .into_iter()
        .collect();
        match self.signup(tenant, &body, info).await {
            Ok(_) => {}
            Err(e) => {
                let message = match e.code {
                    "invalid_signup" if e.description == json!("Invalid sign up") => {
                        "We could not sign you up with this email. You may already have an account.".to_string()
                    }
                    "invalid_password" => format!(
                        "The password is too weak. Your password must meet the {:?} policy.",
                        conn.options.policy()
                    )
                    .to_lowercase()
                    .replacen("the password", "The password", 1),
                    "operation_not_allowed" => "Signups are disabled.".to_string(),
                    _ => e.description.as_str().map(str::to_string).unwrap_or_else(|| "Invalid sign up".into()),
                };
                return Ok(FormOutcome::Retry { message, status: 400 });
            }
        }
        self.login_page_submit(tenant, tx_id, email, password, info).await
    }

    /// GET /v2/logout: ends the session; returns where to go (None: show
    /// the logged-out page).
    pub async fn logout(
        &self,
        tenant: &Tenant,
        client_id: Option<&str>,
        return_to: Option<&str>,
        session_cookie: Option<&str>,
        info: &RequestInfo,
    ) -> Result<Option<String>, PageError> {
        let internal = |_| page_error(500, "Something went wrong", "Please try again later.");
        let client = match client_id {
            Some(id) => self.store.client_by_id(tenant.id, id).await.map_err(internal)?.map(|(c, _)| c),
            None => None,
        };
        if let Some(to) = return_to {
            let allowed: Vec<String> = client
                .as_ref()
                .and_then(|c| c.extra.get("allowed_logout_urls"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|u| u.as_str().map(str::to_string))
                .collect();
            if !allowed.iter().any(|u| u == to) {
                return Err(page_error(
                    400,
                    "Invalid logout URL",
                    format!("The returnTo URL is not in the application's allowed logout URLs: {to}"),
                ));
            }
        }
        if let Some(cookie) = session_cookie {
            if let Some((sid, user_id, _)) = self
                .store
                .session_by_cookie(tenant.id, &self.session_hash(tenant, cookie), self.now_ms())
                .await
                .map_err(internal)?
            {
                let mut e = LogEvent::new("slo", self.now_ms());
                e.user_id = Some(user_id.clone());
                e.client_id = client.as_ref().map(|c| c.client_id.clone());
                e.client_name = client.as_ref().map(|c| c.name.clone());
                e.ip = info.ip.clone();
                e.user_agent = info.user_agent.clone();
                e.description = Some("Successful logout".into());
                self.store.revoke_sessions(tenant.id, None, Some(&sid), self.now_ms(), &[e]).await.map_err(internal)?;
            }
        }
        Ok(return_to.map(str::to_string))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_modes() {
        let tx = json!({"redirect_uri": "https://app.example/cb?x=1", "state": "s t", "response_mode": "query"});
        assert_eq!(
            deliver(&tx, vec![("code".into(), "c".into())]),
            Next::Redirect("https://app.example/cb?x=1&code=c&state=s+t".into())
        );
        let tx = json!({"redirect_uri": "https://app.example/cb", "response_mode": "fragment"});
        assert_eq!(
            deliver(&tx, vec![("code".into(), "c".into())]),
            Next::Redirect("https://app.example/cb#code=c".into())
        );
        let tx = json!({"redirect_uri": "https://app.example/cb", "state": "s", "response_mode": "form_post"});
        assert!(
            matches!(deliver(&tx, vec![("code".into(), "c".into())]), Next::FormPost { fields, .. } if fields.len() == 2)
        );
    }
}
