//! Seeded byte-level mutations of real inputs, for the bounded parser fuzz
//! (`parser_fuzz` in the library's unit tests, `tests/fuzz_http.rs` over HTTP).
//!
//! Not a coverage-guided fuzzer: each case takes a corpus input and applies a few of the
//! edits that break parsers in practice — a flipped bit, an inserted or deleted run, a
//! splice from another input, a duplicated run, an interesting byte (`<`, `:`, `%`, a
//! digit, a newline) — so every CI run tries thousands of near-valid inputs in seconds.
//! A failing test names its seed, and `DAVGATE_FUZZ_SEED` replays it.
//! Depends on nothing else in the crate, so any module's tests may use it.

/// Bytes that sit at the edges of the formats we parse.
const INTERESTING: &[u8] = b"<>/:;=,-\"'&%#\\ \t\r\n\x00019AZaz\x7f\x80\xff";

/// A small deterministic generator (xorshift64*): the same seed gives the same cases.
#[derive(Debug, Clone)]
pub struct Mutator {
    state: u64,
}

impl Mutator {
    /// A generator for `seed` (any value, zero included).
    pub fn new(seed: u64) -> Self {
        Mutator {
            state: (seed ^ 0x9E37_79B9_7F4A_7C15) | 1,
        }
    }

    /// The seed for a run: `DAVGATE_FUZZ_SEED` when set, else the clock.
    pub fn run_seed() -> u64 {
        if let Some(seed) = std::env::var("DAVGATE_FUZZ_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
        {
            return seed;
        }
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    }

    /// The next pseudo-random number.
    pub fn next_u64(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: usize) -> usize {
        if bound == 0 {
            0
        } else {
            (self.next_u64() % bound as u64) as usize
        }
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `input` with one to four random edits, `donor` supplying spliced runs.
    pub fn mutate(&mut self, input: &[u8], donor: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        for _ in 0..1 + self.below(4) {
            self.edit(&mut out, donor);
        }
        out
    }

    fn edit(&mut self, out: &mut Vec<u8>, donor: &[u8]) {
        let at = self.below(out.len() + 1);
        match self.below(7) {
            // Flip one bit.
            0 if at < out.len() => out[at] ^= 1 << self.below(8),
            // Overwrite with an interesting byte.
            1 if at < out.len() => out[at] = *self.pick(INTERESTING),
            // Insert interesting or random bytes.
            2 => {
                let run: Vec<u8> = (0..1 + self.below(8))
                    .map(|_| match self.below(2) {
                        0 => *self.pick(INTERESTING),
                        _ => self.next_u64() as u8,
                    })
                    .collect();
                out.splice(at..at, run);
            }
            // Delete a run.
            3 if at < out.len() => {
                let end = (at + 1 + self.below(32)).min(out.len());
                out.drain(at..end);
            }
            // Splice a run of the donor in, replacing a run of ours.
            4 if !donor.is_empty() => {
                let from = self.below(donor.len());
                let take = 1 + self.below(64.min(donor.len() - from));
                let end = (at + self.below(64)).min(out.len());
                out.splice(at..end, donor[from..from + take].iter().copied());
            }
            // Duplicate a run of ours, up to a few times.
            5 if at < out.len() => {
                let end = (at + 1 + self.below(64)).min(out.len());
                let run = out[at..end].to_vec();
                for _ in 0..1 + self.below(3) {
                    out.splice(end..end, run.iter().copied());
                }
            }
            // Cut the input off here.
            6 => out.truncate(at),
            _ => out.push(self.next_u64() as u8),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_mutations() {
        let input = b"<D:propfind xmlns:D=\"DAV:\"><D:allprop/></D:propfind>";
        let run = |seed| {
            let mut m = Mutator::new(seed);
            (0..50)
                .map(|_| m.mutate(input, b"donor"))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        assert!(run(7).iter().any(|m| m.as_slice() != input));
    }
}
