//! REPORT bodies: calendar-query, calendar-multiget, free-busy-query (RFC 4791 §7),
//! addressbook-query, addressbook-multiget (RFC 6352 §8) and sync-collection (RFC 6578),
//! read into the filter and selection types of [`crate::dav::ical`] and
//! [`crate::dav::vcard`].

use super::XmlError;
use super::names::{CALDAV, CARDDAV, DAV};
use super::request::{PropFind, prop_selection};
use super::tree::{self, Element};
use crate::dav::ical::{
    self, CalendarDataRequest, CompFilter, CompRequest, CompTest, CompsRequest, ParamFilter,
    ParamTest, PropFilter, PropRequest, PropTest, PropsRequest, RecurrenceRequest, TextMatch,
    TimeRange, ValueMode, ValueTest,
};
use crate::dav::vcard;

/// Most hrefs one multiget may name.
const MAX_HREFS: usize = 10_000;

/// A REPORT.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// `CALDAV:calendar-query`.
    CalendarQuery(CalendarQuery),
    /// `CALDAV:calendar-multiget` or `CARDDAV:addressbook-multiget`.
    Multiget(Multiget),
    /// `CALDAV:free-busy-query`.
    FreeBusy(TimeRange),
    /// `CARDDAV:addressbook-query`.
    AddressbookQuery(AddressbookQuery),
    /// `DAV:sync-collection`.
    SyncCollection(SyncCollection),
}

/// What a report returns for each resource: properties, and the calendar or address data
/// with its selection when `calendar-data` / `address-data` is among them.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// The properties (data properties included, by name).
    pub props: PropFind,
    /// `CALDAV:calendar-data` and how to shape it.
    pub calendar_data: Option<CalendarDataRequest>,
    /// `CARDDAV:address-data` and which properties to keep.
    pub address_data: Option<vcard::AddressDataRequest>,
}

/// `CALDAV:calendar-query`.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarQuery {
    /// What to return.
    pub selection: Selection,
    /// The filter (always rooted at VCALENDAR).
    pub filter: CompFilter,
    /// `CALDAV:timezone`: the zone floating times are read in, as VTIMEZONE text.
    pub timezone: Option<String>,
}

/// A multiget: these hrefs, this selection.
#[derive(Debug, Clone, PartialEq)]
pub struct Multiget {
    /// What to return.
    pub selection: Selection,
    /// The resources, as sent.
    pub hrefs: Vec<String>,
}

/// `CARDDAV:addressbook-query`.
#[derive(Debug, Clone, PartialEq)]
pub struct AddressbookQuery {
    /// What to return.
    pub selection: Selection,
    /// The filter.
    pub filter: vcard::AddressFilter,
    /// `CARDDAV:limit/nresults`.
    pub limit: Option<usize>,
}

/// `DAV:sync-collection`.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncCollection {
    /// The token from the last sync; empty for the first.
    pub token: String,
    /// `1` or `infinite` (collections here have no sub-collections, so both mean 1).
    pub level: SyncLevel,
    /// `DAV:limit/nresults`.
    pub limit: Option<usize>,
    /// What to return for changed members.
    pub selection: Selection,
}

/// `DAV:sync-level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncLevel {
    /// Direct members.
    One,
    /// Members at any depth.
    Infinite,
}

/// Parses a REPORT body.
pub fn report(body: &[u8]) -> Result<Report, XmlError> {
    let root = tree::parse(body)?;
    match (root.ns.as_str(), root.name.as_str()) {
        (CALDAV, "calendar-query") => calendar_query(&root).map(Report::CalendarQuery),
        (CALDAV, "calendar-multiget") | (CARDDAV, "addressbook-multiget") => {
            multiget(&root).map(Report::Multiget)
        }
        (CALDAV, "free-busy-query") => {
            let range = root
                .child(CALDAV, "time-range")
                .ok_or_else(|| XmlError::Invalid("free-busy-query needs a time-range".into()))?;
            time_range(range).map(Report::FreeBusy)
        }
        (CARDDAV, "addressbook-query") => addressbook_query(&root).map(Report::AddressbookQuery),
        (DAV, "sync-collection") => sync_collection(&root).map(Report::SyncCollection),
        (ns, name) => Err(XmlError::UnsupportedReport(format!("{{{ns}}}{name}"))),
    }
}

fn selection(root: &Element) -> Result<Selection, XmlError> {
    let props = prop_selection(root)?.unwrap_or(PropFind::Props(Vec::new()));
    let prop = root.child(DAV, "prop");
    let calendar_data = prop
        .and_then(|p| p.child(CALDAV, "calendar-data"))
        .map(calendar_data)
        .transpose()?;
    let address_data = prop
        .and_then(|p| p.child(CARDDAV, "address-data"))
        .map(address_data);
    Ok(Selection {
        props,
        calendar_data,
        address_data,
    })
}

