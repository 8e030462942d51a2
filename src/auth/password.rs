//! argon2id hashing and verification on a bounded blocking pool.
//!
//! A hash takes tens of milliseconds of one core; running more at once than there are
//! cores only makes every one slower, so a semaphore admits one per core and a caller
//! that would wait longer than the configured bound is told to come back later.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::secret::Secret;

/// OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

/// Why a hash could not be computed or checked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HashError {
    /// Every hashing slot stayed busy for the whole wait.
    #[error("all password hashing slots are busy")]
    Busy,
    /// The stored hash is not a PHC string argon2 understands.
    #[error("the stored password hash is malformed")]
    BadHash,
    /// The hashing task died.
    #[error("the hashing task failed")]
    Task,
}

/// The hashing pool.
#[derive(Clone)]
pub struct Hasher {
    slots: Arc<Semaphore>,
    wait: Duration,
    /// Verified against when the user does not exist, so the answer takes as long.
    decoy: Arc<String>,
    workers: Arc<Mutex<std::sync::mpsc::Sender<Job>>>,
}

type Job = Box<dyn FnOnce() + Send>;

fn argon2() -> Argon2<'static> {
    let params =
        Params::new(MEMORY_KIB, PASSES, LANES, None).expect("constant parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks synchronously; for the CLI's rare checks (backup codes).
pub fn verify_now(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Hashes synchronously; for the CLI and for tests.
pub fn hash_now(password: &str) -> String {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).expect("16 bytes fit a salt");
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("hashing with valid parameters cannot fail")
        .to_string()
}

impl Hasher {
    /// A pool of `slots` concurrent hashes; callers wait at most `wait` for a slot.
    pub fn new(slots: usize, wait: Duration) -> Self {
        let slots = slots.max(1);
        let (sender, receiver) = std::sync::mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..slots {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    crate::priority::lower_priority();
                    loop {
                        let job = receiver.lock().expect("hash queue lock").recv();
                        match job {
                            Ok(job) => job(),
                            // The Hasher is gone: the server is shutting down.
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password hashing thread");
            }
        }
        Hasher {
            slots: Arc::new(Semaphore::new(slots)),
            wait,
            decoy: Arc::new(hash_now("decoy password, never matches")),
            workers: Arc::new(Mutex::new(sender)),
        }
    }

    /// A pool with one slot per core.
    pub fn per_core(wait: Duration) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::new(cores, wait)
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: Secret<String>) -> Result<String, HashError> {
        self.run(move || Ok(hash_now(password.expose()))).await
    }

    /// Checks `password` against a PHC string; a mismatch is `Ok(false)`.
    pub async fn verify(&self, password: Secret<String>, phc: String) -> Result<bool, HashError> {
        self.run(move || {
            let parsed = PasswordHash::new(&phc).map_err(|_| HashError::BadHash)?;
            Ok(argon2()
                .verify_password(password.expose().as_bytes(), &parsed)
                .is_ok())
        })
        .await
    }

    /// Spends the time of a verification without a real hash to check.
    pub async fn verify_decoy(&self, password: Secret<String>) -> Result<bool, HashError> {
        let decoy = (*self.decoy).clone();
        self.verify(password, decoy).await.map(|_| false)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let permit = tokio::time::timeout(self.wait, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| HashError::Busy)?
            .map_err(|_| HashError::Task)?;
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let result = work();
            // Free the slot before answering: a caller whose next check follows at once
            // (a client's next request) must find it free, not race the release.
            drop(permit);
            let _ = done.send(result);
        });
        self.workers
            .lock()
            .expect("hash queue lock")
            .send(job)
            .map_err(|_| HashError::Task)?;
        result.await.map_err(|_| HashError::Task)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verifies_and_refuses() {
        let hasher = Hasher::new(2, Duration::from_secs(5));
        let phc = hasher.hash(Secret::new("right".into())).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            hasher
                .verify(Secret::new("right".into()), phc.clone())
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(Secret::new("wrong".into()), phc)
                .await
                .unwrap()
        );
        assert!(matches!(
            hasher
                .verify(Secret::new("x".into()), "garbage".into())
                .await,
            Err(HashError::BadHash)
        ));
        assert!(!hasher.verify_decoy(Secret::new("x".into())).await.unwrap());
    }

    #[tokio::test]
    async fn a_saturated_pool_says_busy() {
        let hasher = Hasher::new(1, Duration::from_millis(1));
        let held = hasher.slots.clone().acquire_owned().await.unwrap();
        assert!(matches!(
            hasher.hash(Secret::new("x".into())).await,
            Err(HashError::Busy)
        ));
        drop(held);
        assert!(hasher.hash(Secret::new("x".into())).await.is_ok());
    }
}
