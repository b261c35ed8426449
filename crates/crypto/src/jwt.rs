//! Strict JWT verification for tokens castellan issued: RS256 only, a known
//! `kid`, a valid signature, the expected `iss`, an `aud` that contains the
//! expected audience, and `exp` in the future (`nbf`, when present, passed).

use aws_lc_rs::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::{Map, Value};

use crate::KeyRing;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("Invalid token")]
    Malformed,
    #[error("Invalid token")]
    Algorithm,
    #[error("Invalid token")]
    UnknownKey,
    #[error("Invalid signature received for JSON Web Token validation")]
    Signature,
    #[error("Bad audience")]
    Audience,
    #[error("Bad issuer")]
    Issuer,
    #[error("Expired token received for JSON Web Token validation")]
    Expired,
    #[error("Token not yet valid")]
    NotYetValid,
}

pub struct VerifyOptions<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub now_secs: i64,
}

const MAX_TOKEN_LEN: usize = 16 * 1024;

pub fn verify(token: &str, keys: &KeyRing, opts: &VerifyOptions<'_>) -> Result<Map<String, Value>, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwtError::Malformed);
    };
    let header: Map<String, Value> = decode_json(h)?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(JwtError::Algorithm);
    }
    let kid = header.get("kid").and_then(Value::as_str).ok_or(JwtError::UnknownKey)?;
    let key = keys.by_kid(kid).ok_or(JwtError::UnknownKey)?;
    let sig = B64.decode(s).map_err(|_| JwtError::Malformed)?;
    let signed = &token[..h.len() + 1 + p.len()];
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.public_der())
        .verify(signed.as_bytes(), &sig)
        .map_err(|_| JwtError::Signature)?;
    let claims: Map<String, Value> = decode_json(p)?;
    if claims.get("iss").and_then(Value::as_str) != Some(opts.issuer) {
        return Err(JwtError::Issuer);
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == opts.audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(opts.audience)),
        _ => false,
    };
    if !aud_ok {
        return Err(JwtError::Audience);
    }
    let exp = claims.get("exp").and_then(Value::as_i64).ok_or(JwtError::Malformed)?;
    if exp <= opts.now_secs {
        return Err(JwtError::Expired);
    }
    if let Some(nbf) = claims.get("nbf") {
        if nbf.as_i64().ok_or(JwtError::Malformed)? > opts.now_secs {
            return Err(JwtError::NotYetValid);
        }
    }
    Ok(claims)
}

fn decode_json(part: &str) -> Result<Map<String, Value>, JwtError> {
    let bytes = B64.decode(part).map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SigningKey;
    use serde_json::json;
    use std::sync::Arc;

    fn ring() -> (KeyRing, Arc<SigningKey>) {
        let (k, _) = SigningKey::generate().unwrap();
        let k = Arc::new(k);
        (KeyRing { keys: vec![k.clone()] }, k)
    }

    fn opts() -> VerifyOptions<'static> {
        VerifyOptions { issuer: "https://t/", audience: "https://t/api/v2/", now_secs: 1000 }
    }

    fn claims(exp: i64) -> Value {
        json!({"iss":"https://t/","aud":"https://t/api/v2/","exp":exp,"sub":"x@clients"})
    }

    #[test]
    fn accepts_a_good_token_and_rejects_each_defect() {
        let (ring, key) = ring();
        let good = key.sign_jwt(&claims(2000)).unwrap();
        assert_eq!(verify(&good, &ring, &opts()).unwrap()["sub"], "x@clients");

        assert_eq!(verify(&key.sign_jwt(&claims(1000)).unwrap(), &ring, &opts()), Err(JwtError::Expired));
        let mut c = claims(2000);
        c["iss"] = json!("https://evil/");
        assert_eq!(verify(&key.sign_jwt(&c).unwrap(), &ring, &opts()), Err(JwtError::Issuer));
        let mut c = claims(2000);
        c["aud"] = json!(["https://other/"]);
        assert_eq!(verify(&key.sign_jwt(&c).unwrap(), &ring, &opts()), Err(JwtError::Audience));
        let mut c = claims(2000);
        c["aud"] = json!(["https://other/", "https://t/api/v2/"]);
        assert!(verify(&key.sign_jwt(&c).unwrap(), &ring, &opts()).is_ok());

        // tampered payload
        let parts: Vec<&str> = good.split('.').collect();
        let forged_payload =
            B64.encode(json!({"iss":"https://t/","aud":"https://t/api/v2/","exp":9999,"sub":"admin"}).to_string());
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(verify(&forged, &ring, &opts()), Err(JwtError::Signature));

        // alg none / HS256 confusion
        let none_header = B64.encode(json!({"alg":"none","kid":key.kid}).to_string());
        assert_eq!(verify(&format!("{none_header}.{}.", parts[1]), &ring, &opts()), Err(JwtError::Algorithm));
        let hs = B64.encode(json!({"alg":"HS256","kid":key.kid}).to_string());
        assert_eq!(verify(&format!("{hs}.{}.{}", parts[1], parts[2]), &ring, &opts()), Err(JwtError::Algorithm));

        // a key from elsewhere
        let (other, _) = super::super::SigningKey::generate().unwrap();
        assert_eq!(verify(&other.sign_jwt(&claims(2000)).unwrap(), &ring, &opts()), Err(JwtError::UnknownKey));

        for junk in ["", "a.b", "a.b.c.d", "!!!.###.$$$", &"a".repeat(20000)] {
            assert!(verify(junk, &ring, &opts()).is_err(), "{junk}");
        }
    }
}
