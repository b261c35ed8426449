//! Request extraction with Auth0-shaped rejections: the tenant from the Host
//! header, the Management API caller from its bearer token, JSON bodies,
//! query strings and path ids. No framework rejection text reaches a client.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use castellan_service::{App, Principal, Tenant};
use serde_json::Value;

use crate::endpoints;
use crate::error::ApiError;

/// Shared state of every router.
#[derive(Clone)]
pub struct AppState {
    pub app: App,
}

impl FromRef<AppState> for App {
    fn from_ref(s: &AppState) -> App {
        s.app.clone()
    }
}

/// The request's tenant, by Host header.
pub struct TenantCtx(pub Arc<Tenant>);

impl<S: Send + Sync> FromRequestParts<S> for TenantCtx
where
    App: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = App::from_ref(state);
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .ok_or_else(ApiError::unknown_tenant)?;
        match app.tenant_for_host(host).await {
            Ok(Some(t)) => Ok(TenantCtx(t)),
            Ok(None) => Err(ApiError::unknown_tenant()),
            Err(e) => Err(e.into()),
        }
    }
}

/// A verified Management API caller (before any scope check).
pub struct Mgmt {
    pub tenant: Arc<Tenant>,
    pub principal: Principal,
}

impl Mgmt {
    /// Requires any of the scopes Auth0's OpenAPI names for this endpoint.
    pub fn require(&self, method: &str, template: &str) -> Result<(), ApiError> {
        let scopes = endpoints::lookup(method, template).map(|e| e.scopes).unwrap_or(&[]);
        if scopes.iter().any(|s| self.principal.has(s)) {
            Ok(())
        } else {
            Err(ApiError::insufficient_scope(scopes))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Mgmt
where
    App: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let TenantCtx(tenant) = TenantCtx::from_request_parts(parts, state).await?;
        let app = App::from_ref(state);
        let auth = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(ApiError::missing_auth)?
            .to_str()
            .map_err(|_| ApiError::unauthorized("Invalid token"))?;
        let token = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized("Bad HTTP authentication header format"))?;
        let mut principal = app.management_principal(&tenant, token)?;
        principal.request = request_info(parts);
        if parts.method != axum::http::Method::GET {
            // Writes leave events that name the calling application.
            if let Some(cid) = &principal.client_id {
                principal.client_name = app.client_name(&tenant, cid).await;
            }
            // Their events commit with the change; the queued events of
            // earlier requests (the caller's token exchange, failed calls)
            // are written first, so events are written in the order they
            // happened, as streams deliver them (a no-op when none wait).
            app.flush_events().await;
        }
        if let Some(slot) = parts.extensions.get::<CallerSlot>() {
            if let Ok(mut s) = slot.0.lock() {
                *s = Some((tenant.clone(), principal.clone()));
            }
        }
        Ok(Mgmt { tenant, principal })
    }
}

/// Where the Management API extractor leaves the verified caller, so that a
/// failed call can be recorded (`fapi`) after the handler ran.
#[derive(Clone, Default)]
pub struct CallerSlot(pub std::sync::Arc<std::sync::Mutex<Option<Caller>>>);

/// A verified Management API caller and its tenant.
pub type Caller = (Arc<Tenant>, Principal);

/// Method, path, query, peer address, user agent and the operation's
/// summary, for the request's log events. Query values are kept only for
/// the keys Auth0's APIs define (never free text beyond 256 characters).
pub fn request_info(parts: &Parts) -> castellan_service::RequestInfo {
    let template = parts.extensions.get::<axum::extract::MatchedPath>().map(|m| m.as_str().to_string());
    // Routes name path parameters `{id}` where Auth0's templates may say
    // `{user_id}`: fall back to matching the path itself.
    let endpoint = template
        .as_deref()
        .and_then(|t| endpoints::lookup(parts.method.as_str(), t))
        .or_else(|| endpoints::find(parts.method.as_str(), parts.uri.path()).ok());
    let description = endpoint.map(|e| e.summary.to_string()).unwrap_or_default();
    let scopes = endpoint.map(|e| e.scopes.iter().map(|s| s.to_string()).collect()).unwrap_or_default();
    let query = serde_urlencoded::from_str::<Vec<(String, String)>>(parts.uri.query().unwrap_or(""))
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.chars().take(256).collect()))
        .collect();
    castellan_service::RequestInfo {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query,
        ip: client_ip(parts),
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
        description,
        scopes,
    }
}

