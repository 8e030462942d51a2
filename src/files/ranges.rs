//! The `Range` header of a GET (RFC 9110 §14), resolved against the file's length.
//!
//! Serving every listed range as sent would make 200 overlapping ranges of a file 200
//! copies of it. Here the ranges are resolved against the file's length, the
//! unsatisfiable ones dropped, overlapping and adjacent ones coalesced and the rest
//! sorted (RFC 9110 §14.6 allows both); more distinct ranges than [`MAX_RANGES`] get the
//! whole file with 200, as §14.2 lets a server ignore `Range`, rather than 416, which a
//! client could only give up on. What is served is a short, canonical list whose parts
//! add up to at most the file.

/// Most distinct ranges served as parts; past it the whole file costs less to send
/// and cannot be used to multiply the response.
pub(crate) const MAX_RANGES: usize = 16;

/// Inclusive byte positions, as `Content-Range` writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ByteRange {
    pub(crate) first: u64,
    pub(crate) last: u64,
}

/// What to do with a request's `Range` header.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RangePlan {
    /// No `Range`, or one in a unit other than bytes: nothing to change.
    AsSent,
    /// Serve these ranges: sorted, none overlapping or adjacent.
    Ranges(Vec<ByteRange>),
    /// No range lies in the file: 416.
    Unsatisfiable,
    /// Invalid, or too many distinct ranges: the whole file with 200.
    Whole,
}

/// Reads a `Range` value (RFC 9110 §14.1.2) against a representation of `len` bytes.
pub(crate) fn plan(value: &[u8], len: u64) -> RangePlan {
    let Ok(text) = std::str::from_utf8(value) else {
        return RangePlan::Whole;
    };
    let Some((unit, set)) = text.split_once('=') else {
        return RangePlan::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        // §14.2: a range unit the server does not know is ignored.
        return RangePlan::AsSent;
    }
    let mut ranges = Vec::new();
    let mut specs = 0usize;
    for spec in set.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        specs += 1;
        match resolve(spec, len) {
            Some(Spec::Satisfiable(range)) => ranges.push(range),
            Some(Spec::Unsatisfiable) => {}
            None => return RangePlan::Whole,
        }
    }
    if specs == 0 {
        return RangePlan::Whole;
    }
    if ranges.is_empty() {
        return RangePlan::Unsatisfiable;
    }
    let merged = coalesce(ranges);
    if merged.len() > MAX_RANGES {
        RangePlan::Whole
    } else {
        RangePlan::Ranges(merged)
    }
}

/// One range-spec, resolved.
enum Spec {
    Satisfiable(ByteRange),
    Unsatisfiable,
}

/// `first-last`, `first-` or `-suffix`; `None` when it is not a range-spec at all.
fn resolve(spec: &str, len: u64) -> Option<Spec> {
    let (first, last) = spec.split_once('-')?;
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // More digits than a u64 holds is past any file: the end of it.
        Some(s.parse().unwrap_or(u64::MAX))
    };
    if first.trim().is_empty() {
        let suffix = number(last)?;
        if suffix == 0 || len == 0 {
            return Some(Spec::Unsatisfiable);
        }
        return Some(Spec::Satisfiable(ByteRange {
            first: len.saturating_sub(suffix),
            last: len - 1,
        }));
    }
    let first = number(first)?;
    let last = if last.trim().is_empty() {
        u64::MAX
    } else {
        number(last)?
    };
    if last < first {
        return None;
    }
    if first >= len {
        return Some(Spec::Unsatisfiable);
    }
    Some(Spec::Satisfiable(ByteRange {
        first,
        last: last.min(len - 1),
    }))
}

