//! Precondition and postcondition codes (RFC 4918 §16 and the RFCs that extend it):
//! what failed, the element that names it, and the status its RFC gives it.
//!
//! Only facts live here; [`super::response`] writes them into `D:error` bodies and
//! [`super::error::XmlError`] points at them, so both depend on this module and it on
//! neither.

use super::names::{Namespace, Privilege};
use super::status::Status;

/// A condition code: the element that goes inside `D:error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// `C:valid-calendar-data` (RFC 4791 §5.3.2.1): not parseable iCalendar.
    ValidCalendarData,
    /// `C:valid-calendar-object-resource`: iCalendar that breaks RFC 4791 §4.1 rules.
    ValidCalendarObjectResource,
    /// `C:supported-calendar-component`: a component the collection does not accept.
    SupportedCalendarComponent,
    /// `C:supported-calendar-data`: a media type or version we do not store.
    SupportedCalendarData,
    /// `C:no-uid-conflict` with the path of the resource already using the UID.
    CalendarNoUidConflict {
        /// Decoded path of the conflicting resource.
        path: String,
    },
    /// `C:max-resource-size`.
    CalendarMaxResourceSize,
    /// `C:valid-filter` (RFC 4791 §7.8).
    CalendarValidFilter,
    /// `C:supported-filter`.
    CalendarSupportedFilter,
    /// `C:supported-collation`.
    CalendarSupportedCollation,
    /// `C:calendar-collection-location-ok` (MKCALENDAR somewhere it cannot go).
    CalendarCollectionLocationOk,
    /// `CR:valid-address-data` (RFC 6352 §6.3.2.1).
    ValidAddressData,
    /// `CR:supported-address-data`.
    SupportedAddressData,
    /// `CR:no-uid-conflict` with the path of the resource already using the UID.
    AddressbookNoUidConflict {
        /// Decoded path of the conflicting resource.
        path: String,
    },
    /// `CR:max-resource-size`.
    AddressbookMaxResourceSize,
    /// `CR:supported-filter` (RFC 6352 §8.6).
    AddressbookSupportedFilter,
    /// `CR:supported-collation`.
    AddressbookSupportedCollation,
    /// `D:valid-sync-token` (RFC 6578 §3.2): an unknown or expired token.
    ValidSyncToken,
    /// `D:number-of-matches-within-limits` (RFC 6578 §3.2, RFC 5323).
    NumberOfMatchesWithinLimits,
    /// `D:need-privileges` (RFC 3744 §7.1.1).
    NeedPrivileges(Vec<NeededPrivilege>),
    /// `D:propfind-finite-depth` (RFC 4918 §9.1): `Depth: infinity` refused.
    PropfindFiniteDepth,
    /// `D:supported-report` (RFC 3253 §3.6).
    SupportedReport,
    /// `D:resource-must-be-null` (RFC 4791 §5.3.1, RFC 5689).
    ResourceMustBeNull,
    /// `D:cannot-modify-protected-property` (RFC 4918 §16).
    CannotModifyProtectedProperty,
    /// `D:lock-token-submitted` (RFC 4918 §16): a write without the token of the lock
    /// rooted at these decoded paths.
    LockTokenSubmitted(Vec<String>),
    /// `D:no-conflicting-lock` (RFC 4918 §16): a LOCK refused because of the lock rooted
    /// at these decoded paths.
    NoConflictingLock(Vec<String>),
}

/// One `D:resource` of a need-privileges condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeededPrivilege {
    /// Decoded path of the resource.
    pub path: String,
    /// The privilege the request lacked.
    pub privilege: Privilege,
}

impl Precondition {
    /// The condition element's namespace and local name.
    pub fn qname(&self) -> (Namespace, &'static str) {
        use Precondition as P;
        match self {
            P::ValidCalendarData => (Namespace::CalDav, "valid-calendar-data"),
            P::ValidCalendarObjectResource => (Namespace::CalDav, "valid-calendar-object-resource"),
            P::SupportedCalendarComponent => (Namespace::CalDav, "supported-calendar-component"),
            P::SupportedCalendarData => (Namespace::CalDav, "supported-calendar-data"),
            P::CalendarNoUidConflict { .. } => (Namespace::CalDav, "no-uid-conflict"),
            P::CalendarMaxResourceSize => (Namespace::CalDav, "max-resource-size"),
            P::CalendarValidFilter => (Namespace::CalDav, "valid-filter"),
            P::CalendarSupportedFilter => (Namespace::CalDav, "supported-filter"),
            P::CalendarSupportedCollation => (Namespace::CalDav, "supported-collation"),
            P::CalendarCollectionLocationOk => {
                (Namespace::CalDav, "calendar-collection-location-ok")
            }
            P::ValidAddressData => (Namespace::CardDav, "valid-address-data"),
            P::SupportedAddressData => (Namespace::CardDav, "supported-address-data"),
            P::AddressbookNoUidConflict { .. } => (Namespace::CardDav, "no-uid-conflict"),
            P::AddressbookMaxResourceSize => (Namespace::CardDav, "max-resource-size"),
            P::AddressbookSupportedFilter => (Namespace::CardDav, "supported-filter"),
            P::AddressbookSupportedCollation => (Namespace::CardDav, "supported-collation"),
            P::ValidSyncToken => (Namespace::Dav, "valid-sync-token"),
            P::NumberOfMatchesWithinLimits => (Namespace::Dav, "number-of-matches-within-limits"),
            P::NeedPrivileges(_) => (Namespace::Dav, "need-privileges"),
            P::PropfindFiniteDepth => (Namespace::Dav, "propfind-finite-depth"),
            P::SupportedReport => (Namespace::Dav, "supported-report"),
            P::ResourceMustBeNull => (Namespace::Dav, "resource-must-be-null"),
            P::CannotModifyProtectedProperty => {
                (Namespace::Dav, "cannot-modify-protected-property")
            }
            P::LockTokenSubmitted(_) => (Namespace::Dav, "lock-token-submitted"),
            P::NoConflictingLock(_) => (Namespace::Dav, "no-conflicting-lock"),
        }
    }

    /// The status the defining RFC gives a request failing this condition. The server
    /// may still choose (MKCOL on an existing resource is commonly 405).
    pub fn status(&self) -> Status {
        match self {
            // RFC 6578 §3.2 and RFC 5323 §5.17: truncated results are 507.
            Self::NumberOfMatchesWithinLimits => Status::INSUFFICIENT_STORAGE,
            // A UID clash is a conflict with another resource's state (RFC 4918 §9.7.2's
            // meaning of 409); DAVx5 and Thunderbird treat 409 as "conflict", not failure.
            Self::CalendarNoUidConflict { .. } | Self::AddressbookNoUidConflict { .. } => {
                Status::CONFLICT
            }
            Self::LockTokenSubmitted(_) | Self::NoConflictingLock(_) => Status::LOCKED,
            _ => Status::FORBIDDEN,
        }
    }
}
