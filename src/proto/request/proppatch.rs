//! Bodies that set properties: PROPPATCH (RFC 4918 §9.2), MKCALENDAR (RFC 4791 §5.3.1)
//! and extended MKCOL (RFC 5689).
//!
//! Each set value is kept twice: typed, for the properties the server interprets, and
//! as raw inner XML, which is what a dead property stores and returns verbatim.

use super::super::error::XmlError;
use super::super::names::{
    AppleProperty, CalDavProperty, CardDavProperty, ComponentType, DavProperty, Namespace,
    Property, ResourceType,
};
use super::super::raw::RawXml;
use super::super::reader::{Element, Limits, parse_document};
use super::super::value::Rgba;
use super::propfind::expect_root;

/// A PROPPATCH body: instructions in document order, which RFC 4918 §9.2 requires the
/// server to apply in that order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyUpdate {
    /// The set and remove instructions, one per property.
    pub instructions: Vec<Instruction>,
}

/// One property to set or remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    /// Set a property.
    Set(SetProperty),
    /// Remove a property.
    Remove(Property),
}

/// A property with the value to give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetProperty {
    /// Which property.
    pub property: Property,
    /// The value, typed where the server understands the property.
    pub value: PropertyValue,
    /// The inner XML, self-contained (namespaces declared), for dead properties.
    pub raw: RawXml,
    /// `xml:lang` on the property element, which RFC 4918 §4.3 asks us to keep.
    pub lang: Option<String>,
}

/// The typed reading of a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropertyValue {
    /// displayname, calendar-description, addressbook-description, calendar-timezone.
    Text(String),
    /// calendar-color.
    Color(Rgba),
    /// calendar-order.
    Order(i64),
    /// supported-calendar-component-set.
    Components(Vec<ComponentType>),
    /// resourcetype.
    ResourceType(Vec<ResourceType>),
    /// Nothing to type: use `raw`.
    Raw,
    /// A property we understand with a value we cannot accept; the server answers it
    /// with 409 in the PROPPATCH multistatus (RFC 4918 §9.2.1) rather than failing
    /// the whole body.
    Invalid(String),
}

/// Which method created the collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MkColKind {
    /// MKCALENDAR.
    MkCalendar,
    /// MKCOL, plain or extended.
    MkCol,
}

/// A MKCALENDAR or MKCOL body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MkCol {
    /// Which method.
    pub kind: MkColKind,
    /// The resource type to create: given by the extended MKCOL's resourcetype,
    /// implied as collection + calendar for MKCALENDAR, collection for a bare MKCOL.
    pub resource_type: Vec<ResourceType>,
    /// The other properties to set, in order (resourcetype is not repeated here).
    pub set: Vec<SetProperty>,
}

/// Parses a PROPPATCH body.
pub fn parse_proppatch(body: &[u8], limits: &Limits) -> Result<PropertyUpdate, XmlError> {
    const CLARK: &str = "{DAV:}propertyupdate";
    let root = parse_document(body, limits)?;
    expect_root(&root, &Namespace::Dav, "propertyupdate", CLARK)?;
    let mut instructions = Vec::new();
    for child in root.elements() {
        let set = match (&child.namespace, child.name.as_str()) {
            (Namespace::Dav, "set") => true,
            (Namespace::Dav, "remove") => false,
            _ => continue,
        };
        for prop in child.elements().filter(|e| e.is(&Namespace::Dav, "prop")) {
            for element in prop.elements() {
                instructions.push(if set {
                    Instruction::Set(set_property(element))
                } else {
                    Instruction::Remove(Property::from_parts(
                        element.namespace.clone(),
                        &element.name,
                    ))
                });
            }
        }
    }
    if instructions.is_empty() {
        return Err(XmlError::invalid(CLARK, "nothing to set or remove"));
    }
    Ok(PropertyUpdate { instructions })
}

