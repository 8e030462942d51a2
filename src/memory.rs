//! Giving freed heap memory back to the system after a large body, sent or received.
//!
//! A 50,000-entry listing or a 20,000-event sync allocates hundreds of thousands of small
//! blocks (rows, names, XML pieces) on several threads' glibc heaps. Freed, they stay with
//! the process: glibc returns only what lies at the top of each heap, so RSS stayed at
//! ~190 MiB after one such answer for as long as the server ran (idle: 14.5 MiB). Uploads
//! leave the same behind: eight 1 GiB PUTs at once left 89–153 MiB resident for good,
//! their first hand-offs and the connections' read buffers spread over the heaps. Large
//! blocks already go back by themselves (`main` keeps them in mmap); this handles the
//! small ones. A body counted by a [`LargeBody`] asks for a trim when it is dropped past
//! its size, and [`trim_after_large_bodies`] calls `malloc_trim(0)` at its next tick,
//! which returns the free pages of every arena (not only the tops) to the kernel. Asking
//! is one atomic store, and a burst of large bodies costs one trim per tick, so busy
//! servers do not trim after every request.
//!
//! Before the trim, the idle database connections give back their page caches
//! ([`Store::release_memory`]): after one 50,000-entry listing those, with the file pages
//! SQLite's memory map then held, were most of what stayed (103 MiB).
//!
//! Owns nothing else: which bodies count as large is their owners' business
//! ([`crate::response::pieces`], the PUT handler). On other allocators than glibc's this
//! does nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use davgate_storage::Store;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

/// How often a requested trim is carried out, at most: soon enough that memory is back
/// within seconds of a large answer, rarely enough that a trim (a walk over every heap)
/// costs nothing noticeable.
const TRIM_EVERY: Duration = Duration::from_secs(5);

/// Whether a large body finished since the last trim. Process-wide, as the heap is.
static TRIM_WANTED: AtomicBool = AtomicBool::new(false);

/// The bytes of one body as they pass. Dropped (the body sent, received or abandoned) at
/// `large` bytes or more, it asks for a trim: the body's memory is free by then.
pub struct LargeBody {
    bytes: u64,
    large: u64,
}

impl LargeBody {
    /// A body that counts as large from `large` bytes on.
    pub fn at_least(large: u64) -> Self {
        LargeBody { bytes: 0, large }
    }

    pub fn passed(&mut self, bytes: usize) {
        self.bytes += bytes as u64;
    }

    pub fn is_large(&self) -> bool {
        self.bytes >= self.large
    }
}

impl Drop for LargeBody {
    fn drop(&mut self) {
        if self.is_large() {
            TRIM_WANTED.store(true, Ordering::Relaxed);
        }
    }
}

/// Releases the database connections' caches and trims the heap after large bodies,
/// until `stopped` turns true.
pub async fn trim_after_large_bodies(store: Option<Store>, mut stopped: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(TRIM_EVERY);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // Bounded by the server's life: the loop ends when it is told to stop.
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stopped.changed() => {}
        }
        if *stopped.borrow() {
            return;
        }
        if TRIM_WANTED.swap(false, Ordering::Relaxed) {
            // First, so that the page caches it frees are trimmed too.
            if let Some(store) = &store
                && let Err(e) = store.release_memory().await
            {
                tracing::warn!("the database connections could not release memory: {e}");
            }
            // A walk over every arena, taking each one's lock in turn: not on the reactor.
            let _ = tokio::task::spawn_blocking(trim).await;
        }
    }
}

/// Trims the heap now, off the reactor: for a background job that just freed a lot and
/// knows it is done (the reminders scheduler after a refill), so memory is back before
/// the next tick.
pub async fn trim_now() {
    let _ = tokio::task::spawn_blocking(trim).await;
}

/// Returns the free pages of every heap to the kernel.
fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory the allocator holds free; it takes each
    // arena's lock, so it is safe to call while other threads allocate.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RSS of this process in KiB, from /proc.
    fn rss_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap()
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_trim_returns_freed_small_blocks() {
        // 64 MiB in 1 KiB blocks on another thread's arena, then all but the last freed:
        // the last one pins the heap's top, so only a trim can give the rest back.
        let grown = std::thread::spawn(|| {
            let blocks: Vec<Vec<u8>> = (0..65_536).map(|i| vec![i as u8; 1024]).collect();
            let before = rss_kib();
            let last = blocks.into_iter().last();
            (before, last)
        });
        let (before, last) = grown.join().unwrap();
        let held = rss_kib();
        trim();
        let after = rss_kib();
        drop(last);
        assert!(
            before >= 60 * 1024,
            "the blocks were resident: {before} KiB"
        );
        assert!(
            after + 32 * 1024 < held,
            "a trim gave back the freed blocks: {held} KiB before, {after} KiB after"
        );
    }

    #[test]
    fn a_body_is_large_from_its_size_on() {
        let mut body = LargeBody::at_least(1 << 20);
        body.passed((1 << 20) - 1);
        assert!(!body.is_large());
        body.passed(1);
        assert!(body.is_large());
        let empty = LargeBody::at_least(1);
        assert!(!empty.is_large());
    }

    #[tokio::test]
    async fn a_requested_trim_runs_at_the_first_tick_and_the_task_stops() {
        let mut body = LargeBody::at_least(1);
        body.passed(1);
        drop(body);
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(trim_after_large_bodies(None, stopped));
        // The first tick is immediate.
        for _ in 0..100 {
            if !TRIM_WANTED.load(Ordering::Relaxed) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!TRIM_WANTED.load(Ordering::Relaxed));
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
    }
}
