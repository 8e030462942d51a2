//! REPORT: calendar-query and addressbook-query ([`query`]), the multigets
//! ([`multiget`]), free-busy-query ([`freebusy`]) and sync-collection ([`sync`]).
//! Every report answers for members of one collection, through one way of writing a
//! member ([`member`]).

mod freebusy;
mod multiget;
mod query;
mod sync;

use davgate_storage::{CollectionId, CollectionKind, DavObject};
use http::Response;

use super::Ctx;
use super::access::Opened;
use super::convert;
use super::error::{DavError, DavResult};
use super::ical;
use super::props::Resource;
use super::target::Target;
use super::vcard;
use super::xml::Limits;
use super::xml::request::{Report, ReportProps, parse_report};
use super::xml::response::{Precondition, Response as XmlResponse};
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

/// One member's response: its properties, with calendar-data or address-data shaped
/// as the report asked.
fn member(
    ctx: &Ctx,
    opened: &Opened,
    object: &DavObject,
    props: &ReportProps,
    options: &ical::Options,
) -> XmlResponse {
    let data = shaped_data(opened.collection.kind, object, props, options);
    let mut response = XmlResponse::new(&member_path(ctx, &object.meta.name));
    Resource::Object(opened, &object.meta, Some(&data)).write(ctx, &props.props, &mut response);
    response
}

/// The object's text as the report wants it: as stored unless a selection, expand or
/// limit-recurrence-set asks otherwise.
fn shaped_data(
    kind: CollectionKind,
    object: &DavObject,
    props: &ReportProps,
    options: &ical::Options,
) -> String {
    match kind {
        CollectionKind::Calendar => {
            let Some(request) = props.calendar_data.as_ref().map(convert::calendar_data) else {
                return object.data.clone();
            };
            if request.comp.is_none() && request.recurrence.is_none() {
                return object.data.clone();
            }
            match ical::validate_with(object.data.as_bytes(), options).and_then(|parsed| {
                parsed
                    .calendar_data(&request, options)
                    .map(|c| c.into_owned())
            }) {
                Ok(text) => text,
                Err(e) => {
                    // Past the instance caps: the stored text is a bounded, correct answer.
                    tracing::debug!(object = %object.meta.name, error = %e, "returning calendar data unshaped");
                    object.data.clone()
                }
            }
        }
        CollectionKind::AddressBook => {
            let request = props.address_data.as_ref().map(convert::address_data);
            match request {
                Some(request @ vcard::AddressDataRequest::Props(_)) => {
                    match vcard::validate(object.data.as_bytes()) {
                        Ok(card) => card.address_data(&request).into_owned(),
                        Err(_) => object.data.clone(),
                    }
                }
                _ => object.data.clone(),
            }
        }
    }
}

/// Members of a collection by name, as the store returns them.
async fn named(
    ctx: &Ctx<'_>,
    collection: CollectionId,
    names: &[String],
) -> DavResult<Vec<DavObject>> {
    Ok(ctx.store().objects_named(collection, names).await?)
}
