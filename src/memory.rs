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
//! While a large upload streams, the opposite is wanted: its chunks are cut from the
//! connection's read buffers, which come and go at the top of a heap faster than glibc's
//! 128 KiB trim threshold allows, so the heap gave each freed top back and faulted it in
//! again: 85,000–125,000 page faults per GiB of a fast upload, 5–10% of its CPU. A
//! [`HeapTopsKept`] held by each large upload raises the threshold while any streams and
//! lowers it when the last one ends. glibc checks a heap's top against the threshold only
//! when a large block on that heap is freed, and `malloc_trim` trims the main heap's top
//! alone, so each runtime worker then frees a block on its own heap the next time it goes
//! idle ([`check_own_heap_top`]): without that, a worker whose last free came before the
//! threshold went down kept up to 22 MiB for good.
//!
//! Owns nothing else: which bodies count as large is their owners' business
//! ([`crate::response::pieces`], the PUT handler). On other allocators than glibc's this
//! does nothing.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
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

/// Free memory a heap keeps at its top while a large upload streams: above the MD5 lag
/// and a write batch of one upload (20 and 4 MiB, `davgate_storage::blob`), by which a
/// heap's top rises and falls. 8 MiB still left a quarter of the faults.
const TOP_KEPT_WHILE_STREAMING: usize = 32 << 20;

/// glibc's default trim threshold, fixed (not raised by large frees) since `main` fixes
/// the mmap threshold.
const TOP_KEPT_OTHERWISE: usize = 128 << 10;

/// How many times the threshold went back down; a worker that has seen fewer checks its
/// heap's top when it next goes idle.
static TOPS_LOWERED: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static TOPS_LOWERED_SEEN: Cell<u64> = const { Cell::new(0) };
}

/// A block large enough that freeing it makes glibc check its heap's top (64 KiB or
/// more), and small enough to come from that heap under any mmap threshold (128 KiB at
/// the least).
const TOP_CHECKING_BLOCK: usize = 96 << 10;

/// Large uploads holding a [`HeapTopsKept`]. A lock rather than an atomic, so that the
/// threshold set always matches the count, however holds and drops interleave.
static TOPS_KEPT_FOR: Mutex<usize> = Mutex::new(0);

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

/// Heaps keep what is freed at their tops while any of these is held: one per large
/// upload, from the moment it counts as large until it ends.
pub struct HeapTopsKept(());

impl HeapTopsKept {
    pub fn hold() -> Self {
        let mut holders = TOPS_KEPT_FOR.lock().unwrap_or_else(PoisonError::into_inner);
        if *holders == 0 {
            set_trim_threshold(TOP_KEPT_WHILE_STREAMING);
        }
        *holders += 1;
        HeapTopsKept(())
    }
}

impl Drop for HeapTopsKept {
    fn drop(&mut self) {
        let mut holders = TOPS_KEPT_FOR.lock().unwrap_or_else(PoisonError::into_inner);
        *holders -= 1;
        if *holders == 0 {
            set_trim_threshold(TOP_KEPT_OTHERWISE);
            TOPS_LOWERED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// For the runtime's `on_thread_park`: after the last large upload ended, gives this
/// thread's heap top back to the system if it is above the threshold. One atomic load
/// otherwise.
pub fn check_own_heap_top() {
    let lowered = TOPS_LOWERED.load(Ordering::Relaxed);
    if TOPS_LOWERED_SEEN.get() == lowered {
        return;
    }
    TOPS_LOWERED_SEEN.set(lowered);
    // Allocated from this thread's heap and freed at once: black_box keeps the pair.
    drop(std::hint::black_box(Vec::<u8>::with_capacity(
        TOP_CHECKING_BLOCK,
    )));
}

fn set_trim_threshold(bytes: usize) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator tuning; it takes the main arena's lock, and
    // the other arenas read the threshold as they free, as they do when glibc moves it.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, bytes as libc::c_int);
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = bytes;
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

    /// Resident KiB of the mappings holding any of `addresses`, from /proc/self/smaps:
    /// one heap's memory, whatever the other tests' threads do meanwhile.
    fn resident_kib_of_mappings(addresses: &[usize]) -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        // By start: a mapping that grew while the file was read is listed again.
        let mut resident = std::collections::HashMap::new();
        let mut holding = None;
        for line in smaps.lines() {
            let range = line
                .split_once(' ')
                .and_then(|(range, _)| range.split_once('-'));
            if let Some((start, end)) = range
                && let (Ok(start), Ok(end)) = (
                    usize::from_str_radix(start, 16),
                    usize::from_str_radix(end, 16),
                )
            {
                holding = addresses
                    .iter()
                    .any(|a| (start..end).contains(a))
                    .then_some(start);
            } else if let Some(start) = holding
                && let Some(kib) = line.strip_prefix("Rss:")
            {
                let kib = kib.trim().trim_end_matches("kB").trim().parse::<u64>();
                resident.insert(start, kib.unwrap());
            }
        }
        resident.values().sum()
    }

    /// In a process of its own: in this one, other tests' threads leave memory on the
    /// heap the scenario's thread is given, and with it the top passed the raised
    /// threshold and went at once (38 MiB grown, 144 KiB kept, in one full run).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_heap_keeps_its_freed_top_while_an_upload_streams_and_gives_it_back_after() {
        let scenario = "memory::tests::heap_tops_kept_then_given_back";
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", scenario, "--include-ignored", "--test-threads=1"])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{scenario} failed:\n{said}");
        assert!(said.contains("1 passed"), "{scenario} did not run:\n{said}");
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    #[ignore = "run in a process of its own by the test above"]
    fn heap_tops_kept_then_given_back() {
        use std::sync::Barrier;
        use std::sync::atomic::AtomicUsize;

        const BLOCKS: usize = 384;
        // The blocks' addresses, and the steps, are shared without allocating: a small
        // block the worker allocated above its big ones and then freed would sit in its
        // thread cache and pin the heap's top. This thread measures.
        let addresses: Vec<AtomicUsize> = (0..BLOCKS).map(|_| AtomicUsize::new(0)).collect();
        let step = Barrier::new(2);
        let resident = || {
            let addresses: Vec<usize> = addresses
                .iter()
                .map(|a| a.load(Ordering::Relaxed))
                .collect();
            resident_kib_of_mappings(&addresses)
        };
        let (grown, kept, after) = std::thread::scope(|scope| {
            scope.spawn(|| {
                let upload = HeapTopsKept::hold();
                let mut blocks = Vec::with_capacity(BLOCKS);
                // 24 MiB in blocks under any mmap threshold: on this thread's heap.
                for address in &addresses {
                    let block = vec![0xa5u8; 64 << 10];
                    address.store(block.as_ptr() as usize, Ordering::Relaxed);
                    blocks.push(block);
                }
                step.wait();
                step.wait();
                drop(blocks);
                step.wait();
                step.wait();
                drop(upload);
                check_own_heap_top();
                step.wait();
            });
            step.wait();
            let grown = resident();
            step.wait();
            step.wait();
            let kept = resident();
            step.wait();
            step.wait();
            (grown, kept, resident())
        });
        assert!(grown >= 24 * 1024, "the blocks were resident: {grown} KiB");
        assert!(
            kept + 4 * 1024 >= grown,
            "freed while the upload streamed, the heap's top stayed: {grown} KiB, then {kept}"
        );
        assert!(
            after + 16 * 1024 <= kept,
            "after it, the thread's next idle gave the top back: {kept} KiB, then {after}"
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
