//! The overlap conditions of RFC 4791 §9.9, one table row per variant, and
//! the alarm trigger times they are applied to.

use super::component::{Alarm, ComponentKind, Timing, Trigger};
use super::time::{Basis, Clock, Dur, Moment, TimeRange};

/// Which row of the §9.9 tables an instance falls under, with its times in
/// UTC seconds. Built per recurrence instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `start < end AND range_end > start`, i.e. a half-open span: VEVENT
    /// with DTEND, with a positive DURATION, or all-day; all-day VJOURNAL.
    Span { start: i64, end: i64 },
    /// `range_start <= at AND range_end > at`: zero-length VEVENT, VTODO
    /// with only DTSTART, date-time VJOURNAL, alarm trigger.
    Point { at: i64 },
    /// VTODO with DTSTART and DURATION.
    TodoDuration { start: i64, end: i64 },
    /// VTODO with DTSTART and DUE.
    TodoStartDue { start: i64, due: i64 },
    /// VTODO with DUE only.
    TodoDue { due: i64 },
    /// VTODO with COMPLETED and CREATED only.
    TodoCompletedCreated { completed: i64, created: i64 },
    /// VTODO with COMPLETED only.
    TodoCompleted { completed: i64 },
    /// VTODO with CREATED only.
    TodoCreated { created: i64 },
    /// VTODO without any of the five properties: matches every range.
    Always,
    /// VJOURNAL without DTSTART: matches no range.
    Never,
}

impl Shape {
    /// The shape of one instance: `start` and `end` are the instance's
    /// effective DTSTART and DTEND/DUE, `timing` says which properties the
    /// defining component has.
    pub fn of(
        timing: &Timing,
        start: Option<Moment>,
        end: Option<Moment>,
        clock: &Clock<'_>,
    ) -> Self {
        let utc = |time: Option<super::time::Time>| time.map(|time| clock.moment(time).utc);
        match timing.kind {
            ComponentKind::Event => match (start, end) {
                (Some(start), Some(end)) if end.utc > start.utc => Self::Span {
                    start: start.utc,
                    end: end.utc,
                },
                // RFC 4791 says DTEND must be after DTSTART; a zero or
                // negative length is read as a point, like DURATION:PT0S.
                (Some(start), _) => Self::Point { at: start.utc },
                (None, _) => Self::Never,
            },
            ComponentKind::Todo => match (start, end) {
                (Some(start), Some(end)) if timing.duration.is_some() => Self::TodoDuration {
                    start: start.utc,
                    end: end.utc,
                },
                (Some(start), Some(due)) => Self::TodoStartDue {
                    start: start.utc,
                    due: due.utc,
                },
                (Some(start), None) => Self::Point { at: start.utc },
                (None, Some(due)) => Self::TodoDue { due: due.utc },
                (None, None) => match (utc(timing.completed), utc(timing.created)) {
                    (Some(completed), Some(created)) => {
                        Self::TodoCompletedCreated { completed, created }
                    }
                    (Some(completed), None) => Self::TodoCompleted { completed },
                    (None, Some(created)) => Self::TodoCreated { created },
                    (None, None) => Self::Always,
                },
            },
            ComponentKind::Journal => match (start, end) {
                (Some(start), Some(end)) if end.utc > start.utc => Self::Span {
                    start: start.utc,
                    end: end.utc,
                },
                (Some(start), _) => Self::Point { at: start.utc },
                (None, _) => Self::Never,
            },
        }
    }

    /// The §9.9 condition. A missing range bound is -inf / +inf, which
    /// makes every comparison against it true.
    pub fn overlaps(&self, range: &TimeRange) -> bool {
        let s_lt = |x: i64| range.start.is_none_or(|s| s < x);
        let s_le = |x: i64| range.start.is_none_or(|s| s <= x);
        let e_gt = |x: i64| range.end.is_none_or(|e| e > x);
        let e_ge = |x: i64| range.end.is_none_or(|e| e >= x);
        match *self {
            Self::Span { start, end } => s_lt(end) && e_gt(start),
            Self::Point { at } => s_le(at) && e_gt(at),
            Self::TodoDuration { start, end } => s_le(end) && (e_gt(start) || e_ge(end)),
            Self::TodoStartDue { start, due } => {
                (s_lt(due) || s_le(start)) && (e_gt(start) || e_ge(due))
            }
            Self::TodoDue { due } => s_lt(due) && e_ge(due),
            Self::TodoCompletedCreated { completed, created } => {
                (s_le(created) || s_le(completed)) && (e_ge(created) || e_ge(completed))
            }
            Self::TodoCompleted { completed } => s_le(completed) && e_ge(completed),
            Self::TodoCreated { created } => e_gt(created),
            Self::Always => true,
            Self::Never => false,
        }
    }

