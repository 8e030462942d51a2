//! The time-relevant content of one VEVENT, VTODO or VJOURNAL, read from
//! calcard's tree and checked against RFC 5545's rules for it.

use std::collections::HashMap;

use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarParameterName,
    ICalendarParameterValue, ICalendarPeriod, ICalendarProperty, ICalendarRecurrenceRule,
    ICalendarRelated, ICalendarValue,
};

use super::IcalError;
use super::time::{Basis, Dur, Time};
use super::zone::Zone;

/// The calendar component type of a calendar object resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComponentKind {
    Event,
    Todo,
    Journal,
}

impl ComponentKind {
    /// The iCalendar name, as used in supported-calendar-component-set.
    pub fn name(self) -> &'static str {
        match self {
            Self::Event => "VEVENT",
            Self::Todo => "VTODO",
            Self::Journal => "VJOURNAL",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "VEVENT" => Some(Self::Event),
            "VTODO" => Some(Self::Todo),
            "VJOURNAL" => Some(Self::Journal),
            _ => None,
        }
    }

    pub(crate) fn of(component: &ICalendarComponentType) -> Option<Self> {
        match component {
            ICalendarComponentType::VEvent => Some(Self::Event),
            ICalendarComponentType::VTodo => Some(Self::Todo),
            ICalendarComponentType::VJournal => Some(Self::Journal),
            _ => None,
        }
    }
}

