//! Client secrets: a wrapper whose Debug prints nothing, and a keyed
//! HMAC-SHA256 hash for storage, compared in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// A secret value (client secret, password). Debug and Display print nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Hashes client secrets with a per-tenant key.
#[derive(Clone)]
pub struct SecretHasher {
    key: Vec<u8>,
}

impl std::fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHasher(***)")
    }
}

impl SecretHasher {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    /// Lower-case hex HMAC-SHA256 of the secret.
    pub fn hash(&self, secret: &str) -> String {
        hex::encode(self.mac(secret))
    }

    fn mac(&self, secret: &str) -> Vec<u8> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut m = match <Hmac<Sha256> as Mac>::new_from_slice(&self.key) {
            Ok(m) => m,
            Err(_) => return Vec::new(),
        };
        m.update(secret.as_bytes());
        m.finalize().into_bytes().to_vec()
    }

    /// Constant-time comparison of a presented secret with a stored hash.
    pub fn verify(&self, presented: &str, stored_hex: &str) -> bool {
        let Ok(stored) = hex::decode(stored_hex) else {
            return false;
        };
        let got = self.mac(presented);
        !got.is_empty() && got.ct_eq(&stored).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_only_the_right_secret() {
        let h = SecretHasher::new(b"tenant-key");
        let stored = h.hash("s3cret");
        assert!(h.verify("s3cret", &stored));
        assert!(!h.verify("s3creT", &stored));
        assert!(!h.verify("", &stored));
        assert!(!h.verify("s3cret", "zz"));
        assert!(!SecretHasher::new(b"other").verify("s3cret", &stored));
        assert_eq!(format!("{:?}", Secret::new("abc")), "Secret(***)");
    }
}
