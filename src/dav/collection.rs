//! Creating, changing and deleting calendars and address books: MKCALENDAR
//! (RFC 4791 §5.3.1), extended MKCOL (RFC 5689), PROPPATCH and DELETE.

use davgate_storage::{
    CollectionChange, CollectionKind, DeadProp, NewCollection, PropChange, StorageError,
};
use http::{Response, StatusCode};

use super::components;
use super::ctx::Ctx;
use super::error::{DavError, DavResult};
use super::ical;
use super::target::Target;
use crate::proto::Limits;
use crate::proto::names::{
    AppleProperty, CalDavProperty, CardDavProperty, ComponentType, DavProperty, Property,
    ResourceType,
};
use crate::proto::precondition::Precondition;
use crate::proto::request::{
    Instruction, MkCol, PropertyValue, SetProperty, parse_mkcalendar, parse_mkcol, parse_proppatch,
};
use crate::proto::response::{Multistatus, Response as XmlResponse, Value};
use crate::proto::status::Status;
use crate::proto::value::Rgba;
use crate::response::{self, Body, multistatus_pieces};

/// Answers MKCALENDAR.
pub async fn mkcalendar(ctx: &Ctx<'_>, body: &[u8]) -> DavResult<Response<Body>> {
    let mkcol = parse_mkcalendar(body, &Limits::DEFAULT)?;
    create(ctx, CollectionKind::Calendar, mkcol).await
}

/// Answers MKCOL: extended (RFC 5689) with a resourcetype, or plain, which in a home
/// creates that home's kind of collection.
pub async fn mkcol(ctx: &Ctx<'_>, body: &[u8]) -> DavResult<Response<Body>> {
    let mkcol = parse_mkcol(body, &Limits::DEFAULT)?;
    let Some(home_kind) = ctx.target.kind() else {
        return Err(DavError::forbidden(
            "collections are created in a calendar or address book home",
        ));
    };
    let asked = if mkcol.resource_type.contains(&ResourceType::Calendar) {
        Some(CollectionKind::Calendar)
    } else if mkcol.resource_type.contains(&ResourceType::Addressbook) {
        Some(CollectionKind::AddressBook)
    } else {
        None
    };
    if asked.is_some_and(|k| k != home_kind) {
        return Err(DavError::condition(
            Precondition::CalendarCollectionLocationOk,
            "calendars are created under /dav/calendars/USER/ and address books under /dav/addressbooks/USER/",
        ));
    }
    create(ctx, home_kind, mkcol).await
}

async fn create(ctx: &Ctx<'_>, kind: CollectionKind, mkcol: MkCol) -> DavResult<Response<Body>> {
    let Target::Collection(target_kind, _, cref) = &ctx.target else {
        return Err(DavError::forbidden(
            "create a collection at /dav/calendars/USER/NAME/ or /dav/addressbooks/USER/NAME/",
        ));
    };
    if *target_kind != kind || cref.owner.is_some() {
        return Err(DavError::condition(
            Precondition::CalendarCollectionLocationOk,
            "calendars are created under /dav/calendars/USER/ and address books under /dav/addressbooks/USER/",
        ));
    }
    if ctx.principal.access.read_only {
        return Err(DavError::forbidden(
            "this app password is read-only: create one without --read-only",
        ));
    }
    let mut new = NewCollection {
        slug: cref.slug.clone(),
        components: if kind == CollectionKind::Calendar {
            components::ALL
        } else {
            components::VCARD
        },
        ..NewCollection::default()
    };
    for set in &mkcol.set {
        apply_initial(&mut new, kind, set)?;
    }
    ctx.store()
        .create_collection(ctx.principal.account.id, kind, new)
        .await
        .map_err(|e| match e {
            // MKCOL semantics (RFC 4918 §9.3.1): 405 when the name is taken.
            StorageError::Conflict(_) => DavError::Condition {
                status: StatusCode::METHOD_NOT_ALLOWED,
                precondition: Precondition::ResourceMustBeNull,
                hint: "a calendar or address book with this name exists: choose another name"
                    .into(),
            },
            StorageError::Invalid(why) => DavError::Status(StatusCode::FORBIDDEN, why),
            e => e.into(),
        })?;
    let mut resp = Response::new(response::empty());
    *resp.status_mut() = StatusCode::CREATED;
    Ok(resp)
}

