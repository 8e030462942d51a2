//! calendar-multiget (RFC 4791 §7.9) and addressbook-multiget (RFC 6352 §8.7).

use http::Response;

use super::members::{Members, by_name, named, options};
use crate::dav::access::Opened;
use crate::dav::ctx::Ctx;
use crate::dav::error::DavResult;
use crate::proto::href::decode_href;
use crate::proto::request::Multiget;
use crate::proto::status::Status;
use crate::response::Body;

/// Answers a multiget: each href that names a member gets its properties, any other a 404.
pub(super) async fn multiget(
    ctx: &Ctx<'_>,
    opened: &Opened,
    request: &Multiget,
) -> DavResult<Response<Body>> {
    let base = ctx.target.path();
    let mut names = Vec::new();
    let mut missing = Vec::new();
    for href in &request.hrefs {
        // Apple sends some hrefs over-encoded and some absolute; decode_href evens that out.
        match decode_href(href, &base) {
            Ok(path) => match path
                .strip_prefix(&base)
                .filter(|n| !n.is_empty() && !n.contains('/'))
            {
                Some(name) => names.push(name.to_owned()),
                None => missing.push(path),
            },
            Err(_) => missing.push(href.clone()),
        }
    }
    let options = options(ctx, opened, None);
    let objects = named(ctx, opened.collection.id, &names).await?;
    let mut ms = Members::new(ctx, opened, &request.props, options);
    for name in &names {
        match by_name(&objects, name, |o| &o.meta.name) {
            Some(object) => ms.push(object),
            None => ms.push_status(&format!("{base}{name}"), Status::NOT_FOUND),
        }
    }
    for path in &missing {
        ms.push_status(path, Status::NOT_FOUND);
    }
    Ok(ms.finish(None))
}
