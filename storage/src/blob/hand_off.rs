//! How many bytes an upload hands to another thread at a time, shared by the local blob
//! writer and the hashing lanes.

/// Bytes an upload hands to another thread at a time once it is past its first ones: a
/// local blob's write buffer and a hashing batch. Each hand-off wakes another thread, and
/// Linux counts how often a thread changes the thread it wakes (`wakee_flips`). With
/// 1 MiB hand-offs a worker's count stayed close to a multi-threaded client's for
/// seconds, the scheduler's `wake_wide` then woke the two onto one CPU, and the next
/// download ran 10–25% slower (bench/RESULTS.md). Four times fewer hand-offs keep the
/// count low enough; 8 MiB did no better and held 25 MiB more per upload.
pub(crate) const HAND_OFF: usize = 4 * 1024 * 1024;

/// Bytes per hand-off while fewer than `HAND_OFF` were handed off. A file of a few
/// megabytes (a photo) is then written and hashed while it streams, and only its last
/// megabyte waits for the end: with 4 MiB steps from the start, files of 2 and 3.5 MiB
/// took 4–7 ms longer to their 201. A large upload makes three more hand-offs for it,
/// once, which does not move the count above.
pub(crate) const FIRST_HAND_OFFS: usize = 1024 * 1024;

/// Bytes to gather for the next hand-off, after `handed` bytes were handed off.
pub(crate) fn next_hand_off(handed: u64) -> usize {
    if handed < HAND_OFF as u64 {
        FIRST_HAND_OFFS
    } else {
        HAND_OFF
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_steps_fill_exactly_the_first_hand_off() {
        let mut handed = 0u64;
        let mut steps = Vec::new();
        while handed < 3 * HAND_OFF as u64 {
            let step = next_hand_off(handed);
            steps.push(step);
            handed += step as u64;
        }
        assert!(HAND_OFF.is_multiple_of(FIRST_HAND_OFFS));
        let small = HAND_OFF / FIRST_HAND_OFFS;
        assert!(steps[..small].iter().all(|&s| s == FIRST_HAND_OFFS));
        assert!(steps[small..].iter().all(|&s| s == HAND_OFF));
        assert_eq!(handed, 3 * HAND_OFF as u64);
    }
}
