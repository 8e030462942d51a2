//! REPORT bodies (RFC 3253 §3.6): which report the root element names, and the
//! multigets (RFC 4791 §7.9, RFC 6352 §8.7) that are only hrefs plus properties.

use super::super::error::XmlError;
use super::super::names::{Namespace, ReportName};
use super::super::reader::{Element, Limits, parse_document};
use super::addressbook::{self, AddressbookQuery};
use super::calendar::{self, CalendarQuery, FreeBusyQuery};
use super::principal::{self, PrincipalPropertySearch};
use super::propfind::{ReportProps, parse_report_props};
use super::sync::{self, SyncCollection};

/// A calendar-multiget or addressbook-multiget (RFC 4791 §7.9, RFC 6352 §8.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multiget {
    /// What to return for each resource.
    pub props: ReportProps,
    /// The hrefs as sent (trimmed); decode with [`super::super::href::decode_href`].
    pub hrefs: Vec<String>,
}

/// A REPORT body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// `C:calendar-query`.
    CalendarQuery(CalendarQuery),
    /// `C:calendar-multiget`.
    CalendarMultiget(Multiget),
    /// `C:free-busy-query`.
    FreeBusyQuery(FreeBusyQuery),
    /// `CR:addressbook-query`.
    AddressbookQuery(AddressbookQuery),
    /// `CR:addressbook-multiget`.
    AddressbookMultiget(Multiget),
    /// `D:sync-collection`.
    SyncCollection(SyncCollection),
    /// `D:principal-property-search`.
    PrincipalPropertySearch(PrincipalPropertySearch),
    /// `D:principal-search-property-set` (its body names nothing more).
    PrincipalSearchPropertySet,
}

impl Report {
    /// Which report this is.
    pub fn name(&self) -> ReportName {
        match self {
            Self::CalendarQuery(_) => ReportName::CalendarQuery,
            Self::CalendarMultiget(_) => ReportName::CalendarMultiget,
            Self::FreeBusyQuery(_) => ReportName::FreeBusyQuery,
            Self::AddressbookQuery(_) => ReportName::AddressbookQuery,
            Self::AddressbookMultiget(_) => ReportName::AddressbookMultiget,
            Self::SyncCollection(_) => ReportName::SyncCollection,
            Self::PrincipalPropertySearch(_) => ReportName::PrincipalPropertySearch,
            Self::PrincipalSearchPropertySet => ReportName::PrincipalSearchPropertySet,
        }
    }
}

/// Parses a REPORT body, dispatching on its root element.
pub fn parse_report(body: &[u8], limits: &Limits) -> Result<Report, XmlError> {
    let root = parse_document(body, limits)?;
    let Some(name) = ReportName::from_qname(&root.namespace, &root.name) else {
        return Err(XmlError::UnsupportedReport {
            namespace: root.namespace.uri().to_owned(),
            name: root.name,
        });
    };
    Ok(match name {
        ReportName::CalendarQuery => Report::CalendarQuery(calendar::parse_query(&root)?),
        ReportName::CalendarMultiget => Report::CalendarMultiget(parse_multiget(&root)?),
        ReportName::FreeBusyQuery => Report::FreeBusyQuery(calendar::parse_free_busy(&root)?),
        ReportName::AddressbookQuery => Report::AddressbookQuery(addressbook::parse_query(&root)?),
        ReportName::AddressbookMultiget => Report::AddressbookMultiget(parse_multiget(&root)?),
        ReportName::SyncCollection => Report::SyncCollection(sync::parse(&root)?),
        ReportName::PrincipalPropertySearch => {
            Report::PrincipalPropertySearch(principal::parse_property_search(&root)?)
        }
        ReportName::PrincipalSearchPropertySet => Report::PrincipalSearchPropertySet,
    })
}

fn parse_multiget(root: &Element) -> Result<Multiget, XmlError> {
    let hrefs = root
        .elements()
        .filter(|e| e.is(&Namespace::Dav, "href"))
        .map(|e| e.text().trim().to_owned())
        .filter(|href| !href.is_empty())
        .collect();
    Ok(Multiget {
        props: parse_report_props(root)?,
        hrefs,
    })
}
