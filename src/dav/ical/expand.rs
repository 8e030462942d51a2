//! `CALDAV:calendar-data` in REPORT responses (RFC 4791 §9.6): expansion
//! into instances, limit-recurrence-set, and component/property
//! selection. Without any of these the stored text is returned untouched.

use std::borrow::Cow;

use super::IcalError;
use super::component::Range;
use super::object::CalendarObject;
use super::output::{CompRequest, Node, Piece, line};
use super::raw::Item;
use super::recur::{self, Occurrence, Options};
use super::time::{Basis, Clock, Moment, TimeRange, format_date, format_utc};
use super::timerange::Shape;

/// What a calendar-data element in a REPORT asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CalendarDataRequest {
    /// `CALDAV:comp` selection; `None` returns every component and property.
    pub comp: Option<CompRequest>,
    pub recurrence: Option<RecurrenceRequest>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecurrenceRequest {
    /// `CALDAV:expand` (§9.6.5).
    Expand(TimeRange),
    /// `CALDAV:limit-recurrence-set` (§9.6.6).
    LimitRecurrenceSet(TimeRange),
}

/// How a parsed `C:calendar-data` element is read: `expand` wins over
/// `limit-recurrence-set` when a client sends both (RFC 4791 §9.6 allows one), and
/// the media type, version and `limit-freebusy-set` do not shape the text.
impl From<&crate::proto::request::CalendarDataRequest> for CalendarDataRequest {
    fn from(request: &crate::proto::request::CalendarDataRequest) -> Self {
        let recurrence = match (&request.expand, &request.limit_recurrence_set) {
            (Some(range), _) => Some(RecurrenceRequest::Expand(range.into())),
            (None, Some(range)) => Some(RecurrenceRequest::LimitRecurrenceSet(range.into())),
            (None, None) => None,
        };
        CalendarDataRequest {
            comp: request.comp.as_ref().map(CompRequest::from),
            recurrence,
        }
    }
}

