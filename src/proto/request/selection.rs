//! The data selections that ride inside a REPORT's `D:prop`: `C:calendar-data`
//! (RFC 4791 §9.6) and `CR:address-data` (RFC 6352 §10.4), which say which parts of
//! each object to return.

use super::super::error::XmlError;
use super::super::names::{ComponentType, Namespace};
use super::super::reader::Element;
use super::filter::{PropSelector, Selection, TimeRange};

/// The `C:calendar-data` element of a REPORT's `D:prop` (RFC 4791 §9.6).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CalendarDataRequest {
    /// `content-type` as sent (default text/calendar).
    pub content_type: Option<String>,
    /// `version` as sent (default 2.0).
    pub version: Option<String>,
    /// Which components and properties to return; `None` for the whole object.
    pub comp: Option<CompSelection>,
    /// Expand recurrences within this interval into instances.
    pub expand: Option<TimeRange>,
    /// Return only overridden instances within this interval.
    pub limit_recurrence_set: Option<TimeRange>,
    /// Return only FREEBUSY periods within this interval.
    pub limit_freebusy_set: Option<TimeRange>,
}

/// A `C:comp` selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompSelection {
    /// The component.
    pub name: ComponentType,
    /// Its properties to return.
    pub props: Selection<PropSelector>,
    /// Its sub-components to return.
    pub comps: Selection<CompSelection>,
}

/// The `CR:address-data` element of a REPORT's `D:prop` (RFC 6352 §10.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressDataRequest {
    /// `content-type` as sent (default text/vcard).
    pub content_type: Option<String>,
    /// `version` as sent (default 3.0).
    pub version: Option<String>,
    /// Which vCard properties to return; `All` when none are named.
    pub props: Selection<PropSelector>,
}

pub(crate) fn parse_calendar_data(element: &Element) -> Result<CalendarDataRequest, XmlError> {
    const CLARK: &str = "{urn:ietf:params:xml:ns:caldav}calendar-data";
    let closed = |e: &Element| TimeRange::parse_closed(e).map_err(|r| XmlError::invalid(CLARK, r));
    let mut request = CalendarDataRequest {
        content_type: element.attribute("content-type").map(str::to_owned),
        version: element.attribute("version").map(str::to_owned),
        ..CalendarDataRequest::default()
    };
    for child in element.elements() {
        match (&child.namespace, child.name.as_str()) {
            (Namespace::CalDav, "comp") => request.comp = Some(parse_comp_selection(child)?),
            (Namespace::CalDav, "expand") => request.expand = Some(closed(child)?),
            (Namespace::CalDav, "limit-recurrence-set") => {
                request.limit_recurrence_set = Some(closed(child)?);
            }
            (Namespace::CalDav, "limit-freebusy-set") => {
                request.limit_freebusy_set = Some(closed(child)?);
            }
            _ => {}
        }
    }
    Ok(request)
}

fn parse_comp_selection(element: &Element) -> Result<CompSelection, XmlError> {
    const CLARK: &str = "{urn:ietf:params:xml:ns:caldav}comp";
    let name = element
        .attribute("name")
        .filter(|n| !n.trim().is_empty())
        .map(ComponentType::from_name)
        .ok_or_else(|| XmlError::invalid(CLARK, "comp needs a name attribute"))?;
    let mut props = Selection::Only(Vec::new());
    let mut comps = Selection::Only(Vec::new());
    for child in element.elements() {
        match (&child.namespace, child.name.as_str()) {
            (Namespace::CalDav, "allprop") => props = Selection::All,
            (Namespace::CalDav, "allcomp") => comps = Selection::All,
            (Namespace::CalDav, "prop") => {
                if let Selection::Only(list) = &mut props {
                    list.push(PropSelector::parse(child, CLARK)?);
                }
            }
            (Namespace::CalDav, "comp") => {
                if let Selection::Only(list) = &mut comps {
                    list.push(parse_comp_selection(child)?);
                }
            }
            _ => {}
        }
    }
    Ok(CompSelection { name, props, comps })
}

pub(crate) fn parse_address_data(element: &Element) -> Result<AddressDataRequest, XmlError> {
    const CLARK: &str = "{urn:ietf:params:xml:ns:carddav}address-data";
    let mut all = false;
    let mut listed = Vec::new();
    for child in element.elements() {
        match (&child.namespace, child.name.as_str()) {
            (Namespace::CardDav, "allprop") => all = true,
            (Namespace::CardDav, "prop") => listed.push(PropSelector::parse(child, CLARK)?),
            _ => {}
        }
    }
    // RFC 6352 §10.4: no prop elements means the whole vCard.
    let props = if all || listed.is_empty() {
        Selection::All
    } else {
        Selection::Only(listed)
    };
    Ok(AddressDataRequest {
        content_type: element.attribute("content-type").map(str::to_owned),
        version: element.attribute("version").map(str::to_owned),
        props,
    })
}