/// A property given at creation.
fn apply_initial(
    new: &mut NewCollection,
    kind: CollectionKind,
    set: &SetProperty,
) -> DavResult<()> {
    if let (
        Property::CalDav(CalDavProperty::SupportedCalendarComponentSet),
        PropertyValue::Components(comps),
    ) = (&set.property, &set.value)
    {
        if kind != CollectionKind::Calendar {
            return Err(DavError::forbidden(
                "supported-calendar-component-set is for calendars: leave it out when creating an address book",
            ));
        }
        new.components = component_bits(comps)?;
        return Ok(());
    }
    match change_for(kind, set) {
        Ok(CollectionChange::DisplayName(v)) => new.displayname = v,
        Ok(CollectionChange::Description(v)) => new.description = v,
        Ok(CollectionChange::Color(v)) => new.color = v,
        Ok(CollectionChange::Order(v)) => new.sort_order = v,
        Ok(CollectionChange::Timezone(v)) => new.timezone = v,
        Ok(CollectionChange::Dead(PropChange::Set(p))) => new.dead.push(p),
        Ok(CollectionChange::Dead(PropChange::Remove { .. })) => {}
        Err((status, why)) => return Err(DavError::Status(status, why)),
    }
    Ok(())
}

fn component_bits(comps: &[ComponentType]) -> DavResult<i64> {
    let mut bits = 0;
    for c in comps {
        bits |= match c {
            ComponentType::VEvent => components::EVENT,
            ComponentType::VTodo => components::TODO,
            ComponentType::VJournal => components::JOURNAL,
            other => {
                return Err(DavError::condition(
                    Precondition::SupportedCalendarComponent,
                    format!(
                        "{} is not supported: calendars hold VEVENT, VTODO and VJOURNAL",
                        other.name()
                    ),
                ));
            }
        };
    }
    Ok(if bits == 0 { components::ALL } else { bits })
}

/// Answers PROPPATCH on a collection: every change applies, or none (RFC 4918 §9.2).
pub async fn proppatch(ctx: &Ctx<'_>, body: &[u8]) -> DavResult<Response<Body>> {
    let Target::Collection(kind, _, cref) = &ctx.target else {
        return Err(DavError::forbidden(
            "only calendars and address books take PROPPATCH here: send it to a collection inside your home",
        ));
    };
    let update = parse_proppatch(body, &Limits::DEFAULT)?;
    let opened = ctx.open(*kind, cref).await?;
    if opened.owner != ctx.user() {
        return Err(DavError::forbidden(format!(
            "only {} can change this collection's properties",
            opened.owner
        )));
    }
    let path = ctx.target.path();
    ctx.require_write(
        &opened,
        &path,
        crate::proto::names::Privilege::WriteProperties,
    )?;
    let mut changes = Vec::new();
    let mut outcomes: Vec<(Property, Result<(), Refusal>)> = Vec::new();
    for instruction in &update.instructions {
        let (property, result) = match instruction {
            Instruction::Set(set) => (set.property.clone(), change_for(*kind, set)),
            Instruction::Remove(property) => (property.clone(), removal_for(*kind, property)),
        };
        match result {
            Ok(change) => {
                changes.push(change);
                outcomes.push((property, Ok(())));
            }
            Err(e) => outcomes.push((property, Err(e))),
        }
    }
    let failed = outcomes.iter().any(|(_, r)| r.is_err());
    if !failed {
        ctx.store()
            .update_collection(opened.collection.id, &changes)
            .await?;
    }
    let mut response = XmlResponse::new(&path);
    for (property, outcome) in &outcomes {
        let status = match outcome {
            Ok(()) if failed => Status::FAILED_DEPENDENCY,
            Ok(()) => Status::OK,
            Err((code, _)) => Status::from_code(code.as_u16()),
        };
        response.prop(status, property, Value::Empty);
    }
    if let Some((_, Err((_, why)))) = outcomes.iter().find(|(_, r)| r.is_err()) {
        response.description(why);
    }
    let mut ms = Multistatus::new();
    ms.push(response);
    Ok(multistatus_pieces(ms.into_pieces(None)))
}

type Refusal = (StatusCode, String);