impl CalendarObject {
    /// The calendar data to put in a REPORT response. Borrows the stored
    /// text, byte for byte, when nothing is to be transformed.
    pub fn calendar_data(
        &self,
        request: &CalendarDataRequest,
        options: &Options,
    ) -> Result<Cow<'_, str>, IcalError> {
        let node = match request.recurrence {
            None if request.comp.is_none() => return Ok(Cow::Borrowed(self.raw())),
            None => Node::copy(&self.doc, self.raw(), 0),
            Some(RecurrenceRequest::Expand(range)) => self.expanded(&range, options)?,
            Some(RecurrenceRequest::LimitRecurrenceSet(range)) => self.limited(&range, options)?,
        };
        let node = match &request.comp {
            Some(comp) if comp.name.eq_ignore_ascii_case(&node.name) => {
                node.select(comp, self.doc.newline)
            }
            Some(_) => Node {
                items: Vec::new(),
                ..node
            },
            None => node,
        };
        let mut out = String::with_capacity(self.raw().len());
        node.write(&mut out);
        Ok(Cow::Owned(out))
    }

    /// Convenience for `calendar_data` with only `CALDAV:expand`.
    pub fn expand(&self, range: &TimeRange, options: &Options) -> Result<String, IcalError> {
        let request = CalendarDataRequest {
            comp: None,
            recurrence: Some(RecurrenceRequest::Expand(*range)),
        };
        self.calendar_data(&request, options).map(Cow::into_owned)
    }

    /// Convenience for `calendar_data` with only
    /// `CALDAV:limit-recurrence-set`.
    pub fn limit_recurrence_set(
        &self,
        range: &TimeRange,
        options: &Options,
    ) -> Result<String, IcalError> {
        let request = CalendarDataRequest {
            comp: None,
            recurrence: Some(RecurrenceRequest::LimitRecurrenceSet(*range)),
        };
        self.calendar_data(&request, options).map(Cow::into_owned)
    }

    /// One component per instance overlapping `range`, dates in UTC, no
    /// recurrence properties, no VTIMEZONE (§9.6.5).
    fn expanded(&self, range: &TimeRange, options: &Options) -> Result<Node<'_>, IcalError> {
        let window = self.window(range, options);
        let mut occurrences: Vec<Occurrence> = self
            .occurrences(range, options)?
            .into_iter()
            .filter(|occ| occ.shape.overlaps(&window))
            .collect();
        occurrences.sort_by_key(|occ| occ.start.map(|start| start.utc));

        // Calendar components are replaced by their instances; VTIMEZONE
        // goes; other children (X- components) stay.
        let members: Vec<usize> = self.comps.iter().map(|timing| timing.index).collect();
        let mut root = self.root_keeping(|child| {
            !members.contains(&child) && self.doc.comps[child].name != "VTIMEZONE"
        });
        for occ in &occurrences {
            root.items.push(Piece::Node(self.instance_node(occ)));
        }
        Ok(root)
    }

    /// The defining component of `occ`, with DTSTART, DTEND/DUE and
    /// RECURRENCE-ID set to the instance's values.
    fn instance_node(&self, occ: &Occurrence) -> Node<'_> {
        let newline = self.doc.newline;
        let index = self.comps[occ.comp].index;
        let source = &self.doc.comps[index];
        let has_rid = source.items.iter().any(
            |item| matches!(item, Item::Prop(l) if self.doc.lines[*l].name == "RECURRENCE-ID"),
        );
        let mut node = Node::copy(&self.doc, self.raw(), index);
        let mut items = Vec::with_capacity(node.items.len() + 1);
        for piece in node.items {
            let Piece::Line { name, text } = piece else {
                items.push(piece);
                continue;
            };
            match name.as_str() {
                "DTSTART" => items.extend(occ.start.map(|at| dated("DTSTART", at, newline))),
                "DTEND" | "DUE" => items.extend(occ.end.map(|at| dated(&name, at, newline))),
                "RECURRENCE-ID" => {
                    items.extend(occ.recurrence_id.map(|at| dated(&name, at, newline)))
                }
                "RRULE" | "RDATE" | "EXDATE" | "EXRULE" => {}
                _ => items.push(Piece::Line { name, text }),
            }
        }
        if !has_rid && let Some(rid) = occ.recurrence_id {
            // After the properties, before any VALARM.
            let at = items
                .iter()
                .position(|piece| matches!(piece, Piece::Node(_)))
                .unwrap_or(items.len());
            items.insert(at, dated("RECURRENCE-ID", rid, newline));
        }
        node.items = items;
        node
    }

    /// The stored object minus overrides that do not touch `range`
    /// (§9.6.6).
    fn limited(&self, range: &TimeRange, options: &Options) -> Result<Node<'_>, IcalError> {
        let clock = self.clock(&options.floating);
        let occurrences = self.occurrences(range, options)?;
        let range = &self.window(range, options);
        let master = self.comps.iter().position(|timing| !timing.is_override());
        let mut dropped = Vec::new();
        for (position, timing) in self.comps.iter().enumerate() {
            let Some(rid) = timing.recurrence_id else {
                continue;
            };
            let original = clock.moment(rid.time);
            let now_in_range = occurrences
                .iter()
                .any(|occ| occ.comp == position && occ.shape.overlaps(range));
            let was_in_range =
                master.is_some_and(|master| self.originally_in(master, original, range, &clock));
            let rules_later =
                rid.range == Range::ThisAndFuture && range.end.is_none_or(|end| original.utc < end);
            if !(now_in_range || was_in_range || rules_later) {
                dropped.push(timing.index);
            }
        }
        let root = self.root_keeping(|child| !dropped.contains(&child));
        Ok(root)
    }

    /// The VCALENDAR with all its properties and the children `keep`
    /// accepts (by component index).
    fn root_keeping(&self, keep: impl Fn(usize) -> bool) -> Node<'_> {
        let mut root = Node::copy(&self.doc, self.raw(), 0);
        let mut children = self.doc.children(0);
        root.items.retain(|piece| match piece {
            Piece::Line { .. } => true,
            Piece::Node(_) => children.next().is_some_and(&keep),
        });
        root
    }

    /// Whether the instance the master would have had at `original`
    /// overlaps `range`.
    fn originally_in(
        &self,
        master: usize,
        original: Moment,
        range: &TimeRange,
        clock: &Clock<'_>,
    ) -> bool {
        let timing = &self.comps[master];
        let start = clock.at_utc(
            original.utc,
            timing.dtstart.map_or(original.basis, |d| d.basis),
        );
        let end = recur::effective_end(timing, start, clock);
        Shape::of(timing, Some(start), end, clock).overlaps(range)
    }
}

/// A date property in expanded output: DATE stays DATE, everything else
/// becomes UTC.
fn dated(name: &str, at: Moment, newline: &str) -> Piece<'static> {
    match at.basis {
        Basis::Date => line(name, ";VALUE=DATE", &format_date(at.local), newline),
        _ => line(name, "", &format_utc(at.utc), newline),
    }
}
