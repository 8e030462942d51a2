//! Property values of everything under `/dav/`, split by family: discovery (root,
//! principals, homes: [`principal`]), collections ([`collection`]) and calendar objects
//! and vCards ([`object`]). PROPFIND, REPORT and sync-collection all answer through
//! [`Resource::write`].

mod collection;
mod object;
mod principal;
mod resource;

pub use object::content_type;
pub use principal::{calendar_user_addresses, is_email};
pub use resource::Resource;

use davgate_storage::DeadProp;

use super::access::Opened;
use super::ctx::Ctx;
use super::target::principal_path;
use crate::proto::Limits;
use crate::proto::RawXml;
use crate::proto::names::{DavProperty, Namespace, Property};
use crate::proto::request::PropFind;
use crate::proto::response::{Response, Value};
use crate::proto::status::Status;

impl Resource<'_> {
    /// Writes the properties `request` asks for into `response`: found ones under 200,
    /// unknown ones under 404.
    pub fn write(&self, ctx: &Ctx, request: &PropFind, response: &mut Response) {
        match request {
            PropFind::AllProp { include } => {
                for prop in self.allprop().iter().chain(include) {
                    self.one(ctx, prop, response);
                }
                for dead in self.dead() {
                    write_dead(dead, response);
                }
            }
            PropFind::PropName => {
                let mut probe = Response::new("");
                for prop in self.allprop() {
                    if self.value(ctx, &prop, &mut probe) {
                        response.prop(Status::OK, &prop, Value::Empty);
                    }
                }
                for dead in self.dead() {
                    response.prop(Status::OK, &dead_property(dead), Value::Empty);
                }
            }
            PropFind::Prop(props) => {
                for prop in props {
                    self.one(ctx, prop, response);
                }
            }
        }
    }

    fn one(&self, ctx: &Ctx, prop: &Property, response: &mut Response) {
        if self.value(ctx, prop, response) {
            return;
        }
        if let Some(dead) = self
            .dead()
            .iter()
            .find(|d| d.namespace == prop.namespace().uri() && d.name == prop.local_name())
        {
            write_dead(dead, response);
            return;
        }
        response.prop(Status::NOT_FOUND, prop, Value::Empty);
    }

    /// Writes a live property's value; false when this resource has no such property.
    fn value(&self, ctx: &Ctx, prop: &Property, response: &mut Response) -> bool {
        match self {
            Resource::Root | Resource::Principals | Resource::Principal(_) | Resource::Home(..) => {
                principal::value(self, ctx, prop, response)
            }
            Resource::Collection(opened, _) => {
                access_value(ctx, opened, prop, response)
                    || collection::value(ctx, opened, prop, response)
            }
            Resource::Object(opened, meta, data) => {
                access_value(ctx, opened, prop, response)
                    || object::value(opened, meta, *data, prop, response)
            }
        }
    }

    fn dead(&self) -> &[DeadProp] {
        match self {
            Resource::Collection(_, dead) => dead,
            _ => &[],
        }
    }

    /// The live properties an allprop answer includes (RFC 4918 §14.2: the WebDAV ones;
    /// CalDAV and CardDAV keep theirs out, calendar-data above all).
    fn allprop(&self) -> Vec<Property> {
        let dav = [
            DavProperty::ResourceType,
            DavProperty::DisplayName,
            DavProperty::GetEtag,
            DavProperty::GetContentType,
            DavProperty::GetContentLength,
            DavProperty::GetLastModified,
        ];
        dav.into_iter().map(Property::Dav).collect()
    }
}

/// What collections and objects share: who owns them, who asks, and what they may do.
fn access_value(ctx: &Ctx, opened: &Opened, prop: &Property, response: &mut Response) -> bool {
    let href;
    let value = match prop {
        Property::Dav(DavProperty::CurrentUserPrivilegeSet) => {
            Value::Privileges(opened.level.privileges())
        }
        Property::Dav(DavProperty::Owner) => {
            href = principal_path(&opened.owner);
            Value::Href(&href)
        }
        Property::Dav(DavProperty::CurrentUserPrincipal) => {
            href = principal_path(ctx.user());
            Value::Href(&href)
        }
        _ => return false,
    };
    response.prop(Status::OK, prop, value);
    true
}

fn dead_property(dead: &DeadProp) -> Property {
    Property::from_parts(Namespace::from_uri(&dead.namespace), &dead.name)
}

fn write_dead(dead: &DeadProp, response: &mut Response) {
    let inner = String::from_utf8_lossy(&dead.xml);
    match RawXml::from_fragment(&inner, &Limits::DEFAULT) {
        Ok(raw) => {
            response.prop(Status::OK, &dead_property(dead), Value::Raw(&raw));
        }
        Err(_) => {
            response.prop(Status::OK, &dead_property(dead), Value::Empty);
        }
    }
}
