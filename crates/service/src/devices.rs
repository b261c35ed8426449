//! End users' refresh tokens and sessions as the Management API shows them:
//! `/device-credentials` (refresh tokens as devices; deleting one is the
//! dashboard's "Unlink"), `/refresh-tokens`, `/users/{id}/refresh-tokens`,
//! `/sessions` and `/users/{id}/sessions`.
//!
//! A refresh token's id is its family's: it stays the same when a rotating
//! token is exchanged, and revoking it revokes the family. Sessions are
//! written by the login flows; their `doc` may carry `device`, `clients`,
//! `authenticated_at`, `idle_expires_at`, `last_interacted_at`,
//! `authentication` and `session_metadata`, which are shown as given (times
//! in unix milliseconds become ISO strings).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use castellan_domain::clock::format_ms;
use castellan_store::{Cursor, LiveRefreshToken, RevokeBy, SessionRow, SessionsOf, TokenFilter, TokensOf};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::{App, Principal, ServiceError, Tenant};

/// `POST /refresh-tokens/revoke` takes at most this many ids.
const MAX_REVOKE_IDS: usize = 100;

pub fn token_not_found() -> ServiceError {
    ServiceError::Status { status: 404, message: "The refresh token does not exist.".into(), code: None }
}

pub fn session_not_found() -> ServiceError {
    ServiceError::Status { status: 404, message: "The session does not exist.".into(), code: None }
}

/// The kinds of device credential Auth0 lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    PublicKey,
    RefreshToken,
    RotatingRefreshToken,
}

impl DeviceKind {
    pub fn parse(s: &str) -> Option<DeviceKind> {
        match s {
            "public_key" => Some(DeviceKind::PublicKey),
            "refresh_token" => Some(DeviceKind::RefreshToken),
            "rotating_refresh_token" => Some(DeviceKind::RotatingRefreshToken),
            _ => None,
        }
    }
}

/// A page of a checkpoint list.
#[derive(Debug)]
pub struct CheckpointPage {
    pub items: Vec<Value>,
    pub next: Option<String>,
    pub total: u64,
}

/// The opaque `from`: base64url of `<time>.<id>` of the last item shown.
fn encode_cursor(at: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{at}.{id}"))
}

fn decode_cursor(from: &str) -> Result<Cursor, ServiceError> {
    URL_SAFE_NO_PAD
        .decode(from.trim_end_matches('='))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let (at, id) = s.split_once('.')?;
            Some((at.parse::<i64>().ok()?, id.to_string()))
        })
        .ok_or_else(|| ServiceError::invalid_query("Query validation error: 'Invalid checkpoint' on property from."))
}

fn iso(ms: Option<i64>) -> Option<String> {
    ms.map(format_ms)
}

/// A time from a session document: milliseconds become ISO strings.
fn doc_time(v: Option<&Value>) -> Option<Value> {
    match v {
        Some(Value::Number(n)) => n.as_i64().map(|ms| Value::String(format_ms(ms))),
        Some(Value::String(s)) => Some(Value::String(s.clone())),
        _ => None,
    }
}

/// An object without its null members.
fn without_nulls(v: Option<&Value>) -> Map<String, Value> {
    match v {
        Some(Value::Object(m)) => m.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect(),
        _ => Map::new(),
    }
}

#[derive(Serialize)]
struct ResourceServerScopes {
    audience: String,
    scopes: String,
}

/// Auth0's refresh token object.
#[derive(Serialize)]
struct RefreshTokenBody {
    id: String,
    user_id: String,
    created_at: String,
    idle_expires_at: Option<String>,
    expires_at: Option<String>,
    client_id: String,
    session_id: Option<String>,
    rotating: bool,
    resource_servers: Vec<ResourceServerScopes>,
    device: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token_metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_exchanged_at: Option<String>,
}

/// Auth0's device credential object, for a refresh token.
#[derive(Serialize)]
struct DeviceCredentialBody {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_name: Option<String>,
    #[serde(rename = "type")]
    kind: &'static str,
    user_id: String,
    client_id: String,
}

fn to_value<T: Serialize>(v: &T) -> Result<Value, ServiceError> {
    serde_json::to_value(v).map_err(|e| ServiceError::Internal(e.to_string()))
}

