//! How long a LOCK, or its refresh, is granted: the `Timeout` header (RFC 4918 §10.7)
//! read against the operator's maximum.
//!
//! The header is a list: RFC 4918's own example `Infinite, Second-4100000000` (what
//! Windows Explorer sends) must parse, and no reading of it, missing or unreadable
//! included, may grant a lock that never expires. This module is pure: header values
//! in, a duration out.

use std::time::Duration;

use http::HeaderMap;

/// The default for `lock_max_timeout`: long enough for an editing session between a
/// client's refreshes, short enough that a crashed client's lock clears within the hour.
pub const DEFAULT_MAX: Duration = Duration::from_secs(3600);

/// One entry of a `Timeout` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Requested {
    Infinite,
    Seconds(u64),
}

/// The time granted to a lock taken or refreshed with these request headers.
///
/// The first entry we understand wins and is capped at `max`. `Infinite`, an absent
/// header and one with no entry we understand all get `max`: RFC 4918 §10.7 does not
/// require the server to honour or even consider the header, so refusing a LOCK over a
/// header we cannot read would only break a client that works elsewhere. `Second-0`
/// gets one second, so the answer still describes a live lock.
pub fn granted(headers: &HeaderMap, max: Duration) -> Duration {
    match requested(headers) {
        Some(Requested::Seconds(n)) => Duration::from_secs(n.max(1)).min(max),
        Some(Requested::Infinite) | None => max,
    }
}

/// The first entry we understand across every `Timeout` header line.
fn requested(headers: &HeaderMap) -> Option<Requested> {
    headers
        .get_all("timeout")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(entry)
}

/// One `TimeType`: `Infinite` or `Second-N`, compared without case as ABNF literals are.
fn entry(text: &str) -> Option<Requested> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("infinite") {
        return Some(Requested::Infinite);
    }
    let prefix = text.get(..7)?;
    let digits = &text[7..];
    if !prefix.eq_ignore_ascii_case("second-")
        || digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // All digits: the only way to fail is to overflow, which is a very long time.
    Some(Requested::Seconds(digits.parse().unwrap_or(u64::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(values: &[&str], max_secs: u64) -> u64 {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("timeout", v.parse().unwrap());
        }
        granted(&headers, Duration::from_secs(max_secs)).as_secs()
    }

    #[test]
    fn the_first_understood_entry_wins_capped_at_the_maximum() {
        let hour = 3600;
        let table: &[(&[&str], u64)] = &[
            // RFC 4918 §10.7's example, and what Windows Explorer sends.
            (&["Infinite, Second-4100000000"], hour),
            (&["Second-100"], 100),
            (&["Second-100, Infinite"], 100),
            (&["  Second-100  ,Infinite"], 100),
            (&["\tSecond-42"], 42),
            (&["second-7"], 7),
            (&["INFINITE"], hour),
            (&["Second-4100000000"], hour),
            (&["Second-99999999999999999999999999"], hour),
            (&["Second-3600"], hour),
            (&["Second-3601"], hour),
            (&["Second-0"], 1),
            // Entries we do not understand are skipped, not fatal.
            (&["Minute-5, Second-30"], 30),
            (&["Second--5, Second-+5, Second-5"], 5),
            (&["Second-, Second-1x, Second-9"], 9),
            (&[",,Second-12,"], 12),
            // Several header lines form one list.
            (&["Minute-5", "Second-20"], 20),
            // Nothing understood, or nothing at all: the server's choice.
            (&["garbage"], hour),
            (&[""], hour),
            (&["Second-ten"], hour),
            (&[], hour),
        ];
        for (values, want) in table {
            assert_eq!(grant(values, hour), *want, "Timeout: {values:?}");
        }
    }

    #[test]
    fn a_lower_maximum_caps_everything() {
        assert_eq!(grant(&["Second-100"], 30), 30);
        assert_eq!(grant(&["Infinite"], 30), 30);
        assert_eq!(grant(&[], 30), 30);
        assert_eq!(grant(&["Second-10"], 30), 10);
    }

    #[test]
    fn non_ascii_entries_are_skipped() {
        assert_eq!(entry("Sécond-5"), None);
        assert_eq!(entry("Second-٣"), None);
        let mut headers = HeaderMap::new();
        headers.insert(
            "timeout",
            http::HeaderValue::from_bytes(b"Second-\xff5").unwrap(),
        );
        assert_eq!(granted(&headers, DEFAULT_MAX), DEFAULT_MAX);
    }
}
