//! Pieces CalDAV and CardDAV filters and data selections share: time ranges,
//! text-match with its collations, param-filter, and prop selectors.

use super::super::error::{Family, XmlError};
use super::super::names::Namespace;
use super::super::reader::Element;
use super::super::value::IcalUtc;

/// A UTC interval; at least one bound is present, and start < end when both are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive start.
    pub start: Option<IcalUtc>,
    /// Exclusive end.
    pub end: Option<IcalUtc>,
}

impl TimeRange {
    /// Parses `start`/`end` attributes (RFC 4791 §9.9).
    pub(crate) fn parse(element: &Element) -> Result<Self, String> {
        let bound = |name: &str| -> Result<Option<IcalUtc>, String> {
            element
                .attribute(name)
                .map(|text| IcalUtc::parse(text).map_err(|e| format!("{name}={text:?}: {e}")))
                .transpose()
        };
        let range = Self {
            start: bound("start")?,
            end: bound("end")?,
        };
        match (range.start, range.end) {
            (None, None) => Err("a time-range needs a start or an end".to_owned()),
            (Some(start), Some(end)) if start >= end => Err(format!(
                "the time-range must end after it starts ({start} to {end})"
            )),
            _ => Ok(range),
        }
    }

    /// Like [`TimeRange::parse`] but both bounds are required (expand,
    /// limit-recurrence-set, limit-freebusy-set).
    pub(crate) fn parse_closed(element: &Element) -> Result<Self, String> {
        let range = Self::parse(element)?;
        if range.start.is_none() || range.end.is_none() {
            return Err(format!("{} needs both start and end", element.name));
        }
        Ok(range)
    }
}

/// A comparison rule for text-match (RFC 4790).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collation {
    /// `i;ascii-casemap`: ASCII letters fold case; CalDAV's default.
    AsciiCasemap,
    /// `i;unicode-casemap` (RFC 5051); CardDAV's default.
    UnicodeCasemap,
    /// `i;octet`: exact bytes.
    Octet,
}

impl Collation {
    /// The collation a request names; `None` means the server must answer with the
    /// `supported-collation` precondition. "default" is not accepted here because its
    /// meaning differs between CalDAV and CardDAV: the parser picks the protocol's.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim() {
            "i;ascii-casemap" => Some(Self::AsciiCasemap),
            "i;unicode-casemap" => Some(Self::UnicodeCasemap),
            "i;octet" => Some(Self::Octet),
            _ => None,
        }
    }

    /// The identifier, as `supported-collation-set` advertises it.
    pub fn name(self) -> &'static str {
        match self {
            Self::AsciiCasemap => "i;ascii-casemap",
            Self::Octet => "i;octet",
            Self::UnicodeCasemap => "i;unicode-casemap",
        }
    }
}

/// Where the needle must sit in the value (RFC 6352 §10.5.4; CalDAV only has
/// `Contains`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchType {
    /// The whole value.
    Equals,
    /// Anywhere (the default).
    Contains,
    /// At the start.
    StartsWith,
    /// At the end.
    EndsWith,
}

impl MatchType {
    fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "equals" => Some(Self::Equals),
            "contains" => Some(Self::Contains),
            "starts-with" => Some(Self::StartsWith),
            "ends-with" => Some(Self::EndsWith),
            _ => None,
        }
    }
}

/// A text comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMatch {
    /// The needle, without surrounding whitespace (pretty-printing clients indent it).
    pub value: String,
    /// How to compare.
    pub collation: Collation,
    /// Where to match.
    pub match_type: MatchType,
    /// `negate-condition="yes"`: the test passes when the text does not match.
    pub negate: bool,
}

impl TextMatch {
    /// A CalDAV text-match with its defaults: substring, `i;ascii-casemap`, not negated.
    pub fn caldav(text: impl Into<String>) -> Self {
        Self {
            value: text.into(),
            collation: Collation::AsciiCasemap,
            match_type: MatchType::Contains,
            negate: false,
        }
    }

