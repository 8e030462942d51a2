//! Giving freed heap memory back to the system after a large answer.
//!
//! A 50,000-entry listing or a 20,000-event sync allocates hundreds of thousands of small
//! blocks (rows, names, XML pieces) on several threads' glibc heaps. Freed, they stay with
//! the process: glibc returns only what lies at the top of each heap, so RSS stayed at
//! ~190 MiB after one such answer for as long as the server ran (idle: 14.5 MiB). Large
//! blocks already go back by themselves (`main` keeps them in mmap); this handles the
//! small ones. A large answer, once sent, asks for a trim ([`large_answer_sent`]), and
//! [`trim_after_large_answers`] calls `malloc_trim(0)` at its next tick, which returns the
//! free pages of every arena (not only the tops) to the kernel. Asking is one atomic
//! store, and a burst of large answers costs one trim per tick, so busy servers do not
//! trim after every request.
//!
//! Before the trim, the idle database connections give back their page caches
//! ([`Store::release_memory`]): after one 50,000-entry listing those, with the file pages
//! SQLite's memory map then held, were most of what stayed (103 MiB).
//!
//! Owns nothing else: which answers count as large is the response body's business
//! ([`crate::response::pieces`]). On other allocators than glibc's this does nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use davgate_storage::Store;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

/// How often a requested trim is carried out, at most: soon enough that memory is back
/// within seconds of a large answer, rarely enough that a trim (a walk over every heap)
/// costs nothing noticeable.
const TRIM_EVERY: Duration = Duration::from_secs(5);

/// Whether a large answer finished since the last trim. Process-wide, as the heap is.
static TRIM_WANTED: AtomicBool = AtomicBool::new(false);

/// Records that a large answer was sent (or abandoned): its memory is free now.
pub fn large_answer_sent() {
    TRIM_WANTED.store(true, Ordering::Relaxed);
}

/// Releases the database connections' caches and trims the heap after large answers,
/// until `stopped` turns true.
pub async fn trim_after_large_answers(store: Option<Store>, mut stopped: watch::Receiver<bool>) {
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

    #[tokio::test]
    async fn a_requested_trim_runs_at_the_first_tick_and_the_task_stops() {
        large_answer_sent();
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(trim_after_large_answers(None, stopped));
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
