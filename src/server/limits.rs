//! How many connections may be open, in total and per client address, and what a
//! connection over the cap is told.
//!
//! The cap is checked at accept: the newest connection is the one refused, so a flood
//! of new sockets never takes the place of an established client. The total cap is kept
//! under the open-file limit ([`file_handle_budget`]) with a reserve, so accept itself
//! never fails with "too many open files" and the server can still open its database,
//! blobs and log while the cap is full.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore};

/// File handles one connection may hold: its socket and a blob being read or written.
const HANDLES_PER_CONNECTION: u64 = 2;
/// Refused plain connections that may linger at once to read the 503 (see [`refuse`]).
const LINGERING_REFUSALS: usize = 32;
/// How long a refused connection lingers for its client to read the 503.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);
/// At most one warning about refusals per this long: a flood must not flood the log.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `max_connections` are open.
    Total,
    /// `max_connections_per_address` are open from this address.
    PerAddress,
}

impl Refusal {
    /// The sentence the client reads.
    fn sentence(self) -> &'static str {
        match self {
            Refusal::Total => {
                "davgate has too many open connections; try again in a few seconds.\n"
            }
            Refusal::PerAddress => {
                "davgate has too many open connections from your address; close idle ones \
                 and try again.\n"
            }
        }
    }

    /// The whole HTTP/1.1 answer: a 503 that says why and what to do, then close.
    fn response(self) -> Vec<u8> {
        let sentence = self.sentence();
        format!(
            "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n{sentence}",
            sentence.len()
        )
        .into_bytes()
    }
}

/// Open connections, counted in total and per address, shared by the accept loop and
/// every connection's [`Permit`].
#[derive(Clone)]
pub struct ConnectionLimits {
    inner: Arc<Inner>,
}

struct Inner {
    max_total: usize,
    max_per_address: usize,
    open: Mutex<Open>,
    /// Woken when the last connection closes (shutdown waits for it).
    all_closed: Notify,
    lingering: Arc<Semaphore>,
    refusals: Mutex<RefusalCount>,
}

#[derive(Default)]
struct Open {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

struct RefusalCount {
    since_warning: u64,
    warned: Option<Instant>,
}

/// A place among the open connections, given back when dropped.
pub struct Permit {
    inner: Arc<Inner>,
    address: IpAddr,
}

impl ConnectionLimits {
    /// Caps of `max_total` connections and `max_per_address` from one address.
    pub fn new(max_total: usize, max_per_address: usize) -> Self {
        ConnectionLimits {
            inner: Arc::new(Inner {
                max_total,
                max_per_address,
                open: Mutex::new(Open::default()),
                all_closed: Notify::new(),
                lingering: Arc::new(Semaphore::new(LINGERING_REFUSALS)),
                refusals: Mutex::new(RefusalCount {
                    since_warning: 0,
                    warned: None,
                }),
            }),
        }
    }

