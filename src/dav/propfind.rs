//! PROPFIND on the root, principals, homes, collections and objects (Depth 0 or 1).

use davgate_storage::CollectionKind;
use http::Response;

use super::access::{Level, Opened};
use super::ctx::Ctx;
use super::error::{DavError, DavResult};
use super::props::Resource;
use super::quirks;
use super::target::{CollectionRef, Target, home_path};
use crate::proto::names::{CalDavProperty, CardDavProperty, Property};
use crate::proto::precondition::Precondition;
use crate::proto::request::{PropFind, parse_propfind};
use crate::proto::response::{self as xml_response, Multistatus};
use crate::proto::{Depth, Limits};
use crate::response::{Body, multistatus_pieces};

/// Answers a PROPFIND.
pub async fn propfind(ctx: &Ctx<'_>, body: &[u8]) -> DavResult<Response<Body>> {
    let depth = match ctx.depth.clone()? {
        // Discovery clients send none and want the resource itself.
        None => Depth::Zero,
        Some(Depth::Infinity) => {
            return Err(DavError::condition(
                Precondition::PropfindFiniteDepth,
                "PROPFIND with Depth: infinity is not supported; list one level at a time with Depth: 1",
            ));
        }
        Some(depth) => depth,
    };
    let request = parse_propfind(body, &Limits::DEFAULT)?;
    let mut out = Listing {
        ctx,
        request: &request,
        ms: Multistatus::new(),
    };
    match &ctx.target {
        Target::Root => {
            out.add(&Target::Root.path(), &Resource::Root);
            if depth == Depth::One {
                let me = ctx.user();
                out.add(&Target::Principals.path(), &Resource::Principals);
                for kind in [CollectionKind::Calendar, CollectionKind::AddressBook] {
                    out.add(&home_path(kind, me), &Resource::Home(kind, me));
                }
            }
        }
        Target::Principals => {
            out.add(&Target::Principals.path(), &Resource::Principals);
            if depth == Depth::One {
                let me = ctx.user();
                out.add(
                    &Target::Principal(me.to_owned()).path(),
                    &Resource::Principal(me),
                );
            }
        }
        Target::Principal(user) => out.add(&ctx.target.path(), &Resource::Principal(user)),
        Target::Home(kind, user) => {
            out.add(&ctx.target.path(), &Resource::Home(*kind, user));
            if depth == Depth::One {
                for opened in home_members(ctx, *kind).await? {
                    let dead = ctx
                        .store()
                        .collection_dead_props(opened.collection.id)
                        .await?;
                    let segment = collection_segment(ctx, &opened);
                    let path = format!("{}{segment}/", home_path(*kind, user));
                    out.add(&path, &Resource::Collection(&opened, &dead));
                }
            }
        }
        Target::Collection(kind, _, cref) => {
            let opened = ctx.open(*kind, cref).await?;
            let dead = ctx
                .store()
                .collection_dead_props(opened.collection.id)
                .await?;
            let path = ctx.target.path();
            out.add(&path, &Resource::Collection(&opened, &dead));
            if depth == Depth::One {
                // The objects' text is read only when calendar-data or address-data
                // is asked for.
                if wants_data(&request) {
                    for object in ctx.store().objects(opened.collection.id).await? {
                        out.add(
                            &format!("{path}{}", object.meta.name),
                            &Resource::Object(&opened, &object.meta, Some(&object.data)),
                        );
                    }
                } else {
                    for meta in ctx.store().object_list(opened.collection.id).await? {
                        out.add(
                            &format!("{path}{}", meta.name),
                            &Resource::Object(&opened, &meta, None),
                        );
                    }
                }
            }
        }
        Target::Object(kind, _, cref, name) => {
            let (opened, object) = ctx.open_object(*kind, cref, name).await?;
            out.add(
                &ctx.target.path(),
                &Resource::Object(&opened, &object.meta, Some(&object.data)),
            );
        }
    }
    Ok(multistatus_pieces(out.ms.into_pieces(None)))
}

/// A PROPFIND answer being written: one response per resource listed.
struct Listing<'c, 'r> {
    ctx: &'c Ctx<'r>,
    request: &'c PropFind,
    ms: Multistatus,
}

impl Listing<'_, '_> {
    fn add(&mut self, path: &str, resource: &Resource) {
        let mut response = xml_response::Response::new(path);
        resource.write(self.ctx, self.request, &mut response);
        self.ms.push(response);
    }
}

fn wants_data(request: &PropFind) -> bool {
    match request {
        PropFind::Prop(props) => props.iter().any(|p| {
            matches!(
                p,
                Property::CalDav(CalDavProperty::CalendarData)
                    | Property::CardDav(CardDavProperty::AddressData)
            )
        }),
        _ => false,
    }
}

/// The collections a home lists: the principal's own, then those shared with it.
/// Apple's Contacts apps handle one address book per account, so they are shown only
/// the default one ([`quirks::single_address_book`]).
pub async fn home_members(ctx: &Ctx<'_>, kind: CollectionKind) -> DavResult<Vec<Opened>> {
    let me = &ctx.principal.account;
    let level = if ctx.principal.access.read_only {
        Level::ReadOnly
    } else {
        Level::Owner
    };
    let mut members: Vec<Opened> = ctx
        .store()
        .collections(me.id, kind)
        .await?
        .into_iter()
        .map(|collection| Opened {
            collection,
            level,
            owner: me.username.clone(),
        })
        .collect();
    if kind == CollectionKind::AddressBook && quirks::single_address_book(ctx.user_agent()) {
        members.retain(|m| m.collection.is_default);
        return Ok(members);
    }
    for share in ctx.store().shared_with(me.id, kind).await? {
        let level = if share.read_only || ctx.principal.access.read_only {
            Level::ReadOnly
        } else {
            Level::ReadWrite
        };
        members.push(Opened {
            collection: share.collection,
            level,
            owner: share.owner,
        });
    }
    Ok(members)
}

/// A collection's segment in the principal's home: its slug, or `slug@owner` if shared.
pub fn collection_segment(ctx: &Ctx, opened: &Opened) -> String {
    let cref = CollectionRef {
        slug: opened.collection.slug.clone(),
        owner: (opened.owner != ctx.user()).then(|| opened.owner.clone()),
    };
    cref.segment()
}
