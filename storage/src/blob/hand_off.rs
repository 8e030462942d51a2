//! How many bytes an upload hands to another thread at a time, shared by the local blob
//! writer and the hashing lanes.

/// Bytes an upload hands to another thread at a time: a local blob's write buffer and a
/// hashing batch. Each hand-off wakes another thread, and Linux counts how often a thread
/// changes the thread it wakes (`wakee_flips`). With 1 MiB hand-offs a worker's count
/// stayed close to a multi-threaded client's for seconds, the scheduler's `wake_wide`
/// then woke the two onto one CPU, and the next download ran 10–25% slower
/// (bench/RESULTS.md). Four times fewer hand-offs keep the count low enough; 8 MiB did
/// no better and held 25 MiB more per upload.
pub(crate) const HAND_OFF: usize = 4 * 1024 * 1024;
