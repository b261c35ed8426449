//! /userinfo, /oauth/revoke, /dbconnections/signup, /dbconnections/change_password.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use castellan_crypto::Secret;
use castellan_service::enduser::DbError;
use castellan_service::App;
use serde_json::{json, Map, Value};

use crate::error::{json_response, OAuthResponse};
use crate::extract::{AppState, Info, TenantCtx};
use crate::oauth::{basic_credentials, parse_fields};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/userinfo", get(userinfo).post(userinfo))
        .route("/oauth/revoke", post(revoke))
        .route("/dbconnections/signup", post(signup))
        .route("/dbconnections/change_password", post(change_password))
        .route("/tokeninfo", post(tokeninfo))
}

async fn tokeninfo(State(app): State<App>, TenantCtx(tenant): TenantCtx, headers: HeaderMap, body: Bytes) -> Response {
    let fields = match parse_fields(&headers, &body) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let token = fields.iter().rev().find(|(k, _)| k == "id_token").map(|(_, v)| v.clone());
    match app.tokeninfo(&tenant, token.as_deref()).await {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => OAuthResponse(e).into_response(),
    }
}

async fn userinfo(State(app): State<App>, TenantCtx(tenant): TenantCtx, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let result = match token {
        Some(t) => app.userinfo(&tenant, t).await,
        None => Err(castellan_service::OAuthError::new(401, "invalid_request", "Missing access token")),
    };
    match result {
        Ok(claims) => json_response(StatusCode::OK, &claims),
        Err(e) => {
            let challenge = format!("Bearer realm=\"{}\", error=\"{}\"", tenant.domain, e.error);
            let mut r = OAuthResponse(e).into_response();
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            r
        }
    }
}

async fn revoke(
    State(app): State<App>,
    TenantCtx(tenant): TenantCtx,
    Info(info): Info,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = match parse_fields(&headers, &body) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let get = |k: &str| fields.iter().rev().find(|(f, _)| f == k).map(|(_, v)| v.clone());
    let (mut client_id, mut secret) = (get("client_id"), get("client_secret").map(Secret::new));
    match basic_credentials(&headers) {
        Ok(Some((id, s))) => {
            client_id = Some(id);
            secret = Some(Secret::new(s));
        }
        Ok(None) => {}
        Err(e) => return e.into_response(),
    }
    match app.revoke(&tenant, client_id.as_deref(), secret.as_ref(), get("token").as_deref(), &info).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => OAuthResponse(e).into_response(),
    }
}

fn db_error(e: DbError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut body = json!({"name": e.name, "code": e.code, "description": e.description, "statusCode": e.status});
    if e.name == "PasswordStrengthError" {
        body["message"] = json!("Password is too weak");
    }
    json_response(status, &body)
}

fn body_map(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, DbError> {
    let invalid =
        |what: &str| DbError { status: 400, name: "BadRequestError", code: "invalid_body", description: json!(what) };
    let ctype = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let map: Map<String, Value> = if ctype.starts_with("application/json") {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => m,
            _ => return Err(invalid("Invalid JSON body")),
        }
    } else {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .map(|pairs| pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
            .map_err(|_| invalid("Invalid form body"))?
    };
    if map.iter().any(|(k, v)| k.contains('\0') || crate::extract::has_nul(v)) {
        return Err(invalid("Body must not contain NUL characters"));
    }
    Ok(map)
}

async fn signup(
    State(app): State<App>,
    TenantCtx(tenant): TenantCtx,
    Info(info): Info,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let map = match body_map(&headers, &body) {
        Ok(m) => m,
        Err(e) => return db_error(e),
    };
    match app.signup(&tenant, &map, &info).await {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => db_error(e),
    }
}

async fn change_password(
    State(app): State<App>,
    TenantCtx(tenant): TenantCtx,
    Info(info): Info,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let map = match body_map(&headers, &body) {
        Ok(m) => m,
        Err(e) => return db_error(e),
    };
    match app.change_password_request(&tenant, &map, &info).await {
        Ok(text) => (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], text).into_response(),
        Err(e) => db_error(e),
    }
}
