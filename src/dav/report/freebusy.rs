//! free-busy-query (RFC 4791 §7.10): busy periods of a range, merged, as VFREEBUSY.

use http::{HeaderValue, Response, header};

use super::members::options;
use crate::dav::access::Opened;
use crate::dav::ctx::Ctx;
use crate::dav::error::{DavError, DavResult};
use crate::dav::ical;
use crate::proto::precondition::Precondition;
use crate::proto::request::FreeBusyQuery;
use crate::response::{self, Body};

/// Answers free-busy-query with a text/calendar VFREEBUSY.
pub(super) async fn freebusy(
    ctx: &Ctx<'_>,
    opened: &Opened,
    query: &FreeBusyQuery,
) -> DavResult<Response<Body>> {
    let range = ical::TimeRange::from(&query.time_range);
    if range.start.is_none() || range.end.is_none() {
        return Err(DavError::Status(
            http::StatusCode::BAD_REQUEST,
            "free-busy-query needs a time-range with both start and end".into(),
        ));
    }
    let options = options(ctx, opened, None);
    let mut periods = Vec::new();
    for object in ctx
        .store()
        .objects_overlapping(opened.collection.id, range.start, range.end)
        .await?
    {
        let Ok(parsed) = ical::parse_stored(object.data.as_bytes()) else {
            continue;
        };
        // Leaving the object out would report busy time as free: refuse instead.
        let busy = parsed.busy_periods(&range, &options).map_err(|e| {
            DavError::condition(
                Precondition::NumberOfMatchesWithinLimits,
                format!(
                    "{}: {e}; ask for free-busy over a shorter range",
                    object.meta.name
                ),
            )
        })?;
        periods.extend(busy);
    }
    let text = ical::vfreebusy(
        ical::merge_busy(periods),
        &range,
        davgate_storage::now_ms() / 1000,
    );
    let mut resp = Response::new(response::full(text));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    Ok(resp)
}
