//! WebDAV locks (RFC 4918 §6-7) over the database: who may take a lock, and who may
//! write under one.
//!
//! Exclusive locks exclude every other lock on their path (and below, for a deep one);
//! shared locks coexist; a write needs the token of every lock covering it — the rules
//! litmus and Finder expect. Every lock is a row: all nodes, and a restarted server,
//! agree on who holds what. Locks of one account are few; one request reads them once.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use davgate_storage::{AccountId, LockRecord, StorageError, Store, now_ms};
use tokio::sync::Mutex;

/// One account's locks, as seen by one request.
#[derive(Clone)]
pub(crate) struct DbLocks {
    store: Store,
    account: AccountId,
    /// What a LOCK or refresh in this request is granted (see [`super::lock_timeout`]).
    granted: Duration,
    /// The locks read for this request; `None` until first needed or after a change.
    snapshot: Arc<Mutex<Option<Vec<LockRecord>>>>,
}

impl fmt::Debug for DbLocks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbLocks")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl DbLocks {
    pub(crate) fn new(store: Store, account: AccountId, granted: Duration) -> Self {
        DbLocks {
            store,
            account,
            granted,
            snapshot: Arc::new(Mutex::new(None)),
        }
    }

    async fn current(&self) -> Vec<LockRecord> {
        let mut snapshot = self.snapshot.lock().await;
        if let Some(locks) = &*snapshot {
            return locks.clone();
        }
        match self.store.locks(self.account).await {
            Ok(locks) => {
                *snapshot = Some(locks.clone());
                locks
            }
            Err(e) => {
                // Failing closed would lock users out of their files over a transient
                // database error; the write that follows will fail on its own.
                tracing::error!(error = %e, "could not read locks");
                Vec::new()
            }
        }
    }

    async fn forget(&self) {
        *self.snapshot.lock().await = None;
    }
}

/// True when `ancestor` is `path` or one of its parents.
fn covers(ancestor: &str, path: &str) -> bool {
    ancestor == "/"
        || path == ancestor
        || path
            .strip_prefix(ancestor)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Who is asking, and with which tokens.
struct Asker<'a> {
    principal: Option<&'a str>,
    ignore_principal: bool,
    tokens: &'a [String],
}

impl Asker<'_> {
    fn holds(&self, lock: &LockRecord) -> bool {
        self.tokens.contains(&lock.token)
            && (self.ignore_principal || self.principal == lock.principal.as_deref())
    }
}

/// Locks on `path` and on its ancestors with depth infinity must all be held, except
/// that shared locks only need one of them held (or none, when `shared_ok`).
fn check_to_path(
    locks: &[LockRecord],
    path: &str,
    asker: &Asker,
    shared_ok: bool,
) -> Result<(), LockRecord> {
    let mut holds = false;
    let mut first_shared = None;
    for lock in locks
        .iter()
        .filter(|l| l.path == path || (l.deep && covers(&l.path, path)))
    {
        if asker.holds(lock) {
            holds = true;
        } else if !lock.shared {
            return Err(lock.clone());
        } else if !shared_ok {
            first_shared.get_or_insert(lock);
        }
    }
    match first_shared {
        Some(lock) if !holds => Err(lock.clone()),
        _ => Ok(()),
    }
}

/// Every lock on `path` or below it must be held (shared ones may be ignored when
/// `shared_ok`).
fn check_from_path(
    locks: &[LockRecord],
    path: &str,
    asker: &Asker,
    shared_ok: bool,
) -> Result<(), LockRecord> {
    match locks
        .iter()
        .filter(|l| covers(path, &l.path))
        .find(|l| (!l.shared || !shared_ok) && !asker.holds(l))
    {
        Some(lock) => Err(lock.clone()),
        None => Ok(()),
    }
}

/// The lock with `token` that covers `path`.
fn find_covering<'a>(locks: &'a [LockRecord], path: &str, token: &str) -> Option<&'a LockRecord> {
    locks
        .iter()
        .find(|l| l.token == token && covers(&l.path, path))
}

fn new_token() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = data_encoding::HEXLOWER.encode(&bytes);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// When a lock granted `granted` from now expires, in ms since the epoch.
fn expires(granted: Duration) -> i64 {
    now_ms().saturating_add(i64::try_from(granted.as_millis()).unwrap_or(i64::MAX))
}

impl DbLocks {
    /// Takes a lock on `key` unless a lock there (or above, or below for a deep one)
    /// conflicts: `Ok(Err(clash))` names the lock in the way.
    pub(crate) async fn take(
        &self,
        key: &str,
        principal: Option<&str>,
        owner_xml: Option<Vec<u8>>,
        shared: bool,
        deep: bool,
    ) -> Result<Result<LockRecord, LockRecord>, StorageError> {
        let record = LockRecord {
            token: new_token(),
            path: key.to_owned(),
            principal: principal.map(str::to_owned),
            owner_xml,
            expires_ms: expires(self.granted),
            shared,
            deep,
        };
        let nobody = Asker {
            principal: None,
            ignore_principal: true,
            tokens: &[],
        };
        let result = self
            .store
            .add_lock(self.account, record, |locks| {
                check_to_path(locks, key, &nobody, shared)
                    .and_then(|()| {
                        if deep {
                            check_from_path(locks, key, &nobody, shared)
                        } else {
                            Ok(())
                        }
                    })
                    .err()
            })
            .await;
        self.forget().await;
        result
    }

