//! The benchmark calendar: its events, generated the same way on every server, and the
//! answers the reports must give on them, worked out here from the same numbers.
//!
//! Event `n` of `count` is `ev-n.ics`: one VEVENT an hour long, starting
//! `n × 525 600 / count` minutes into 2026 (UTC), so the starts spread evenly over the year.
//! Every even `n` repeats weekly without end (`RRULE:FREQ=WEEKLY`). A revision number goes
//! into SEQUENCE and SUMMARY, so a later PUT changes the object (its ETag) but not its times:
//! the sync rounds edit events without moving the calendar-query answer.

use std::collections::BTreeSet;

/// 2026-01-01T00:00:00Z in seconds since the Unix epoch.
const YEAR_START: i64 = 1_767_225_600;
const MINUTES_IN_YEAR: i64 = 365 * 24 * 60;
const HOUR: i64 = 3600;
const WEEK: i64 = 7 * 24 * HOUR;

/// The UTC window calendar-query asks for: June 2026, half-open.
pub const QUERY_START: i64 = 1_780_272_000;
pub const QUERY_END: i64 = 1_782_864_000;

/// The object name (the last segment of its href) of event `n`.
pub fn name(n: u32) -> String {
    format!("ev-{n}.ics")
}

/// Start of event `n`'s first (or only) instance, in Unix seconds.
fn start(n: u32, count: u32) -> i64 {
    YEAR_START + i64::from(n) * MINUTES_IN_YEAR / i64::from(count.max(1)) * 60
}

fn is_weekly(n: u32) -> bool {
    n.is_multiple_of(2)
}

/// The iCalendar text of event `n` of `count` at `revision` (0 for the first upload).
pub fn event(n: u32, count: u32, revision: u32) -> String {
    let start = start(n, count);
    let rrule = if is_weekly(n) {
        "RRULE:FREQ=WEEKLY\r\n"
    } else {
        ""
    };
    format!(
        "BEGIN:VCALENDAR\r\n\
         VERSION:2.0\r\n\
         PRODID:-//davgate//davgate-bench//EN\r\n\
         BEGIN:VEVENT\r\n\
         UID:davgate-bench-{n}@bench.invalid\r\n\
         DTSTAMP:20260101T000000Z\r\n\
         DTSTART:{}\r\n\
         DTEND:{}\r\n\
         {rrule}\
         SEQUENCE:{revision}\r\n\
         SUMMARY:Bench event {n} (revision {revision})\r\n\
         END:VEVENT\r\n\
         END:VCALENDAR\r\n",
        utc_stamp(start),
        utc_stamp(start + HOUR),
    )
}

/// The events calendar-query over `[window_start, window_end)` must return: those with an
/// instance overlapping the window (RFC 4791 §9.9: starts before its end, ends after its
/// start). A weekly event is walked instance by instance up to the window's end.
pub fn overlapping(count: u32, window_start: i64, window_end: i64) -> BTreeSet<String> {
    (0..count)
        .filter(|&n| {
            let mut instance = start(n, count);
            loop {
                if instance >= window_end {
                    return false;
                }
                if instance + HOUR > window_start {
                    return true;
                }
                if !is_weekly(n) {
                    return false;
                }
                instance += WEEK;
            }
        })
        .map(name)
        .collect()
}

/// The `wanted` events spread evenly over the calendar (multiget's hrefs, a sync round's
/// edits), shifted by `offset` so successive rounds touch different events. Distinct as long
/// as `wanted <= count`.
pub fn spread(count: u32, wanted: u32, offset: u32) -> Vec<u32> {
    let step = count / wanted.max(1);
    (0..wanted)
        .map(|i| (offset + i * step) % count.max(1))
        .collect()
}

/// `YYYYMMDDTHHMMSSZ` for Unix seconds `t`.
pub fn utc_stamp(t: i64) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_known_dates() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        assert_eq!(utc_stamp(YEAR_START), "20260101T000000Z");
        assert_eq!(utc_stamp(QUERY_START), "20260601T000000Z");
        assert_eq!(utc_stamp(QUERY_END), "20260701T000000Z");
        assert_eq!(utc_stamp(951_825_599), "20000229T115959Z");
        assert_eq!(utc_stamp(YEAR_START + 365 * 86_400 - 1), "20261231T235959Z");
    }

    #[test]
    fn events_spread_over_2026_and_every_even_one_repeats() {
        let first = event(0, 5000, 0);
        assert!(first.contains("DTSTART:20260101T000000Z\r\nDTEND:20260101T010000Z\r\n"));
        assert!(first.contains("RRULE:FREQ=WEEKLY\r\n"));
        let last = event(4999, 5000, 3);
        assert!(last.starts_with("BEGIN:VCALENDAR\r\n") && last.ends_with("END:VCALENDAR\r\n"));
        assert!(last.contains("DTSTART:20261231T"));
        assert!(!last.contains("RRULE"));
        assert!(last.contains("UID:davgate-bench-4999@bench.invalid\r\nDTSTAMP"));
        assert!(last.contains("SEQUENCE:3\r\n"));
    }

    #[test]
    fn a_revision_changes_the_text_but_not_the_times() {
        let (old, new) = (event(7, 5000, 0), event(7, 5000, 1));
        assert_ne!(old, new);
        let times = |text: &str| {
            text.lines()
                .filter(|l| l.starts_with("DT") || l.starts_with("RRULE"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(times(&old), times(&new));
    }

    #[test]
    fn june_holds_its_single_events_and_every_weekly_one_begun_before_july() {
        let count = 5000;
        let expected = overlapping(count, QUERY_START, QUERY_END);
        let by_hand: BTreeSet<String> = (0..count)
            .filter(|&n| {
                let s = start(n, count);
                if n % 2 == 0 {
                    s < QUERY_END
                } else {
                    s < QUERY_END && s + HOUR > QUERY_START
                }
            })
            .map(name)
            .collect();
        assert_eq!(expected, by_hand);
        // About 2500 × 181/365 weekly events and 2500 × 30/365 single ones.
        assert!((1400..1500).contains(&expected.len()), "{}", expected.len());
    }

    #[test]
    fn overlap_is_half_open_and_walks_weeks() {
        // Event 0 of 1 starts 2026-01-01 00:00 and repeats weekly: 2026-01-08 is an instance.
        let jan8 = YEAR_START + WEEK;
        assert_eq!(overlapping(1, jan8, jan8 + 60).len(), 1);
        assert!(overlapping(1, jan8 + HOUR, jan8 + 2 * HOUR).is_empty());
        // Event 1 of 2 starts mid-year and happens once: the window ending at its start misses.
        let mid = start(1, 2);
        assert!(
            overlapping(2, mid - HOUR, mid)
                .iter()
                .all(|n| n != "ev-1.ics")
        );
        assert!(overlapping(2, mid + HOUR - 1, mid + 2 * HOUR).contains("ev-1.ics"));
    }

    #[test]
    fn spread_is_distinct_and_moves_with_the_offset() {
        let picked = spread(5000, 100, 0);
        let distinct: BTreeSet<u32> = picked.iter().copied().collect();
        assert_eq!(distinct.len(), 100);
        assert_eq!(&picked[..3], [0, 50, 100]);
        assert_eq!(&spread(5000, 10, 3)[..2], [3, 503]);
        assert!(spread(5000, 10, 4999).iter().all(|&n| n < 5000));
    }
}
