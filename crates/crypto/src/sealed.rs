//! Secrets castellan must be able to show again (client secrets: Auth0 returns
//! them to callers with `read:client_keys`), sealed with AES-256-GCM under a
//! per-tenant key. Verification on the token path never opens them: it uses
//! the keyed hash (`SecretHasher`) and a constant-time comparison.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::CryptoError;

pub struct SecretBox {
    key: LessSafeKey,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(***)")
    }
}

impl SecretBox {
    /// Derives the sealing key from a tenant's root key material.
    pub fn derive(root: &[u8]) -> Result<Self, CryptoError> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(root).map_err(|e| CryptoError::Key(e.to_string()))?;
        mac.update(b"castellan secret sealing v1");
        let k = mac.finalize().into_bytes();
        let unbound = UnboundKey::new(&AES_256_GCM, &k).map_err(|e| CryptoError::Key(e.to_string()))?;
        Ok(Self { key: LessSafeKey::new(unbound) })
    }

    /// base64(nonce || ciphertext || tag)
    pub fn seal(&self, plaintext: &str) -> Result<String, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| CryptoError::Sign)?;
        let mut buf = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf)
            .map_err(|_| CryptoError::Sign)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(B64.encode(out))
    }

    pub fn open(&self, sealed: &str) -> Result<String, CryptoError> {
        let bad = || CryptoError::Key("sealed secret cannot be opened".into());
        let raw = B64.decode(sealed).map_err(|_| bad())?;
        if raw.len() < NONCE_LEN {
            return Err(bad());
        }
        let (n, rest) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(n).map_err(|_| bad())?;
        let mut buf = rest.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::empty(), &mut buf).map_err(|_| bad())?;
        String::from_utf8(plain.to_vec()).map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_with_the_same_key() {
        let a = SecretBox::derive(b"tenant-a").unwrap();
        let sealed = a.seal("s3cret").unwrap();
        assert_ne!(sealed, a.seal("s3cret").unwrap(), "random nonce");
        assert_eq!(a.open(&sealed).unwrap(), "s3cret");
        assert!(SecretBox::derive(b"tenant-b").unwrap().open(&sealed).is_err());
        let mut tampered = B64.decode(&sealed).unwrap();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(a.open(&B64.encode(tampered)).is_err());
        assert!(a.open("!!").is_err());
    }
}
