//! Why calendar data was refused, in words a user can act on, and which
//! CalDAV condition element the HTTP layer should put in `DAV:error`.

use thiserror::Error;

/// Everything the `ical` module can refuse or fail at.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IcalError {
    #[error("calendar data is not valid UTF-8 (at byte {offset})")]
    NotUtf8 { offset: usize },

    #[error("line {line}: {reason}")]
    Syntax { line: usize, reason: String },

    #[error("{component} without {property}")]
    MissingProperty {
        component: String,
        property: &'static str,
    },

    #[error("{property} value \"{value}\" is not {expected}")]
    InvalidValue {
        property: String,
        value: String,
        expected: &'static str,
    },

    #[error("{component} has both {first} and {second}")]
    Conflict {
        component: String,
        first: &'static str,
        second: &'static str,
    },

    #[error("VERSION:{0} is not supported, only iCalendar 2.0")]
    UnsupportedVersion(String),

    #[error("TZID \"{0}\" has no VTIMEZONE and is not a known time zone name")]
    UnknownTimezone(String),

    #[error("VTIMEZONE \"{tzid}\" is unusable: {reason}")]
    InvalidTimezone { tzid: String, reason: String },

    #[error("RRULE cannot be expanded: {0}")]
    InvalidRecurrence(String),

    #[error("two different UIDs: {0} and {1}")]
    MultipleUids(String, String),

    #[error("a calendar object resource holds one component type, found {0} and {1}")]
    MixedComponents(String, String),

    #[error("calendar object resources must not carry a METHOD property")]
    MethodNotAllowed,

    #[error("{component} with UID {uid} appears twice {which}")]
    DuplicateInstance {
        component: String,
        uid: String,
        which: String,
    },

    #[error("no VEVENT, VTODO or VJOURNAL in the calendar data")]
    NoComponent,

    #[error("{0} components are not supported in a calendar collection")]
    UnsupportedComponent(String),

    #[error("the time range ends before it starts ({start} >= {end})")]
    EmptyRange { start: i64, end: i64 },

    #[error("\"{0}\" is not a UTC date-time like 20060104T000000Z")]
    BadRangeValue(String),

    #[error("the recurrence has more than {limit} instances before the requested end")]
    TooManyInstances { limit: usize },
}

/// The condition element (RFC 4791 §5.3.2.1, RFC 4918 §16) that explains
/// an [`IcalError`] to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// `CALDAV:valid-calendar-data`: not parseable as iCalendar 2.0.
    ValidCalendarData,
    /// `CALDAV:valid-calendar-object-resource`: valid iCalendar, but breaks
    /// the one-UID, one-type, no-METHOD rules of RFC 4791 §4.1.
    ValidCalendarObjectResource,
    /// `CALDAV:supported-calendar-component`.
    SupportedCalendarComponent,
    /// `DAV:number-of-matches-within-limits`: a REPORT would need more
    /// recurrence instances than the server computes.
    NumberOfMatchesWithinLimits,
}

impl IcalError {
    /// The condition to report, or `None` for request errors that are a
    /// plain 400 (malformed time-range attributes).
    pub fn precondition(&self) -> Option<Precondition> {
        match self {
            Self::NotUtf8 { .. }
            | Self::Syntax { .. }
            | Self::MissingProperty { .. }
            | Self::InvalidValue { .. }
            | Self::Conflict { .. }
            | Self::UnsupportedVersion(_)
            | Self::UnknownTimezone(_)
            | Self::InvalidTimezone { .. }
            | Self::InvalidRecurrence(_) => Some(Precondition::ValidCalendarData),
            Self::MultipleUids(..)
            | Self::MixedComponents(..)
            | Self::MethodNotAllowed
            | Self::DuplicateInstance { .. } => Some(Precondition::ValidCalendarObjectResource),
            Self::NoComponent | Self::UnsupportedComponent(_) => {
                Some(Precondition::SupportedCalendarComponent)
            }
            Self::TooManyInstances { .. } => Some(Precondition::NumberOfMatchesWithinLimits),
            Self::EmptyRange { .. } | Self::BadRangeValue(_) => None,
        }
    }
}

impl Precondition {
    /// Local name of the XML element.
    pub fn element(self) -> &'static str {
        match self {
            Self::ValidCalendarData => "valid-calendar-data",
            Self::ValidCalendarObjectResource => "valid-calendar-object-resource",
            Self::SupportedCalendarComponent => "supported-calendar-component",
            Self::NumberOfMatchesWithinLimits => "number-of-matches-within-limits",
        }
    }

    /// Namespace of the XML element.
    pub fn namespace(self) -> &'static str {
        match self {
            Self::NumberOfMatchesWithinLimits => "DAV:",
            _ => "urn:ietf:params:xml:ns:caldav",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_like_sentences() {
        let e = IcalError::MultipleUids("a".into(), "b".into());
        assert_eq!(e.to_string(), "two different UIDs: a and b");
        assert_eq!(
            e.precondition(),
            Some(Precondition::ValidCalendarObjectResource)
        );
        let e = IcalError::MissingProperty {
            component: "VEVENT".into(),
            property: "DTSTART",
        };
        assert_eq!(e.to_string(), "VEVENT without DTSTART");
        assert_eq!(
            e.precondition().map(Precondition::element),
            Some("valid-calendar-data")
        );
        let e = IcalError::UnsupportedComponent("VFREEBUSY".into());
        assert_eq!(
            e.precondition(),
            Some(Precondition::SupportedCalendarComponent)
        );
        assert_eq!(
            Precondition::NumberOfMatchesWithinLimits.namespace(),
            "DAV:"
        );
    }
}
