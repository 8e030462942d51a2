//! calendar-query filters (RFC 4791 §9.7) as plain data, and their
//! evaluation against a [`CalendarObject`].
//!
//! The types are the request parser's (`crate::proto::request`), so what a client
//! sent is what is evaluated; nothing here knows about XML.

use calcard::icalendar::{ICalendarComponentType, ICalendarEntry, ICalendarValue};

use super::IcalError;
use crate::proto::names::ComponentType;
use crate::proto::value::IcalUtc;

use super::collation::TextMatch;
use super::component::ComponentKind;
use super::object::CalendarObject;
use super::recur::{self, Occurrence, Options};
use super::time::{Clock, Time, TimeRange};
use super::timerange::Triggers;
pub use crate::proto::request::{ParamFilter, ParamTest};

/// The parser's filter types (`crate::proto::request`) are the ones evaluated here:
/// pure data, one element to one value. Their time ranges hold UTC timestamps and are
/// read as [`TimeRange`] seconds where they are tested.
pub use crate::proto::request::{CompFilter, CompTest, PropCondition, PropFilter, PropTest};

/// A request's time range (UTC timestamps) as the seconds the evaluation works in.
impl From<&crate::proto::request::TimeRange> for TimeRange {
    fn from(range: &crate::proto::request::TimeRange) -> Self {
        TimeRange {
            start: range.start.map(|t| t.unix_seconds()),
            end: range.end.map(|t| t.unix_seconds()),
        }
    }
}

/// A range in seconds as a request would carry it. A bound beyond the years 0000–9999
/// that [`IcalUtc`] can name is clamped to the nearest year it can.
fn request_range(range: TimeRange) -> crate::proto::request::TimeRange {
    let utc = |seconds: i64| {
        IcalUtc::from_unix_seconds(seconds).unwrap_or_else(|| {
            let edge = if seconds < 0 {
                "00000101T000000Z"
            } else {
                "99991231T235959Z"
            };
            // Both literals are valid UTC timestamps.
            IcalUtc::parse(edge).expect("a valid timestamp literal")
        })
    };
    crate::proto::request::TimeRange {
        start: range.start.map(utc),
        end: range.end.map(utc),
    }
}

impl CompFilter {
    /// An empty comp-filter: matches if the component exists.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: ComponentType::from_name(&name.into()),
            test: CompTest::Matches {
                time_range: None,
                props: Vec::new(),
                comps: Vec::new(),
            },
        }
    }

    pub fn is_not_defined(name: impl Into<String>) -> Self {
        Self {
            name: ComponentType::from_name(&name.into()),
            test: CompTest::IsNotDefined,
        }
    }

    pub fn with_time_range(mut self, range: TimeRange) -> Self {
        if let CompTest::Matches { time_range, .. } = &mut self.test {
            *time_range = Some(request_range(range));
        }
        self
    }

    pub fn with_prop(mut self, filter: PropFilter) -> Self {
        if let CompTest::Matches { props, .. } = &mut self.test {
            props.push(filter);
        }
        self
    }

    pub fn with_comp(mut self, filter: CompFilter) -> Self {
        if let CompTest::Matches { comps, .. } = &mut self.test {
            comps.push(filter);
        }
        self
    }
}

impl PropFilter {
    /// An empty prop-filter: matches if the property exists.
    pub fn named(name: impl Into<String>) -> Self {
        Self::with(name, None)
    }

    pub fn is_not_defined(name: impl Into<String>) -> Self {
        Self {
            name: name.into().to_ascii_uppercase(),
            test: PropTest::IsNotDefined,
        }
    }

    pub fn text(name: impl Into<String>, text: TextMatch) -> Self {
        Self::with(name, Some(PropCondition::TextMatch(text)))
    }

    pub fn time_range(name: impl Into<String>, range: TimeRange) -> Self {
        Self::with(name, Some(PropCondition::TimeRange(request_range(range))))
    }

    pub fn with_param(mut self, filter: ParamFilter) -> Self {
        if let PropTest::Matches { params, .. } = &mut self.test {
            params.push(filter);
        }
        self
    }

    fn with(name: impl Into<String>, condition: Option<PropCondition>) -> Self {
        Self {
            name: name.into().to_ascii_uppercase(),
            test: PropTest::Matches {
                condition,
                params: Vec::new(),
            },
        }
    }
}

/// A recurrence instance as seen by a time-range query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instance {
    /// Effective DTSTART in UTC seconds (`None`: a VTODO without one).
    pub start: Option<i64>,
    /// Effective DTEND or DUE.
    pub end: Option<i64>,
    /// The instance's original start, for members of a recurrence set.
    pub recurrence_id: Option<i64>,
    /// True if a RECURRENCE-ID component defines this instance.
    pub overridden: bool,
}

impl CalendarObject {
    /// Evaluates a calendar-query filter (its top-level comp-filter).
    pub fn matches(&self, filter: &CompFilter, options: &Options) -> Result<bool, IcalError> {
        let mut window = None;
        widest_range(filter, &mut window);
        let mut eval = Evaluator {
            object: self,
            options,
            clock: self.clock(&options.floating),
            window: window.unwrap_or_default(),
            occurrences: None,
        };
        eval.comp(None, filter)
    }

