//! CalDAV REPORT bodies (RFC 4791 §7.8–§7.10, §9.5–§9.10): calendar-query with its
//! filter tree and timezone, free-busy-query, and the calendar-data selection that
//! rides inside `D:prop`.

use super::super::error::{Family, XmlError};
use super::super::names::{ComponentType, Namespace};
use super::super::reader::Element;
use super::filter::{ParamFilter, TextMatch, TimeRange, filter_name, invalid_filter, unsupported};
use super::propfind::{ReportProps, parse_report_props};

const FAMILY: Family = Family::CalDav;

/// A calendar-query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarQuery {
    /// What to return for each match.
    pub props: ReportProps,
    /// The top comp-filter, always VCALENDAR (see `parse_filter` for the shapes read
    /// as one). `None` when the body has no filter or an empty one, which
    /// Radicale-era clients send to mean "everything".
    pub filter: Option<CompFilter>,
    /// `C:timezone`: a VCALENDAR with the VTIMEZONE for floating times.
    pub timezone: Option<String>,
    /// `C:timezone-id` (RFC 7809).
    pub timezone_id: Option<String>,
}

/// A comp-filter (RFC 4791 §9.7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompFilter {
    /// The component it tests.
    pub name: ComponentType,
    /// What must hold.
    pub test: CompTest,
}

/// The test of a comp-filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompTest {
    /// `is-not-defined`: no such component.
    IsNotDefined,
    /// The component exists and every listed condition holds.
    Matches {
        /// Overlap with this interval.
        time_range: Option<TimeRange>,
        /// Conditions on its properties.
        props: Vec<PropFilter>,
        /// Conditions on its sub-components.
        comps: Vec<CompFilter>,
    },
}

/// A prop-filter (RFC 4791 §9.7.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropFilter {
    /// Property name, upper-cased.
    pub name: String,
    /// What must hold.
    pub test: PropTest,
}

/// The test of a prop-filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropTest {
    /// `is-not-defined`: no such property.
    IsNotDefined,
    /// The property exists, matches the condition if any, and every param-filter.
    Matches {
        /// A time-range or text-match on the value.
        condition: Option<PropCondition>,
        /// Conditions on its parameters.
        params: Vec<ParamFilter>,
    },
}

/// The value condition of a prop-filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropCondition {
    /// The (date-time) value overlaps this interval.
    TimeRange(TimeRange),
    /// The text value matches.
    TextMatch(TextMatch),
}

/// A free-busy-query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeBusyQuery {
    /// The interval to report on.
    pub time_range: TimeRange,
}

pub(crate) fn parse_query(root: &Element) -> Result<CalendarQuery, XmlError> {
    let props = parse_report_props(root)?;
    let mut query = CalendarQuery {
        props,
        filter: None,
        timezone: None,
        timezone_id: None,
    };
    for child in root.elements() {
        match (&child.namespace, child.name.as_str()) {
            (Namespace::CalDav, "filter") => query.filter = parse_filter(child)?,
            (Namespace::CalDav, "timezone") => query.timezone = Some(child.text()),
            (Namespace::CalDav, "timezone-id") => {
                query.timezone_id = Some(child.text().trim().to_owned());
            }
            _ => {}
        }
    }
    Ok(query)
}

/// Reads `C:filter`. RFC 4791 wants exactly one VCALENDAR comp-filter; clients that
/// search every component type also send prop-filters or a time-range straight in the
/// filter, or a lone VEVENT comp-filter. Those are read as what they mean: conditions
/// on VCALENDAR (which [`crate::dav::ical`] tries on the calendar and each of its
/// components) and a comp-filter inside VCALENDAR.
fn parse_filter(filter: &Element) -> Result<Option<CompFilter>, XmlError> {
    let mut top: Option<CompFilter> = None;
    let mut loose_range = None;
    let mut loose_props = Vec::new();
    for child in filter.elements() {
        match (&child.namespace, child.name.as_str()) {
            (Namespace::CalDav, "comp-filter") => {
                if top.is_some() {
                    return Err(invalid_filter(
                        FAMILY,
                        "a filter holds exactly one comp-filter",
                    ));
                }
                top = Some(parse_comp_filter(child)?);
            }
            (Namespace::CalDav, "prop-filter") => loose_props.push(parse_prop_filter(child)?),
            (Namespace::CalDav, "time-range") => {
                if loose_range.is_some() {
                    return Err(invalid_filter(
                        FAMILY,
                        "a filter holds one time-range at most",
                    ));
                }
                loose_range = Some(TimeRange::parse(child).map_err(|e| invalid_filter(FAMILY, e))?);
            }
            _ => return Err(unsupported(FAMILY, child)),
        }
    }
    let mut top = match top {
        Some(top) if top.name == ComponentType::VCalendar => top,
        // A component named without its VCALENDAR around it.
        Some(inner) => vcalendar(vec![inner]),
        None if loose_range.is_none() && loose_props.is_empty() => return Ok(None),
        None => vcalendar(Vec::new()),
    };
    if loose_range.is_some() || !loose_props.is_empty() {
        let CompTest::Matches {
            time_range, props, ..
        } = &mut top.test
        else {
            return Err(invalid_filter(
                FAMILY,
                "is-not-defined on VCALENDAR stands alone in the filter",
            ));
        };
        if loose_range.is_some() {
            if time_range.is_some() {
                return Err(invalid_filter(
                    FAMILY,
                    "a filter holds one time-range at most",
                ));
            }
            *time_range = loose_range;
        }
        props.extend(loose_props);
    }
    Ok(Some(top))
}

