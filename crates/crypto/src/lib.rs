//! castellan's cryptography: RS256 signing keys and JWKS, strict JWT
//! verification, keyed hashing of client secrets with constant-time
//! comparison, and bcrypt password hashing on a bounded blocking pool.

pub mod jwt;
pub mod keys;
pub mod password;
pub mod sealed;
pub mod secret;

pub use jwt::{verify, JwtError, VerifyOptions};
pub use keys::{KeyRing, SigningKey};
pub use password::PasswordHasher;
pub use sealed::SecretBox;
pub use secret::{Secret, SecretHasher};

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("key error: {0}")]
    Key(String),
    #[error("signing failed")]
    Sign,
    #[error("hashing failed: {0}")]
    Hash(String),
}