    /// Removes the lock `token` if it covers `key`; `false` when no such lock does.
    pub(crate) async fn release(&self, key: &str, token: &str) -> Result<bool, StorageError> {
        let locks = self.current().await;
        if find_covering(&locks, key, token).is_none() {
            return Ok(false);
        }
        let removed = self
            .store
            .remove_locks(self.account, &[token.to_owned()])
            .await;
        self.forget().await;
        removed.map(|n| n > 0)
    }

    /// Extends the lock `token` covering `key` by the granted time; `None` when no
    /// such lock covers it.
    pub(crate) async fn renew(
        &self,
        key: &str,
        token: &str,
    ) -> Result<Option<LockRecord>, StorageError> {
        let locks = self.current().await;
        if find_covering(&locks, key, token).is_none() {
            return Ok(None);
        }
        let refreshed = self
            .store
            .refresh_lock(self.account, token, expires(self.granted))
            .await;
        self.forget().await;
        refreshed
    }

    /// The first lock that keeps `principal`, holding `tokens`, from writing `key`
    /// (and, when `deep`, everything below it).
    pub(crate) async fn blocking(
        &self,
        key: &str,
        principal: Option<&str>,
        deep: bool,
        tokens: &[String],
    ) -> Option<LockRecord> {
        let locks = self.current().await;
        let asker = Asker {
            principal,
            ignore_principal: false,
            tokens,
        };
        check_to_path(&locks, key, &asker, false)
            .and_then(|()| {
                if deep {
                    check_from_path(&locks, key, &asker, false)
                } else {
                    Ok(())
                }
            })
            .err()
    }

    /// The locks on `key` and the deep ones above it.
    pub(crate) async fn covering(&self, key: &str) -> Vec<LockRecord> {
        self.current()
            .await
            .into_iter()
            .filter(|l| l.path == key || (l.deep && covers(&l.path, key)))
            .collect()
    }

    /// Removes every lock at or below `key`: the item there went away.
    pub(crate) async fn release_below(&self, key: &str) -> Result<(), StorageError> {
        let tokens: Vec<String> = self
            .current()
            .await
            .into_iter()
            .filter(|l| covers(key, &l.path))
            .map(|l| l.token)
            .collect();
        let result = self.store.remove_locks(self.account, &tokens).await;
        self.forget().await;
        result.map(drop)
    }

    /// The time this request grants a lock it takes or refreshes.
    pub(crate) fn granted(&self) -> Duration {
        self.granted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(token: &str, path: &str, shared: bool, deep: bool) -> LockRecord {
        LockRecord {
            token: token.into(),
            path: path.into(),
            principal: Some("alice".into()),
            owner_xml: None,
            expires_ms: i64::MAX,
            shared,
            deep,
        }
    }

    fn asker<'a>(tokens: &'a [String]) -> Asker<'a> {
        Asker {
            principal: Some("alice"),
            ignore_principal: false,
            tokens,
        }
    }

    #[test]
    fn deep_locks_cover_descendants_only() {
        assert!(covers("/a", "/a/b"));
        assert!(covers("/", "/anything"));
        assert!(!covers("/a", "/ab"));
        let locks = [lock("t1", "/a", false, true)];
        assert!(check_to_path(&locks, "/a/b/c", &asker(&[]), false).is_err());
        assert!(check_to_path(&locks, "/a/b/c", &asker(&["t1".into()]), false).is_ok());
        assert!(check_to_path(&locks, "/other", &asker(&[]), false).is_ok());
        let shallow = [lock("t2", "/a", false, false)];
        assert!(check_to_path(&shallow, "/a/b", &asker(&[]), false).is_ok());
    }

    #[test]
    fn a_folder_with_a_locked_child_cannot_be_deleted_without_the_token() {
        let locks = [lock("t1", "/a/b", false, false)];
        assert!(check_from_path(&locks, "/a", &asker(&[]), false).is_err());
        assert!(check_from_path(&locks, "/a", &asker(&["t1".into()]), false).is_ok());
    }

    #[test]
    fn shared_locks_coexist_but_block_writers_without_a_token() {
        let locks = [lock("s1", "/f", true, false)];
        assert!(
            check_to_path(&locks, "/f", &asker(&[]), true).is_ok(),
            "another shared lock may be taken"
        );
        assert!(
            check_to_path(&locks, "/f", &asker(&[]), false).is_err(),
            "a write needs the token"
        );
    }

    #[test]
    fn tokens_are_uuids() {
        let t = new_token();
        assert!(t.starts_with("urn:uuid:") && t.len() == 45, "{t}");
        assert_ne!(t, new_token());
    }
}