/// A VCALENDAR comp-filter holding `comps`.
fn vcalendar(comps: Vec<CompFilter>) -> CompFilter {
    CompFilter {
        name: ComponentType::VCalendar,
        test: CompTest::Matches {
            time_range: None,
            props: Vec::new(),
            comps,
        },
    }
}

/// Recursion is bounded by the reader's depth limit.
fn parse_comp_filter(element: &Element) -> Result<CompFilter, XmlError> {
    let name = ComponentType::from_name(&filter_name(element, FAMILY)?);
    let mut not_defined = false;
    let mut time_range = None;
    let mut props = Vec::new();
    let mut comps = Vec::new();
    for child in element.elements() {
        match (&child.namespace, child.name.as_str()) {
            (Namespace::CalDav, "is-not-defined") => not_defined = true,
            (Namespace::CalDav, "time-range") => {
                if time_range.is_some() {
                    return Err(invalid_filter(
                        FAMILY,
                        "a comp-filter holds one time-range at most",
                    ));
                }
                let range = TimeRange::parse(child).map_err(|e| invalid_filter(FAMILY, e))?;
                time_range = Some(range);
            }
            (Namespace::CalDav, "prop-filter") => props.push(parse_prop_filter(child)?),
            (Namespace::CalDav, "comp-filter") => comps.push(parse_comp_filter(child)?),
            _ => return Err(unsupported(FAMILY, child)),
        }
    }
    let test = if not_defined {
        if time_range.is_some() || !props.is_empty() || !comps.is_empty() {
            return Err(invalid_filter(
                FAMILY,
                "is-not-defined stands alone in a comp-filter",
            ));
        }
        CompTest::IsNotDefined
    } else {
        CompTest::Matches {
            time_range,
            props,
            comps,
        }
    };
    Ok(CompFilter { name, test })
}

fn parse_prop_filter(element: &Element) -> Result<PropFilter, XmlError> {
    let name = filter_name(element, FAMILY)?;
    let mut not_defined = false;
    let mut condition = None;
    let mut params = Vec::new();
    for child in element.elements() {
        let next = match (&child.namespace, child.name.as_str()) {
            (Namespace::CalDav, "is-not-defined") => {
                not_defined = true;
                continue;
            }
            (Namespace::CalDav, "param-filter") => {
                params.push(ParamFilter::parse(child, FAMILY)?);
                continue;
            }
            (Namespace::CalDav, "time-range") => PropCondition::TimeRange(
                TimeRange::parse(child).map_err(|e| invalid_filter(FAMILY, e))?,
            ),
            (Namespace::CalDav, "text-match") => {
                PropCondition::TextMatch(TextMatch::parse(child, FAMILY)?)
            }
            _ => return Err(unsupported(FAMILY, child)),
        };
        if condition.is_some() {
            return Err(invalid_filter(
                FAMILY,
                "a prop-filter holds one time-range or text-match",
            ));
        }
        condition = Some(next);
    }
    if not_defined {
        if condition.is_some() || !params.is_empty() {
            return Err(invalid_filter(
                FAMILY,
                "is-not-defined stands alone in a prop-filter",
            ));
        }
        return Ok(PropFilter {
            name,
            test: PropTest::IsNotDefined,
        });
    }
    Ok(PropFilter {
        name,
        test: PropTest::Matches { condition, params },
    })
}

pub(crate) fn parse_free_busy(root: &Element) -> Result<FreeBusyQuery, XmlError> {
    const CLARK: &str = "{urn:ietf:params:xml:ns:caldav}free-busy-query";
    let range = root
        .child(&Namespace::CalDav, "time-range")
        .ok_or_else(|| XmlError::invalid(CLARK, "a time-range is required"))?;
    let time_range = TimeRange::parse(range).map_err(|e| XmlError::invalid(CLARK, e))?;
    Ok(FreeBusyQuery { time_range })
}
