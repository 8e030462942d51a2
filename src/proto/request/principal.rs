//! Principal reports of RFC 3744: principal-property-search (§9.4), with the
//! CalendarServer additions clients send (`test="anyof"`, `match-type`, a result
//! `limit`), and principal-search-property-set (§9.5), whose body is empty.
//!
//! Apple Calendar and Contacts look people up with the first, Thunderbird finds its
//! own principal's scheduling addresses with it.

use super::super::error::XmlError;
use super::super::names::{Namespace, Property};
use super::super::reader::Element;
use super::filter::{MatchType, TextMatch};
use super::propfind::{ReportProps, parse_nresults, parse_report_props, prop_names};

const CLARK: &str = "{DAV:}principal-property-search";

/// How the property-search conditions combine (`test` attribute; RFC 3744 has only
/// `allof`, CalendarServer added `anyof`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchTest {
    /// Every condition holds (the default).
    AllOf,
    /// At least one holds.
    AnyOf,
}

/// One `D:property-search`: the needle is looked for in any of the named properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertySearch {
    /// The properties whose values are searched.
    pub props: Vec<Property>,
    /// What to look for: case-insensitive (RFC 3744 §9.4), a substring unless
    /// `match-type` says otherwise.
    pub needle: TextMatch,
}

/// A principal-property-search REPORT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalPropertySearch {
    /// How the conditions combine.
    pub test: SearchTest,
    /// The conditions, at least one.
    pub searches: Vec<PropertySearch>,
    /// What to return for each principal found.
    pub props: ReportProps,
    /// `D:apply-to-principal-collection-set`: search the principal collections rather
    /// than the request URI (the same accounts here).
    pub apply_to_principal_collection_set: bool,
    /// `D:limit/D:nresults`: the most principals the client wants.
    pub limit: Option<u32>,
}

pub(crate) fn parse_property_search(root: &Element) -> Result<PrincipalPropertySearch, XmlError> {
    let test = match root.attribute("test").map(str::trim) {
        None | Some("allof") => SearchTest::AllOf,
        Some("anyof") => SearchTest::AnyOf,
        Some(other) => {
            return Err(XmlError::invalid(
                CLARK,
                format!("test={other:?}: expected allof or anyof"),
            ));
        }
    };
    let mut searches = Vec::new();
    let mut apply_to_principal_collection_set = false;
    let mut limit = None;
    for child in root.elements() {
        match (&child.namespace, child.name.as_str()) {
            (Namespace::Dav, "property-search") => searches.push(parse_one(child)?),
            (Namespace::Dav, "apply-to-principal-collection-set") => {
                apply_to_principal_collection_set = true;
            }
            (Namespace::Dav, "limit") => limit = parse_nresults(child, &Namespace::Dav, CLARK)?,
            _ => {}
        }
    }
    if searches.is_empty() {
        return Err(XmlError::invalid(
            CLARK,
            "at least one property-search is required",
        ));
    }
    Ok(PrincipalPropertySearch {
        test,
        searches,
        props: parse_report_props(root)?,
        apply_to_principal_collection_set,
        limit,
    })
}

fn parse_one(element: &Element) -> Result<PropertySearch, XmlError> {
    const SEARCH: &str = "{DAV:}property-search";
    let props = element
        .child(&Namespace::Dav, "prop")
        .map(prop_names)
        .unwrap_or_default();
    if props.is_empty() {
        return Err(XmlError::invalid(
            SEARCH,
            "a prop naming what to search is required",
        ));
    }
    let matched = element
        .child(&Namespace::Dav, "match")
        .ok_or_else(|| XmlError::invalid(SEARCH, "a match is required"))?;
    let match_type = match matched.attribute("match-type").map(str::trim) {
        None | Some("contains") => MatchType::Contains,
        Some("starts-with") => MatchType::StartsWith,
        Some("ends-with") => MatchType::EndsWith,
        Some("equals") => MatchType::Equals,
        Some(other) => {
            return Err(XmlError::invalid(
                SEARCH,
                format!(
                    "match-type={other:?}: expected contains, starts-with, ends-with or equals"
                ),
            ));
        }
    };
    // Case-insensitive for any script: CardDAV's default collation.
    let needle = TextMatch::carddav(matched.text().trim()).with_match_type(match_type);
    Ok(PropertySearch { props, needle })
}