/// The change a PROPPATCH set asks for, or why it is refused.
fn change_for(kind: CollectionKind, set: &SetProperty) -> Result<CollectionChange, Refusal> {
    let calendar = kind == CollectionKind::Calendar;
    let text = || match &set.value {
        PropertyValue::Text(t) => Ok(Some(t.clone())),
        PropertyValue::Invalid(why) => Err((StatusCode::CONFLICT, why.clone())),
        _ => Ok(Some(set.raw.as_str().to_owned())),
    };
    Ok(match &set.property {
        Property::Dav(DavProperty::DisplayName) => CollectionChange::DisplayName(text()?),
        Property::CalDav(CalDavProperty::CalendarDescription) if calendar => {
            CollectionChange::Description(text()?)
        }
        Property::CardDav(CardDavProperty::AddressbookDescription) if !calendar => {
            CollectionChange::Description(text()?)
        }
        Property::CalDav(CalDavProperty::CalendarTimezone) if calendar => {
            let zone = text()?.unwrap_or_default();
            if ical::Zone::from_vtimezone(zone.as_bytes()).is_err() {
                return Err((
                    StatusCode::CONFLICT,
                    "calendar-timezone must be a VCALENDAR holding one valid VTIMEZONE".into(),
                ));
            }
            CollectionChange::Timezone(Some(zone))
        }
        Property::Apple(AppleProperty::CalendarColor) if calendar => match &set.value {
            PropertyValue::Color(rgba) => {
                CollectionChange::Color(Some(color_as_written(set.raw.as_str(), rgba)))
            }
            PropertyValue::Invalid(why) => return Err((StatusCode::CONFLICT, why.clone())),
            _ => CollectionChange::Color(text()?),
        },
        Property::Apple(AppleProperty::CalendarOrder) if calendar => match &set.value {
            PropertyValue::Order(n) => CollectionChange::Order(Some(*n)),
            PropertyValue::Invalid(why) => return Err((StatusCode::CONFLICT, why.clone())),
            _ => {
                return Err((
                    StatusCode::CONFLICT,
                    "calendar-order must be a number".into(),
                ));
            }
        },
        // Apple's colour and order mean nothing to an address book, but a client that
        // sets them gets them back.
        Property::Dead { .. } | Property::Apple(_) => {
            CollectionChange::Dead(PropChange::Set(DeadProp {
                namespace: set.property.namespace().uri().to_owned(),
                name: set.property.local_name().to_owned(),
                prefix: None,
                xml: set.raw.as_str().as_bytes().to_vec(),
            }))
        }
        _ => return Err(protected()),
    })
}

/// A valid calendar-color in the form its client wrote it: DAVx5 and Apple send
/// `#RRGGBBAA`, Thunderbird `#RRGGBB`, some lower case, and each compares what it reads
/// back with what it set. Only a missing `#` is added.
fn color_as_written(raw: &str, rgba: &Rgba) -> String {
    let text = raw.trim();
    let digits = text.strip_prefix('#').unwrap_or(text);
    if matches!(digits.len(), 6 | 8) && digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        format!("#{digits}")
    } else {
        // Written with character references: the canonical form instead.
        rgba.to_string()
    }
}

fn removal_for(kind: CollectionKind, property: &Property) -> Result<CollectionChange, Refusal> {
    let calendar = kind == CollectionKind::Calendar;
    Ok(match property {
        Property::Dav(DavProperty::DisplayName) => CollectionChange::DisplayName(None),
        Property::CalDav(CalDavProperty::CalendarDescription)
        | Property::CardDav(CardDavProperty::AddressbookDescription) => {
            CollectionChange::Description(None)
        }
        Property::CalDav(CalDavProperty::CalendarTimezone) => CollectionChange::Timezone(None),
        Property::Apple(AppleProperty::CalendarColor) if calendar => CollectionChange::Color(None),
        Property::Apple(AppleProperty::CalendarOrder) if calendar => CollectionChange::Order(None),
        Property::Dead { .. } | Property::Apple(_) => CollectionChange::Dead(PropChange::Remove {
            namespace: property.namespace().uri().to_owned(),
            name: property.local_name().to_owned(),
        }),
        _ => return Err(protected()),
    })
}

fn protected() -> Refusal {
    (
        StatusCode::FORBIDDEN,
        "this property is computed by the server or fixed at creation and cannot be changed".into(),
    )
}

/// Answers DELETE of a collection (its owner only).
pub async fn delete(ctx: &Ctx<'_>) -> DavResult<Response<Body>> {
    let Target::Collection(kind, _, cref) = &ctx.target else {
        return Err(DavError::forbidden(
            "homes and principals cannot be deleted: delete the calendars and address books inside them instead",
        ));
    };
    let opened = ctx.open(*kind, cref).await?;
    if opened.owner != ctx.user() {
        return Err(DavError::forbidden(format!(
            "this collection belongs to {}; only its owner can delete it (or stop sharing it)",
            opened.owner
        )));
    }
    if ctx.principal.access.read_only {
        return Err(DavError::forbidden(
            "this app password is read-only: create one without --read-only",
        ));
    }
    ctx.store().delete_collection(opened.collection.id).await?;
    let mut resp = Response::new(response::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}
