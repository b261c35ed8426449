//! Password hashing: bcrypt cost 10 (Auth0's format), run on tokio's blocking
//! threads behind a semaphore sized to the cores, so hashing never stalls the
//! async workers and a flood of sign-ups queues instead of piling up threads.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::CryptoError;

pub const BCRYPT_COST: u32 = 10;

#[derive(Clone, Debug)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    cost: u32,
}

impl PasswordHasher {
    pub fn new(parallelism: usize) -> Self {
        Self::with_cost(parallelism, BCRYPT_COST)
    }

    /// A lower cost is only for tests that hash many passwords.
    pub fn with_cost(parallelism: usize, cost: u32) -> Self {
        Self { permits: Arc::new(Semaphore::new(parallelism.max(1))), cost }
    }

    pub async fn hash(&self, password: String) -> Result<String, CryptoError> {
        let cost = self.cost;
        self.run(move || bcrypt::hash(password.as_bytes(), cost).map_err(|e| CryptoError::Hash(e.to_string()))).await
    }

    /// Verifies a password against a stored hash. Unknown formats never match.
    pub async fn verify(&self, password: String, stored: String) -> Result<bool, CryptoError> {
        self.run(move || Ok(verify_sync(&password, &stored))).await
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, CryptoError> + Send + 'static,
    ) -> Result<T, CryptoError> {
        let _permit = self.permits.acquire().await.map_err(|e| CryptoError::Hash(e.to_string()))?;
        tokio::task::spawn_blocking(f).await.map_err(|e| CryptoError::Hash(e.to_string()))?
    }
}

fn verify_sync(password: &str, stored: &str) -> bool {
    if stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$") {
        bcrypt::verify(password.as_bytes(), stored).unwrap_or(false)
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_and_verifies() {
        let h = PasswordHasher::with_cost(2, 4);
        let stored = h.hash("Passw0rd!".into()).await.unwrap();
        assert!(stored.starts_with("$2b$04$"));
        assert!(h.verify("Passw0rd!".into(), stored.clone()).await.unwrap());
        assert!(!h.verify("passw0rd!".into(), stored).await.unwrap());
        assert!(!h.verify("x".into(), "plain".into()).await.unwrap());
    }

    #[tokio::test]
    async fn default_cost_is_ten() {
        let h = PasswordHasher::new(1);
        assert!(h.hash("x".into()).await.unwrap().starts_with("$2b$10$"));
    }
}