    /// A place for a new connection from `peer`, unless a cap is reached.
    pub fn admit(&self, peer: IpAddr) -> Result<Permit, Refusal> {
        let address = address_key(peer);
        let mut open = self.inner.open.lock().expect("connection count lock");
        if open.total >= self.inner.max_total {
            return Err(Refusal::Total);
        }
        let from_address = open.per_address.entry(address).or_insert(0);
        if *from_address >= self.inner.max_per_address {
            return Err(Refusal::PerAddress);
        }
        *from_address += 1;
        open.total += 1;
        Ok(Permit {
            inner: self.inner.clone(),
            address,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.inner.open.lock().expect("connection count lock").total
    }

    /// Tells a refused plain-HTTP connection why and closes it, without waiting.
    pub fn refuse_plain(&self, stream: TcpStream, why: Refusal) {
        self.note_refusal(why);
        let response = why.response();
        match self.inner.lingering.clone().try_acquire_owned() {
            Ok(slot) => {
                tokio::spawn(async move {
                    linger_with(stream, &response).await;
                    drop(slot);
                });
            }
            // Too many refusals at once to linger on each: the answer still goes out if
            // the socket buffer takes it, which a fresh socket's does.
            Err(_) => {
                let _ = stream.try_write(&response);
            }
        }
    }

    /// Counts a refusal of a TLS connection: it is closed without a word, since a 503
    /// would first need a whole handshake.
    pub fn refuse_tls(&self, stream: TcpStream, why: Refusal) {
        self.note_refusal(why);
        drop(stream);
    }

    /// Waits until every admitted connection has closed.
    pub async fn all_closed(&self) {
        loop {
            let notified = self.inner.all_closed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.inner.open.lock().expect("connection count lock").total == 0 {
                return;
            }
            notified.await;
        }
    }

    fn note_refusal(&self, why: Refusal) {
        tracing::debug!(?why, "connection refused over the cap");
        let mut count = self.inner.refusals.lock().expect("refusal count lock");
        count.since_warning += 1;
        if count.warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            tracing::warn!(
                "refused {} connections over max_connections ({}) or \
                 max_connections_per_address ({}); raise them if these are real clients",
                count.since_warning,
                self.inner.max_total,
                self.inner.max_per_address
            );
            count.since_warning = 0;
            count.warned = Some(Instant::now());
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut open = self.inner.open.lock().expect("connection count lock");
        open.total -= 1;
        if let Some(count) = open.per_address.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.per_address.remove(&self.address);
            }
        }
        if open.total == 0 {
            self.inner.all_closed.notify_waiters();
        }
    }
}

/// Writes the 503, ends our side, and reads what the client still sends for a moment:
/// closing with unread bytes would reset the connection and could lose the answer.
async fn linger_with(mut stream: TcpStream, response: &[u8]) {
    let _ = tokio::time::timeout(REFUSAL_LINGER, async {
        stream.write_all(response).await?;
        stream.shutdown().await?;
        let mut discard = [0u8; 1024];
        while stream.read(&mut discard).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}

/// The address a per-address cap counts: IPv4 as is, IPv6 by its /64, since one
/// client commonly holds a whole /64.
fn address_key(peer: IpAddr) -> IpAddr {
    match peer.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

/// Raises the soft open-file limit to the hard one and says how many connections fit
/// under it, keeping a reserve for the database, blobs, log and lingering refusals.
/// `None` when the limit is unknown or unlimited.
pub fn file_handle_budget() -> Option<usize> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum)
        && current < maximum
    {
        let raised = Rlimit {
            current: Some(maximum),
            maximum: Some(maximum),
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::debug!(error = %e, "could not raise the open-file limit to {maximum}");
        }
    }
    let handles = getrlimit(Resource::Nofile).current?;
    Some(connections_within(handles))
}

/// Connections that fit in `handles` open files after the reserve.
fn connections_within(handles: u64) -> usize {
    let reserve = (handles / 8).clamp(128, 1024);
    let budget = handles.saturating_sub(reserve) / HANDLES_PER_CONNECTION;
    usize::try_from(budget).unwrap_or(usize::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_bodies_are_as_long_as_they_say() {
        for why in [Refusal::Total, Refusal::PerAddress] {
            let response = why.response();
            let text = std::str::from_utf8(&response).unwrap();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(body.len(), length, "{body:?}");
        }
    }

    #[test]
    fn the_caps_count_in_total_and_per_address() {
        let limits = ConnectionLimits::new(3, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = limits.admit(a).unwrap();
        let _second = limits.admit(a).unwrap();
        assert_eq!(limits.admit(a).err(), Some(Refusal::PerAddress));
        let _third = limits.admit(b).unwrap();
        assert_eq!(limits.admit(b).err(), Some(Refusal::Total));
        drop(first);
        assert!(limits.admit(a).is_ok());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let same: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(one), address_key(same));
        assert_ne!(address_key(one), address_key(other));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn the_budget_keeps_a_reserve() {
        assert_eq!(connections_within(1024), (1024 - 128) / 2);
        assert_eq!(connections_within(1 << 20), ((1 << 20) - 1024) / 2);
        assert_eq!(connections_within(16), 1);
    }
}
