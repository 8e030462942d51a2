//! The recurrence set of one calendar object (RFC 5545 §3.8.5, §3.8.4.4):
//! DTSTART, RRULE and RDATE instances, minus EXDATE, with overridden
//! instances replaced by their RECURRENCE-ID components (RANGE=
//! THISANDFUTURE included), each instance with its effective start, end
//! and §9.9 shape.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDateTime};

use super::IcalError;
use super::component::{ComponentKind, RDate, Range, Timing};
use super::rule::{self, Reach, RuleError};
use super::seconds::{naive, stamp};
use super::time::{Basis, Clock, Dur, Moment, Time, shift};
use super::timerange::Shape;
use super::zone::Zone;

/// How the server evaluates calendar data: the zone for floating times and
/// DATE values (RFC 4791 §7.3: CALDAV:timezone of the request, else the
/// collection's calendar-timezone, else our choice), and the limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub floating: Zone,
    pub limits: ExpandLimits,
}

/// Hard caps on recurrence expansion, so hostile input cannot hang a
/// request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpandLimits {
    /// Most instances computed for one object, counted from its first
    /// DTSTART up to the end of the requested range; also bounds the steps
    /// the RRULE engine may take. Past it, [`IcalError::TooManyInstances`].
    pub max_instances: usize,
    /// Longest stretch of time looked at: a range that is open-ended or
    /// wider than this is cut to `max_years` after its start (or after the
    /// object's first DTSTART). Instances beyond are silently not seen.
    pub max_years: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            floating: Zone::utc(),
            limits: ExpandLimits::default(),
        }
    }
}

impl Default for ExpandLimits {
    fn default() -> Self {
        // 100,000 daily instances cover 270 years and expand in about a
        // tenth of a second in a debug build.
        Self {
            max_instances: 100_000,
            max_years: 100,
        }
    }
}

/// One instance of one component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Occurrence {
    /// Index into the object's component timings: whose properties the
    /// instance has (the master's, or an override's).
    pub comp: usize,
    pub start: Option<Moment>,
    /// Effective DTEND (VEVENT, VJOURNAL) or DUE (VTODO).
    pub end: Option<Moment>,
    pub shape: Shape,
    /// Original start, for instances of a recurring set.
    pub recurrence_id: Option<Moment>,
}

/// The instances of an object up to some instant.
#[derive(Debug, Clone)]
pub(crate) struct Expansion {
    pub occurrences: Vec<Occurrence>,
    /// False when a rule goes on past the instant asked for.
    pub complete: bool,
}

/// Instances up to a UTC instant, from every component of an object.
pub(crate) fn occurrences(
    comps: &[Timing],
    clock: &Clock<'_>,
    until: i64,
    limits: &ExpandLimits,
) -> Result<Expansion, IcalError> {
    let mut complete = true;
    let mut overrides: HashMap<i64, usize> = HashMap::new();
    let mut future: Vec<(i64, usize)> = Vec::new();
    let mut out = Vec::new();
    for (index, timing) in comps.iter().enumerate() {
        let Some(rid) = timing.recurrence_id else {
            continue;
        };
        let original = clock.moment(rid.time);
        overrides.insert(original.utc, index);
        if rid.range == Range::ThisAndFuture {
            future.push((original.utc, index));
        }
        let start = timing
            .dtstart
            .map(|time| clock.moment(time))
            .unwrap_or(original);
        out.push(occurrence(
            index,
            timing,
            Some(start),
            Some(original),
            clock,
        ));
    }
    future.sort_unstable();

    for (index, master) in comps.iter().enumerate().filter(|(_, t)| !t.is_override()) {
        if !master.is_recurring() {
            let start = master.dtstart.map(|time| clock.moment(time));
            if start.is_none_or(|start| !overrides.contains_key(&start.utc)) {
                out.push(occurrence(index, master, start, None, clock));
            }
            continue;
        }
        let (instances, whole) = instances(master, clock, until, limits)?;
        complete &= whole;
        for instance in instances {
            if overrides.contains_key(&instance.start.utc) {
                continue;
            }
            // RANGE=THISANDFUTURE: the latest such override at or before
            // this instance moves it and lends it its properties.
            let after = future.partition_point(|(rid, _)| *rid <= instance.start.utc);
            let occurrence = match after.checked_sub(1).map(|k| future[k]) {
                _ if master.dtstart.is_none() => Occurrence {
                    // A task recurring on DUE: each instance is a due date.
                    comp: index,
                    start: None,
                    end: Some(instance.start),
                    shape: Shape::TodoDue {
                        due: instance.start.utc,
                    },
                    recurrence_id: Some(instance.start),
                },
                Some((rid, source)) => shifted(comps, source, rid, instance.start, clock),
                None => {
                    let mut occ = occurrence(
                        index,
                        master,
                        Some(instance.start),
                        Some(instance.start),
                        clock,
                    );
                    if let Some(end) = instance.end {
                        occ.end = Some(end);
                        occ.shape = Shape::of(master, occ.start, occ.end, clock);
                    }
                    occ
                }
            };
            out.push(occurrence);
        }
    }
    Ok(Expansion {
        occurrences: out,
        complete,
    })
}

