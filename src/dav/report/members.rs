//! How every report writes its answer: the members of one collection, each with the
//! properties asked for and its calendar or address data shaped as asked ([`Members`]),
//! plus the helpers the reports share. A leaf below the report dispatcher and the four
//! report files, so none of them imports its parent.

use std::borrow::Cow;

use davgate_storage::{CollectionId, CollectionKind, DavObject, ObjectMeta};
use http::Response;

use crate::dav::access::Opened;
use crate::dav::ctx::Ctx;
use crate::dav::error::DavResult;
use crate::dav::ical;
use crate::dav::props::Resource;
use crate::dav::vcard;
use crate::proto::names::{CalDavProperty, CardDavProperty, Property};
use crate::proto::precondition::Precondition;
use crate::proto::request::{PropFind, ReportProps};
use crate::proto::response::{Multistatus, Response as XmlResponse};
use crate::proto::status::Status;
use crate::response::{Body, multistatus_pieces};

/// The decoded path of a member of the target collection.
pub(super) fn member_path(ctx: &Ctx, name: &str) -> String {
    format!("{}{name}", ctx.target.path())
}

/// The options recurrence is evaluated with: floating times in the collection's zone.
pub(super) fn options(ctx: &Ctx, opened: &Opened, zone: Option<&str>) -> ical::Options {
    let floating = zone
        .or(opened.collection.timezone.as_deref())
        .and_then(|text| ical::Zone::from_vtimezone(text.as_bytes()).ok())
        .unwrap_or_else(ical::Zone::utc);
    ical::Options {
        floating,
        limits: ctx.settings().limits,
    }
}

/// A report's multistatus: members written one way, and a closing 507 for those whose
/// calendar data could not be expanded within the instance caps, so a client learns its
/// answer is not what it asked for instead of silently getting the unexpanded text.
pub(super) struct Members<'c, 'r> {
    ctx: &'c Ctx<'r>,
    opened: &'c Opened,
    props: &'c ReportProps,
    options: ical::Options,
    /// How calendar-data is to be shaped; `None` when as stored.
    calendar_request: Option<ical::CalendarDataRequest>,
    /// Which vCard properties address-data keeps; `None` when the whole card.
    address_request: Option<vcard::AddressDataRequest>,
    ms: Multistatus,
    unshaped: Vec<String>,
}

impl<'c, 'r> Members<'c, 'r> {
    pub(super) fn new(
        ctx: &'c Ctx<'r>,
        opened: &'c Opened,
        props: &'c ReportProps,
        options: ical::Options,
    ) -> Self {
        let (calendar_request, address_request) = match opened.collection.kind {
            CollectionKind::Calendar => (
                props
                    .calendar_data
                    .as_ref()
                    .map(ical::CalendarDataRequest::from)
                    .filter(|r| r.comp.is_some() || r.recurrence.is_some()),
                None,
            ),
            CollectionKind::AddressBook => (
                None,
                props
                    .address_data
                    .as_ref()
                    .map(vcard::AddressDataRequest::from)
                    .filter(|r| matches!(r, vcard::AddressDataRequest::Props(_))),
            ),
        };
        Self {
            ctx,
            opened,
            props,
            options,
            calendar_request,
            address_request,
            ms: Multistatus::new(),
            unshaped: Vec::new(),
        }
    }

    /// The options every member is parsed, filtered and shaped with.
    pub(super) fn options(&self) -> &ical::Options {
        &self.options
    }

    /// One member's response: its properties, with calendar-data or address-data
    /// shaped as the report asked.
    pub(super) fn push(&mut self, object: &DavObject) {
        self.push_parsed(object, None);
    }

    /// [`Self::push`] for a calendar object the report has already parsed (to filter
    /// it), so it is not parsed again to shape its data.
    pub(super) fn push_parsed(
        &mut self,
        object: &DavObject,
        parsed: Option<&ical::CalendarObject>,
    ) {
        let data = match self.shaped_data(object, parsed) {
            Shaped::AsAsked(text) => text,
            Shaped::Unshaped(text) => {
                self.unshaped.push(object.meta.name.clone());
                Cow::Borrowed(text)
            }
        };
        let mut response = XmlResponse::new(&member_path(self.ctx, &object.meta.name));
        Resource::Object(self.opened, &object.meta, Some(&data)).write(
            self.ctx,
            &self.props.props,
            &mut response,
        );
        self.ms.push(response);
    }

