//! Discovery properties: the root, the principal collection, principals and homes
//! (RFC 5397 current-user-principal, RFC 4791 §6, RFC 6352 §7).

use davgate_storage::CollectionKind;

use super::resource::Resource;
use crate::dav::access::Level;
use crate::dav::ctx::Ctx;
use crate::dav::target::{home_path, principal_path};
use crate::proto::names::{CalDavProperty, CardDavProperty, DavProperty, Property, ResourceType};
use crate::proto::response::{Response, Value};
use crate::proto::status::Status;

pub(super) fn value(res: &Resource, ctx: &Ctx, prop: &Property, out: &mut Response) -> bool {
    let me = ctx.user();
    let principal = principal_path(me);
    let ok = Status::OK;
    match prop {
        Property::Dav(DavProperty::CurrentUserPrincipal) => {
            out.prop(ok, prop, Value::Href(&principal));
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
            out.prop(ok, prop, Value::Privileges(Level::Owner.privileges()));
        }
        Property::Dav(DavProperty::Owner) | Property::Dav(DavProperty::PrincipalUrl)
            if matches!(res, Resource::Principal(_) | Resource::Home(..)) =>
        {
            out.prop(ok, prop, Value::Href(&principal));
        }
        Property::Dav(DavProperty::SupportedReportSet) => {
            out.prop(ok, prop, Value::Reports(&[]));
        }
        Property::CalDav(CalDavProperty::CalendarHomeSet)
            if !matches!(res, Resource::Principals) =>
        {
            out.prop(
                ok,
                prop,
                Value::Hrefs(&[home_path(CollectionKind::Calendar, me)]),
            );
        }
        Property::CardDav(CardDavProperty::AddressbookHomeSet)
            if !matches!(res, Resource::Principals) =>
        {
            out.prop(
                ok,
                prop,
                Value::Hrefs(&[home_path(CollectionKind::AddressBook, me)]),
            );
        }
        Property::CalDav(CalDavProperty::CalendarUserAddressSet)
            if matches!(res, Resource::Principal(_)) =>
        {
            let mut addresses = Vec::new();
            if me.contains('@') {
                addresses.push(format!("mailto:{me}"));
            }
            addresses.push(principal.clone());
            out.prop(ok, prop, Value::Uris(&addresses));
        }
        _ => return false,
    }
    true
}
