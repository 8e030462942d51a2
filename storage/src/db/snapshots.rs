//! Rows kept between commits: each read is valid under the commit version it was made
//! at (see `changes`), so a hot row costs a query only after something was written.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Version;
use crate::error::Result;

/// Rows by key, each with the version and moment it was read.
pub(crate) struct Snapshots<K, V> {
    rows: Mutex<HashMap<K, Snapshot<V>>>,
}

struct Snapshot<V> {
    version: Version,
    read_at: Instant,
    value: V,
}

impl<K: Hash + Eq + Clone, V: Clone> Snapshots<K, V> {
    /// Writes made past this crate (sqlite3 by hand, an older binary) change no
    /// version: a kept row is read again after this long all the same.
    const MAX_AGE: Duration = Duration::from_secs(1);
    /// Beyond this many rows the map starts over rather than grow.
    const CAPACITY: usize = 4096;

    /// The value kept for `key` under `version`, else `read`'s, kept for next time.
    /// `version` must be taken before the read starts: a commit landing during the
    /// read then makes what it returned stale at once instead of hiding behind it.
    /// With no version (nothing tracked) every call reads.
    pub(crate) async fn kept_or_read<F, Fut>(
        &self,
        version: Option<Version>,
        key: &K,
        read: F,
    ) -> Result<V>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V>>,
    {
        let Some(version) = version else {
            return read().await;
        };
        if let Some(value) = self.get(key, version) {
            return Ok(value);
        }
        let value = read().await?;
        self.put(key.clone(), version, value.clone());
        Ok(value)
    }

    fn get(&self, key: &K, version: Version) -> Option<V> {
        let rows = self.rows.lock().expect("snapshots lock");
        let kept = rows.get(key)?;
        (kept.version == version && kept.read_at.elapsed() < Self::MAX_AGE)
            .then(|| kept.value.clone())
    }

    fn put(&self, key: K, version: Version, value: V) {
        let mut rows = self.rows.lock().expect("snapshots lock");
        if rows.len() >= Self::CAPACITY {
            rows.clear();
        }
        let snapshot = Snapshot {
            version,
            read_at: Instant::now(),
            value,
        };
        rows.insert(key, snapshot);
    }
}

impl<K, V> Default for Snapshots<K, V> {
    fn default() -> Self {
        Snapshots {
            rows: Mutex::default(),
        }
    }
}
