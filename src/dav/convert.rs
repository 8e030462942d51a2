//! From the XML layer's request types to the filter and selection types of [`ical`] and
//! [`vcard`]: the two layers were written to stand alone, and meet here.

use super::ical::{
    self, CompRequest, CompsRequest, PropRequest, PropsRequest, RecurrenceRequest, ValueMode,
};
use super::vcard;
use crate::proto::request::{self as xml, Selection};

/// A time range in UTC seconds.
fn time_range(range: &xml::TimeRange) -> ical::TimeRange {
    ical::TimeRange::from(range)
}

/// How to shape calendar-data.
pub fn calendar_data(request: &xml::CalendarDataRequest) -> ical::CalendarDataRequest {
    let recurrence = match (&request.expand, &request.limit_recurrence_set) {
        (Some(r), _) => Some(RecurrenceRequest::Expand(time_range(r))),
        (None, Some(r)) => Some(RecurrenceRequest::LimitRecurrenceSet(time_range(r))),
        (None, None) => None,
    };
    ical::CalendarDataRequest {
        comp: request.comp.as_ref().map(comp_request),
        recurrence,
    }
}

fn comp_request(selection: &xml::CompSelection) -> CompRequest {
    CompRequest {
        name: selection.name.name().to_owned(),
        props: match &selection.props {
            Selection::All => PropsRequest::All,
            Selection::Only(props) => PropsRequest::Only(props.iter().map(prop_request).collect()),
        },
        comps: match &selection.comps {
            Selection::All => CompsRequest::All,
            Selection::Only(comps) => CompsRequest::Only(comps.iter().map(comp_request).collect()),
        },
    }
}

fn prop_request(p: &xml::PropSelector) -> PropRequest {
    PropRequest {
        name: p.name.to_ascii_uppercase(),
        value: if p.novalue {
            ValueMode::Omit
        } else {
            ValueMode::Full
        },
    }
}

/// Which vCard properties to return.
pub fn address_data(request: &xml::AddressDataRequest) -> vcard::AddressDataRequest {
    match &request.props {
        Selection::All => vcard::AddressDataRequest::All,
        Selection::Only(props) if props.is_empty() => vcard::AddressDataRequest::All,
        Selection::Only(props) => {
            vcard::AddressDataRequest::Props(props.iter().map(prop_request).collect())
        }
    }
}