    /// A CardDAV text-match with its defaults: substring, `i;unicode-casemap`, not
    /// negated.
    pub fn carddav(text: impl Into<String>) -> Self {
        Self {
            value: text.into(),
            collation: Collation::UnicodeCasemap,
            match_type: MatchType::Contains,
            negate: false,
        }
    }

    /// The same test under another collation.
    pub fn with_collation(mut self, collation: Collation) -> Self {
        self.collation = collation;
        self
    }

    /// The same test anchored differently.
    pub fn with_match_type(mut self, match_type: MatchType) -> Self {
        self.match_type = match_type;
        self
    }

    /// The negated test.
    pub fn negated(mut self) -> Self {
        self.negate = true;
        self
    }

    pub(crate) fn parse(element: &Element, family: Family) -> Result<Self, XmlError> {
        let collation = match element.attribute("collation") {
            None => match family {
                Family::CalDav => Collation::AsciiCasemap,
                Family::CardDav => Collation::UnicodeCasemap,
            },
            Some(text) => {
                Collation::from_name(text).ok_or_else(|| XmlError::UnsupportedCollation {
                    family,
                    collation: text.to_owned(),
                })?
            }
        };
        // RFC 4791 has no match-type; accept it there anyway, since Nextcloud's
        // cdav-library sends it on CalDAV text-match too.
        let match_type = match element.attribute("match-type") {
            None => MatchType::Contains,
            Some(text) => MatchType::parse(text).ok_or_else(|| XmlError::UnsupportedFilter {
                family,
                element: format!("text-match match-type={text:?}"),
            })?,
        };
        let negate = yes_no(element.attribute("negate-condition"))
            .ok_or_else(|| invalid_filter(family, "negate-condition must be yes or no"))?;
        if element.has_elements() {
            return Err(invalid_filter(
                family,
                "text-match holds text, not elements",
            ));
        }
        Ok(Self {
            value: element.text().trim().to_owned(),
            collation,
            match_type,
            negate,
        })
    }
}

/// A param-filter (RFC 4791 §9.7.3, RFC 6352 §10.5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamFilter {
    /// Parameter name, upper-cased.
    pub name: String,
    /// What must hold.
    pub test: ParamTest,
}

/// The test of a param-filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamTest {
    /// An empty param-filter: the parameter exists.
    Defined,
    /// `is-not-defined`: the parameter is absent.
    IsNotDefined,
    /// The parameter exists and its value matches.
    TextMatch(TextMatch),
}

impl ParamFilter {
    pub(crate) fn parse(element: &Element, family: Family) -> Result<Self, XmlError> {
        let ns = family_namespace(family);
        let name = filter_name(element, family)?;
        let mut test = ParamTest::Defined;
        for child in element.elements() {
            let next = if child.is(&ns, "is-not-defined") {
                ParamTest::IsNotDefined
            } else if child.is(&ns, "text-match") {
                ParamTest::TextMatch(TextMatch::parse(child, family)?)
            } else {
                return Err(unsupported(family, child));
            };
            if test != ParamTest::Defined {
                return Err(invalid_filter(
                    family,
                    "a param-filter holds one test at most",
                ));
            }
            test = next;
        }
        Ok(Self { name, test })
    }
}

/// `all` or a list, as in `(allprop | prop*)` and `(allcomp | comp*)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection<T> {
    /// Everything.
    All,
    /// Only these (possibly none).
    Only(Vec<T>),
}

/// A `prop` inside calendar-data's `comp` or inside address-data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropSelector {
    /// Property name, upper-cased.
    pub name: String,
    /// `novalue="yes"`: the property without its value.
    pub novalue: bool,
}