fn calendar_query(root: &Element) -> Result<CalendarQuery, XmlError> {
    let filter = root
        .child(CALDAV, "filter")
        .and_then(|f| f.child(CALDAV, "comp-filter"))
        .ok_or_else(|| {
            XmlError::Invalid("calendar-query needs a filter with a comp-filter".into())
        })?;
    let filter = comp_filter(filter)?;
    if filter.name != "VCALENDAR" {
        return Err(XmlError::Invalid(
            "the outer comp-filter must name VCALENDAR".into(),
        ));
    }
    Ok(CalendarQuery {
        selection: selection(root)?,
        filter,
        timezone: root.child(CALDAV, "timezone").map(|t| t.text.clone()),
    })
}

fn multiget(root: &Element) -> Result<Multiget, XmlError> {
    let hrefs: Vec<String> = root
        .children_named(DAV, "href")
        .map(|h| h.trimmed().to_owned())
        .collect();
    if hrefs.len() > MAX_HREFS {
        return Err(XmlError::TooLarge(format!("more than {MAX_HREFS} hrefs")));
    }
    Ok(Multiget {
        selection: selection(root)?,
        hrefs,
    })
}

fn addressbook_query(root: &Element) -> Result<AddressbookQuery, XmlError> {
    let filter = match root.child(CARDDAV, "filter") {
        Some(f) => vcard::AddressFilter {
            test: filter_test(f)?,
            props: f
                .children_named(CARDDAV, "prop-filter")
                .map(card_prop_filter)
                .collect::<Result<_, _>>()?,
        },
        None => vcard::AddressFilter::any_of(Vec::new()),
    };
    Ok(AddressbookQuery {
        selection: selection(root)?,
        filter,
        limit: root
            .child(CARDDAV, "limit")
            .map(|l| nresults(l, CARDDAV))
            .transpose()?,
    })
}

fn sync_collection(root: &Element) -> Result<SyncCollection, XmlError> {
    let level = match root.child(DAV, "sync-level").map(Element::trimmed) {
        None | Some("1") => SyncLevel::One,
        Some("infinite" | "infinity") => SyncLevel::Infinite,
        Some(other) => {
            return Err(XmlError::Invalid(format!(
                "sync-level {other:?} is neither 1 nor infinite"
            )));
        }
    };
    Ok(SyncCollection {
        token: root
            .child(DAV, "sync-token")
            .map(|t| t.trimmed().to_owned())
            .unwrap_or_default(),
        level,
        limit: root
            .child(DAV, "limit")
            .map(|l| nresults(l, DAV))
            .transpose()?,
        selection: selection(root)?,
    })
}

fn nresults(limit: &Element, ns: &str) -> Result<usize, XmlError> {
    limit
        .child(ns, "nresults")
        .and_then(|n| n.trimmed().parse().ok())
        .ok_or_else(|| XmlError::Invalid("limit needs nresults with a number".into()))
}

fn comp_filter(e: &Element) -> Result<CompFilter, XmlError> {
    let name = required_name(e)?;
    if e.child(CALDAV, "is-not-defined").is_some() {
        return Ok(CompFilter::is_not_defined(name));
    }
    let mut filter = CompFilter::named(name);
    if let Some(range) = e.child(CALDAV, "time-range") {
        filter = filter.with_time_range(time_range(range)?);
    }
    for p in e.children_named(CALDAV, "prop-filter") {
        filter = filter.with_prop(prop_filter(p)?);
    }
    for c in e.children_named(CALDAV, "comp-filter") {
        filter = filter.with_comp(comp_filter(c)?);
    }
    if let CompTest::Matches { .. } = filter.test {
        return Ok(filter);
    }
    Ok(filter)
}

fn prop_filter(e: &Element) -> Result<PropFilter, XmlError> {
    let name = required_name(e)?;
    if e.child(CALDAV, "is-not-defined").is_some() {
        return Ok(PropFilter::is_not_defined(name));
    }
    let value = match (e.child(CALDAV, "time-range"), e.child(CALDAV, "text-match")) {
        (Some(range), _) => Some(ValueTest::TimeRange(time_range(range)?)),
        (None, Some(text)) => Some(ValueTest::Text(text_match(
            text,
            TextMatch::caldav(text.text.clone()),
        )?)),
        (None, None) => None,
    };
    let params = e
        .children_named(CALDAV, "param-filter")
        .map(|p| param_filter(p, CALDAV))
        .collect::<Result<_, _>>()?;
    Ok(PropFilter {
        name,
        test: PropTest::Matches { value, params },
    })
}

fn param_filter(e: &Element, ns: &str) -> Result<ParamFilter, XmlError> {
    let name = required_name(e)?;
    let test = if e.child(ns, "is-not-defined").is_some() {
        ParamTest::IsNotDefined
    } else if let Some(text) = e.child(ns, "text-match") {
        let base = if ns == CARDDAV {
            TextMatch::carddav(text.text.clone())
        } else {
            TextMatch::caldav(text.text.clone())
        };
        ParamTest::Text(text_match(text, base)?)
    } else {
        ParamTest::IsDefined
    };
    Ok(ParamFilter { name, test })
}

