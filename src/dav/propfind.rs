//! PROPFIND on the root, principals, homes, collections and objects (Depth 0 or 1).

use davgate_storage::CollectionKind;
use http::{HeaderValue, Response, StatusCode, header};

use super::Ctx;
use super::access::{Level, Opened};
use super::error::{DavError, DavResult};
use super::props::Resource;
use super::target::{CollectionRef, Target, home_path};
use super::xml::Limits;
use super::xml::names::{CalDavProperty, CardDavProperty, Property};
use super::xml::request::{PropFind, parse_propfind};
use super::xml::response::{self as xml_response, Multistatus, Precondition};
use crate::response::{self, Body};

/// How far a PROPFIND reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Depth {
    Zero,
    One,
}

/// Answers a PROPFIND.
pub async fn propfind(ctx: &Ctx<'_>, body: &[u8]) -> DavResult<Response<Body>> {
    let depth = match ctx.header("depth").map(str::trim) {
        Some("1") => Depth::One,
        // Discovery clients send none and want the resource itself.
        Some("0") | None => Depth::Zero,
        Some(_) => {
            return Err(DavError::condition(
                Precondition::PropfindFiniteDepth,
                "PROPFIND with Depth: infinity is not supported; list one level at a time with Depth: 1",
            ));
        }
    };
    let request = parse_propfind(body, &Limits::DEFAULT)?;
    let mut ms = Multistatus::new();
    match &ctx.target {
        Target::Root => {
            write(
                ctx,
                &mut ms,
                &Target::Root.path(),
                &Resource::Root,
                &request,
            );
            if depth == Depth::One {
                let me = ctx.user();
                write(
                    ctx,
                    &mut ms,
                    &Target::Principals.path(),
                    &Resource::Principals,
                    &request,
                );
                for kind in [CollectionKind::Calendar, CollectionKind::AddressBook] {
                    write(
                        ctx,
                        &mut ms,
                        &home_path(kind, me),
                        &Resource::Home(kind, me),
                        &request,
                    );
                }
            }
        }
        Target::Principals => {
            write(
                ctx,
                &mut ms,
                &Target::Principals.path(),
                &Resource::Principals,
                &request,
            );
            if depth == Depth::One {
                let me = ctx.user();
                write(
                    ctx,
                    &mut ms,
                    &Target::Principal(me.to_owned()).path(),
                    &Resource::Principal(me),
                    &request,
                );
            }
        }
        Target::Principal(user) => {
            write(
                ctx,
                &mut ms,
                &ctx.target.path(),
                &Resource::Principal(user),
                &request,
            );
        }
        Target::Home(kind, user) => {
            write(
                ctx,
                &mut ms,
                &ctx.target.path(),
                &Resource::Home(*kind, user),
                &request,
            );
            if depth == Depth::One {
                for opened in home_members(ctx, *kind).await? {
                    let dead = ctx
                        .store()
                        .collection_dead_props(opened.collection.id)
                        .await?;
                    let segment = collection_segment(ctx, &opened);
                    let path = format!("{}{segment}/", home_path(*kind, user));
                    write(
                        ctx,
                        &mut ms,
                        &path,
                        &Resource::Collection(&opened, &dead),
                        &request,
                    );
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
            write(
                ctx,
                &mut ms,
                &path,
                &Resource::Collection(&opened, &dead),
                &request,
            );
            if depth == Depth::One {
                if wants_data(&request) {
                    for object in ctx.store().objects(opened.collection.id).await? {
                        let resource = Resource::Object(&opened, &object.meta, Some(&object.data));
                        write(
                            ctx,
                            &mut ms,
                            &format!("{path}{}", object.meta.name),
                            &resource,
                            &request,
                        );
                    }
                } else {
                    for meta in ctx.store().object_list(opened.collection.id).await? {
                        let resource = Resource::Object(&opened, &meta, None);
                        write(
                            ctx,
                            &mut ms,
                            &format!("{path}{}", meta.name),
                            &resource,
                            &request,
                        );
                    }
                }
            }
        }
        Target::Object(kind, _, cref, name) => {
            let opened = ctx.open(*kind, cref).await?;
            let object = ctx
                .store()
                .object(opened.collection.id, name)
                .await?
                .ok_or_else(|| {
                    DavError::not_found("there is no such calendar object or contact")
                })?;
            let resource = Resource::Object(&opened, &object.meta, Some(&object.data));
            write(ctx, &mut ms, &ctx.target.path(), &resource, &request);
        }
    }
    Ok(multistatus(ms.finish(None)))
}

fn write(ctx: &Ctx, ms: &mut Multistatus, path: &str, resource: &Resource, request: &PropFind) {
    let mut response = xml_response::Response::new(path);
    resource.write(ctx, request, &mut response);
    ms.push(response);
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
/// macOS Contacts (user agent `AddressBook…`) handles one address book per account,
/// so it is shown only the default one.
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
    if kind == CollectionKind::AddressBook && ctx.user_agent().contains("AddressBook") {
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

/// A 207 response with an XML body.
pub fn multistatus(body: Vec<u8>) -> Response<Body> {
    let mut resp = Response::new(response::full(body));
    *resp.status_mut() = StatusCode::MULTI_STATUS;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    resp
}
