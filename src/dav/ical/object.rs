//! Accepting a calendar object resource on PUT (RFC 4791 §4.1, §5.3.2)
//! and the parsed form every other operation works on.
//!
//! Strict where CalDAV is: one UID, one component type, no METHOD,
//! balanced BEGIN/END, readable dates, zones and rules. Lenient where
//! real clients are sloppy and nothing is lost: missing PRODID, VERSION,
//! DTSTAMP; TZIDs that name a known zone without a VTIMEZONE; unknown X-
//! properties and components, which are kept.

use std::collections::HashSet;

use calcard::icalendar::{ICalendar, ICalendarComponentType, ICalendarProperty, ICalendarValue};

use super::IcalError;
use super::component::{ComponentKind, Timing, Trigger, ZoneTable};
use super::raw::Document;
use super::recur::{self, Occurrence, Options};
use super::time::{Clock, TimeRange, format_utc};
use super::timerange::{Triggers, is_floating};
use super::zone::Zone;

/// A validated calendar object resource: the text as stored plus what
/// davgate needs to index, filter and transform it.
#[derive(Debug, Clone)]
pub struct CalendarObject {
    raw: String,
    pub(crate) doc: Document,
    pub(crate) calendar: ICalendar,
    pub(crate) zones: ZoneTable,
    /// VEVENT/VTODO/VJOURNAL components, masters and overrides.
    pub(crate) comps: Vec<Timing>,
    uid: String,
    kind: ComponentKind,
    first_start: Option<i64>,
    last_end: Option<i64>,
    has_floating: bool,
}

/// The most a floating time can move between zones: UTC-12 to UTC+14.
const FLOATING_SLACK: i64 = 14 * 3600;

/// Validates calendar data for a CalDAV PUT, with default options.
pub fn validate(data: &[u8]) -> Result<CalendarObject, IcalError> {
    validate_with(data, &Options::default())
}

/// Validates calendar data; `options.limits` bound the work spent on the
/// index span (`options.floating` is not used: the span is widened to
/// cover floating times in any zone).
pub fn validate_with(data: &[u8], options: &Options) -> Result<CalendarObject, IcalError> {
    let mut object = parse_stored(data)?;
    object.index_span(options)?;
    Ok(object)
}

