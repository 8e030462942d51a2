//! Precondition and postcondition elements (RFC 4918 §16) and the `DAV:error` body.
//!
//! The human-readable hint goes in `<DG:hint>` of our namespace
//! `http://davgate.org/ns`, a sibling of the condition element inside `D:error`.
//! Why not `D:responsedescription`: RFC 4918 defines that element only inside
//! `multistatus` and `response`, so inside `D:error` it would be a DAV element with a
//! meaning the RFC does not give it; an element of our own namespace is what RFC 4918
//! §17 tells clients to ignore when they do not know it, and sabre/dav's `s:message`
//! (which Thunderbird, DAVx5 and iOS all meet on Nextcloud) shows clients cope.

use super::super::href::encode_path;
use super::super::names::{Namespace, Privilege};
use super::super::response::Status;
use super::super::response::writer::{DAVGATE_NAMESPACE, XmlWriter};

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
            _ => Status::FORBIDDEN,
        }
    }
}

/// Writes the condition element (with its `D:href` content where it has one).
pub(crate) fn write_condition(w: &mut XmlWriter, condition: &Precondition) {
    let (ns, name) = condition.qname();
    match condition {
        Precondition::CalendarNoUidConflict { path }
        | Precondition::AddressbookNoUidConflict { path } => {
            w.open(&ns, name);
            w.text_element(&Namespace::Dav, "href", &encode_path(path));
            w.close(&ns, name);
        }
        Precondition::NeedPrivileges(needed) => {
            w.open(&ns, name);
            for item in needed {
                w.open(&Namespace::Dav, "resource");
                w.text_element(&Namespace::Dav, "href", &encode_path(&item.path));
                w.open(&Namespace::Dav, "privilege");
                w.empty(&Namespace::Dav, item.privilege.name());
                w.close(&Namespace::Dav, "privilege");
                w.close(&Namespace::Dav, "resource");
            }
            w.close(&ns, name);
        }
        _ => w.empty(&ns, name),
    }
}

/// A complete `<D:error>` body for a failed precondition, with an optional hint for
/// the person reading the client's log.
pub fn error_body(condition: &Precondition, hint: Option<&str>) -> Vec<u8> {
    let mut w = XmlWriter::document(&Namespace::Dav, "error");
    write_condition(&mut w, condition);
    if let Some(hint) = hint {
        w.text_element(
            &Namespace::Other(DAVGATE_NAMESPACE.to_owned()),
            "hint",
            hint,
        );
    }
    w.close(&Namespace::Dav, "error");
    w.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(condition: &Precondition, hint: Option<&str>) -> String {
        String::from_utf8(error_body(condition, hint)).unwrap()
    }

    const ROOT: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:error xmlns:D=\"DAV:\" \
        xmlns:C=\"urn:ietf:params:xml:ns:caldav\" xmlns:CR=\"urn:ietf:params:xml:ns:carddav\" \
        xmlns:CS=\"http://calendarserver.org/ns/\" xmlns:ICAL=\"http://apple.com/ns/ical/\"";

    #[test]
    fn plain_condition_without_hint() {
        assert_eq!(
            body(&Precondition::ValidCalendarData, None),
            format!("{ROOT}><C:valid-calendar-data/></D:error>")
        );
    }

    #[test]
    fn hint_is_escaped_text_in_our_namespace() {
        let text = body(
            &Precondition::ValidSyncToken,
            Some("token <old> & \u{1}gone"),
        );
        assert_eq!(
            text,
            format!(
                "{ROOT}><D:valid-sync-token/><DG:hint xmlns:DG=\"http://davgate.org/ns\">\
                 token &lt;old&gt; &amp; \u{FFFD}gone</DG:hint></D:error>"
            )
        );
    }

    #[test]
    fn uid_conflict_carries_the_encoded_href() {
        let text = body(
            &Precondition::CalendarNoUidConflict {
                path: "/dav/calendars/ann/work/a b.ics".into(),
            },
            None,
        );
        assert!(text.contains(
            "<C:no-uid-conflict><D:href>/dav/calendars/ann/work/a%20b.ics</D:href></C:no-uid-conflict>"
        ));
        assert_eq!(
            Precondition::CalendarNoUidConflict {
                path: String::new()
            }
            .status(),
            Status::CONFLICT
        );
    }

    #[test]
    fn every_condition_writes_a_well_formed_body_naming_it() {
        use super::super::super::reader::{Limits, parse_document};
        let path = || "/dav/x y/".to_owned();
        let all = [
            Precondition::ValidCalendarData,
            Precondition::ValidCalendarObjectResource,
            Precondition::SupportedCalendarComponent,
            Precondition::SupportedCalendarData,
            Precondition::CalendarNoUidConflict { path: path() },
            Precondition::CalendarMaxResourceSize,
            Precondition::CalendarValidFilter,
            Precondition::CalendarSupportedFilter,
            Precondition::CalendarSupportedCollation,
            Precondition::CalendarCollectionLocationOk,
            Precondition::ValidAddressData,
            Precondition::SupportedAddressData,
            Precondition::AddressbookNoUidConflict { path: path() },
            Precondition::AddressbookMaxResourceSize,
            Precondition::AddressbookSupportedFilter,
            Precondition::AddressbookSupportedCollation,
            Precondition::ValidSyncToken,
            Precondition::NumberOfMatchesWithinLimits,
            Precondition::NeedPrivileges(vec![NeededPrivilege {
                path: path(),
                privilege: Privilege::Write,
            }]),
            Precondition::PropfindFiniteDepth,
            Precondition::SupportedReport,
            Precondition::ResourceMustBeNull,
            Precondition::CannotModifyProtectedProperty,
        ];
        for condition in &all {
            let bytes = error_body(condition, Some("why"));
            let root = parse_document(&bytes, &Limits::DEFAULT).unwrap();
            assert!(root.is(&Namespace::Dav, "error"));
            let (ns, name) = condition.qname();
            let first = root.elements().next().unwrap();
            assert!(first.is(&ns, name), "{condition:?}");
            let hint = root.elements().nth(1).unwrap();
            assert_eq!(hint.clark(), "{http://davgate.org/ns}hint");
            assert_eq!(hint.text(), "why");
        }
    }

    #[test]
    fn need_privileges_lists_resources() {
        let text = body(
            &Precondition::NeedPrivileges(vec![NeededPrivilege {
                path: "/dav/calendars/bob/".into(),
                privilege: Privilege::Bind,
            }]),
            None,
        );
        assert!(text.contains(
            "<D:need-privileges><D:resource><D:href>/dav/calendars/bob/</D:href>\
             <D:privilege><D:bind/></D:privilege></D:resource></D:need-privileges>"
        ));
        assert_eq!(Precondition::SupportedReport.status(), Status::FORBIDDEN);
        assert_eq!(
            Precondition::NumberOfMatchesWithinLimits.status(),
            Status::INSUFFICIENT_STORAGE
        );
    }
}
