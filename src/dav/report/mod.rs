//! REPORT: calendar-query and addressbook-query ([`query`]), the multigets
//! ([`multiget`]), free-busy-query ([`freebusy`]) and sync-collection ([`sync`]), which
//! answer for members of one collection through one way of writing a member
//! ([`members::Members`]); and the principal searches ([`principals`]).

mod freebusy;
mod members;
mod multiget;
mod principals;
mod query;
mod sync;

use davgate_storage::CollectionKind;
use http::Response;

use super::ctx::Ctx;
use super::error::{DavError, DavResult};
use super::target::Target;
use crate::proto::Limits;
use crate::proto::precondition::Precondition;
use crate::proto::request::{Report, parse_report};
use crate::response::Body;

/// Answers a REPORT.
pub async fn report(ctx: &Ctx<'_>, body: &[u8]) -> DavResult<Response<Body>> {
    let report = parse_report(body, &Limits::DEFAULT)?;
    let on_principals = matches!(ctx.target, Target::Principals | Target::Principal(_));
    match &report {
        // apply-to-principal-collection-set searches the principals from anywhere.
        Report::PrincipalPropertySearch(search)
            if on_principals || search.apply_to_principal_collection_set =>
        {
            return principals::search(ctx, search).await;
        }
        Report::PrincipalSearchPropertySet if on_principals => {
            return Ok(principals::search_property_set());
        }
        Report::PrincipalPropertySearch(_) | Report::PrincipalSearchPropertySet => {
            return Err(unsupported(
                "principal searches are answered by /dav/principals/ and the principals in it",
            ));
        }
        _ => {}
    }
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
