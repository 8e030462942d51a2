//! Request bodies → typed requests: PROPFIND in `propfind`, PROPPATCH/MKCALENDAR/MKCOL
//! in `proppatch`, and the REPORTs in `report`, `calendar`, `addressbook`, `sync` and
//! `principal`. This file only declares and re-exports: its children import each other
//! (never it), each importing only those listed before it: filter, selection, propfind,
//! then calendar, addressbook, sync, principal and proppatch, then report; lockinfo
//! needs only propfind.
//!
//! Rule for unknown content (RFC 4918 §17): unknown elements are ignored, except
//! inside filters, where ignoring one would widen the result, so they are refused
//! with the RFC's supported-filter precondition.

mod addressbook;
mod calendar;
mod filter;
mod lockinfo;
mod principal;
mod propfind;
mod proppatch;
mod report;
mod selection;
mod sync;

pub use addressbook::{AddressbookQuery, CardFilter, CardPropFilter, CardPropTest, FilterTest};
pub use calendar::{
    CalendarQuery, CompFilter, CompTest, FreeBusyQuery, PropCondition, PropFilter, PropTest,
};
pub use filter::{
    Collation, MatchType, ParamFilter, ParamTest, PropSelector, Selection, TextMatch, TimeRange,
};
pub use lockinfo::{LockInfo, LockScope, parse_lockinfo};
pub use principal::{PrincipalPropertySearch, PropertySearch, SearchTest};
pub use propfind::{PropFind, ReportProps, parse_propfind};
pub use proppatch::{
    Instruction, MkCol, MkColKind, PropertyUpdate, PropertyValue, SetProperty, parse_mkcalendar,
    parse_mkcol, parse_proppatch,
};
pub use report::{Multiget, Report, parse_report};
pub use selection::{AddressDataRequest, CalendarDataRequest, CompSelection};
pub use sync::{SyncCollection, SyncLevel};

#[cfg(test)]
mod tests;
