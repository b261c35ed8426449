//! Password hashing: bcrypt cost 10 (Auth0's format), run on a pool of
//! threads of its own, one a core, behind a semaphore: hashing never stalls
//! the async workers, a flood of sign-ups queues instead of piling up
//! threads, and on Linux the pool's threads run at a lower priority (nice
//! 10), so that when every core hashes, token, search and read requests still
//! get the CPU first and hashing takes what is left.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use tokio::sync::{oneshot, Semaphore};

use crate::CryptoError;

pub const BCRYPT_COST: u32 = 10;

/// The hashing threads' priority on thread-priority's 0..=99 scale (22 = nice
/// 10: under full load they get about a tenth of what a normal thread gets).
#[cfg(target_os = "linux")]
const HASH_PRIORITY: u8 = 22;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone, Debug)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    jobs: Arc<Mutex<mpsc::Sender<Job>>>,
    cost: u32,
}

impl PasswordHasher {
    pub fn new(parallelism: usize) -> Self {
        Self::with_cost(parallelism, BCRYPT_COST)
    }

    /// A lower cost is only for tests that hash many passwords.
    pub fn with_cost(parallelism: usize, cost: u32) -> Self {
        let threads = parallelism.max(1);
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            // The threads end when the last clone of the hasher is dropped.
            let spawned = std::thread::Builder::new().name(format!("cas-hash-{i}")).spawn(move || {
                lower_priority();
                loop {
                    let job = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
            if let Err(e) = spawned {
                tracing_free_warn(&format!("could not start a hashing thread: {e}"));
            }
        }
        Self { permits: Arc::new(Semaphore::new(threads)), jobs: Arc::new(Mutex::new(tx)), cost }
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
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(f());
        });
        self.jobs
            .lock()
            .map_err(|_| CryptoError::Hash("hashing pool poisoned".into()))?
            .send(job)
            .map_err(|_| CryptoError::Hash("hashing pool stopped".into()))?;
        result.await.map_err(|_| CryptoError::Hash("hashing thread failed".into()))?
    }
}

/// Lowers the calling thread's scheduling priority to about nice 10 (Linux
/// keeps a nice value per thread). Elsewhere, or when refused, hashing keeps
/// the normal priority.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{set_current_thread_priority, ThreadPriority, ThreadPriorityValue};
        // The crate maps 0..=99 onto nice 19..=-20: 22 is nice 10.
        if let Ok(v) = ThreadPriorityValue::try_from(HASH_PRIORITY) {
            if let Err(e) = set_current_thread_priority(ThreadPriority::Crossplatform(v)) {
                tracing_free_warn(&format!("hashing runs at normal priority: {e:?}"));
            }
        }
    }
}

fn tracing_free_warn(msg: &str) {
    eprintln!("castellan: {msg}");
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

    /// The hashing threads run at nice 10 (field 19 of /proc/…/stat).
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_at_lower_priority() {
        let h = PasswordHasher::with_cost(2, 4);
        h.hash("warm".into()).await.unwrap();
        let mut nice = Vec::new();
        for task in std::fs::read_dir("/proc/self/task").unwrap() {
            let dir = task.unwrap().path();
            let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            if comm.trim().starts_with("cas-hash-") {
                let stat = std::fs::read_to_string(dir.join("stat")).unwrap();
                // After the ")" closing the name: state is field 3, nice 19.
                let rest = &stat[stat.rfind(')').unwrap() + 2..];
                nice.push(rest.split(' ').nth(16).unwrap().to_string());
            }
        }
        assert!(nice.len() >= 2, "hashing threads: {nice:?}");
        assert!(nice.iter().all(|n| n == "10"), "{nice:?}");
    }

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
