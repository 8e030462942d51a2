//! The resources whose properties PROPFIND and REPORT ask for. Only the type lives here,
//! below the property families that match on it; `props` writes their values.

use davgate_storage::{CollectionKind, DeadProp, ObjectMeta};

use crate::dav::access::Opened;

/// A resource whose properties are asked for.
pub enum Resource<'a> {
    /// `/dav/`.
    Root,
    /// `/dav/principals/`.
    Principals,
    /// A principal.
    Principal(&'a str),
    /// A calendar or address book home.
    Home(CollectionKind, &'a str),
    /// A collection, with its dead properties.
    Collection(&'a Opened, &'a [DeadProp]),
    /// An object; `data` when its text was read (for calendar-data / address-data).
    Object(&'a Opened, &'a ObjectMeta, Option<&'a str>),
}
