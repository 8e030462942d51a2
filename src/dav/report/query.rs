//! calendar-query (RFC 4791 §7.8) and addressbook-query (RFC 6352 §8.6).

use http::Response;

use super::members::{Members, options};
use crate::dav::access::Opened;
use crate::dav::ctx::Ctx;
use crate::dav::error::DavResult;
use crate::dav::ical::{self, CompTest};
use crate::dav::vcard;
use crate::proto::request::{AddressbookQuery, CalendarQuery};
use crate::response::Body;

/// Answers calendar-query: candidates from the time-span index, then the exact filter
/// on every instance of each candidate.
pub(super) async fn calendar(
    ctx: &Ctx<'_>,
    opened: &Opened,
    query: &CalendarQuery,
) -> DavResult<Response<Body>> {
    let options = options(ctx, opened, query.timezone.as_deref());
    let filter = query.filter.as_ref();
    let window = filter.and_then(outer_range);
    let candidates = match window {
        Some(range) => {
            ctx.store()
                .objects_overlapping(opened.collection.id, range.start, range.end)
                .await?
        }
        None => ctx.store().objects(opened.collection.id).await?,
    };
    let mut ms = Members::new(ctx, opened, &query.props, options);
    for object in &candidates {
        let Some(filter) = filter else {
            ms.push(object);
            continue;
        };
        // Stored objects were valid when written; one that no longer parses (an older
        // rule set) cannot match, and is left out rather than failing the query.
        let Ok(parsed) = ical::parse_stored(object.data.as_bytes()) else {
            continue;
        };
        let matched = parsed.matches(filter, ms.options()).unwrap_or_else(|e| {
            // Past the instance caps the object cannot be ruled out: a bounded
            // answer that may include it beats failing the whole query.
            tracing::debug!(object = %object.meta.name, error = %e, "unbounded object kept in the answer");
            true
        });
        if matched {
            ms.push_parsed(object, Some(&parsed));
        }
    }
    Ok(ms.finish(None))
}

/// A time range every match must overlap, which the index can narrow by: the one on
/// VCALENDAR itself (some component must overlap it), else that of the first
/// component filter under VCALENDAR (an object outside it cannot match).
fn outer_range(filter: &ical::CompFilter) -> Option<ical::TimeRange> {
    let CompTest::Matches {
        time_range, comps, ..
    } = &filter.test
    else {
        return None;
    };
    if let Some(range) = time_range {
        return Some(ical::TimeRange::from(range));
    }
    comps.iter().find_map(|c| match &c.test {
        CompTest::Matches { time_range, .. } => time_range.as_ref().map(ical::TimeRange::from),
        CompTest::IsNotDefined => None,
    })
}

/// Answers addressbook-query, honouring `limit` with a 507 marker (RFC 6352 §8.6.1).
pub(super) async fn addressbook(
    ctx: &Ctx<'_>,
    opened: &Opened,
    query: &AddressbookQuery,
) -> DavResult<Response<Body>> {
    let filter = &query.filter;
    let options = ical::Options::default();
    let limit = query.limit.map(|n| n as usize);
    let mut ms = Members::new(ctx, opened, &query.props, options);
    let mut matched = 0usize;
    for object in ctx.store().objects(opened.collection.id).await? {
        let Ok(card) = vcard::validate(object.data.as_bytes()) else {
            continue;
        };
        if !card.matches(filter) {
            continue;
        }
        if limit.is_some_and(|l| matched >= l) {
            ms.push_truncated(
                "more contacts match than the limit asked for; narrow the query or raise nresults",
            );
            break;
        }
        matched += 1;
        ms.push(&object);
    }
    Ok(ms.finish(None))
}