fn card_prop_filter(e: &Element) -> Result<vcard::PropFilter, XmlError> {
    let name = required_name(e)?;
    let condition = if e.child(CARDDAV, "is-not-defined").is_some() {
        vcard::PropTest::IsNotDefined
    } else {
        vcard::PropTest::Matches {
            texts: e
                .children_named(CARDDAV, "text-match")
                .map(|t| text_match(t, TextMatch::carddav(t.text.clone())))
                .collect::<Result<_, _>>()?,
            params: e
                .children_named(CARDDAV, "param-filter")
                .map(|p| {
                    let p = param_filter(p, CARDDAV)?;
                    Ok(vcard::ParamFilter {
                        name: p.name,
                        test: match p.test {
                            ParamTest::IsDefined => vcard::ParamTest::IsDefined,
                            ParamTest::IsNotDefined => vcard::ParamTest::IsNotDefined,
                            ParamTest::Text(t) => vcard::ParamTest::Text(t),
                        },
                    })
                })
                .collect::<Result<_, XmlError>>()?,
        }
    };
    Ok(vcard::PropFilter {
        name,
        test: filter_test(e)?,
        condition,
    })
}

fn filter_test(e: &Element) -> Result<vcard::FilterTest, XmlError> {
    match e.attr("test") {
        None | Some("anyof") => Ok(vcard::FilterTest::AnyOf),
        Some("allof") => Ok(vcard::FilterTest::AllOf),
        Some(other) => Err(XmlError::Invalid(format!(
            "test={other:?} is neither anyof nor allof"
        ))),
    }
}

fn text_match(e: &Element, mut m: TextMatch) -> Result<TextMatch, XmlError> {
    if let Some(collation) = e.attr("collation") {
        m.collation = ical::Collation::from_name(collation).ok_or_else(|| {
            XmlError::Invalid(format!("the collation {collation:?} is not supported"))
        })?;
    }
    if let Some(kind) = e.attr("match-type") {
        m.match_type = match kind {
            "equals" => ical::MatchType::Equals,
            "contains" => ical::MatchType::Contains,
            "starts-with" => ical::MatchType::StartsWith,
            "ends-with" => ical::MatchType::EndsWith,
            other => {
                return Err(XmlError::Invalid(format!(
                    "match-type {other:?} is not supported"
                )));
            }
        };
    }
    m.negate = e.attr("negate-condition") == Some("yes");
    Ok(m)
}

fn time_range(e: &Element) -> Result<TimeRange, XmlError> {
    TimeRange::parse(e.attr("start"), e.attr("end"))
        .map_err(|err| XmlError::Invalid(format!("bad time-range: {err}")))
}

fn required_name(e: &Element) -> Result<String, XmlError> {
    e.attr("name")
        .filter(|n| !n.is_empty())
        .map(str::to_ascii_uppercase)
        .ok_or_else(|| XmlError::Invalid(format!("{} needs a name attribute", e.name)))
}

fn calendar_data(e: &Element) -> Result<CalendarDataRequest, XmlError> {
    let recurrence = if let Some(x) = e.child(CALDAV, "expand") {
        Some(RecurrenceRequest::Expand(time_range(x)?))
    } else if let Some(x) = e.child(CALDAV, "limit-recurrence-set") {
        Some(RecurrenceRequest::LimitRecurrenceSet(time_range(x)?))
    } else {
        None
    };
    Ok(CalendarDataRequest {
        comp: e.child(CALDAV, "comp").map(comp_request).transpose()?,
        recurrence,
    })
}

fn comp_request(e: &Element) -> Result<CompRequest, XmlError> {
    let props = if e.child(CALDAV, "allprop").is_some() {
        PropsRequest::All
    } else {
        PropsRequest::Only(
            e.children_named(CALDAV, "prop")
                .map(prop_request)
                .collect::<Result<_, _>>()?,
        )
    };
    let comps = if e.child(CALDAV, "allcomp").is_some() {
        CompsRequest::All
    } else {
        CompsRequest::Only(
            e.children_named(CALDAV, "comp")
                .map(comp_request)
                .collect::<Result<_, _>>()?,
        )
    };
    Ok(CompRequest {
        name: required_name(e)?,
        props,
        comps,
    })
}

fn prop_request(e: &Element) -> Result<PropRequest, XmlError> {
    Ok(PropRequest {
        name: required_name(e)?,
        value: if e.attr("novalue") == Some("yes") {
            ValueMode::Omit
        } else {
            ValueMode::Full
        },
    })
}

fn address_data(e: &Element) -> vcard::AddressDataRequest {
    if e.child(CARDDAV, "allprop").is_some() {
        return vcard::AddressDataRequest::All;
    }
    let props: Vec<PropRequest> = e
        .children_named(CARDDAV, "prop")
        .filter_map(|p| prop_request(p).ok())
        .collect();
    if props.is_empty() {
        vcard::AddressDataRequest::All
    } else {
        vcard::AddressDataRequest::Props(props)
    }
}