/// An instance start from the rule set, with the end an RDATE period
/// gives it.
#[derive(Debug, Clone, Copy)]
struct Instance {
    start: Moment,
    end: Option<Moment>,
}

/// DTSTART, RRULE and RDATE instances of a master, minus EXDATE, sorted,
/// and whether every rule ended before `until`.
fn instances(
    master: &Timing,
    clock: &Clock<'_>,
    until: i64,
    limits: &ExpandLimits,
) -> Result<(Vec<Instance>, bool), IcalError> {
    let too_many = || IcalError::TooManyInstances {
        limit: limits.max_instances,
    };
    // Invariant: Timing::check refuses recurrence without an anchor.
    let Some(dtstart) = master.anchor() else {
        return Ok((Vec::new(), true));
    };
    let mut complete = true;
    let first = clock.moment(dtstart);
    let basis = dtstart.basis;
    let zone = clock.zone(basis);
    // A day of slack covers any difference between the zone used here and
    // the floating zone the window was computed in.
    let horizon = shift(zone.to_local(until), 86_400);

    let mut starts = vec![Instance {
        start: first,
        end: None,
    }];
    for recur in &master.rrules {
        let until = recur
            .until
            .as_ref()
            .and_then(|value| Time::from_partial(value, None))
            .map(|until| rule_until(until, zone));
        let run = rule::run(dtstart.local, recur, until, horizon, limits.max_instances).map_err(
            |error| match error {
                RuleError::TooMany => too_many(),
                RuleError::Invalid(reason) => IcalError::InvalidRecurrence(reason),
            },
        )?;
        if let Reach::Until(reached) = run.reach {
            if reached < horizon {
                // The step budget ran out before the window's end.
                return Err(too_many());
            }
            complete = false;
        }
        let mut locals = run.starts;
        // DTSTART counts as the first instance even when the rule does not
        // produce it (RFC 5545 §3.8.5.3), and COUNT includes it.
        if let Some(count) = recur.count
            && !locals.contains(&dtstart.local)
        {
            locals.truncate((count as usize).saturating_sub(1));
        }
        starts.extend(locals.into_iter().map(|local| Instance {
            start: clock.moment(Time { local, basis }),
            end: None,
        }));
    }
    for rdate in &master.rdates {
        let (start, end) = match *rdate {
            RDate::At(at) => (clock.moment(at), None),
            RDate::Until(at, end) => (clock.moment(at), Some(clock.moment(end))),
            RDate::Lasting(at, lasting) => {
                let start = clock.moment(at);
                (start, Some(clock.add(start, lasting)))
            }
        };
        let start = Moment {
            local: if at_same_basis(start.basis, basis) {
                start.local
            } else {
                zone.to_local(start.utc)
            },
            basis,
            ..start
        };
        starts.push(Instance { start, end });
    }
    starts.retain(|instance| !excluded(master, instance.start, clock));
    starts.sort_by_key(|instance| instance.start.utc);
    starts.dedup_by_key(|instance| instance.start.utc);
    if starts.len() > limits.max_instances {
        return Err(too_many());
    }
    Ok((starts, complete))
}

/// The rule's UNTIL in the wall-clock time of DTSTART. A DATE UNTIL
/// includes its whole day.
fn rule_until(until: Time, zone: &Zone) -> NaiveDateTime {
    match until.basis {
        Basis::Date => shift(until.local, 86_399),
        Basis::Utc => zone.to_local(stamp(until.local)),
        // A floating or zoned UNTIL with a zoned DTSTART is invalid per
        // RFC 5545; real clients mean DTSTART's wall clock.
        Basis::Floating | Basis::Zoned(_) => until.local,
    }
}