/// Parses a MKCALENDAR body; an empty body creates a calendar with defaults.
pub fn parse_mkcalendar(body: &[u8], limits: &Limits) -> Result<MkCol, XmlError> {
    let implied = vec![ResourceType::Collection, ResourceType::Calendar];
    let root = match parse_document(body, limits) {
        Err(XmlError::EmptyBody) => return Ok(mkcol(MkColKind::MkCalendar, implied, Vec::new())),
        other => other?,
    };
    expect_root(
        &root,
        &Namespace::CalDav,
        "mkcalendar",
        "{urn:ietf:params:xml:ns:caldav}mkcalendar",
    )?;
    let set = set_properties(&root);
    Ok(mkcol(MkColKind::MkCalendar, implied, set))
}

/// Parses an extended MKCOL body; an empty body is a plain MKCOL.
pub fn parse_mkcol(body: &[u8], limits: &Limits) -> Result<MkCol, XmlError> {
    let plain = vec![ResourceType::Collection];
    let root = match parse_document(body, limits) {
        Err(XmlError::EmptyBody) => return Ok(mkcol(MkColKind::MkCol, plain, Vec::new())),
        other => other?,
    };
    expect_root(&root, &Namespace::Dav, "mkcol", "{DAV:}mkcol")?;
    let mut resource_type = plain;
    let mut set = Vec::new();
    for property in set_properties(&root) {
        match property.value {
            PropertyValue::ResourceType(types) => resource_type = types,
            _ => set.push(property),
        }
    }
    Ok(mkcol(MkColKind::MkCol, resource_type, set))
}

fn mkcol(kind: MkColKind, resource_type: Vec<ResourceType>, set: Vec<SetProperty>) -> MkCol {
    MkCol {
        kind,
        resource_type,
        set,
    }
}

/// Every property under `D:set/D:prop` of a MKCALENDAR or MKCOL root.
fn set_properties(root: &Element) -> Vec<SetProperty> {
    root.elements()
        .filter(|e| e.is(&Namespace::Dav, "set"))
        .flat_map(|set| set.elements().filter(|e| e.is(&Namespace::Dav, "prop")))
        .flat_map(|prop| prop.elements().map(set_property))
        .collect()
}

fn set_property(element: &Element) -> SetProperty {
    let property = Property::from_parts(element.namespace.clone(), &element.name);
    SetProperty {
        value: typed_value(&property, element),
        raw: element.inner_xml(),
        lang: element.lang().map(str::to_owned),
        property,
    }
}

fn typed_value(property: &Property, element: &Element) -> PropertyValue {
    match property {
        Property::Dav(DavProperty::DisplayName)
        | Property::CalDav(
            CalDavProperty::CalendarDescription | CalDavProperty::CalendarTimezone,
        )
        | Property::CardDav(CardDavProperty::AddressbookDescription) => {
            if element.has_elements() {
                return PropertyValue::Invalid("expected text, found elements".to_owned());
            }
            PropertyValue::Text(element.text())
        }
        Property::Apple(AppleProperty::CalendarColor) => match Rgba::parse(&element.text()) {
            Ok(color) => PropertyValue::Color(color),
            Err(reason) => PropertyValue::Invalid(reason.to_owned()),
        },
        Property::Apple(AppleProperty::CalendarOrder) => {
            let text = element.text();
            match text.trim().parse::<i64>() {
                Ok(order) => PropertyValue::Order(order),
                Err(_) => {
                    PropertyValue::Invalid(format!("calendar-order {text:?} is not an integer"))
                }
            }
        }
        Property::CalDav(CalDavProperty::SupportedCalendarComponentSet) => {
            let mut components = Vec::new();
            for comp in element
                .elements()
                .filter(|e| e.is(&Namespace::CalDav, "comp"))
            {
                match comp.attribute("name").filter(|n| !n.trim().is_empty()) {
                    Some(name) => components.push(ComponentType::from_name(name)),
                    None => {
                        return PropertyValue::Invalid("comp needs a name attribute".to_owned());
                    }
                }
            }
            PropertyValue::Components(components)
        }
        Property::Dav(DavProperty::ResourceType) => PropertyValue::ResourceType(
            element
                .elements()
                .map(|e| ResourceType::from_parts(e.namespace.clone(), &e.name))
                .collect(),
        ),
        _ => PropertyValue::Raw,
    }
}
