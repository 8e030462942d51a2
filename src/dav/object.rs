//! GET, HEAD, PUT and DELETE of calendar objects (RFC 4791 §5.3.2) and vCards
//! (RFC 6352 §6.3.2): stored byte for byte after validation, with strong ETags and
//! If-Match / If-None-Match for safe creates and updates.

use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use davgate_storage::{CollectionKind, NewObject, Precondition as Expect, StorageError};
use http::{HeaderValue, Response, StatusCode, header};

use super::components;
use super::ctx::Ctx;
use super::error::{DavError, DavResult};
use super::ical::{self, ComponentKind};
use super::props::content_type;
use super::target::Target;
use super::vcard;
use crate::proto::names::Privilege;
use crate::proto::precondition::Precondition;
use crate::response::{self, Body};

/// Answers GET or HEAD.
pub async fn get(ctx: &Ctx<'_>, head: bool) -> DavResult<Response<Body>> {
    let Target::Object(kind, _, cref, name) = &ctx.target else {
        return Ok(response::text(
            StatusCode::OK,
            "davgate CalDAV/CardDAV: point a calendar or contacts client at this server's address \
             (it finds /dav/ through /.well-known/caldav and /.well-known/carddav)",
        ));
    };
    // Opening checks the read privilege on the collection.
    let (_, object) = ctx.open_object(*kind, cref, name).await?;
    let etag = format!("\"{}\"", object.meta.etag);
    let not_modified = ctx
        .header("if-none-match")
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut resp = if not_modified {
        let mut r = Response::new(response::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else if head {
        let mut r = Response::new(response::empty());
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(object.meta.size));
        r
    } else {
        Response::new(response::full(object.data))
    };
    let headers = resp.headers_mut();
    let calendar = *kind == CollectionKind::Calendar;
    if let Ok(ct) = HeaderValue::from_str(&content_type(calendar, object.meta.component)) {
        headers.insert(header::CONTENT_TYPE, ct);
    }
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    let modified = UNIX_EPOCH + Duration::from_millis(object.meta.modified_ms.max(0) as u64);
    if let Ok(date) = HeaderValue::from_str(&httpdate::fmt_http_date(modified)) {
        headers.insert(header::LAST_MODIFIED, date);
    }
    Ok(resp)
}

/// Answers PUT: validates, then stores the text exactly as sent.
pub async fn put(ctx: &Ctx<'_>, body: Bytes) -> DavResult<Response<Body>> {
    let Target::Object(kind, _, cref, name) = &ctx.target else {
        return Err(DavError::Status(
            StatusCode::METHOD_NOT_ALLOWED,
            "PUT a calendar object (NAME.ics) or vCard (NAME.vcf) into a collection".into(),
        ));
    };
    let opened = ctx.open(*kind, cref).await.map_err(|e| match e {
        DavError::Status(StatusCode::NOT_FOUND, _) => DavError::Status(
            StatusCode::CONFLICT,
            "the calendar or address book does not exist: create it first (MKCALENDAR or MKCOL)"
                .into(),
        ),
        e => e,
    })?;
    let path = ctx.target.path();
    ctx.require_write(&opened, &path, Privilege::WriteContent)?;
    let new = match kind {
        CollectionKind::Calendar => {
            calendar_object(ctx, name, &body, opened.collection.components)?
        }
        CollectionKind::AddressBook => vcard_object(name, &body)?,
    };
    let written = ctx
        .store()
        .put_object(opened.collection.id, new, expectation(ctx))
        .await
        .map_err(|e| match e {
            StorageError::UidConflict { name: holder } => {
                let holder_path = format!("{}{holder}", Target::Collection(*kind, ctx.user().to_owned(), cref.clone()).path());
                let precondition = match kind {
                    CollectionKind::Calendar => Precondition::CalendarNoUidConflict { path: holder_path },
                    CollectionKind::AddressBook => Precondition::AddressbookNoUidConflict { path: holder_path },
                };
                DavError::condition(
                    precondition,
                    format!("another resource in this collection, {holder}, has the same UID: update that one instead"),
                )
            }
            e => e.into(),
        })?;
    let mut resp = Response::new(response::empty());
    *resp.status_mut() = if written.created {
        StatusCode::CREATED
    } else {
        StatusCode::NO_CONTENT
    };
    // The stored text is the sent text, so the ETag is valid for what the client holds.
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", written.etag)) {
        resp.headers_mut().insert(header::ETAG, etag);
    }
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    Ok(resp)
}

