//! Identifiers as Auth0 shapes them.
//!
//! Database users get `auth0|` + 24 lower-case hex digits: a MongoDB-style
//! ObjectId whose first 8 hex digits are the creation time in unix seconds.

use rand::RngCore;

/// 24 hex digits: 4 bytes of seconds, 8 random bytes.
pub fn object_id(now_ms: i64) -> String {
    let secs = (now_ms.max(0) / 1000) as u32;
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&secs.to_be_bytes());
    rand::thread_rng().fill_bytes(&mut bytes[4..]);
    hex::encode(bytes)
}

/// A random id of `len` characters from Auth0's client-id alphabet.
pub fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len).map(|_| ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()] as char).collect()
}

/// A client secret: 64 characters of [A-Za-z0-9_-] (384 bits).
pub fn client_secret() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::thread_rng();
    (0..64).map(|_| ALPHABET[(rng.next_u32() as usize) & 63] as char).collect()
}

/// Prefixed ids for other resources (`con_`, `cgr_`, `rol_`...).
pub fn prefixed(prefix: &str) -> String {
    format!("{prefix}_{}", random_token(16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_id_starts_with_creation_seconds() {
        let id = object_id(1_674_673_226_187);
        assert_eq!(id.len(), 24);
        assert!(id.starts_with("63d17c4a"), "{id}");
        assert!(id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(object_id(0), object_id(0));
    }

    #[test]
    fn secrets_are_long_and_distinct() {
        let a = client_secret();
        assert_eq!(a.len(), 64);
        assert_ne!(a, client_secret());
        assert_eq!(random_token(32).len(), 32);
    }
}