fn refresh_token_body(tenant: &Tenant, t: &LiveRefreshToken) -> RefreshTokenBody {
    let r = &t.row;
    // A rotated family's live token was issued by its last exchange.
    let exchanged = [r.last_used_at, (r.created_at > t.born).then_some(r.created_at)].into_iter().flatten().max();
    RefreshTokenBody {
        id: r.family.clone(),
        user_id: r.user_id.clone(),
        created_at: format_ms(t.born),
        idle_expires_at: iso(r.idle_expires_at),
        expires_at: iso(r.expires_at),
        client_id: r.client_id.clone(),
        session_id: r.session_id.clone(),
        rotating: r.rotating,
        resource_servers: vec![ResourceServerScopes {
            audience: r.audience.clone().unwrap_or_else(|| format!("https://{}/userinfo", tenant.domain)),
            scopes: r.scope.clone(),
        }],
        device: without_nulls(Some(&r.device)),
        refresh_token_metadata: t.metadata.clone(),
        last_exchanged_at: iso(exchanged),
    }
}

fn device_credential_body(t: &LiveRefreshToken) -> DeviceCredentialBody {
    let r = &t.row;
    DeviceCredentialBody {
        id: r.family.clone(),
        device_name: r.device.get("initial_user_agent").and_then(Value::as_str).map(str::to_string),
        kind: if r.rotating { "rotating_refresh_token" } else { "refresh_token" },
        user_id: r.user_id.clone(),
        client_id: r.client_id.clone(),
    }
}

