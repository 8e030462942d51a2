//! Properties of calendar objects and vCards.

use std::time::{Duration, UNIX_EPOCH};

use davgate_storage::{CollectionKind, ObjectMeta};

use crate::dav::access::Opened;
use crate::dav::components;
use crate::proto::names::{CalDavProperty, CardDavProperty, DavProperty, Property};
use crate::proto::response::{Response, Value};
use crate::proto::status::Status;

pub(super) fn value(
    opened: &Opened,
    meta: &ObjectMeta,
    data: Option<&str>,
    prop: &Property,
    out: &mut Response,
) -> bool {
    let calendar = opened.collection.kind == CollectionKind::Calendar;
    let ok = Status::OK;
    match prop {
        Property::Dav(DavProperty::GetEtag) => {
            out.prop(ok, prop, Value::Text(&format!("\"{}\"", meta.etag)));
        }
        Property::Dav(DavProperty::GetContentType) => {
            out.prop(
                ok,
                prop,
                Value::Text(&content_type(calendar, meta.component)),
            );
        }
        Property::Dav(DavProperty::GetContentLength) => {
            out.prop(ok, prop, Value::Number(meta.size));
        }
        Property::Dav(DavProperty::GetLastModified) => {
            let time = UNIX_EPOCH + Duration::from_millis(meta.modified_ms.max(0) as u64);
            out.prop(ok, prop, Value::Text(&httpdate::fmt_http_date(time)));
        }
        Property::Dav(DavProperty::ResourceType) => {
            out.prop(ok, prop, Value::ResourceType(&[]));
        }
        Property::CalDav(CalDavProperty::CalendarData) if calendar => match data {
            Some(text) => {
                out.prop(ok, prop, Value::Text(text));
            }
            None => return false,
        },
        Property::CardDav(CardDavProperty::AddressData) if !calendar => match data {
            Some(text) => {
                out.prop(ok, prop, Value::Text(text));
            }
            None => return false,
        },
        _ => return false,
    }
    true
}

/// The media type of a stored object.
pub fn content_type(calendar: bool, component: i64) -> String {
    if !calendar {
        return "text/vcard; charset=utf-8".into();
    }
    let component = match component {
        components::TODO => "vtodo",
        components::JOURNAL => "vjournal",
        _ => "vevent",
    };
    format!("text/calendar; charset=utf-8; component={component}")
}
