//! The Authentication API: /oauth/token and discovery documents.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use castellan_crypto::Secret;
use castellan_service::{App, OAuthError, TokenRequest};
use serde_json::{json, Value};

use crate::error::{json_response, OAuthResponse};
use crate::extract::{Info, TenantCtx};

fn bad(description: &str) -> OAuthResponse {
    OAuthResponse(OAuthError::new(400, "invalid_request", description))
}

/// Reads JSON or form bodies into string fields; null and "" count as absent.
pub(crate) fn parse_fields(headers: &HeaderMap, body: &[u8]) -> Result<Vec<(String, String)>, OAuthResponse> {
    let ctype = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let pairs: Vec<(String, String)> = if ctype.starts_with("application/json") {
        let v: Value = serde_json::from_slice(body).map_err(|_| bad("Invalid JSON body"))?;
        let Value::Object(map) = v else {
            return Err(bad("The request body must be a JSON object"));
        };
        let mut out = Vec::with_capacity(map.len());
        for (k, v) in map {
            match v {
                Value::Null => {}
                Value::String(s) => out.push((k, s)),
                Value::Number(n) => out.push((k, n.to_string())),
                Value::Bool(b) => out.push((k, b.to_string())),
                _ => return Err(bad(&format!("Invalid value for parameter: {k}"))),
            }
        }
        out
    } else {
        serde_urlencoded::from_bytes(body).map_err(|_| bad("Invalid form body"))?
    };
    if crate::extract::pairs_have_nul(&pairs) {
        return Err(bad("Parameters may not contain NUL characters"));
    }
    Ok(pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect())
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))`.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthResponse> {
    let Some(v) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Some(b64) = v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")) else {
        return Ok(None);
    };
    let invalid = || OAuthResponse(OAuthError::new(401, "invalid_client", "Invalid client authentication header"));
    let raw = base64::engine::general_purpose::STANDARD.decode(b64.trim()).map_err(|_| invalid())?;
    let raw = String::from_utf8(raw).map_err(|_| invalid())?;
    let (id, secret) = raw.split_once(':').ok_or_else(invalid)?;
    let dec =
        |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8().map(|c| c.into_owned());
    Ok(Some((dec(id).map_err(|_| invalid())?, dec(secret).map_err(|_| invalid())?)))
}

pub async fn token(
    State(app): State<App>,
    TenantCtx(tenant): TenantCtx,
    Info(info): Info,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match token_inner(&app, &tenant, info, &headers, &body).await {
        Ok(r) => r,
        Err(e) => axum::response::IntoResponse::into_response(e),
    }
}

async fn token_inner(
    app: &App,
    tenant: &castellan_service::Tenant,
    info: castellan_service::RequestInfo,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, OAuthResponse> {
    let fields = parse_fields(headers, body)?;
    let get = |k: &str| fields.iter().rev().find(|(f, _)| f == k).map(|(_, v)| v.clone());
    let mut req = TokenRequest {
        grant_type: get("grant_type"),
        client_id: get("client_id"),
        client_secret: get("client_secret").map(Secret::new),
        audience: get("audience"),
        scope: get("scope"),
        username: get("username"),
        password: get("password").map(Secret::new),
        realm: get("realm"),
        refresh_token: get("refresh_token").map(Secret::new),
        code: get("code").map(Secret::new),
        code_verifier: get("code_verifier"),
        redirect_uri: get("redirect_uri"),
        info,
    };
    if let Some((id, secret)) = basic_credentials(headers)? {
        if req.client_id.as_deref().is_some_and(|c| c != id) {
            return Err(bad("client_id in the body does not match the Authorization header"));
        }
        req.client_id = Some(id);
        req.client_secret = Some(Secret::new(secret));
    }
    let resp = app.token(tenant, req).await.map_err(OAuthResponse)?;
    let mut r = json_response(StatusCode::OK, &resp);
    r.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(r)
}

pub async fn jwks(TenantCtx(tenant): TenantCtx) -> Response {
    json_response(StatusCode::OK, &tenant.keys.jwks())
}

pub async fn openid_configuration(TenantCtx(tenant): TenantCtx) -> Response {
    let d = &tenant.domain;
    json_response(
        StatusCode::OK,
        &json!({
            "issuer": format!("https://{d}/"),
            "authorization_endpoint": format!("https://{d}/authorize"),
            "token_endpoint": format!("https://{d}/oauth/token"),
            "device_authorization_endpoint": format!("https://{d}/oauth/device/code"),
            "userinfo_endpoint": format!("https://{d}/userinfo"),
            "mfa_challenge_endpoint": format!("https://{d}/mfa/challenge"),
            "jwks_uri": format!("https://{d}/.well-known/jwks.json"),
            "registration_endpoint": format!("https://{d}/oidc/register"),
            "revocation_endpoint": format!("https://{d}/oauth/revoke"),
            "scopes_supported": ["openid","profile","offline_access","name","given_name","family_name","nickname","email","email_verified","picture","created_at","identities","phone","address"],
            "response_types_supported": ["code","token","id_token","code token","code id_token","token id_token","code token id_token"],
            "code_challenge_methods_supported": ["S256","plain"],
            "response_modes_supported": ["query","fragment","form_post"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["HS256","RS256","PS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic","client_secret_post","private_key_jwt"],
            "claims_supported": ["aud","auth_time","created_at","email","email_verified","exp","family_name","given_name","iat","identities","iss","name","nickname","phone_number","picture","sub"],
            "request_uri_parameter_supported": false,
            "request_parameter_supported": false,
            "token_endpoint_auth_signing_alg_values_supported": ["RS256","RS384","PS256"],
        }),
    )
}
