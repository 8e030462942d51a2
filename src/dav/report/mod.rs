//! REPORT: calendar-query and addressbook-query ([`query`]), the multigets
//! ([`multiget`]), free-busy-query ([`freebusy`]) and sync-collection ([`sync`]).
//! Every report answers for members of one collection, through one way of writing a
//! member ([`Members`]).

mod freebusy;
mod multiget;
mod query;
mod sync;

use davgate_storage::{CollectionId, CollectionKind, DavObject};
use http::Response;

use super::Ctx;
use super::access::Opened;
use super::error::{DavError, DavResult};
use super::ical;
use super::propfind::multistatus;
use super::props::Resource;
use super::target::Target;
use super::vcard;
use crate::proto::Limits;
use crate::proto::precondition::Precondition;
use crate::proto::request::{Report, ReportProps, parse_report};
use crate::proto::response::{Multistatus, Response as XmlResponse};
use crate::proto::status::Status;
use crate::response::Body;

pub use sync::sync_token;

/// Answers a REPORT.
pub async fn report(ctx: &Ctx<'_>, body: &[u8]) -> DavResult<Response<Body>> {
    let report = parse_report(body, &Limits::DEFAULT)?;
    let Target::Collection(kind, _, cref) = &ctx.target else {
        return Err(unsupported(
            "REPORTs are answered by calendars and address books",
        ));
    };
    let opened = ctx.open(*kind, cref).await?;
    match (report, kind) {
        (Report::CalendarQuery(q), CollectionKind::Calendar) => {
            query::calendar(ctx, &opened, &q).await
        }
        (Report::AddressbookQuery(q), CollectionKind::AddressBook) => {
            query::addressbook(ctx, &opened, &q).await
        }
        (Report::CalendarMultiget(m), CollectionKind::Calendar)
        | (Report::AddressbookMultiget(m), CollectionKind::AddressBook) => {
            multiget::multiget(ctx, &opened, &m).await
        }
        (Report::FreeBusyQuery(f), CollectionKind::Calendar) => {
            freebusy::freebusy(ctx, &opened, &f).await
        }
        (Report::SyncCollection(s), _) => sync::sync(ctx, &opened, &s).await,
        _ => Err(unsupported(
            "this REPORT does not apply to this kind of collection: see its supported-report-set",
        )),
    }
}

fn unsupported(hint: &str) -> DavError {
    DavError::condition(Precondition::SupportedReport, hint)
}

/// The decoded path of a member of the target collection.
fn member_path(ctx: &Ctx, name: &str) -> String {
    format!("{}{name}", ctx.target.path())
}

/// The options recurrence is evaluated with: floating times in the collection's zone.
fn options(ctx: &Ctx, opened: &Opened, zone: Option<&str>) -> ical::Options {
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
struct Members<'c, 'r> {
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
    fn new(
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
    fn options(&self) -> &ical::Options {
        &self.options
    }

    /// One member's response: its properties, with calendar-data or address-data
    /// shaped as the report asked.
    fn push(&mut self, object: &DavObject) {
        self.push_parsed(object, None);
    }

    /// [`Self::push`] for a calendar object the report has already parsed (to filter
    /// it), so it is not parsed again to shape its data.
    fn push_parsed(&mut self, object: &DavObject, parsed: Option<&ical::CalendarObject>) {
        let data = match self.shaped_data(object, parsed) {
            Shaped::AsAsked(text) => text,
            Shaped::Unshaped(text) => {
                self.unshaped.push(object.meta.name.clone());
                text
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

    /// The object's text as the report wants it: as stored unless a selection, expand
    /// or limit-recurrence-set asks otherwise.
    fn shaped_data(&self, object: &DavObject, parsed: Option<&ical::CalendarObject>) -> Shaped {
        match self.opened.collection.kind {
            CollectionKind::Calendar => {
                let Some(request) = &self.calendar_request else {
                    return Shaped::AsAsked(object.data.clone());
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
                    Ok(text) => Shaped::AsAsked(text.into_owned()),
                    Err(e) => {
                        tracing::debug!(object = %object.meta.name, error = %e, "returning calendar data unshaped");
                        Shaped::Unshaped(object.data.clone())
                    }
                }
            }
            CollectionKind::AddressBook => {
                let Some(request) = &self.address_request else {
                    return Shaped::AsAsked(object.data.clone());
                };
                Shaped::AsAsked(match vcard::validate(object.data.as_bytes()) {
                    Ok(card) => card.address_data(request).into_owned(),
                    Err(_) => object.data.clone(),
                })
            }
        }
    }

    fn push_status(&mut self, path: &str, status: Status) {
        self.ms.push_status(path, status);
    }

    /// 507 on the request URI: the answer stops short of everything that matched.
    fn push_truncated(&mut self, what_to_do: &str) {
        self.ms.push_status_with(
            &self.ctx.target.path(),
            Status::INSUFFICIENT_STORAGE,
            Some(&Precondition::NumberOfMatchesWithinLimits),
            Some(what_to_do),
        );
    }

    fn finish(mut self, sync_token: Option<&str>) -> Response<Body> {
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
        multistatus(self.ms.finish(sync_token))
    }
}

/// Calendar or address data for a report.
enum Shaped {
    /// As the request's selection, expand or limit-recurrence-set asked.
    AsAsked(String),
    /// As stored, because shaping needed more recurrence instances than the caps allow.
    Unshaped(String),
}

/// Members of a collection by name, as the store returns them.
async fn named(
    ctx: &Ctx<'_>,
    collection: CollectionId,
    names: &[String],
) -> DavResult<Vec<DavObject>> {
    Ok(ctx.store().objects_named(collection, names).await?)
}