    /// The instances that overlap `range` by the rules of RFC 4791 §9.9,
    /// ordered by start.
    pub fn instances(
        &self,
        range: &TimeRange,
        options: &Options,
    ) -> Result<Vec<Instance>, IcalError> {
        let window = self.window(range, options);
        let mut list: Vec<Instance> = self
            .occurrences(range, options)?
            .into_iter()
            .filter(|occ| occ.shape.overlaps(&window))
            .map(|occ| Instance {
                start: occ.start.map(|m| m.utc),
                end: occ.end.map(|m| m.utc),
                recurrence_id: occ.recurrence_id.map(|m| m.utc),
                overridden: self.comps[occ.comp].is_override(),
            })
            .collect();
        list.sort_by_key(|instance| instance.start);
        Ok(list)
    }
}

/// The union of all time ranges in a filter: one expansion serves them all.
fn widest_range(filter: &CompFilter, acc: &mut Option<TimeRange>) {
    let CompTest::Matches {
        time_range,
        props,
        comps,
    } = &filter.test
    else {
        return;
    };
    let ranges = time_range
        .iter()
        .chain(props.iter().filter_map(|p| match &p.test {
            PropTest::Matches {
                condition: Some(PropCondition::TimeRange(range)),
                ..
            } => Some(range),
            _ => None,
        }))
        .map(TimeRange::from);
    for range in ranges {
        *acc = Some(match acc.take() {
            None => range,
            Some(seen) => TimeRange {
                start: seen.start.zip(range.start).map(|(a, b)| a.min(b)),
                end: seen.end.zip(range.end).map(|(a, b)| a.max(b)),
            },
        });
    }
    comps.iter().for_each(|comp| widest_range(comp, acc));
}

struct Evaluator<'a> {
    object: &'a CalendarObject,
    options: &'a Options,
    clock: Clock<'a>,
    window: TimeRange,
    occurrences: Option<Vec<Occurrence>>,
}

