//! Thread priority for work that must yield to requests: password hashing and
//! background checksums.

/// Nice value of such threads. A flood of wrong passwords keeps every hashing thread
/// busy, and a large upload's MD5 runs for seconds; at the default priority they would
/// take turns with the threads that answer signed-in clients and multiply their
/// latency. Niced, they use what the request threads leave, which on an idle server is
/// everything.
const BACKGROUND_NICE: i32 = 10;

/// Lowers the calling thread's scheduling priority (Linux keeps nice values per thread).
pub fn lower_priority() {
    // SAFETY: setpriority with PRIO_PROCESS and who = 0 only changes the calling
    // thread's nice value; it reads and writes no memory of ours.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, BACKGROUND_NICE) };
    if rc != 0 {
        tracing::debug!("could not lower the priority of a background thread");
    }
}
