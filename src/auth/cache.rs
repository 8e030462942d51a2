//! Successful credential checks, cached under a keyed hash of the credentials.
//!
//! The key is HMAC-SHA256 under a server secret of the user name and password, never
//! the plaintext nor the raw header: a memory dump of the cache reveals nothing usable.
//! Each entry remembers the account's credential generation at check time; the caller
//! compares it with the account's current generation on every hit, so a change made
//! by any process ends the entry on the next request.

use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use data_encoding::{HEXLOWER, HEXLOWER_PERMISSIVE};
use davgate_storage::AccountId;
use hmac::{Hmac, Mac};
use moka::future::Cache;
use sha2::Sha256;

use super::basic::BasicCredentials;
use super::error::AuthError;
use super::principal::Credential;
use super::scope::Access;

/// What a successful check established.
#[derive(Debug, Clone)]
pub struct CachedCheck {
    /// Whose credentials they are.
    pub account: AccountId,
    /// The account's credential generation when they were checked.
    pub generation: i64,
    /// Which kind of credential matched.
    pub credential: Credential,
    /// What it may do.
    pub access: Access,
    /// When an app password stops working.
    pub expires_ms: Option<i64>,
}

/// The cache of successful checks.
#[derive(Clone)]
pub struct CredentialCache {
    key: Arc<[u8; 32]>,
    /// `None` when the capacity is 0: every request is checked (for measuring cold checks).
    entries: Option<Cache<[u8; 32], CachedCheck>>,
}

impl CredentialCache {
    /// A cache of at most `capacity` entries living at most `ttl` each.
    pub fn new(server_key: [u8; 32], ttl: Duration, capacity: u64) -> Self {
        CredentialCache {
            key: Arc::new(server_key),
            entries: (capacity > 0).then(|| {
                Cache::builder()
                    .max_capacity(capacity)
                    .time_to_live(ttl)
                    .build()
            }),
        }
    }

    /// The cache key of a pair of credentials.
    pub fn key(&self, creds: &BasicCredentials) -> [u8; 32] {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&*self.key).expect("HMAC takes any key length");
        // Length-prefixing keeps ("ab", "c") and ("a", "bc") apart.
        mac.update(&(creds.user.len() as u64).to_be_bytes());
        mac.update(creds.user.as_bytes());
        mac.update(creds.password.expose().as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The cached check for `key`, or the result of `check`. Concurrent callers with
    /// the same key share one run of `check`; failures are not cached.
    pub async fn check_with(
        &self,
        key: [u8; 32],
        check: impl Future<Output = Result<CachedCheck, AuthError>>,
    ) -> Result<CachedCheck, AuthError> {
        let Some(entries) = &self.entries else {
            return check.await;
        };
        entries
            .try_get_with(key, check)
            .await
            .map_err(|e: Arc<AuthError>| (*e).clone())
    }

    /// Whether `key` is cached, without running anything.
    pub async fn cached(&self, key: &[u8; 32]) -> Option<CachedCheck> {
        match &self.entries {
            Some(entries) => entries.get(key).await,
            None => None,
        }
    }

    /// Drops one entry.
    pub async fn forget(&self, key: &[u8; 32]) {
        if let Some(entries) = &self.entries {
            entries.invalidate(key).await;
        }
    }
}

/// Reads the server key from `data_dir/server.key`, creating it (mode 0600) on first start.
pub fn load_or_create_server_key(data_dir: &Path) -> io::Result<[u8; 32]> {
    let path = data_dir.join("server.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let mode = std::fs::metadata(&path)?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(path = %path.display(), "the server key is readable by others; run: chmod 600 {}", path.display());
            }
            decode_key(text.trim()).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} is not a 64-digit hex key; delete it to generate a new one",
                        path.display()
                    ),
                )
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let key: [u8; 32] = rand::random();
            let hex = HEXLOWER.encode(&key);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)?;
            writeln!(file, "{hex}")?;
            file.sync_all()?;
            tracing::info!(path = %path.display(), "generated the server key");
            Ok(key)
        }
        Err(e) => Err(e),
    }
}

/// The key from its 64 hex digits, either case (an operator may have written it by hand).
fn decode_key(hex: &str) -> Option<[u8; 32]> {
    HEXLOWER_PERMISSIVE
        .decode(hex.as_bytes())
        .ok()?
        .try_into()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn creds(user: &str, password: &str) -> BasicCredentials {
        BasicCredentials {
            user: user.into(),
            password: Secret::new(password.into()),
        }
    }

    #[test]
    fn keys_depend_on_the_server_key_and_both_halves() {
        let a = CredentialCache::new([1; 32], Duration::from_secs(60), 10);
        let b = CredentialCache::new([2; 32], Duration::from_secs(60), 10);
        assert_ne!(a.key(&creds("u", "p")), b.key(&creds("u", "p")));
        assert_ne!(a.key(&creds("ab", "c")), a.key(&creds("a", "bc")));
        assert_eq!(a.key(&creds("u", "p")), a.key(&creds("u", "p")));
    }

    #[test]
    fn server_key_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create_server_key(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join("server.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load_or_create_server_key(dir.path()).unwrap(), first);
    }

    #[test]
    fn server_key_file_is_lowercase_hex_and_reads_in_either_case() {
        let dir = tempfile::tempdir().unwrap();
        let key = load_or_create_server_key(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join("server.key")).unwrap();
        let expected: String = key.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(text, format!("{expected}\n"));
        assert_eq!(decode_key(&expected.to_uppercase()), Some(key));
        assert_eq!(decode_key(&expected[..62]), None);
        assert_eq!(decode_key(&format!("{expected}00")), None);
        assert_eq!(decode_key(&expected.replace(&expected[..1], "g")), None);
    }
}

#[cfg(test)]
mod coalescing_tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::auth::scope::Access;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_share_one_check() {
        let cache = CredentialCache::new([3; 32], Duration::from_secs(60), 100);
        let runs = Arc::new(AtomicUsize::new(0));
        let key = [9u8; 32];
        let checks = (0..16).map(|_| {
            let cache = cache.clone();
            let runs = runs.clone();
            tokio::spawn(async move {
                cache
                    .check_with(key, async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(CachedCheck {
                            account: AccountId(1),
                            generation: 1,
                            credential: Credential::AccountPassword,
                            access: Access::FULL,
                            expires_ms: None,
                        })
                    })
                    .await
            })
        });
        for check in futures_util::future::join_all(checks).await {
            assert!(check.unwrap().is_ok());
        }
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "16 concurrent misses, one hash"
        );
    }
}