/// The peer's address (castellan does not trust forwarding headers).
pub fn client_ip(parts: &Parts) -> Option<String> {
    parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip().to_string())
}

/// Auth0 accepts request bodies up to 1 MB.
pub const MAX_BODY: usize = 1024 * 1024;

/// A JSON body parsed to a value; broken JSON is a 400 invalid_body, and so is
/// a NUL character anywhere in it.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let LaxJsonBody(v) = LaxJsonBody::from_request(req, state).await?;
        if has_nul(&v) {
            return Err(ApiError::invalid_body("Payload validation error: 'Strings may not contain NUL characters'."));
        }
        Ok(JsonBody(v))
    }
}

/// A JSON body that may hold NUL characters: for handlers whose own validation
/// answers them with a more precise Auth0 message (roles).
pub struct LaxJsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for LaxJsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|_| {
            ApiError::new(413, format!("Payload content length greater than maximum allowed: {MAX_BODY}"), None)
        })?;
        if bytes.is_empty() {
            return Err(ApiError::invalid_body(
                "Payload validation error: 'Expected type object but found type null'.",
            ));
        }
        serde_json::from_slice(&bytes)
            .map(LaxJsonBody)
            .map_err(|_| ApiError::invalid_body("Invalid request payload JSON format"))
    }
}

/// Whether any string or key of a JSON value holds a NUL character (which
/// PostgreSQL cannot store): such input is refused at the edge.
pub fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(has_nul),
        Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// The query string as ordered pairs, with typed accessors whose errors are
/// Auth0's `invalid_query_string`.
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let LaxQueryPairs(pairs) = LaxQueryPairs::from_request_parts(parts, state).await?;
        if pairs_have_nul(&pairs.0) {
            return Err(ApiError::invalid_query("Query validation error: 'Strings may not contain NUL characters'."));
        }
        Ok(pairs)
    }
}

/// Whether any key or value of decoded form/query pairs holds a NUL character.
pub fn pairs_have_nul(pairs: &[(String, String)]) -> bool {
    pairs.iter().any(|(k, v)| k.contains('\0') || v.contains('\0'))
}

/// A query string that may hold NUL: for handlers that answer it themselves
/// (roles' `name_filter` simply matches nothing).
pub struct LaxQueryPairs(pub QueryPairs);

impl std::ops::Deref for LaxQueryPairs {
    type Target = QueryPairs;

    fn deref(&self) -> &QueryPairs {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for LaxQueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
            .map(|p| LaxQueryPairs(QueryPairs(p)))
            .map_err(|_| ApiError::invalid_query("Invalid request query string"))
    }
}

impl QueryPairs {
    /// The last value given for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn bool(&self, key: &str, default: bool) -> Result<bool, ApiError> {
        match self.get(key).map(str::to_ascii_lowercase).as_deref() {
            None | Some("") => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err(ApiError::invalid_query(format!(
                "Query validation error: 'Expected type boolean but found type string' on property {key}."
            ))),
        }
    }

    pub fn uint(&self, key: &str) -> Result<Option<u64>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
                ApiError::invalid_query(format!(
                    "Query validation error: 'Expected type integer but found type string' on property {key}."
                ))
            }),
        }
    }

    /// A comma-separated list (`fields=a,b`).
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect())
            .unwrap_or_default()
    }
}

/// The request's info for log events (method, path, peer, user agent).
pub struct Info(pub castellan_service::RequestInfo);

impl<S: Send + Sync> FromRequestParts<S> for Info {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Info(request_info(parts)))
    }
}

/// One percent-decoded path segment (`/users/{id}`); a NUL in it is a 400
/// invalid_uri.
pub struct PathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let LaxPathId(id) = LaxPathId::from_request_parts(parts, state).await?;
        if id.contains('\0') {
            return Err(ApiError::bad_request("Invalid request URI", "invalid_uri"));
        }
        Ok(PathId(id))
    }
}

/// A path segment that may hold NUL: for handlers whose store answers such ids
/// as not found (roles).
pub struct LaxPathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for LaxPathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| LaxPathId(p.0))
            .map_err(|_| ApiError::bad_request("Invalid request URI", "invalid_uri"))
    }
}
