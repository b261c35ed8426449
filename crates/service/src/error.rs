//! Service errors. Each variant maps to exactly one Auth0 error shape at
//! the HTTP edge; internal detail never reaches a client.

use castellan_domain::DomainError;
use castellan_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// 400 with a message and an optional errorCode.
    #[error("{message}")]
    BadRequest { message: String, code: Option<&'static str> },
    #[error("{message}")]
    NotFound { message: String, code: &'static str },
    #[error("{message}")]
    Conflict { message: String, code: &'static str },
    #[error("{message}")]
    Forbidden { message: String, code: &'static str },
    /// Any status with an optional errorCode, for Auth0 bodies the variants
    /// above cannot carry (a 404 or 409 without errorCode).
    #[error("{message}")]
    Status { status: u16, message: String, code: Option<&'static str> },
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    pub fn bad_request(message: impl Into<String>, code: Option<&'static str>) -> Self {
        ServiceError::BadRequest { message: message.into(), code }
    }
    pub fn invalid_query(message: impl Into<String>) -> Self {
        Self::bad_request(message, Some("invalid_query_string"))
    }
    pub fn user_not_found() -> Self {
        ServiceError::NotFound { message: "The user does not exist.".into(), code: "inexistent_user" }
    }
}

impl From<DomainError> for ServiceError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::InvalidBody(_) => ServiceError::bad_request(e.to_string(), Some("invalid_body")),
            DomainError::BadRequest(m) => ServiceError::bad_request(m, None),
            DomainError::PasswordTooWeak => ServiceError::bad_request(e.to_string(), None),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => ServiceError::Conflict { message: m, code: "auth0_idp_error" },
            StoreError::NotFound => ServiceError::NotFound { message: "Not found".into(), code: "not_found" },
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

impl From<castellan_crypto::CryptoError> for ServiceError {
    fn from(e: castellan_crypto::CryptoError) -> Self {
        ServiceError::Internal(e.to_string())
    }
}

/// An OAuth error as /oauth/token answers it: `{error, error_description}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
    pub uri: Option<&'static str>,
}

impl OAuthError {
    pub fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError { status, error, description: description.into(), uri: None }
    }
    pub fn internal() -> Self {
        Self::new(500, "server_error", "Internal error")
    }
}