fn session_body(s: &SessionRow) -> Value {
    let d = &s.doc;
    let created = format_ms(s.created_at);
    let authenticated = doc_time(d.get("authenticated_at")).unwrap_or_else(|| json!(created));
    let clients: Vec<Value> = d
        .get("clients")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| match c {
                    Value::String(id) => Some(json!({"client_id": id})),
                    Value::Object(_) => Some(c.clone()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let authentication = d
        .get("authentication")
        .filter(|a| a.is_object())
        .cloned()
        .unwrap_or_else(|| json!({"methods": [{"name": "pwd", "timestamp": authenticated}]}));
    let mut body = json!({
        "id": s.id,
        "user_id": s.user_id,
        "created_at": created,
        "updated_at": format_ms(s.updated_at),
        "authenticated_at": authenticated,
        "idle_expires_at": doc_time(d.get("idle_expires_at")),
        "expires_at": format_ms(s.expires_at),
        "last_interacted_at": doc_time(d.get("last_interacted_at")).unwrap_or_else(|| json!(format_ms(s.updated_at))),
        "device": without_nulls(d.get("device")),
        "clients": clients,
        "authentication": authentication,
    });
    if let Some(m) = d.get("session_metadata").filter(|m| m.is_object()) {
        body["session_metadata"] = m.clone();
    }
    body
}

/// Auth0's per-object metadata: string values of at most 255 characters
/// (the schema bounds their number at 25).
fn check_metadata(property: &str, m: &Value) -> Result<(), ServiceError> {
    let Some(m) = m.as_object() else {
        return Ok(());
    };
    for (k, v) in m {
        let fits = matches!(v.as_str(), Some(s) if s.chars().count() <= 255);
        if !fits {
            return Err(ServiceError::bad_request(
                format!("Payload validation error: 'Metadata values must be strings of at most 255 characters' on property {property}.{k}."),
                Some("invalid_body"),
            ));
        }
    }
    Ok(())
}

impl App {
    async fn require_user(&self, tenant: &Tenant, user_id: &str) -> Result<(), ServiceError> {
        self.store.get_user(tenant.id, user_id).await?.ok_or_else(ServiceError::user_not_found)?;
        Ok(())
    }

    async fn token_page(
        &self,
        tenant: &Tenant,
        filter: &TokenFilter<'_>,
        from: Option<&str>,
        take: u64,
    ) -> Result<CheckpointPage, ServiceError> {
        let after = from.map(decode_cursor).transpose()?;
        let (mut rows, total) =
            self.store.live_refresh_tokens(tenant.id, filter, self.now_ms(), after.as_ref(), 0, take + 1).await?;
        let more = rows.len() as u64 > take;
        rows.truncate(take as usize);
        let next = if more { rows.last().map(|t| encode_cursor(t.born, &t.row.family)) } else { None };
        let items = rows.iter().map(|t| to_value(&refresh_token_body(tenant, t))).collect::<Result<_, _>>()?;
        Ok(CheckpointPage { items, next, total })
    }

    /// A user's refresh tokens (`/users/{id}/refresh-tokens`, and
    /// `/refresh-tokens?user_id=` optionally for one client).
    pub async fn list_refresh_tokens(
        &self,
        tenant: &Tenant,
        user_id: &str,
        client_id: Option<&str>,
        from: Option<&str>,
        take: u64,
    ) -> Result<CheckpointPage, ServiceError> {
        self.require_user(tenant, user_id).await?;
        let filter = TokenFilter { user_id: Some(user_id), client_id, rotating: None };
        self.token_page(tenant, &filter, from, take).await
    }

    pub async fn get_refresh_token(&self, tenant: &Tenant, id: &str) -> Result<Value, ServiceError> {
        let t = self.store.live_refresh_token(tenant.id, id, self.now_ms()).await?.ok_or_else(token_not_found)?;
        to_value(&refresh_token_body(tenant, &t))
    }

    /// Revokes a refresh token (its whole family). Unknown ids are not an error.
    pub async fn revoke_refresh_token(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        id: &str,
        status: u16,
    ) -> Result<(), ServiceError> {
        let events = [self.sapi(tenant, caller, status, None, None)];
        self.store.revoke_refresh_tokens(tenant.id, RevokeBy::Family(id), self.now_ms(), &events).await?;
        Ok(())
    }

    /// Revokes all of a user's refresh tokens.
    pub async fn revoke_user_refresh_tokens(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        user_id: &str,
    ) -> Result<(), ServiceError> {
        self.require_user(tenant, user_id).await?;
        let events = [self.sapi(tenant, caller, 202, None, Some(&json!({})))];
        let by = RevokeBy::User { user_id, client_id: None };
        self.store.revoke_refresh_tokens(tenant.id, by, self.now_ms(), &events).await?;
        Ok(())
    }

    /// Sets `refresh_token_metadata` (`null` or `{}` removes it).
    pub async fn update_refresh_token(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        id: &str,
        body: &Value,
    ) -> Result<Value, ServiceError> {
        let metadata = body.get("refresh_token_metadata").cloned().unwrap_or(Value::Null);
        check_metadata("refresh_token_metadata", &metadata)?;
        let mut t = self.store.live_refresh_token(tenant.id, id, self.now_ms()).await?.ok_or_else(token_not_found)?;
        t.metadata = Some(metadata).filter(|m| m.as_object().is_some_and(|o| !o.is_empty()));
        let out = to_value(&refresh_token_body(tenant, &t))?;
        let events = [self.sapi(tenant, caller, 200, Some(body), Some(&out))];
        self.store.set_refresh_token_metadata(tenant.id, id, t.metadata.as_ref(), &events).await?;
        Ok(out)
    }

    /// `POST /refresh-tokens/revoke`: exactly one of `ids` (at most 100),
    /// `user_id`, `user_id` + `client_id`, `user_id` + `client_id` +
    /// `audience` (the body's types are checked against Auth0's schema).
    pub async fn revoke_refresh_tokens_bulk(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        body: &Value,
    ) -> Result<(), ServiceError> {
        let s = |k: &str| body.get(k).and_then(Value::as_str);
        let invalid =
            |m: String| ServiceError::bad_request(format!("Payload validation error: {m}."), Some("invalid_body"));
        let ids: Option<Vec<String>> = body
            .get("ids")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect());
        let (user_id, client_id, audience) = (s("user_id"), s("client_id"), s("audience"));
        let which = match (&ids, user_id) {
            (Some(_), _) if user_id.is_some() || client_id.is_some() || audience.is_some() => {
                return Err(invalid("'ids cannot be combined with user_id, client_id or audience'".into()));
            }
            (Some(ids), _) if ids.len() > MAX_REVOKE_IDS => {
                return Err(invalid(format!(
                    "'Array is too long ({}), maximum {MAX_REVOKE_IDS}' on property ids",
                    ids.len()
                )));
            }
            (Some(ids), _) => TokensOf::Families(ids),
            (None, None) => return Err(invalid("'One of ids or user_id is required'".into())),
            (None, Some(_)) if audience.is_some() && client_id.is_none() => {
                return Err(invalid("'audience requires both user_id and client_id'".into()));
            }
            (None, Some(user_id)) => TokensOf::User { user_id, client_id, audience },
        };
        let events = [self.sapi(tenant, caller, 202, Some(body), None)];
        self.store.revoke_refresh_tokens_where(tenant.id, which, self.now_ms(), &events).await?;
        Ok(())
    }

    /// Sets `session_metadata` (`null` or `{}` removes it) and answers the session.
    pub async fn update_session(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        id: &str,
        body: &Value,
    ) -> Result<Value, ServiceError> {
        let metadata = body.get("session_metadata").cloned().unwrap_or(Value::Null);
        check_metadata("session_metadata", &metadata)?;
        let now = self.now_ms();
        let mut s = self.store.live_session(tenant.id, id, now).await?.ok_or_else(session_not_found)?;
        let metadata = Some(metadata).filter(|m| m.as_object().is_some_and(|o| !o.is_empty()));
        if let Value::Object(doc) = &mut s.doc {
            match &metadata {
                Some(m) => doc.insert("session_metadata".into(), m.clone()),
                None => doc.remove("session_metadata"),
            };
        }
        let out = session_body(&s);
        let events = [self.sapi(tenant, caller, 200, Some(body), Some(&out))];
        if !self.store.set_session_metadata(tenant.id, id, metadata.as_ref(), now, &events).await? {
            return Err(session_not_found());
        }
        Ok(out)
    }

    /// Device credentials: refresh tokens, optionally of one user, client
    /// and kind (castellan stores no public keys). Returns the window and
    /// the total.
    pub async fn list_device_credentials(
        &self,
        tenant: &Tenant,
        user_id: Option<&str>,
        client_id: Option<&str>,
        kind: Option<DeviceKind>,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<Value>, u64), ServiceError> {
        let rotating = match kind {
            Some(DeviceKind::PublicKey) => return Ok((Vec::new(), 0)),
            Some(DeviceKind::RefreshToken) => Some(false),
            Some(DeviceKind::RotatingRefreshToken) => Some(true),
            None => None,
        };
        let filter = TokenFilter { user_id, client_id, rotating };
        let (rows, total) =
            self.store.live_refresh_tokens(tenant.id, &filter, self.now_ms(), None, offset, limit).await?;
        let items = rows.iter().map(|t| to_value(&device_credential_body(t))).collect::<Result<_, _>>()?;
        Ok((items, total))
    }

    /// A user's live sessions.
    pub async fn list_sessions(
        &self,
        tenant: &Tenant,
        user_id: &str,
        from: Option<&str>,
        take: u64,
    ) -> Result<CheckpointPage, ServiceError> {
        self.require_user(tenant, user_id).await?;
        let after = from.map(decode_cursor).transpose()?;
        let (mut rows, total) =
            self.store.live_sessions(tenant.id, user_id, self.now_ms(), after.as_ref(), take + 1).await?;
        let more = rows.len() as u64 > take;
        rows.truncate(take as usize);
        let next = if more { rows.last().map(|s| encode_cursor(s.created_at, &s.id)) } else { None };
        Ok(CheckpointPage { items: rows.iter().map(session_body).collect(), next, total })
    }

    pub async fn get_session(&self, tenant: &Tenant, id: &str) -> Result<Value, ServiceError> {
        let s = self.store.live_session(tenant.id, id, self.now_ms()).await?.ok_or_else(session_not_found)?;
        Ok(session_body(&s))
    }

    /// Ends a session (`DELETE /sessions/{id}`, unknown ids included) or,
    /// with `revoke`, ends it and revokes the refresh tokens issued in it
    /// (`POST /sessions/{id}/revoke`, which needs a live session).
    pub async fn end_session(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        id: &str,
        revoke: bool,
    ) -> Result<(), ServiceError> {
        let now = self.now_ms();
        if revoke && self.store.live_session(tenant.id, id, now).await?.is_none() {
            return Err(session_not_found());
        }
        let events = [self.sapi(tenant, caller, 202, None, Some(&json!({})))];
        self.store.end_sessions(tenant.id, SessionsOf::Id(id), revoke, now, &events).await?;
        Ok(())
    }

    /// Ends all of a user's sessions (their refresh tokens stay, as in Auth0).
    pub async fn end_user_sessions(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        user_id: &str,
    ) -> Result<(), ServiceError> {
        self.require_user(tenant, user_id).await?;
        let events = [self.sapi(tenant, caller, 202, None, Some(&json!({})))];
        self.store.end_sessions(tenant.id, SessionsOf::User(user_id), false, self.now_ms(), &events).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = encode_cursor(1_700_000_000_123, "abc.def");
        assert_eq!(decode_cursor(&c).unwrap(), (1_700_000_000_123, "abc.def".to_string()));
        assert!(decode_cursor("!!").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("nodot")).is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("x.y")).is_err());
    }

    #[test]
    fn session_documents_fill_auth0s_shape() {
        let s = SessionRow {
            id: "s1".into(),
            user_id: "auth0|1".into(),
            created_at: 0,
            updated_at: 1000,
            expires_at: 2000,
            doc: json!({"clients": ["c1"], "device": {"initial_ip": "1.2.3.4", "last_ip": null},
                        "authenticated_at": 500}),
        };
        let b = session_body(&s);
        assert_eq!(b["clients"], json!([{"client_id": "c1"}]));
        assert_eq!(b["device"], json!({"initial_ip": "1.2.3.4"}));
        assert_eq!(b["authenticated_at"], "1970-01-01T00:00:00.500Z");
        assert_eq!(b["authentication"]["methods"][0]["name"], "pwd");
        assert_eq!(b["idle_expires_at"], Value::Null);
        assert_eq!(b["last_interacted_at"], "1970-01-01T00:00:01.000Z");
        assert!(b.get("session_metadata").is_none());
    }
}
