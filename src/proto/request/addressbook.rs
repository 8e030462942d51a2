//! CardDAV REPORT bodies (RFC 6352 §8.6, §10.3–§10.5): addressbook-query with its
//! anyof/allof filter and limit, and the address-data selection inside `D:prop`.

use super::super::error::{Family, XmlError};
use super::super::names::Namespace;
use super::super::reader::Element;
use super::filter::{ParamFilter, TextMatch, filter_name, invalid_filter, unsupported};
use super::propfind::{ReportProps, parse_nresults, parse_report_props};

const FAMILY: Family = Family::CardDav;

/// An addressbook-query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressbookQuery {
    /// What to return for each match.
    pub props: ReportProps,
    /// The filter; no prop-filters means every card. Nextcloud's Contacts app and
    /// others omit the filter altogether, which we read the same way.
    pub filter: CardFilter,
    /// `CR:limit/CR:nresults`: return at most this many.
    pub limit: Option<u32>,
}

/// How several tests combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterTest {
    /// Any one must pass (the default).
    AnyOf,
    /// All must pass.
    AllOf,
}

impl FilterTest {
    fn parse(element: &Element) -> Result<Self, XmlError> {
        match element.attribute("test").map(str::trim) {
            None | Some("anyof") => Ok(Self::AnyOf),
            Some("allof") => Ok(Self::AllOf),
            Some(other) => Err(invalid_filter(
                FAMILY,
                format!("test={other:?} is neither anyof nor allof"),
            )),
        }
    }
}

/// The `CR:filter` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardFilter {
    /// How the prop-filters combine.
    pub test: FilterTest,
    /// The prop-filters; empty matches every card.
    pub props: Vec<CardPropFilter>,
}

/// A CardDAV prop-filter (RFC 6352 §10.5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardPropFilter {
    /// vCard property name, upper-cased (a group prefix such as `ITEM1.` is kept).
    pub name: String,
    /// How its text-matches and param-filters combine.
    pub test: FilterTest,
    /// What must hold.
    pub condition: CardPropTest,
}

/// The test of a CardDAV prop-filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardPropTest {
    /// `is-not-defined`: no such property.
    IsNotDefined,
    /// The property exists and its tests pass (combined by the prop-filter's `test`);
    /// with no tests, existence alone passes.
    Matches {
        /// Conditions on its value.
        text_matches: Vec<TextMatch>,
        /// Conditions on its parameters.
        params: Vec<ParamFilter>,
    },
}

pub(crate) fn parse_query(root: &Element) -> Result<AddressbookQuery, XmlError> {
    const CLARK: &str = "{urn:ietf:params:xml:ns:carddav}limit";
    let mut query = AddressbookQuery {
        props: parse_report_props(root)?,
        filter: CardFilter {
            test: FilterTest::AnyOf,
            props: Vec::new(),
        },
        limit: None,
    };
    for child in root.elements() {
        match (&child.namespace, child.name.as_str()) {
            (Namespace::CardDav, "filter") => query.filter = parse_filter(child)?,
            (Namespace::CardDav, "limit") => {
                query.limit = parse_nresults(child, &Namespace::CardDav, CLARK)?;
            }
            _ => {}
        }
    }
    Ok(query)
}

fn parse_filter(element: &Element) -> Result<CardFilter, XmlError> {
    let test = FilterTest::parse(element)?;
    let mut props = Vec::new();
    for child in element.elements() {
        if !child.is(&Namespace::CardDav, "prop-filter") {
            return Err(unsupported(FAMILY, child));
        }
        props.push(parse_prop_filter(child)?);
    }
    Ok(CardFilter { test, props })
}

fn parse_prop_filter(element: &Element) -> Result<CardPropFilter, XmlError> {
    let name = filter_name(element, FAMILY)?;
    let test = FilterTest::parse(element)?;
    let mut not_defined = false;
    let mut text_matches = Vec::new();
    let mut params = Vec::new();
    for child in element.elements() {
        match (&child.namespace, child.name.as_str()) {
            (Namespace::CardDav, "is-not-defined") => not_defined = true,
            (Namespace::CardDav, "text-match") => {
                text_matches.push(TextMatch::parse(child, FAMILY)?)
            }
            (Namespace::CardDav, "param-filter") => params.push(ParamFilter::parse(child, FAMILY)?),
            _ => return Err(unsupported(FAMILY, child)),
        }
    }
    let condition = if not_defined {
        if !text_matches.is_empty() || !params.is_empty() {
            return Err(invalid_filter(
                FAMILY,
                "is-not-defined stands alone in a prop-filter",
            ));
        }
        CardPropTest::IsNotDefined
    } else {
        CardPropTest::Matches {
            text_matches,
            params,
        }
    };
    Ok(CardPropFilter {
        name,
        test,
        condition,
    })
}