/// Parses an object for a read (a query, an expansion, free-busy): the same
/// checks as [`validate_with`] but without the index span, which only a
/// write stores and which costs a year of instances for an endless rule.
/// [`CalendarObject::first_start`] and [`CalendarObject::last_end`] are
/// then `None` (unbounded).
pub fn parse_stored(data: &[u8]) -> Result<CalendarObject, IcalError> {
    let text = std::str::from_utf8(data).map_err(|e| IcalError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    let doc = Document::parse(text, "VCALENDAR").map_err(|e| IcalError::Syntax {
        line: e.line,
        reason: e.reason,
    })?;
    let calendar = ICalendar::parse(text).map_err(|_| IcalError::Syntax {
        line: 1,
        reason: "not an iCalendar object".into(),
    })?;
    check_alignment(&doc, &calendar)?;
    check_root(&calendar)?;

    let mut zones = ZoneTable::default();
    let mut members = Vec::new();
    // Invariant: the skeleton has a root component and calcard's list
    // matches it (check_alignment), so index 0 exists.
    let root = &calendar.components[0];
    for &child in &root.component_ids {
        let index = child as usize;
        let component = &calendar.components[index];
        match &component.component_type {
            ICalendarComponentType::VTimezone => {
                let (tzid, zone) = Zone::from_component(&calendar, component)?;
                zones.define(tzid, zone);
            }
            ICalendarComponentType::VFreebusy | ICalendarComponentType::VAvailability => {
                return Err(IcalError::UnsupportedComponent(
                    component.component_type.as_str().to_owned(),
                ));
            }
            other => {
                if let Some(kind) = ComponentKind::of(other) {
                    members.push((index, kind));
                }
            }
        }
    }
    let kind = match members.first() {
        Some(&(_, kind)) => kind,
        None => return Err(IcalError::NoComponent),
    };
    if let Some(&(_, other)) = members.iter().find(|(_, k)| *k != kind) {
        return Err(IcalError::MixedComponents(
            kind.name().into(),
            other.name().into(),
        ));
    }
    let comps = members
        .iter()
        .map(|&(index, kind)| Timing::read(&calendar, index, kind, &mut zones))
        .collect::<Result<Vec<_>, _>>()?;
    let uid = check_recurrence_set(&comps, &zones.zones)?;

    Ok(CalendarObject {
        raw: text.to_owned(),
        doc,
        calendar,
        zones,
        has_floating: comps.iter().any(Timing::has_floating),
        comps,
        uid,
        kind,
        first_start: None,
        last_end: None,
    })
}

/// calcard and the skeleton must agree on the component list, because
/// operations address components by their shared index.
fn check_alignment(doc: &Document, calendar: &ICalendar) -> Result<(), IcalError> {
    let same = doc.comps.len() == calendar.components.len()
        && doc
            .comps
            .iter()
            .zip(&calendar.components)
            .all(|(raw, parsed)| {
                raw.name
                    .eq_ignore_ascii_case(parsed.component_type.as_str())
            });
    if same {
        return Ok(());
    }
    let line = doc
        .comps
        .iter()
        .zip(&calendar.components)
        .find(|(raw, parsed)| {
            !raw.name
                .eq_ignore_ascii_case(parsed.component_type.as_str())
        })
        .map_or(1, |(raw, _)| doc.lines[raw.begin].number);
    Err(IcalError::Syntax {
        line,
        reason: "component structure could not be read unambiguously".into(),
    })
}

fn check_root(calendar: &ICalendar) -> Result<(), IcalError> {
    // Invariant: called after check_alignment, so the root exists.
    let root = &calendar.components[0];
    if root.property(&ICalendarProperty::Method).is_some() {
        return Err(IcalError::MethodNotAllowed);
    }
    // VERSION is often missing from hand-made or script-made files; SabreDAV
    // repairs that, and there is nothing to misread, so we accept it. A
    // different version (vCalendar 1.0) means different semantics.
    if let Some(entry) = root.property(&ICalendarProperty::Version) {
        let version = entry
            .values
            .first()
            .and_then(ICalendarValue::as_text)
            .unwrap_or_default();
        if version.trim() != "2.0" {
            return Err(IcalError::UnsupportedVersion(version.to_owned()));
        }
    }
    Ok(())
}

/// One UID, one master, no two overrides of the same instance.
fn check_recurrence_set(comps: &[Timing], zones: &[Zone]) -> Result<String, IcalError> {
    // Invariant: validate_with only calls this with at least one component.
    let uid = comps[0].uid.clone();
    if let Some(other) = comps.iter().find(|c| c.uid != uid) {
        return Err(IcalError::MultipleUids(uid, other.uid.clone()));
    }
    let duplicate = |which: String| IcalError::DuplicateInstance {
        component: comps[0].kind.name().into(),
        uid: uid.clone(),
        which,
    };
    if comps.iter().filter(|c| !c.is_override()).count() > 1 {
        return Err(duplicate("without RECURRENCE-ID".into()));
    }
    // UTC is enough to compare: both sides use the same floating zone.
    let utc = Zone::utc();
    let clock = Clock {
        zones,
        floating: &utc,
    };
    let mut seen = HashSet::new();
    for rid in comps.iter().filter_map(|c| c.recurrence_id) {
        let at = clock.moment(rid.time).utc;
        if !seen.insert(at) {
            return Err(duplicate(format!("with RECURRENCE-ID {}", format_utc(at))));
        }
    }
    Ok(uid)
}

impl CalendarObject {
    /// The text as received, byte for byte.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    pub fn uid(&self) -> &str {
        &self.uid
    }

    pub fn kind(&self) -> ComponentKind {
        self.kind
    }

    /// True if the object has RRULE or RDATE (an override-only object is
    /// not recurring by itself).
    pub fn is_recurring(&self) -> bool {
        self.comps.iter().any(Timing::is_recurring)
    }

    /// Earliest instant any instance or alarm can match a time range, in
    /// UTC seconds; `None` is unbounded. Floating and all-day values are
    /// widened by 14 hours so the span holds in every zone.
    pub fn first_start(&self) -> Option<i64> {
        self.first_start
    }

    /// Latest such instant; `None` for an unbounded (or too large to
    /// compute) recurrence.
    pub fn last_end(&self) -> Option<i64> {
        self.last_end
    }

    /// The index prefilter: false means no time-range filter over `range`
    /// can match this object. Both ends are inclusive on purpose, because
    /// some §9.9 rows are (a zero-length VTODO at the range end matches).
    pub fn may_overlap(&self, range: &TimeRange) -> bool {
        let starts_in_time = match (self.first_start, range.end) {
            (Some(first), Some(end)) => first <= end,
            _ => true,
        };
        let ends_in_time = match (self.last_end, range.start) {
            (Some(last), Some(start)) => last >= start,
            _ => true,
        };
        starts_in_time && ends_in_time
    }

    /// True if any value depends on the zone chosen for floating times.
    pub fn has_floating(&self) -> bool {
        self.has_floating
    }

    pub(crate) fn clock<'a>(&'a self, floating: &'a Zone) -> Clock<'a> {
        Clock {
            zones: &self.zones.zones,
            floating,
        }
    }

    /// The earliest DTSTART (or other anchor) in UTC, where recurrence
    /// expansion starts.
    pub(crate) fn anchor(&self, clock: &Clock<'_>) -> i64 {
        self.comps
            .iter()
            .flat_map(|c| [c.dtstart, c.due, c.recurrence_id.map(|r| r.time)])
            .flatten()
            .map(|time| clock.moment(time).utc)
            .min()
            .unwrap_or(0)
    }

    /// Instances needed to evaluate `range`, plus alarms' reach.
    pub(crate) fn occurrences(
        &self,
        range: &TimeRange,
        options: &Options,
    ) -> Result<Vec<Occurrence>, IcalError> {
        let clock = self.clock(&options.floating);
        let anchor = self.anchor(&clock);
        let until = recur::horizon(range.start, range.end, anchor, &options.limits);
        // An alarm can fire before its instance starts; look that far ahead.
        let lead = self.alarm_lead();
        recur::occurrences(
            &self.comps,
            &clock,
            until.saturating_add(lead),
            &options.limits,
        )
        .map(|expansion| expansion.occurrences)
    }

    /// `range` with its end cut to `max_years` after its start (or after
    /// the first DTSTART): the part of it that is actually evaluated.
    pub(crate) fn window(&self, range: &TimeRange, options: &Options) -> TimeRange {
        let clock = self.clock(&options.floating);
        let end = recur::horizon(range.start, range.end, self.anchor(&clock), &options.limits);
        TimeRange {
            start: range.start,
            end: Some(end),
        }
    }

    /// How long before an instance's start its earliest alarm can fire.
    fn alarm_lead(&self) -> i64 {
        self.comps
            .iter()
            .flat_map(|c| &c.alarms)
            .map(|alarm| match alarm.trigger {
                Trigger::FromStart(offset) | Trigger::FromEnd(offset) => {
                    -(offset.days * 86_400 + offset.seconds)
                }
                Trigger::At(_) => 0,
            })
            .max()
            .unwrap_or(0)
            .max(0)
    }

    /// Computes first_start/last_end over the whole recurrence set.
    fn index_span(&mut self, options: &Options) -> Result<(), IcalError> {
        let utc = Zone::utc();
        let clock = self.clock(&utc);
        let anchor = self.anchor(&clock);
        // An endless rule has no last_end anyway: expanding its first year
        // finds the earliest instance and alarm without walking a century.
        let endless = self.comps.iter().any(|c| {
            c.rrules
                .iter()
                .any(|r| r.count.is_none() && r.until.is_none())
        });
        let until = match endless {
            true => anchor.saturating_add(366 * 86_400),
            false => recur::horizon(None, None, anchor, &options.limits),
        };
        let expansion = match recur::occurrences(&self.comps, &clock, until, &options.limits) {
            Ok(expansion) => expansion,
            Err(IcalError::TooManyInstances { .. }) => {
                // Too big to enumerate: index as unbounded and let each
                // query decide for itself, within its own window.
                self.first_start = None;
                self.last_end = None;
                return Ok(());
            }
            Err(other) => return Err(other),
        };
        let occurrences = expansion.occurrences;
        let mut first: Option<Option<i64>> = None;
        let mut last: Option<Option<i64>> = None;
        let mut widen = |low: Option<i64>, high: Option<i64>| {
            first = Some(match (first, low) {
                (Some(Some(a)), Some(b)) => Some(a.min(b)),
                (None, low) => low,
                _ => None,
            });
            last = Some(match (last, high) {
                (Some(Some(a)), Some(b)) => Some(a.max(b)),
                (None, high) => high,
                _ => None,
            });
        };
        for occ in &occurrences {
            if let Some((low, high)) = occ.shape.bounds() {
                widen(low, high);
            }
            for alarm in &self.comps[occ.comp].alarms {
                if let Some(triggers) = Triggers::of(alarm, occ.start, occ.end, &clock) {
                    let (low, high) = triggers.bounds();
                    widen(Some(low), Some(high));
                }
            }
        }
        let slack = if self.has_floating
            || occurrences
                .iter()
                .any(|o| o.start.is_some_and(|s| is_floating(s.basis)))
        {
            FLOATING_SLACK
        } else {
            0
        };
        self.first_start = first.flatten().map(|f| f.saturating_sub(slack));
        self.last_end = if endless || !expansion.complete {
            None
        } else {
            last.flatten().map(|l| l.saturating_add(slack))
        };
        Ok(())
    }
}
