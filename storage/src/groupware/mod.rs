//! Calendars and address books: collections, their objects, the change log behind sync
//! tokens (RFC 6578) and shares between accounts.
//!
//! Objects are stored as the client sent them (the text is returned byte for byte) with
//! what queries need indexed beside it: UID, component type and the UTC span they may
//! occupy. What the text means is the protocol layer's business; this module only keeps
//! it consistent: one UID per collection, every change numbered.

mod collections;
mod objects;
mod shares;

pub use collections::{Collection, CollectionChange, CollectionId, CollectionKind, NewCollection};
pub use objects::{Change, Changes, DavObject, NewObject, ObjectMeta, Precondition, Written};
pub use shares::Share;