    /// Earliest and latest instant the shape can match at (`None`:
    /// unbounded), for the stored index span.
    pub fn bounds(&self) -> Option<(Option<i64>, Option<i64>)> {
        let both = |a: i64, b: i64| Some((Some(a.min(b)), Some(a.max(b))));
        match *self {
            Self::Span { start, end }
            | Self::TodoDuration { start, end }
            | Self::TodoStartDue { start, due: end } => both(start, end),
            Self::Point { at }
            | Self::TodoDue { due: at }
            | Self::TodoCompleted { completed: at } => both(at, at),
            Self::TodoCompletedCreated { completed, created } => both(completed, created),
            Self::TodoCreated { created } => Some((Some(created), None)),
            Self::Always => Some((None, None)),
            Self::Never => None,
        }
    }
}

/// The first trigger and repetitions of `alarm` for one instance of its
/// parent: an arithmetic progression, so a hostile REPEAT costs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Triggers {
    pub first: i64,
    pub every: i64,
    pub repeat: u32,
}

impl Triggers {
    /// `None` when the trigger is relative to a start or end the instance
    /// does not have (a VTODO without DTSTART, RELATED=START).
    pub fn of(
        alarm: &Alarm,
        start: Option<Moment>,
        end: Option<Moment>,
        clock: &Clock<'_>,
    ) -> Option<Self> {
        let from = |anchor: Option<Moment>, offset: Dur| {
            // Alarm offsets are exact durations relative to the instance,
            // nominal days included (RFC 5545 §3.8.6.3 adds them as is).
            anchor.map(|anchor| clock.add(anchor, offset).utc)
        };
        let first = match alarm.trigger {
            // A task with only DUE and a RELATED=START alarm is common
            // (Apple Reminders, RFC 4791's own §7.8.5 example); its due
            // time is the only anchor there is.
            Trigger::FromStart(offset) => from(start.or(end), offset)?,
            Trigger::FromEnd(offset) => from(end.or(start), offset)?,
            Trigger::At(at) => clock.moment(at).utc,
        };
        let every = alarm.every.days * 86_400 + alarm.every.seconds;
        Some(Self {
            first,
            every,
            repeat: if every > 0 { alarm.repeat } else { 0 },
        })
    }

    fn last(&self) -> i64 {
        self.first
            .saturating_add(self.every.saturating_mul(i64::from(self.repeat)))
    }

    /// `(start <= trigger-time) AND (end > trigger-time)` for any trigger.
    pub fn overlaps(&self, range: &TimeRange) -> bool {
        // First repetition at or after the range start.
        let k = match range.start {
            Some(start) if start > self.first && self.every > 0 => {
                (start - self.first + self.every - 1) / self.every
            }
            Some(start) if start > self.first => return false,
            _ => 0,
        };
        if k > i64::from(self.repeat) {
            return false;
        }
        range.contains(self.first + k * self.every)
    }

    pub fn bounds(&self) -> (i64, i64) {
        (self.first, self.last())
    }
}

