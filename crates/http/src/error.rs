//! The error bodies of each HTTP surface, exactly as Auth0 shapes them.
//! Management: `{statusCode, error, message[, errorCode][, attributes]}`.
//! OAuth: `{error, error_description[, error_uri]}`. Internal errors become a
//! generic 500 whose detail goes only to the server log.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use castellan_crypto::JwtError;
use castellan_service::{OAuthError, ServiceError};
use serde::Serialize;

/// A JSON response with Auth0's content type.
pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = (status, bytes).into_response();
    resp.headers_mut()
        .insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    resp
}

#[derive(Debug, Serialize, Clone, PartialEq, Eq)]
pub struct Attributes {
    pub error: String,
}

/// A Management API error.
#[derive(Debug, Serialize, Clone, PartialEq, Eq)]
pub struct ApiError {
    #[serde(rename = "statusCode")]
    pub status_code: u16,
    pub error: &'static str,
    pub message: String,
    #[serde(rename = "errorCode", skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Attributes>,
}

fn reason(status: u16) -> &'static str {
    StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error")
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>, code: Option<&'static str>) -> Self {
        ApiError {
            status_code: status,
            error: reason(status),
            message: message.into(),
            error_code: code,
            attributes: None,
        }
    }
    pub fn bad_request(message: impl Into<String>, code: &'static str) -> Self {
        Self::new(400, message, Some(code))
    }
    pub fn invalid_query(message: impl Into<String>) -> Self {
        Self::bad_request(message, "invalid_query_string")
    }
    pub fn invalid_body(message: impl Into<String>) -> Self {
        Self::bad_request(message, "invalid_body")
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError { attributes: Some(Attributes { error: message.clone() }), ..Self::new(401, message, None) }
    }
    pub fn missing_auth() -> Self {
        Self::new(401, "Missing authentication", None)
    }
    pub fn insufficient_scope(scopes: &[&str]) -> Self {
        Self::new(403, format!("Insufficient scope, expected any of: {}", scopes.join(",")), Some("insufficient_scope"))
    }
    pub fn unknown_tenant() -> Self {
        Self::new(404, "Unknown tenant: no tenant is served at this host", Some("inexistent_tenant"))
    }
    pub fn internal() -> Self {
        Self::new(500, "Internal Server Error", None)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status_code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        json_response(status, &self)
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::BadRequest { message, code } => ApiError::new(400, message, code),
            ServiceError::NotFound { message, code } => ApiError::new(404, message, Some(code)),
            ServiceError::Conflict { message, code } => ApiError::new(409, message, Some(code)),
            ServiceError::Forbidden { message, code } => ApiError::new(403, message, Some(code)),
            ServiceError::Status { status, message, code } => ApiError::new(status, message, code),
            ServiceError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                ApiError::internal()
            }
        }
    }
}

impl From<JwtError> for ApiError {
    fn from(e: JwtError) -> Self {
        ApiError::unauthorized(e.to_string())
    }
}

/// An OAuth error response.
#[derive(Debug, Serialize)]
pub struct OAuthBody {
    pub error: &'static str,
    pub error_description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_uri: Option<&'static str>,
}

pub struct OAuthResponse(pub OAuthError);

impl IntoResponse for OAuthResponse {
    fn into_response(self) -> Response {
        let e = self.0;
        if e.status >= 500 && e.status != 501 {
            tracing::error!(description = %e.description, "token endpoint failure");
        }
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        json_response(status, &OAuthBody { error: e.error, error_description: e.description, error_uri: e.uri })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_auth0_shape() {
        let v = serde_json::to_value(ApiError::new(404, "The user does not exist.", Some("inexistent_user"))).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"statusCode":404,"error":"Not Found","message":"The user does not exist.","errorCode":"inexistent_user"})
        );
        let v = serde_json::to_value(ApiError::unauthorized("Invalid token")).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"statusCode":401,"error":"Unauthorized","message":"Invalid token","attributes":{"error":"Invalid token"}})
        );
        let v = serde_json::to_value(ApiError::insufficient_scope(&["read:users"])).unwrap();
        assert_eq!(v["message"], "Insufficient scope, expected any of: read:users");
    }
}
