//! From the XML layer's request types to the filter and selection types of [`ical`] and
//! [`vcard`]: the two layers were written to stand alone, and meet here.

use super::ical::{
    self, CompRequest, CompsRequest, PropRequest, PropsRequest, RecurrenceRequest, ValueMode,
};
use super::vcard;
use crate::proto::request::{self as xml, Selection};

/// A time range in UTC seconds.
pub fn time_range(range: &xml::TimeRange) -> ical::TimeRange {
    ical::TimeRange {
        start: range.start.map(|t| t.unix_seconds()),
        end: range.end.map(|t| t.unix_seconds()),
    }
}

/// A calendar-query filter.
pub fn comp_filter(filter: &xml::CompFilter) -> ical::CompFilter {
    let name = filter.name.name().to_owned();
    match &filter.test {
        xml::CompTest::IsNotDefined => ical::CompFilter::is_not_defined(name),
        xml::CompTest::Matches {
            time_range: range,
            props,
            comps,
        } => {
            let mut out = ical::CompFilter::named(name);
            if let Some(range) = range {
                out = out.with_time_range(time_range(range));
            }
            for p in props {
                out = out.with_prop(prop_filter(p));
            }
            for c in comps {
                out = out.with_comp(comp_filter(c));
            }
            out
        }
    }
}

fn prop_filter(filter: &xml::PropFilter) -> ical::PropFilter {
    match &filter.test {
        xml::PropTest::IsNotDefined => ical::PropFilter::is_not_defined(filter.name.clone()),
        xml::PropTest::Matches { condition, params } => ical::PropFilter {
            name: filter.name.to_ascii_uppercase(),
            test: ical::PropTest::Matches {
                value: condition.as_ref().map(|c| match c {
                    xml::PropCondition::TimeRange(r) => ical::ValueTest::TimeRange(time_range(r)),
                    xml::PropCondition::TextMatch(t) => ical::ValueTest::Text(t.clone()),
                }),
                params: params.clone(),
            },
        },
    }
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

/// An addressbook-query filter.
pub fn card_filter(filter: &xml::CardFilter) -> vcard::AddressFilter {
    vcard::AddressFilter {
        test: filter_test(filter.test),
        props: filter
            .props
            .iter()
            .map(|p| vcard::PropFilter {
                name: p.name.to_ascii_uppercase(),
                test: filter_test(p.test),
                condition: match &p.condition {
                    xml::CardPropTest::IsNotDefined => vcard::PropTest::IsNotDefined,
                    xml::CardPropTest::Matches {
                        text_matches,
                        params,
                    } => vcard::PropTest::Matches {
                        texts: text_matches.clone(),
                        params: params.clone(),
                    },
                },
            })
            .collect(),
    }
}

fn filter_test(test: xml::FilterTest) -> vcard::FilterTest {
    match test {
        xml::FilterTest::AnyOf => vcard::FilterTest::AnyOf,
        xml::FilterTest::AllOf => vcard::FilterTest::AllOf,
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
