//! Properties of calendars and address books (RFC 4791 §5.2, RFC 6352 §6.2, RFC 6578,
//! CalendarServer getctag, Apple's colour and order).

use davgate_storage::CollectionKind;

use crate::dav::access::Opened;
use crate::dav::components;
use crate::dav::ctx::Ctx;
use crate::dav::sync_token::sync_token;
use crate::proto::names::{
    AppleProperty, CalDavProperty, CalendarServerProperty, CardDavProperty, ComponentType,
    DavProperty, Property, ReportName, ResourceType,
};
use crate::proto::response::{DataType, Response, Value};
use crate::proto::status::Status;

const CALENDAR_REPORTS: &[ReportName] = &[
    ReportName::CalendarQuery,
    ReportName::CalendarMultiget,
    ReportName::FreeBusyQuery,
    ReportName::SyncCollection,
];
const ADDRESSBOOK_REPORTS: &[ReportName] = &[
    ReportName::AddressbookQuery,
    ReportName::AddressbookMultiget,
    ReportName::SyncCollection,
];

pub(super) fn value(ctx: &Ctx, opened: &Opened, prop: &Property, out: &mut Response) -> bool {
    let c = &opened.collection;
    let calendar = c.kind == CollectionKind::Calendar;
    let ok = Status::OK;
    let text = |out: &mut Response, value: Option<&str>| match value {
        Some(v) => {
            out.prop(ok, prop, Value::Text(v));
            true
        }
        None => false,
    };
    match prop {
        Property::Dav(DavProperty::ResourceType) => {
            let kind = if calendar {
                ResourceType::Calendar
            } else {
                ResourceType::Addressbook
            };
            out.prop(
                ok,
                prop,
                Value::ResourceType(&[ResourceType::Collection, kind]),
            );
        }
        Property::Dav(DavProperty::DisplayName) => {
            let name = match &opened.owner {
                owner if owner != ctx.user() => {
                    format!("{} ({owner})", c.displayname.as_deref().unwrap_or(&c.slug))
                }
                _ => c.displayname.clone().unwrap_or_else(|| c.slug.clone()),
            };
            out.prop(ok, prop, Value::Text(&name));
        }
        Property::Dav(DavProperty::GetEtag) => {
            out.prop(
                ok,
                prop,
                Value::Text(&format!("\"{}-{}\"", c.id.0, c.sync_seq)),
            );
        }
        Property::Dav(DavProperty::SyncToken)
        | Property::CalendarServer(CalendarServerProperty::GetCtag) => {
            out.prop(ok, prop, Value::Text(&sync_token(c.id, c.sync_seq)));
        }
        Property::Dav(DavProperty::SupportedReportSet) => {
            out.prop(
                ok,
                prop,
                Value::Reports(if calendar {
                    CALENDAR_REPORTS
                } else {
                    ADDRESSBOOK_REPORTS
                }),
            );
        }
        Property::CalDav(CalDavProperty::CalendarDescription) if calendar => {
            return text(out, c.description.as_deref());
        }
        Property::CardDav(CardDavProperty::AddressbookDescription) if !calendar => {
            return text(out, c.description.as_deref());
        }
        Property::CalDav(CalDavProperty::CalendarTimezone) if calendar => {
            return text(out, c.timezone.as_deref());
        }
        Property::Apple(AppleProperty::CalendarColor) if calendar => {
            return text(out, c.color.as_deref());
        }
        Property::Apple(AppleProperty::CalendarOrder) if calendar => {
            return text(out, c.sort_order.map(|o| o.to_string()).as_deref());
        }
        Property::CalDav(CalDavProperty::SupportedCalendarComponentSet) if calendar => {
            out.prop(ok, prop, Value::Components(&component_types(c.components)));
        }
        Property::CalDav(CalDavProperty::SupportedCalendarData) if calendar => {
            let types = [DataType {
                content_type: "text/calendar",
                version: "2.0",
            }];
            out.prop(ok, prop, Value::DataTypes(&types));
        }
        Property::CardDav(CardDavProperty::SupportedAddressData) if !calendar => {
            let types = [
                DataType {
                    content_type: "text/vcard",
                    version: "3.0",
                },
                DataType {
                    content_type: "text/vcard",
                    version: "4.0",
                },
            ];
            out.prop(ok, prop, Value::DataTypes(&types));
        }
        Property::CalDav(CalDavProperty::MaxResourceSize) if calendar => {
            out.prop(ok, prop, Value::Number(ctx.settings().max_resource_size));
        }
        Property::CardDav(CardDavProperty::MaxResourceSize) if !calendar => {
            out.prop(ok, prop, Value::Number(ctx.settings().max_resource_size));
        }
        Property::CalDav(CalDavProperty::MaxInstances) if calendar => {
            out.prop(
                ok,
                prop,
                Value::Number(ctx.settings().limits.max_instances as u64),
            );
        }
        _ => return false,
    }
    true
}

/// The components a calendar accepts, from its stored bits.
pub fn component_types(bits: i64) -> Vec<ComponentType> {
    let mut out = Vec::new();
    for (bit, kind) in [
        (components::EVENT, ComponentType::VEvent),
        (components::TODO, ComponentType::VTodo),
        (components::JOURNAL, ComponentType::VJournal),
    ] {
        if bits & bit != 0 {
            out.push(kind);
        }
    }
    out
}