/// Dates, durations and recurrence of one component.
#[derive(Debug, Clone)]
pub(crate) struct Timing {
    /// Index in calcard's component list, which is also the raw skeleton's.
    pub index: usize,
    pub kind: ComponentKind,
    pub uid: String,
    pub dtstart: Option<Time>,
    pub dtend: Option<Time>,
    pub due: Option<Time>,
    pub duration: Option<Dur>,
    pub completed: Option<Time>,
    pub created: Option<Time>,
    pub rrules: Vec<ICalendarRecurrenceRule>,
    pub rdates: Vec<RDate>,
    pub exdates: Vec<Time>,
    pub recurrence_id: Option<RecurrenceId>,
    pub alarms: Vec<Alarm>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct RecurrenceId {
    pub time: Time,
    pub range: Range,
}

/// RANGE parameter of RECURRENCE-ID (RFC 5545 §3.2.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Range {
    ThisInstance,
    ThisAndFuture,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum RDate {
    At(Time),
    Until(Time, Time),
    Lasting(Time, Dur),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Alarm {
    pub index: usize,
    pub trigger: Trigger,
    pub repeat: u32,
    pub every: Dur,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Trigger {
    FromStart(Dur),
    FromEnd(Dur),
    At(Time),
}

/// TZID parameter values resolved to zones, shared by all components of
/// one object.
#[derive(Debug, Clone, Default)]
pub(crate) struct ZoneTable {
    pub zones: Vec<Zone>,
    by_tzid: HashMap<String, usize>,
}

impl ZoneTable {
    pub fn define(&mut self, tzid: String, zone: Zone) {
        if !self.by_tzid.contains_key(&tzid) {
            self.by_tzid.insert(tzid, self.zones.len());
            self.zones.push(zone);
        }
    }

    /// A TZID seen during validation (unresolvable ones were refused).
    pub fn lookup(&self, tzid: &str) -> Option<usize> {
        self.by_tzid.get(tzid).copied()
    }

    /// Looks a TZID up among the VTIMEZONEs, then among known names:
    /// clients that rely on RFC 7809 omit VTIMEZONE for standard zones.
    fn resolve(&mut self, tzid: &str) -> Result<usize, IcalError> {
        if let Some(&index) = self.by_tzid.get(tzid) {
            return Ok(index);
        }
        let zone = Zone::named(tzid).ok_or_else(|| IcalError::UnknownTimezone(tzid.to_owned()))?;
        self.define(tzid.to_owned(), zone);
        Ok(self.zones.len() - 1)
    }
}

impl Timing {
    pub fn read(
        calendar: &ICalendar,
        index: usize,
        kind: ComponentKind,
        zones: &mut ZoneTable,
    ) -> Result<Self, IcalError> {
        let component = &calendar.components[index];
        let name = kind.name();
        let uid = component
            .uid()
            .filter(|uid| !uid.trim().is_empty())
            .ok_or_else(|| missing(name, "UID"))?
            .to_owned();
        let mut timing = Self {
            index,
            kind,
            uid,
            dtstart: time(component, ICalendarProperty::Dtstart, zones)?,
            dtend: time(component, ICalendarProperty::Dtend, zones)?,
            due: time(component, ICalendarProperty::Due, zones)?,
            duration: duration(component)?,
            completed: time(component, ICalendarProperty::Completed, zones)?,
            created: time(component, ICalendarProperty::Created, zones)?,
            rrules: Vec::new(),
            rdates: Vec::new(),
            exdates: Vec::new(),
            recurrence_id: None,
            alarms: Vec::new(),
        };
        for entry in &component.entries {
            match entry.name {
                ICalendarProperty::Rrule => timing.rrules.push(rule(entry)?),
                ICalendarProperty::Rdate => timing.rdates.extend(rdates(entry, zones)?),
                ICalendarProperty::Exdate => timing.exdates.extend(times(entry, zones)?),
                ICalendarProperty::RecurrenceId => {
                    let time = times(entry, zones)?.into_iter().next();
                    let range = match entry.parameter(&ICalendarParameterName::Range) {
                        Some(ICalendarParameterValue::Bool(true)) => Range::ThisAndFuture,
                        _ => Range::ThisInstance,
                    };
                    timing.recurrence_id = time.map(|time| RecurrenceId { time, range });
                }
                _ => {}
            }
        }
        timing.alarms = alarms(calendar, component, zones)?;
        timing.check()?;
        Ok(timing)
    }

    /// The constraints of RFC 5545 §3.6.1–3.6.3 that matter for time.
    fn check(&self) -> Result<(), IcalError> {
        let name = self.kind.name();
        if self.kind == ComponentKind::Event && self.dtstart.is_none() {
            return Err(missing(name, "DTSTART"));
        }
        if self.dtend.is_some() && self.duration.is_some() {
            return Err(conflict(name, "DTEND", "DURATION"));
        }
        if self.due.is_some() && self.duration.is_some() {
            return Err(conflict(name, "DUE", "DURATION"));
        }
        if self.dtstart.is_none() {
            if self.duration.is_some() {
                return Err(missing(&format!("{name} with DURATION"), "DTSTART"));
            }
            // DAVx5/OpenTasks write recurring tasks with DUE only; the
            // recurrence then runs on DUE, as in Radicale and calcard.
            let due_anchor = self.kind == ComponentKind::Todo && self.due.is_some();
            if self.is_recurring() && !due_anchor {
                return Err(missing(&format!("{name} with RRULE or RDATE"), "DTSTART"));
            }
        }
        Ok(())
    }

    pub fn is_recurring(&self) -> bool {
        !self.rrules.is_empty() || !self.rdates.is_empty()
    }

    /// The value recurrence is computed from: DTSTART, or DUE for a task
    /// without DTSTART.
    pub fn anchor(&self) -> Option<Time> {
        self.dtstart.or(match self.kind {
            ComponentKind::Todo => self.due,
            _ => None,
        })
    }

    pub fn is_override(&self) -> bool {
        self.recurrence_id.is_some()
    }

    /// Every value this component anchors to the floating zone.
    pub fn has_floating(&self) -> bool {
        let floating = |time: &Time| matches!(time.basis, Basis::Date | Basis::Floating);
        [
            self.dtstart,
            self.dtend,
            self.due,
            self.completed,
            self.created,
        ]
        .iter()
        .flatten()
        .any(floating)
            || self.recurrence_id.is_some_and(|rid| floating(&rid.time))
    }
}

fn missing(component: &str, property: &'static str) -> IcalError {
    IcalError::MissingProperty {
        component: component.to_owned(),
        property,
    }
}

fn conflict(component: &str, first: &'static str, second: &'static str) -> IcalError {
    IcalError::Conflict {
        component: component.to_owned(),
        first,
        second,
    }
}

fn invalid(entry: &ICalendarEntry, expected: &'static str) -> IcalError {
    let value = entry
        .values
        .iter()
        .filter_map(|value| value.clone().into_text())
        .collect::<Vec<_>>()
        .join(",");
    IcalError::InvalidValue {
        property: entry.name.as_str().to_owned(),
        value,
        expected,
    }
}

/// The first value of a single-valued date property, if present.
fn time(
    component: &ICalendarComponent,
    property: ICalendarProperty,
    zones: &mut ZoneTable,
) -> Result<Option<Time>, IcalError> {
    match component.property(&property) {
        Some(entry) => Ok(times(entry, zones)?.into_iter().next()),
        None => Ok(None),
    }
}

/// All DATE or DATE-TIME values of one property line.
fn times(entry: &ICalendarEntry, zones: &mut ZoneTable) -> Result<Vec<Time>, IcalError> {
    let zone = entry.tz_id().map(|tzid| zones.resolve(tzid)).transpose()?;
    entry
        .values
        .iter()
        .map(|value| {
            value
                .as_partial_date_time()
                .and_then(|value| Time::from_partial(value, zone))
                .ok_or_else(|| invalid(entry, "a DATE or DATE-TIME"))
        })
        .collect()
}

fn duration(component: &ICalendarComponent) -> Result<Option<Dur>, IcalError> {
    match component.property(&ICalendarProperty::Duration) {
        None => Ok(None),
        Some(entry) => match entry.values.first() {
            Some(ICalendarValue::Duration(duration)) => Ok(Some(Dur::from_ical(duration))),
            _ => Err(invalid(entry, "a DURATION")),
        },
    }
}

fn rule(entry: &ICalendarEntry) -> Result<ICalendarRecurrenceRule, IcalError> {
    match entry.values.first() {
        Some(ICalendarValue::RecurrenceRule(rule)) => Ok((**rule).clone()),
        _ => Err(invalid(entry, "a recurrence rule")),
    }
}

fn rdates(entry: &ICalendarEntry, zones: &mut ZoneTable) -> Result<Vec<RDate>, IcalError> {
    let zone = entry.tz_id().map(|tzid| zones.resolve(tzid)).transpose()?;
    let bad = || invalid(entry, "a DATE, DATE-TIME or PERIOD");
    let at =
        |value: &calcard::common::PartialDateTime| Time::from_partial(value, zone).ok_or_else(bad);
    entry
        .values
        .iter()
        .map(|value| match value {
            ICalendarValue::PartialDateTime(value) => at(value).map(RDate::At),
            ICalendarValue::Period(ICalendarPeriod::Range { start, end }) => {
                Ok(RDate::Until(at(start)?, at(end)?))
            }
            ICalendarValue::Period(ICalendarPeriod::Duration { start, duration }) => {
                Ok(RDate::Lasting(at(start)?, Dur::from_ical(duration)))
            }
            _ => Err(bad()),
        })
        .collect()
}

/// VALARMs directly inside the component. Alarms without a usable
/// TRIGGER are ignored: they can never fire, so no time range matches.
fn alarms(
    calendar: &ICalendar,
    component: &ICalendarComponent,
    zones: &mut ZoneTable,
) -> Result<Vec<Alarm>, IcalError> {
    let mut alarms = Vec::new();
    for &child in &component.component_ids {
        let index = child as usize;
        let Some(alarm) = calendar.components.get(index) else {
            continue;
        };
        if alarm.component_type != ICalendarComponentType::VAlarm {
            continue;
        }
        let Some(entry) = alarm.property(&ICalendarProperty::Trigger) else {
            continue;
        };
        let trigger = match entry.values.first() {
            Some(ICalendarValue::Duration(offset)) => {
                match entry.parameter(&ICalendarParameterName::Related) {
                    Some(ICalendarParameterValue::Related(ICalendarRelated::End)) => {
                        Trigger::FromEnd(Dur::from_ical(offset))
                    }
                    _ => Trigger::FromStart(Dur::from_ical(offset)),
                }
            }
            Some(ICalendarValue::PartialDateTime(_)) => match times(entry, zones)?.first() {
                Some(at) => Trigger::At(*at),
                None => continue,
            },
            _ => return Err(invalid(entry, "a DURATION or DATE-TIME")),
        };
        let repeat = alarm
            .property(&ICalendarProperty::Repeat)
            .and_then(|entry| entry.values.first())
            .and_then(ICalendarValue::as_integer)
            .and_then(|repeat| u32::try_from(repeat).ok())
            .unwrap_or(0);
        let every = alarm
            .property(&ICalendarProperty::Duration)
            .and_then(|entry| entry.values.first())
            .and_then(|value| match value {
                ICalendarValue::Duration(duration) => Some(Dur::from_ical(duration)),
                _ => None,
            });
        // REPEAT without DURATION is meaningless (RFC 5545 §3.6.6).
        let (repeat, every) = match every {
            Some(every) if every.is_positive() => (repeat, every),
            _ => (0, Dur::default()),
        };
        alarms.push(Alarm {
            index,
            trigger,
            repeat,
            every,
        });
    }
    Ok(alarms)
}
