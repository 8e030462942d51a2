//! Discovery properties: the root, the principal collection, principals and homes
//! (RFC 5397 current-user-principal, RFC 4791 §6, RFC 6352 §7).

use davgate_storage::CollectionKind;

use super::resource::Resource;
use crate::dav::access::Level;
use crate::dav::ctx::Ctx;
use crate::dav::target::{home_path, principal_path};
use crate::proto::href::encode_path;
use crate::proto::names::{
    CalDavProperty, CalendarServerProperty, CardDavProperty, DavProperty, Namespace, Property,
    ReportName, ResourceType,
};
use crate::proto::response::{Response, Value};
use crate::proto::status::Status;
use crate::proto::writer::XmlWriter;

pub(super) fn value(res: &Resource, ctx: &Ctx, prop: &Property, out: &mut Response) -> bool {
    let me = ctx.user();
    // Whose principal or home this is: another account's when a principal search
    // found it, the signed-in one's everywhere else.
    let user = match res {
        Resource::Principal(user) | Resource::Home(_, user) => user,
        _ => me,
    };
    let principal = principal_path(user);
    let ok = Status::OK;
    match prop {
        Property::Dav(DavProperty::CurrentUserPrincipal) => {
            out.prop(ok, prop, Value::Href(&principal_path(me)));
        }
        Property::Dav(DavProperty::PrincipalCollectionSet) => {
            out.prop(ok, prop, Value::Href("/dav/principals/"));
        }
        Property::Dav(DavProperty::ResourceType) => {
            let types: &[ResourceType] = match res {
                Resource::Principal(_) => &[ResourceType::Collection, ResourceType::Principal],
                _ => &[ResourceType::Collection],
            };
            out.prop(ok, prop, Value::ResourceType(types));
        }
        Property::Dav(DavProperty::DisplayName) => {
            let name = match res {
                Resource::Root => "davgate".to_owned(),
                Resource::Principals => "Principals".to_owned(),
                Resource::Principal(user) => (*user).to_owned(),
                Resource::Home(CollectionKind::Calendar, _) => "Calendars".to_owned(),
                Resource::Home(CollectionKind::AddressBook, _) => "Address books".to_owned(),
                _ => return false,
            };
            out.prop(ok, prop, Value::Text(&name));
        }
        Property::Dav(DavProperty::CurrentUserPrivilegeSet) => {
            let level = if user == me {
                Level::Owner
            } else {
                Level::ReadOnly
            };
            out.prop(ok, prop, Value::Privileges(level.privileges()));
        }
        Property::Dav(DavProperty::Owner) | Property::Dav(DavProperty::PrincipalUrl)
            if matches!(res, Resource::Principal(_) | Resource::Home(..)) =>
        {
            out.prop(ok, prop, Value::Href(&principal));
        }
        Property::Dav(DavProperty::SupportedReportSet) => {
            let reports: &[ReportName] = match res {
                Resource::Principals | Resource::Principal(_) => PRINCIPAL_REPORTS,
                _ => &[],
            };
            out.prop(ok, prop, Value::Reports(reports));
        }
        Property::CalDav(CalDavProperty::CalendarHomeSet)
            if !matches!(res, Resource::Principals) =>
        {
            out.prop(
                ok,
                prop,
                Value::Hrefs(&[home_path(CollectionKind::Calendar, user)]),
            );
        }
        Property::CardDav(CardDavProperty::AddressbookHomeSet)
            if !matches!(res, Resource::Principals) =>
        {
            out.prop(
                ok,
                prop,
                Value::Hrefs(&[home_path(CollectionKind::AddressBook, user)]),
            );
        }
        Property::CalDav(CalDavProperty::CalendarUserAddressSet)
            if matches!(res, Resource::Principal(_)) =>
        {
            out.prop(ok, prop, Value::Uris(&calendar_user_addresses(user)));
        }
        Property::CalDav(CalDavProperty::CalendarUserType)
            if matches!(res, Resource::Principal(_)) =>
        {
            out.prop(ok, prop, Value::Text("INDIVIDUAL"));
        }
        Property::CalendarServer(CalendarServerProperty::EmailAddressSet)
            if matches!(res, Resource::Principal(_)) && is_email(user) =>
        {
            let write = |w: &mut XmlWriter| {
                w.text_element(&Namespace::CalendarServer, "email-address", user);
            };
            out.prop(ok, prop, Value::Xml(&write));
        }
        _ => return false,
    }
    true
}

/// The reports principals answer (RFC 3744 §9.4, §9.5): macOS enables people lookup
/// when it finds them here.
const PRINCIPAL_REPORTS: &[ReportName] = &[
    ReportName::PrincipalPropertySearch,
    ReportName::PrincipalSearchPropertySet,
];

/// Whether a user name is an e-mail address, which then is the principal's address.
pub fn is_email(user: &str) -> bool {
    user.contains('@')
}

/// calendar-user-address-set (RFC 6638 §2.4.1): `mailto:` for an e-mail user name,
/// then the principal URL, encoded as its `D:href` elsewhere is, so a client that
/// compares the two finds them equal.
pub fn calendar_user_addresses(user: &str) -> Vec<String> {
    let mut addresses = Vec::new();
    if is_email(user) {
        addresses.push(format!("mailto:{user}"));
    }
    addresses.push(encode_path(&principal_path(user)));
    addresses
}