    /// One member's response from its listing fields alone, for a report that asks for
    /// no calendar or address data (see [`wants_data`]).
    pub(super) fn push_listed(&mut self, meta: &ObjectMeta) {
        let mut response = XmlResponse::new(&member_path(self.ctx, &meta.name));
        Resource::Object(self.opened, meta, None).write(self.ctx, &self.props.props, &mut response);
        self.ms.push(response);
    }

    /// The object's text as the report wants it: as stored unless a selection, expand
    /// or limit-recurrence-set asks otherwise.
    fn shaped_data<'o>(
        &self,
        object: &'o DavObject,
        parsed: Option<&ical::CalendarObject>,
    ) -> Shaped<'o> {
        match self.opened.collection.kind {
            CollectionKind::Calendar => {
                let Some(request) = &self.calendar_request else {
                    return Shaped::AsAsked(Cow::Borrowed(&object.data));
                };
                let shaped = match parsed {
                    Some(parsed) => parsed.calendar_data(request, &self.options),
                    None => ical::parse_stored(object.data.as_bytes()).and_then(|parsed| {
                        parsed
                            .calendar_data(request, &self.options)
                            .map(|c| std::borrow::Cow::Owned(c.into_owned()))
                    }),
                };
                match shaped {
                    Ok(text) => Shaped::AsAsked(Cow::Owned(text.into_owned())),
                    Err(e) => {
                        tracing::debug!(object = %object.meta.name, error = %e, "returning calendar data unshaped");
                        Shaped::Unshaped(&object.data)
                    }
                }
            }
            CollectionKind::AddressBook => {
                let Some(request) = &self.address_request else {
                    return Shaped::AsAsked(Cow::Borrowed(&object.data));
                };
                Shaped::AsAsked(match vcard::validate(object.data.as_bytes()) {
                    Ok(card) => Cow::Owned(card.address_data(request).into_owned()),
                    Err(_) => Cow::Borrowed(&object.data),
                })
            }
        }
    }

    pub(super) fn push_status(&mut self, path: &str, status: Status) {
        self.ms.push_status(path, status);
    }

    /// 507 on the request URI: the answer stops short of everything that matched.
    pub(super) fn push_truncated(&mut self, what_to_do: &str) {
        self.ms.push_status_with(
            &self.ctx.target.path(),
            Status::INSUFFICIENT_STORAGE,
            Some(&Precondition::NumberOfMatchesWithinLimits),
            Some(what_to_do),
        );
    }

    pub(super) fn finish(mut self, sync_token: Option<&str>) -> Response<Body> {
        if !self.unshaped.is_empty() {
            let hint = format!(
                "{} repeat{} more than {} times in the requested range and {} returned unexpanded: ask for a shorter range",
                self.unshaped.join(", "),
                if self.unshaped.len() == 1 { "s" } else { "" },
                self.options.limits.max_instances,
                if self.unshaped.len() == 1 {
                    "is"
                } else {
                    "are"
                },
            );
            self.push_truncated(&hint);
        }
        multistatus_pieces(self.ms.into_pieces(sync_token))
    }
}

/// Calendar or address data for a report, borrowed from the stored text when it is
/// returned as stored.
enum Shaped<'o> {
    /// As the request's selection, expand or limit-recurrence-set asked.
    AsAsked(Cow<'o, str>),
    /// As stored, because shaping needed more recurrence instances than the caps allow.
    Unshaped(&'o str),
}

/// Whether a report returns the members' text (calendar-data or address-data); when it
/// does not, the text is not read at all.
pub(super) fn wants_data(props: &ReportProps) -> bool {
    if props.calendar_data.is_some() || props.address_data.is_some() {
        return true;
    }
    match &props.props {
        PropFind::Prop(list) => list.iter().any(|p| {
            matches!(
                p,
                Property::CalDav(CalDavProperty::CalendarData)
                    | Property::CardDav(CardDavProperty::AddressData)
            )
        }),
        PropFind::AllProp { .. } | PropFind::PropName => true,
    }
}

/// The member called `name` in `sorted`, a store answer sorted by name: a search, not a
/// scan, so answering for every member of a large collection stays linear.
pub(super) fn by_name<'a, T>(
    sorted: &'a [T],
    name: &str,
    key: impl Fn(&T) -> &str,
) -> Option<&'a T> {
    sorted
        .binary_search_by(|item| key(item).cmp(name))
        .ok()
        .map(|i| &sorted[i])
}

/// Members of a collection by name, as the store returns them.
pub(super) async fn named(
    ctx: &Ctx<'_>,
    collection: CollectionId,
    names: &[String],
) -> DavResult<Vec<DavObject>> {
    Ok(ctx.store().objects_named(collection, names).await?)
}
