//! Free/busy time for CALDAV:free-busy-query (RFC 4791 §7.10): busy
//! periods from VEVENT instances, typed by TRANSP and STATUS, coalesced,
//! written as one VFREEBUSY.

use calcard::icalendar::{ICalendarStatus, ICalendarTransparency};

use super::IcalError;
use super::component::ComponentKind;
use super::object::CalendarObject;
use super::recur::Options;
use super::time::{TimeRange, format_utc};

/// FBTYPE of a busy period (RFC 5545 §3.2.9). Free time is never listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BusyKind {
    Busy,
    BusyTentative,
    BusyUnavailable,
}

/// A busy stretch in UTC seconds, half-open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusyPeriod {
    pub start: i64,
    pub end: i64,
    pub kind: BusyKind,
}

impl BusyKind {
    fn fbtype(self) -> Option<&'static str> {
        match self {
            // BUSY is the default FBTYPE and is left out, as in RFC 4791's
            // example response.
            Self::Busy => None,
            Self::BusyTentative => Some("BUSY-TENTATIVE"),
            Self::BusyUnavailable => Some("BUSY-UNAVAILABLE"),
        }
    }
}

impl CalendarObject {
    /// Busy time this object contributes to `range`, clipped to it and not
    /// yet coalesced. Transparent and cancelled instances are free;
    /// tentative ones are BUSY-TENTATIVE (RFC 4791 §7.10 table).
    pub fn busy_periods(
        &self,
        range: &TimeRange,
        options: &Options,
    ) -> Result<Vec<BusyPeriod>, IcalError> {
        if self.kind() != ComponentKind::Event {
            return Ok(Vec::new());
        }
        let mut periods = Vec::new();
        let occurrences = self.occurrences(range, options)?;
        let range = &self.window(range, options);
        for occ in occurrences {
            if !occ.shape.overlaps(range) {
                continue;
            }
            let component = &self.calendar.components[self.comps[occ.comp].index];
            if component.transparency() == Some(&ICalendarTransparency::Transparent) {
                continue;
            }
            let kind = match component.status() {
                Some(ICalendarStatus::Cancelled) => continue,
                Some(ICalendarStatus::Tentative) => BusyKind::BusyTentative,
                _ => BusyKind::Busy,
            };
            let (Some(start), Some(end)) = (occ.start, occ.end) else {
                continue;
            };
            let start = range.start.map_or(start.utc, |s| s.max(start.utc));
            let end = range.end.map_or(end.utc, |e| e.min(end.utc));
            // A zero-length event blocks no time.
            if end > start {
                periods.push(BusyPeriod { start, end, kind });
            }
        }
        Ok(periods)
    }
}

/// Coalesces overlapping or touching periods of the same kind (§7.10:
/// servers SHOULD), ordered by start.
pub fn merge_busy(mut periods: Vec<BusyPeriod>) -> Vec<BusyPeriod> {
    periods.sort_by_key(|p| (p.kind, p.start, p.end));
    let mut merged: Vec<BusyPeriod> = Vec::with_capacity(periods.len());
    for period in periods {
        match merged.last_mut() {
            Some(last) if last.kind == period.kind && period.start <= last.end => {
                last.end = last.end.max(period.end);
            }
            _ => merged.push(period),
        }
    }
    merged.sort_by_key(|p| (p.start, p.kind));
    merged
}

/// The free-busy-query response body: a VCALENDAR with one VFREEBUSY.
/// `dtstamp` is the time of the report (passed in: this module has no
/// clock).
pub fn vfreebusy(periods: Vec<BusyPeriod>, range: &TimeRange, dtstamp: i64) -> String {
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//davgate//CalDAV//EN".to_owned(),
        "BEGIN:VFREEBUSY".to_owned(),
        format!("DTSTAMP:{}", format_utc(dtstamp)),
    ];
    lines.extend(
        range
            .start
            .map(|start| format!("DTSTART:{}", format_utc(start))),
    );
    lines.extend(range.end.map(|end| format!("DTEND:{}", format_utc(end))));
    for period in merge_busy(periods) {
        let params = period
            .kind
            .fbtype()
            .map(|t| format!(";FBTYPE={t}"))
            .unwrap_or_default();
        lines.push(format!(
            "FREEBUSY{params}:{}/{}",
            format_utc(period.start),
            format_utc(period.end)
        ));
    }
    lines.push("END:VFREEBUSY".to_owned());
    lines.push("END:VCALENDAR".to_owned());
    let mut out = lines.join("\r\n");
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy(start: i64, end: i64, kind: BusyKind) -> BusyPeriod {
        BusyPeriod { start, end, kind }
    }

    #[test]
    fn merges_same_kind_only() {
        let merged = merge_busy(vec![
            busy(10, 20, BusyKind::Busy),
            busy(15, 30, BusyKind::Busy),
            busy(30, 40, BusyKind::Busy),
            busy(12, 18, BusyKind::BusyTentative),
            busy(50, 60, BusyKind::Busy),
        ]);
        assert_eq!(
            merged,
            [
                busy(10, 40, BusyKind::Busy),
                busy(12, 18, BusyKind::BusyTentative),
                busy(50, 60, BusyKind::Busy),
            ]
        );
    }

    #[test]
    fn writes_one_vfreebusy() {
        let range = TimeRange::parse(Some("20060104T140000Z"), Some("20060105T220000Z")).unwrap();
        let start = super::super::parse_utc("20060104T150000Z").unwrap();
        let text = vfreebusy(
            vec![busy(start, start + 3600, BusyKind::BusyTentative)],
            &range,
            super::super::parse_utc("20050125T090000Z").unwrap(),
        );
        assert!(text.contains("DTSTART:20060104T140000Z\r\nDTEND:20060105T220000Z\r\n"));
        assert!(
            text.contains("FREEBUSY;FBTYPE=BUSY-TENTATIVE:20060104T150000Z/20060104T160000Z\r\n")
        );
        let empty = vfreebusy(Vec::new(), &range, 0);
        assert!(!empty.contains("FREEBUSY:"));
        assert!(empty.contains("BEGIN:VFREEBUSY"));
    }
}