fn at_same_basis(a: Basis, b: Basis) -> bool {
    a == b
        || (matches!(a, Basis::Date | Basis::Floating)
            && matches!(b, Basis::Date | Basis::Floating))
}

/// EXDATE matching: the same instant, with two leniencies for what
/// clients write: a DATE excludes that day of a DATE-TIME series, and a
/// floating EXDATE on a zoned series (Thunderbird) means its wall clock.
fn excluded(master: &Timing, start: Moment, clock: &Clock<'_>) -> bool {
    master
        .exdates
        .iter()
        .any(|exdate| match (exdate.basis, start.basis) {
            (Basis::Date, Basis::Date) => exdate.local.date() == start.local.date(),
            (Basis::Date, _) => exdate.local.date() == start.local.date(),
            (Basis::Floating, Basis::Zoned(_)) => exdate.local == start.local,
            _ => clock.moment(*exdate).utc == start.utc,
        })
}

/// An instance moved and redefined by a THISANDFUTURE override at `rid`:
/// shifted by the override's own move, with the override's length.
fn shifted(
    comps: &[Timing],
    source: usize,
    rid: i64,
    original: Moment,
    clock: &Clock<'_>,
) -> Occurrence {
    let timing = &comps[source];
    let anchor = timing.dtstart.map(|time| clock.moment(time));
    let moved_by = anchor.map_or(0, |anchor| anchor.utc - rid);
    let start = clock.at_utc(
        original.utc + moved_by,
        anchor.map_or(original.basis, |a| a.basis),
    );
    let mut occ = occurrence(source, timing, Some(start), Some(original), clock);
    if let Some(anchor) = anchor
        && let Some(end) = effective_end(timing, anchor, clock)
    {
        occ.end = Some(clock.at_utc(start.utc + (end.utc - anchor.utc), end.basis));
        occ.shape = Shape::of(timing, occ.start, occ.end, clock);
    }
    occ
}

/// The instance of `timing` that starts at `start`.
fn occurrence(
    comp: usize,
    timing: &Timing,
    start: Option<Moment>,
    recurrence_id: Option<Moment>,
    clock: &Clock<'_>,
) -> Occurrence {
    let end = match start {
        Some(start) => effective_end(timing, start, clock),
        None => timing.due.map(|due| clock.moment(due)),
    };
    Occurrence {
        comp,
        start,
        end,
        shape: Shape::of(timing, start, end, clock),
        recurrence_id,
    }
}

/// DTEND or DUE of the instance starting at `start`: the component's own
/// length (exact for DATE-TIME, in days for DATE), its DURATION (nominal),
/// or the defaults of RFC 5545 §3.6.1 (one day for a DATE, zero else).
pub(crate) fn effective_end(timing: &Timing, start: Moment, clock: &Clock<'_>) -> Option<Moment> {
    let explicit = match timing.kind {
        ComponentKind::Todo => timing.due,
        ComponentKind::Event | ComponentKind::Journal => timing.dtend,
    };
    if let (Some(end), Some(dtstart)) = (explicit, timing.dtstart) {
        if end.is_date() && dtstart.is_date() {
            let days = (end.local.date() - dtstart.local.date()).num_days();
            return Some(clock.add(start, Dur { days, seconds: 0 }));
        }
        let length = clock.moment(end).utc - clock.moment(dtstart).utc;
        return Some(clock.at_utc(start.utc + length, end.basis));
    }
    if let Some(duration) = timing.duration {
        return Some(clock.add(start, duration));
    }
    match timing.kind {
        ComponentKind::Event | ComponentKind::Journal if start.basis == Basis::Date => {
            Some(clock.add(
                start,
                Dur {
                    days: 1,
                    seconds: 0,
                },
            ))
        }
        ComponentKind::Event => Some(start),
        ComponentKind::Todo | ComponentKind::Journal => None,
    }
}

/// The UTC instant up to which instances are needed for `range`, cut to
/// `max_years` after its start (or after `first`, the earliest DTSTART).
pub(crate) fn horizon(
    range_start: Option<i64>,
    range_end: Option<i64>,
    first: i64,
    limits: &ExpandLimits,
) -> i64 {
    let from = range_start.unwrap_or(first).max(first);
    let base = naive(from);
    let capped = base
        .with_year(
            base.year()
                .saturating_add(limits.max_years.min(10_000) as i32),
        )
        .unwrap_or_else(|| shift(base, i64::from(limits.max_years) * 366 * 86_400));
    let cap = stamp(capped);
    range_end.map_or(cap, |end| end.min(cap))
}