#[cfg(test)]
mod tests {
    use super::super::super::reader::{Limits, parse_document};
    use super::*;
    use crate::proto::names::{CalDavProperty, DavProperty};

    fn parse(xml: &str) -> Result<PrincipalPropertySearch, XmlError> {
        parse_property_search(&parse_document(xml.as_bytes(), &Limits::DEFAULT).unwrap())
    }

    #[test]
    fn apple_lookup_parses() {
        let search = parse(
            r#"<x0:principal-property-search xmlns:x0="DAV:" xmlns:x1="urn:ietf:params:xml:ns:caldav" test="anyof">
              <x0:property-search><x0:prop><x0:displayname/></x0:prop><x0:match match-type="starts-with">Ali</x0:match></x0:property-search>
              <x0:property-search><x0:prop><x1:calendar-user-address-set/></x0:prop><x0:match match-type="starts-with">ali</x0:match></x0:property-search>
              <x0:limit><x0:nresults>50</x0:nresults></x0:limit>
              <x0:apply-to-principal-collection-set/>
              <x0:prop><x0:displayname/><x1:calendar-user-address-set/></x0:prop>
            </x0:principal-property-search>"#,
        )
        .unwrap();
        assert_eq!(search.test, SearchTest::AnyOf);
        assert_eq!(search.limit, Some(50));
        assert!(search.apply_to_principal_collection_set);
        assert_eq!(search.searches.len(), 2);
        assert_eq!(
            search.searches[1].props,
            [Property::CalDav(CalDavProperty::CalendarUserAddressSet)]
        );
        assert_eq!(search.searches[0].needle.match_type, MatchType::StartsWith);
        assert_eq!(search.searches[0].needle.value, "Ali");
        assert_eq!(
            search.props.props,
            crate::proto::request::PropFind::Prop(vec![
                Property::Dav(DavProperty::DisplayName),
                Property::CalDav(CalDavProperty::CalendarUserAddressSet),
            ])
        );
    }

    #[test]
    fn defaults_and_refusals() {
        let plain = parse(
            r#"<D:principal-property-search xmlns:D="DAV:"><D:property-search><D:prop><D:displayname/></D:prop>
              <D:match>bob</D:match></D:property-search></D:principal-property-search>"#,
        )
        .unwrap();
        assert_eq!(plain.test, SearchTest::AllOf);
        assert_eq!(plain.searches[0].needle.match_type, MatchType::Contains);
        assert_eq!(plain.limit, None);
        for bad in [
            r#"<D:principal-property-search xmlns:D="DAV:"/>"#,
            r#"<D:principal-property-search xmlns:D="DAV:" test="someof"><D:property-search><D:prop><D:displayname/></D:prop><D:match>x</D:match></D:property-search></D:principal-property-search>"#,
            r#"<D:principal-property-search xmlns:D="DAV:"><D:property-search><D:match>x</D:match></D:property-search></D:principal-property-search>"#,
            r#"<D:principal-property-search xmlns:D="DAV:"><D:property-search><D:prop><D:displayname/></D:prop></D:property-search></D:principal-property-search>"#,
            r#"<D:principal-property-search xmlns:D="DAV:"><D:property-search><D:prop><D:displayname/></D:prop><D:match match-type="regex">x</D:match></D:property-search></D:principal-property-search>"#,
        ] {
            assert!(matches!(parse(bad), Err(XmlError::Invalid { .. })), "{bad}");
        }
    }
}