/// Sorts `ranges` and merges those that overlap or touch.
fn coalesce(mut ranges: Vec<ByteRange>) -> Vec<ByteRange> {
    ranges.sort_unstable_by_key(|r| r.first);
    let mut merged: Vec<ByteRange> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(prev) if range.first <= prev.last.saturating_add(1) => {
                prev.last = prev.last.max(range.last);
            }
            _ => merged.push(range),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(first: u64, last: u64) -> ByteRange {
        ByteRange { first, last }
    }

    #[test]
    fn overlapping_and_adjacent_ranges_merge_in_order() {
        assert_eq!(
            plan(b"bytes=100-199, 0-99,300-399,350-", 1000),
            RangePlan::Ranges(vec![r(0, 199), r(300, 999)])
        );
        let many: Vec<String> = (0..200).map(|i| format!("{i}-")).collect();
        let header = format!("bytes={}", many.join(","));
        assert_eq!(
            plan(header.as_bytes(), 50),
            RangePlan::Ranges(vec![r(0, 49)])
        );
    }

    #[test]
    fn suffixes_and_open_ends_resolve_against_the_length() {
        assert_eq!(plan(b"bytes=-10", 100), RangePlan::Ranges(vec![r(90, 99)]));
        assert_eq!(plan(b"bytes=-500", 100), RangePlan::Ranges(vec![r(0, 99)]));
        assert_eq!(
            plan(b"bytes=95-200", 100),
            RangePlan::Ranges(vec![r(95, 99)])
        );
        assert_eq!(
            plan(b"bytes=0-99999999999999999999999", 100),
            RangePlan::Ranges(vec![r(0, 99)])
        );
    }

    #[test]
    fn unsatisfiable_ranges_drop_and_none_left_is_416() {
        assert_eq!(
            plan(b"bytes=500-600,1-1", 100),
            RangePlan::Ranges(vec![r(1, 1)])
        );
        assert_eq!(plan(b"bytes=100-,-0", 100), RangePlan::Unsatisfiable);
        assert_eq!(plan(b"bytes=0-", 0), RangePlan::Unsatisfiable);
    }

    #[test]
    fn invalid_or_too_many_ranges_mean_the_whole_file() {
        for bad in [
            &b"bytes=9-3"[..],
            b"bytes=a-b",
            b"bytes=",
            b"bytes=1",
            b"junk",
        ] {
            assert_eq!(plan(bad, 100), RangePlan::Whole, "{bad:?}");
        }
        let spread: Vec<String> = (0..=MAX_RANGES)
            .map(|i| format!("{0}-{0}", i * 2))
            .collect();
        let header = format!("bytes={}", spread.join(","));
        assert_eq!(plan(header.as_bytes(), 100), RangePlan::Whole);
        assert_eq!(plan(b"items=0-5", 100), RangePlan::AsSent);
    }

    /// Mutated real `Range` values never panic, and whatever is planned is what the
    /// module promises the GET: sorted, disjoint, inside the file, at most
    /// [`MAX_RANGES`] parts adding up to at most the file.
    #[test]
    fn mutated_range_headers_plan_within_the_file() {
        let corpus = [
            &b"bytes=0-499"[..],
            b"bytes=500-999, -100",
            b"bytes=9500-",
            b"bytes=0-0,-1",
            b"bytes=100-199, 0-99,300-399,350-",
            b"items=0-5",
        ];
        let seed = crate::mutation::Mutator::run_seed();
        let mut mutator = crate::mutation::Mutator::new(seed);
        for _ in 0..3000 {
            let base = *mutator.pick(&corpus);
            let input = mutator.mutate(base, b"0123456789-,=");
            let len = [0, 1, 100, 10_000, u64::MAX][mutator.below(5)];
            let planned = std::panic::catch_unwind(|| plan(&input, len));
            let Ok(planned) = planned else {
                panic!("panicked on {input:?} (len {len}, DAVGATE_FUZZ_SEED={seed})");
            };
            if let RangePlan::Ranges(ranges) = planned {
                assert!(ranges.len() <= MAX_RANGES, "{input:?}");
                assert!(
                    ranges.windows(2).all(|w| w[0].last + 1 < w[1].first),
                    "{input:?} {ranges:?}"
                );
                assert!(
                    ranges.iter().all(|r| r.first <= r.last && r.last < len),
                    "{input:?} {ranges:?}"
                );
            }
        }
    }
}
