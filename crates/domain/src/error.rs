//! Errors of the domain rules. Each maps to one Auth0 error at the HTTP edge.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// `Payload validation error: ...` (400, errorCode invalid_body).
    #[error("Payload validation error: {0}")]
    InvalidBody(String),
    /// A 400 with a message and no errorCode, as Auth0 sends for some rules.
    #[error("{0}")]
    BadRequest(String),
    /// `PasswordStrengthError: Password is too weak` (400, no errorCode).
    #[error("PasswordStrengthError: Password is too weak")]
    PasswordTooWeak,
}

impl DomainError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        DomainError::InvalidBody(msg.into())
    }
}