/// True when a value's basis depends on the caller's floating zone.
pub(crate) fn is_floating(basis: Basis) -> bool {
    matches!(basis, Basis::Date | Basis::Floating)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4791 §9.9 uses a range of [start, end); these helpers name the
    /// ranges relative to the tested instant `T` = 1000.
    const T: i64 = 1000;

    fn range(start: i64, end: i64) -> TimeRange {
        TimeRange::between(start, end).unwrap()
    }

    #[test]
    fn span_row() {
        let shape = Shape::Span {
            start: T,
            end: T + 100,
        };
        assert!(shape.overlaps(&range(T + 50, T + 60)));
        assert!(shape.overlaps(&range(T - 10, T + 1)));
        assert!(
            !shape.overlaps(&range(T - 10, T)),
            "end > DTSTART is strict"
        );
        assert!(
            !shape.overlaps(&range(T + 100, T + 200)),
            "start < DTEND is strict"
        );
        assert!(shape.overlaps(&TimeRange::new(None, Some(T + 1)).unwrap()));
        assert!(shape.overlaps(&TimeRange::new(Some(T + 99), None).unwrap()));
    }

    #[test]
    fn point_row() {
        let shape = Shape::Point { at: T };
        assert!(shape.overlaps(&range(T, T + 1)), "start <= DTSTART");
        assert!(!shape.overlaps(&range(T - 10, T)), "end > DTSTART");
        assert!(!shape.overlaps(&range(T + 1, T + 10)));
    }

    #[test]
    fn todo_duration_row() {
        let shape = Shape::TodoDuration {
            start: T,
            end: T + 100,
        };
        assert!(
            shape.overlaps(&range(T + 100, T + 200)),
            "start <= DTSTART+DURATION"
        );
        assert!(!shape.overlaps(&range(T + 101, T + 200)));
        assert!(shape.overlaps(&range(T - 10, T + 1)), "end > DTSTART");
        assert!(!shape.overlaps(&range(T - 10, T)));
    }

    #[test]
    fn todo_start_due_row() {
        let shape = Shape::TodoStartDue {
            start: T,
            due: T + 100,
        };
        assert!(shape.overlaps(&range(T + 99, T + 200)), "start < DUE");
        assert!(
            !shape.overlaps(&range(T + 100, T + 200)),
            "start < DUE is strict"
        );
        assert!(shape.overlaps(&range(T - 10, T + 1)), "end > DTSTART");
        assert!(!shape.overlaps(&range(T - 10, T)));
        // DUE before DTSTART (bad data): start <= DTSTART still decides.
        let odd = Shape::TodoStartDue {
            start: T,
            due: T - 100,
        };
        assert!(odd.overlaps(&range(T - 100, T - 50)), "end >= DUE");
    }

    #[test]
    fn todo_due_row() {
        let shape = Shape::TodoDue { due: T };
        assert!(shape.overlaps(&range(T - 10, T)), "end >= DUE");
        assert!(!shape.overlaps(&range(T, T + 10)), "start < DUE");
        assert!(shape.overlaps(&range(T - 1, T + 10)));
    }

    #[test]
    fn todo_completed_created_rows() {
        let both = Shape::TodoCompletedCreated {
            completed: T + 100,
            created: T,
        };
        assert!(
            both.overlaps(&range(T + 50, T + 60)),
            "between CREATED and COMPLETED"
        );
        assert!(
            both.overlaps(&range(T + 100, T + 101)),
            "start <= COMPLETED"
        );
        assert!(!both.overlaps(&range(T + 101, T + 200)));
        assert!(both.overlaps(&range(T - 10, T)), "end >= CREATED");
        assert!(!both.overlaps(&range(T - 10, T - 1)));

        let completed = Shape::TodoCompleted { completed: T };
        assert!(completed.overlaps(&range(T, T + 1)));
        assert!(completed.overlaps(&range(T - 1, T)));
        assert!(!completed.overlaps(&range(T + 1, T + 2)));

        let created = Shape::TodoCreated { created: T };
        assert!(created.overlaps(&range(T - 100, T + 1)), "end > CREATED");
        assert!(!created.overlaps(&range(T - 100, T)));
        assert!(
            created.overlaps(&range(T + 5000, T + 6000)),
            "no upper bound"
        );
    }

    #[test]
    fn always_and_never() {
        assert!(Shape::Always.overlaps(&range(0, 1)));
        assert!(!Shape::Never.overlaps(&TimeRange::default()));
        assert_eq!(Shape::Never.bounds(), None);
    }

    #[test]
    fn repeating_triggers() {
        let triggers = Triggers {
            first: T,
            every: 300,
            repeat: 3,
        };
        assert!(triggers.overlaps(&range(T + 600, T + 601)));
        assert!(!triggers.overlaps(&range(T + 601, T + 899)));
        assert!(triggers.overlaps(&range(T + 601, T + 901)));
        assert!(
            !triggers.overlaps(&range(T + 901, T + 2000)),
            "only three repeats"
        );
        assert!(!triggers.overlaps(&range(0, T)));
        let hostile = Triggers {
            first: T,
            every: 1,
            repeat: u32::MAX,
        };
        assert!(hostile.overlaps(&range(T + 4_000_000_000, T + 4_000_000_001)));
        assert_eq!(hostile.bounds().1, T + i64::from(u32::MAX));
    }
}