impl Evaluator<'_> {
    /// `scope` is the enclosing component (calcard index), `None` above
    /// VCALENDAR.
    fn comp(&mut self, scope: Option<usize>, filter: &CompFilter) -> Result<bool, IcalError> {
        let candidates: Vec<usize> = match scope {
            None if filter.name == ComponentType::VCalendar => return self.calendar(filter),
            None => Vec::new(),
            Some(scope) => self.object.calendar.components[scope]
                .component_ids
                .iter()
                .map(|&id| id as usize)
                .filter(|&id| {
                    self.object.calendar.components[id]
                        .component_type
                        .as_str()
                        .eq_ignore_ascii_case(filter.name.name())
                })
                .collect(),
        };
        let CompTest::Matches {
            time_range,
            props,
            comps,
        } = &filter.test
        else {
            return Ok(candidates.is_empty());
        };
        for candidate in candidates {
            if let Some(range) = time_range
                && !self.in_range(candidate, scope, &range.into())?
            {
                continue;
            }
            if !props.iter().all(|prop| self.prop(candidate, prop)) {
                continue;
            }
            let mut all = true;
            for sub in comps {
                if !self.comp(Some(candidate), sub)? {
                    all = false;
                    break;
                }
            }
            if all {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The top VCALENDAR filter. Its comp-filters are tested as RFC 4791 says. Its own
    /// time-range and prop-filters name no component type: a client searching every
    /// component (the Python caldav library's `search(start, end)`, a text search)
    /// sends them there, and RFC 4791 would match nothing. They are read as "some
    /// component of the object": the time-range and every prop-filter must hold for
    /// one and the same component (VTIMEZONE aside), a property being looked for on
    /// the VCALENDAR too (PRODID, METHOD, X-WR-CALNAME live there) and is-not-defined
    /// meaning on neither.
    fn calendar(&mut self, filter: &CompFilter) -> Result<bool, IcalError> {
        const ROOT: usize = 0;
        let CompTest::Matches {
            time_range,
            props,
            comps,
        } = &filter.test
        else {
            // Every object is a VCALENDAR.
            return Ok(false);
        };
        for sub in comps {
            if !self.comp(Some(ROOT), sub)? {
                return Ok(false);
            }
        }
        if time_range.is_none() && props.is_empty() {
            return Ok(true);
        }
        let children: Vec<usize> = self.object.calendar.components[ROOT]
            .component_ids
            .iter()
            .map(|&id| id as usize)
            .filter(|&id| {
                self.object.calendar.components[id].component_type
                    != ICalendarComponentType::VTimezone
            })
            .collect();
        for child in children {
            if let Some(range) = time_range
                && !self.in_range(child, Some(ROOT), &range.into())?
            {
                continue;
            }
            let holds = |prop: &PropFilter| match prop.test {
                PropTest::IsNotDefined => self.prop(ROOT, prop) && self.prop(child, prop),
                PropTest::Matches { .. } => self.prop(ROOT, prop) || self.prop(child, prop),
            };
            if props.iter().all(holds) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn occurrences(&mut self) -> Result<&[Occurrence], IcalError> {
        if self.occurrences.is_none() {
            self.occurrences = Some(self.object.occurrences(&self.window, self.options)?);
        }
        Ok(self.occurrences.as_deref().unwrap_or_default())
    }

    fn timing_of(&self, component: usize) -> Option<usize> {
        self.object.comps.iter().position(|t| t.index == component)
    }

    /// Whether any instance of `component` (or, for a VALARM, any trigger
    /// for an instance of its parent) overlaps `range`.
    fn in_range(
        &mut self,
        component: usize,
        parent: Option<usize>,
        range: &TimeRange,
    ) -> Result<bool, IcalError> {
        let range = &self.object.window(range, self.options);
        let kind = &self.object.calendar.components[component].component_type;
        if *kind == ICalendarComponentType::VAlarm {
            let Some(timing) = parent.and_then(|p| self.timing_of(p)) else {
                return Ok(false);
            };
            let Some(alarm) = self.object.comps[timing]
                .alarms
                .iter()
                .find(|a| a.index == component)
                .copied()
            else {
                return Ok(false);
            };
            let clock = self.clock;
            return Ok(self
                .occurrences()?
                .iter()
                .filter(|occ| occ.comp == timing)
                .any(|occ| {
                    Triggers::of(&alarm, occ.start, occ.end, &clock)
                        .is_some_and(|t| t.overlaps(range))
                }));
        }
        let Some(timing) = self.timing_of(component) else {
            // §9.9 defines no time-range for other components.
            return Ok(false);
        };
        Ok(self
            .occurrences()?
            .iter()
            .any(|occ| occ.comp == timing && occ.shape.overlaps(range)))
    }

    fn prop(&self, component: usize, filter: &PropFilter) -> bool {
        let entries: Vec<&ICalendarEntry> = self.object.calendar.components[component]
            .entries
            .iter()
            .filter(|entry| entry.name.as_str().eq_ignore_ascii_case(&filter.name))
            .collect();
        let PropTest::Matches { condition, params } = &filter.test else {
            return entries.is_empty();
        };
        if entries.is_empty() {
            // §9.9: a missing DTEND or DUE is tested as DTSTART+DURATION.
            return params.is_empty()
                && matches!(condition, Some(PropCondition::TimeRange(range)) if self.effective_end_in(component, &filter.name, &range.into()));
        }
        entries.into_iter().any(|entry| {
            let value_ok = match condition {
                None => true,
                Some(PropCondition::TextMatch(text)) => {
                    text.matches_any(value_texts(entry).iter().map(String::as_str))
                }
                Some(PropCondition::TimeRange(range)) => {
                    let range = TimeRange::from(range);
                    self.times(entry).iter().any(|&at| range.contains(at))
                }
            };
            value_ok && params.iter().all(|param| param_matches(entry, param))
        })
    }

    /// UTC instants of a date property's values.
    fn times(&self, entry: &ICalendarEntry) -> Vec<i64> {
        let zone = entry
            .tz_id()
            .and_then(|tzid| self.object.zones.lookup(tzid));
        entry
            .values
            .iter()
            .filter_map(ICalendarValue::as_partial_date_time)
            .filter_map(|value| Time::from_partial(value, zone))
            .map(|time| self.clock.moment(time).utc)
            .collect()
    }

    fn effective_end_in(&self, component: usize, name: &str, range: &TimeRange) -> bool {
        let Some(timing) = self.timing_of(component).map(|t| &self.object.comps[t]) else {
            return false;
        };
        let wanted = match timing.kind {
            ComponentKind::Todo => "DUE",
            _ => "DTEND",
        };
        if !name.eq_ignore_ascii_case(wanted) || timing.duration.is_none() {
            return false;
        }
        timing
            .dtstart
            .map(|start| self.clock.moment(start))
            .and_then(|start| recur::effective_end(timing, start, &self.clock))
            .is_some_and(|end| range.contains(end.utc))
    }
}

/// The texts a text-match is tried against: each value of the property.
fn value_texts(entry: &ICalendarEntry) -> Vec<String> {
    entry
        .values
        .iter()
        .filter_map(|value| value.clone().into_text().map(|text| text.into_owned()))
        .collect()
}

fn param_matches(entry: &ICalendarEntry, filter: &ParamFilter) -> bool {
    let params: Vec<_> = entry
        .params
        .iter()
        .filter(|param| param.name.as_str().eq_ignore_ascii_case(&filter.name))
        .collect();
    match &filter.test {
        ParamTest::Defined => !params.is_empty(),
        ParamTest::IsNotDefined => params.is_empty(),
        // A text-match needs a parameter to test, negated or not.
        ParamTest::TextMatch(text) => {
            let values: Vec<String> = params
                .iter()
                .filter_map(|param| {
                    param
                        .value
                        .clone()
                        .into_text()
                        .map(|text| text.into_owned())
                })
                .collect();
            !params.is_empty() && text.matches_any(values.iter().map(String::as_str))
        }
    }
}
