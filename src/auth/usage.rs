//! When and from where credentials are used, without a database write per request.
//!
//! Last use is kept in memory and written in batches by [`UsageTracker::flush`] (the
//! server calls it every 30 seconds and at shutdown). An address is written, and
//! audited, only the first time a credential is seen from it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use davgate_storage::{AccountId, LastUse, Store, UseRecord};
use moka::sync::Cache;

use super::principal::{Credential, Principal};

/// Longest user agent kept.
const MAX_AGENT: usize = 200;

/// Who is on the other end of a request.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// The client's address (from the connection, or the trusted proxy's header).
    pub addr: IpAddr,
    /// Its `User-Agent`, shortened.
    pub agent: String,
}

impl ClientInfo {
    /// Shortens the agent to what is worth keeping.
    pub fn new(addr: IpAddr, agent: &str) -> Self {
        let agent: String = agent
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_AGENT)
            .collect();
        ClientInfo { addr, agent }
    }
}

/// Batches last-use records and notices new addresses.
#[derive(Clone)]
pub struct UsageTracker {
    store: Store,
    pending: Arc<Mutex<HashMap<i64, PendingUse>>>,
    /// (account, app password id or `None` for the account password, address): Copy
    /// values, so the lookup every request makes allocates nothing.
    seen: Cache<(AccountId, Option<i64>, IpAddr), ()>,
}

/// An app password's last use, as kept until the next flush: a client signing in again
/// from the same address with the same agent only moves the time, allocating nothing.
struct PendingUse {
    at_ms: i64,
    addr: IpAddr,
    agent: String,
}

impl PendingUse {
    fn record(&self, id: i64) -> UseRecord {
        UseRecord {
            id,
            last: LastUse {
                at_ms: self.at_ms,
                addr: self.addr.to_string(),
                agent: self.agent.clone(),
            },
        }
    }
}

/// Whether a sign-in came from an address its credential had not used lately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    NewAddress,
    KnownAddress,
}

impl UsageTracker {
    /// A tracker writing to `store`.
    pub fn new(store: Store) -> Self {
        UsageTracker {
            store,
            pending: Arc::new(Mutex::new(HashMap::new())),
            seen: Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(86_400))
                .build(),
        }
    }

    /// Notes a successful sign-in: in memory, plus one write the first time a
    /// credential is seen from an address.
    pub fn record(&self, principal: &Principal, client: &ClientInfo) -> Seen {
        let app_id = match &principal.credential {
            Credential::AccountPassword => None,
            Credential::AppPassword { id, .. } => {
                let at_ms = davgate_storage::now_ms();
                let mut pending = self.pending.lock().expect("usage lock");
                match pending.get_mut(id) {
                    Some(last) if last.addr == client.addr && last.agent == client.agent => {
                        last.at_ms = at_ms;
                    }
                    _ => {
                        let last = PendingUse {
                            at_ms,
                            addr: client.addr,
                            agent: client.agent.clone(),
                        };
                        pending.insert(*id, last);
                    }
                }
                Some(*id)
            }
        };
        let key = (principal.account.id, app_id, client.addr);
        if self.seen.contains_key(&key) {
            return Seen::KnownAddress;
        }
        self.seen.insert(key, ());
        let credential = match &principal.credential {
            Credential::AccountPassword => "account password".to_owned(),
            Credential::AppPassword { public_id, .. } => format!("app password {public_id}"),
        };
        let (account, addr) = (principal.account.id, client.addr);
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store
                .note_address(account, &credential, &addr.to_string())
                .await
            {
                tracing::warn!(error = %e, "could not record a new client address");
            }
        });
        Seen::NewAddress
    }

    /// Writes the batched last-use records.
    pub async fn flush(&self) {
        let drained: Vec<(i64, PendingUse)> =
            self.pending.lock().expect("usage lock").drain().collect();
        let batch: Vec<UseRecord> = drained.iter().map(|(id, last)| last.record(*id)).collect();
        if let Err(e) = self.store.record_uses(&batch).await {
            tracing::warn!(error = %e, "could not record credential use; it is kept for the next try");
            let mut pending = self.pending.lock().expect("usage lock");
            for (id, last) in drained {
                pending.entry(id).or_insert(last);
            }
        }
    }
}