impl PropSelector {
    pub(crate) fn parse(element: &Element, clark: &'static str) -> Result<Self, XmlError> {
        let name = element
            .attribute("name")
            .map(|n| n.trim().to_ascii_uppercase())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| XmlError::invalid(clark, "prop needs a name attribute"))?;
        let novalue = yes_no(element.attribute("novalue"))
            .ok_or_else(|| XmlError::invalid(clark, "novalue must be yes or no"))?;
        Ok(Self { name, novalue })
    }
}

/// `yes`/`no`, absent meaning `no`; `None` for anything else.
pub(crate) fn yes_no(value: Option<&str>) -> Option<bool> {
    match value.map(str::trim) {
        None | Some("no") => Some(false),
        Some("yes") => Some(true),
        Some(_) => None,
    }
}

/// The upper-cased `name` attribute every filter element requires.
pub(crate) fn filter_name(element: &Element, family: Family) -> Result<String, XmlError> {
    element
        .attribute("name")
        .map(|n| n.trim().to_ascii_uppercase())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid_filter(family, format!("{} needs a name attribute", element.name)))
}

pub(crate) fn family_namespace(family: Family) -> Namespace {
    match family {
        Family::CalDav => Namespace::CalDav,
        Family::CardDav => Namespace::CardDav,
    }
}

pub(crate) fn invalid_filter(family: Family, reason: impl Into<String>) -> XmlError {
    XmlError::InvalidFilter {
        family,
        reason: reason.into(),
    }
}

/// An element a filter may not hold, named so the client developer sees which one (a
/// CalDAV prop-filter inside a CardDAV filter is a real cdav-library bug).
pub(crate) fn unsupported(family: Family, element: &Element) -> XmlError {
    XmlError::UnsupportedFilter {
        family,
        element: element.clark(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::reader::{Limits, parse_document};
    use super::*;

    fn element(xml: &str) -> Element {
        parse_document(xml.as_bytes(), &Limits::DEFAULT).unwrap()
    }

    #[test]
    fn time_range_bounds_are_checked() {
        let ok = element(r#"<t start="20240101T000000Z"/>"#);
        assert!(TimeRange::parse(&ok).unwrap().end.is_none());
        assert!(TimeRange::parse_closed(&ok).is_err());
        let backwards = element(r#"<t start="20240102T000000Z" end="20240101T000000Z"/>"#);
        assert!(
            TimeRange::parse(&backwards)
                .unwrap_err()
                .contains("must end after it starts")
        );
        let empty = element("<t/>");
        assert!(TimeRange::parse(&empty).is_err());
        let local = element(r#"<t start="20240101T000000"/>"#);
        assert!(TimeRange::parse(&local).unwrap_err().starts_with("start="));
    }

    #[test]
    fn text_match_defaults_differ_by_family() {
        let e = element("<m> Smith </m>");
        let cal = TextMatch::parse(&e, Family::CalDav).unwrap();
        let card = TextMatch::parse(&e, Family::CardDav).unwrap();
        assert_eq!(cal.collation, Collation::AsciiCasemap);
        assert_eq!(card.collation, Collation::UnicodeCasemap);
        assert_eq!(card.value, "Smith");
        assert_eq!(card.match_type, MatchType::Contains);
        assert!(!card.negate);
    }

    #[test]
    fn text_match_rejects_unknown_collations_and_flags() {
        let e = element(r#"<m collation="i;klingon">x</m>"#);
        assert!(matches!(
            TextMatch::parse(&e, Family::CardDav),
            Err(XmlError::UnsupportedCollation { .. })
        ));
        let e = element(r#"<m negate-condition="maybe">x</m>"#);
        assert!(matches!(
            TextMatch::parse(&e, Family::CalDav),
            Err(XmlError::InvalidFilter { .. })
        ));
        let e = element(r#"<m match-type="regex">x</m>"#);
        assert!(matches!(
            TextMatch::parse(&e, Family::CardDav),
            Err(XmlError::UnsupportedFilter { .. })
        ));
    }
}