/// Answers DELETE of an object.
pub async fn delete(ctx: &Ctx<'_>) -> DavResult<Response<Body>> {
    let Target::Object(kind, _, cref, name) = &ctx.target else {
        unreachable!("the dispatcher sends only objects here");
    };
    let opened = ctx.open(*kind, cref).await?;
    ctx.require_write(&opened, &ctx.target.path(), Privilege::Unbind)?;
    ctx.store()
        .delete_object(opened.collection.id, name, expectation(ctx))
        .await?;
    let mut resp = Response::new(response::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}

/// A PUT body over `max-resource-size` gets the precondition RFC 4791/6352 name.
pub fn too_large(e: DavError, ctx: &Ctx) -> DavError {
    let DavError::Status(StatusCode::PAYLOAD_TOO_LARGE, _) = e else {
        return e;
    };
    let precondition = match ctx.target.kind() {
        Some(CollectionKind::AddressBook) => Precondition::AddressbookMaxResourceSize,
        _ => Precondition::CalendarMaxResourceSize,
    };
    DavError::Condition {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        precondition,
        hint: format!(
            "the object is larger than the {} bytes this server accepts (max-resource-size)",
            ctx.settings().max_resource_size
        ),
    }
}

/// If-Match and If-None-Match, as the store checks them in the write's transaction.
fn expectation(ctx: &Ctx) -> Expect {
    if ctx.header("if-none-match").map(str::trim) == Some("*") {
        return Expect::Absent;
    }
    match ctx.header("if-match").map(str::trim) {
        Some("*") => Expect::Exists,
        Some(tag) => Expect::IfMatch(tag.trim_start_matches("W/").trim_matches('"').to_owned()),
        None => Expect::None,
    }
}

fn calendar_object(ctx: &Ctx, name: &str, body: &[u8], allowed: i64) -> DavResult<NewObject> {
    let options = ical::Options {
        limits: ctx.settings().limits,
        ..ical::Options::default()
    };
    let object = ical::validate_with(body, &options).map_err(|e| {
        let precondition = match e.precondition() {
            Some(ical::Precondition::ValidCalendarObjectResource) => {
                Precondition::ValidCalendarObjectResource
            }
            Some(ical::Precondition::SupportedCalendarComponent) => {
                Precondition::SupportedCalendarComponent
            }
            _ => Precondition::ValidCalendarData,
        };
        DavError::condition(
            precondition,
            format!("the calendar object is not accepted: {e}"),
        )
    })?;
    let bit = match object.kind() {
        ComponentKind::Event => components::EVENT,
        ComponentKind::Todo => components::TODO,
        ComponentKind::Journal => components::JOURNAL,
    };
    if allowed & bit == 0 {
        return Err(DavError::condition(
            Precondition::SupportedCalendarComponent,
            "this calendar does not take this kind of component (see supported-calendar-component-set): \
             put it in a calendar that does",
        ));
    }
    Ok(NewObject {
        name: name.to_owned(),
        uid: object.uid().to_owned(),
        component: bit,
        data: object.raw().to_owned(),
        first_start: object.first_start(),
        last_end: object.last_end(),
    })
}

fn vcard_object(name: &str, body: &[u8]) -> DavResult<NewObject> {
    let card = vcard::validate(body).map_err(|e| {
        DavError::condition(
            Precondition::ValidAddressData,
            format!("the vCard is not accepted: {e}"),
        )
    })?;
    Ok(NewObject {
        name: name.to_owned(),
        uid: card.uid().to_owned(),
        component: components::VCARD,
        data: card.raw().to_owned(),
        first_start: None,
        last_end: None,
    })
}
