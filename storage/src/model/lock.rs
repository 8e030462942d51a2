//! A WebDAV lock as the store keeps it (see `locks` for what is done with them).

use sqlx::FromRow;

/// One lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRecord {
    /// The lock token URI.
    pub token: String,
    /// The locked path below the account's files root, NFC-normalised.
    pub path: String,
    /// Who took the lock.
    pub principal: Option<String>,
    /// The client's `DAV:owner` element, as sent.
    pub owner_xml: Option<Vec<u8>>,
    /// When the lock expires, ms since the epoch. Every lock expires: a client that
    /// crashes must not leave a file locked for good.
    pub expires_ms: i64,
    /// Shared or exclusive.
    pub shared: bool,
    /// Depth infinity.
    pub deep: bool,
}

#[derive(FromRow)]
pub(crate) struct LockRow {
    token: String,
    path: String,
    principal: Option<String>,
    owner_xml: Option<Vec<u8>>,
    timeout_ms: Option<i64>,
    shared: i64,
    deep: i64,
}

impl From<LockRow> for LockRecord {
    fn from(r: LockRow) -> Self {
        LockRecord {
            token: r.token,
            path: r.path,
            principal: r.principal,
            owner_xml: r.owner_xml,
            // Migration 0005 gave every older row an expiry and davgate writes none
            // without one, so a NULL comes from outside: read as long expired.
            expires_ms: r.timeout_ms.unwrap_or(0),
            shared: r.shared != 0,
            deep: r.deep != 0,
        }
    }
}
