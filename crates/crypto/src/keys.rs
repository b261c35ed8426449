//! RS256 signing keys. A key's private part is parsed once into an aws-lc-rs
//! key pair and reused for every token; JWKS publishes the public parts.

use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RsaKeyPair, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::CryptoError;

pub struct SigningKey {
    pub kid: String,
    pair: RsaKeyPair,
    n: Vec<u8>,
    e: Vec<u8>,
    public_der: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new 2048-bit key. Returns the key and its PKCS#8 DER for storage.
    pub fn generate() -> Result<(Self, Vec<u8>), CryptoError> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|e| CryptoError::Key(e.to_string()))?;
        let der = pair.as_der().map_err(|e| CryptoError::Key(e.to_string()))?.as_ref().to_vec();
        let key = Self::from_pkcs8(&der)?;
        Ok((key, der))
    }

    pub fn from_pkcs8(der: &[u8]) -> Result<Self, CryptoError> {
        let pair = RsaKeyPair::from_pkcs8(der).map_err(|e| CryptoError::Key(e.to_string()))?;
        let public = pair.public_key();
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        let public_der = public.as_ref().to_vec();
        // kid: base64url of the first 15 bytes of SHA-256 over the public key.
        let kid = B64.encode(&Sha256::digest(&public_der)[..15]);
        Ok(Self { kid, pair, n, e, public_der })
    }

    /// Signs `header.payload` and returns the compact JWT.
    pub fn sign_jwt(&self, claims: &Value) -> Result<String, CryptoError> {
        self.sign_jwt_typed(claims, "JWT")
    }

    /// As [`SigningKey::sign_jwt`] with another `typ` (`at+jwt` for RFC 9068).
    pub fn sign_jwt_typed(&self, claims: &Value, typ: &str) -> Result<String, CryptoError> {
        let header = json!({"alg": "RS256", "typ": typ, "kid": self.kid});
        let mut out = String::with_capacity(800);
        out.push_str(&B64.encode(header.to_string()));
        out.push('.');
        out.push_str(&B64.encode(claims.to_string()));
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.pair.sign(&RSA_PKCS1_SHA256, &rng, out.as_bytes(), &mut sig).map_err(|_| CryptoError::Sign)?;
        out.push('.');
        out.push_str(&B64.encode(&sig));
        Ok(out)
    }

    /// The RFC 8017 RSAPublicKey DER, for verification.
    pub fn public_der(&self) -> &[u8] {
        &self.public_der
    }

    pub fn jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": B64.encode(&self.n),
            "e": B64.encode(&self.e),
        })
    }
}

/// OIDC `at_hash`: base64url of the left half of SHA-256 of the access token.
pub fn at_hash(access_token: &str) -> String {
    let d = Sha256::digest(access_token.as_bytes());
    B64.encode(&d[..16])
}

/// Signs an HS256 JWT with a resource server's signing secret.
pub fn sign_hs256(secret: &[u8], claims: &Value, typ: &str) -> String {
    use hmac::{Hmac, Mac};
    let header = json!({"alg": "HS256", "typ": typ});
    let mut out = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
    if let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret) {
        mac.update(out.as_bytes());
        let sig = mac.finalize().into_bytes();
        out.push('.');
        out.push_str(&B64.encode(sig));
    }
    out
}

/// The keys of one tenant: the current signing key first, then keys that
/// still verify (previous) or will sign next.
#[derive(Debug, Clone)]
pub struct KeyRing {
    pub keys: Vec<Arc<SigningKey>>,
}

impl KeyRing {
    pub fn current(&self) -> Option<&Arc<SigningKey>> {
        self.keys.first()
    }
    pub fn by_kid(&self, kid: &str) -> Option<&Arc<SigningKey>> {
        self.keys.iter().find(|k| k.kid == kid)
    }
    pub fn jwks(&self) -> Value {
        json!({ "keys": self.keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hs256_matches_a_known_vector() {
        // RFC 7515 A.1 uses a different header; check the structure and MAC instead.
        let t = sign_hs256(b"k", &json!({"a": 1}), "JWT");
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"k").unwrap();
        mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
        assert_eq!(B64.decode(parts[2]).unwrap(), mac.finalize().into_bytes().to_vec());
    }

    #[test]
    fn roundtrip_pkcs8_keeps_kid_and_jwk() {
        let (k, der) = SigningKey::generate().unwrap();
        let k2 = SigningKey::from_pkcs8(&der).unwrap();
        assert_eq!(k.kid, k2.kid);
        let jwk = k.jwk();
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(B64.decode(jwk["n"].as_str().unwrap()).unwrap().len(), 256);
        assert!(SigningKey::from_pkcs8(b"garbage").is_err());
    }
}
