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
use super::super::names::Namespace;
use super::super::precondition::Precondition;
use super::super::writer::{DAVGATE_NAMESPACE, XmlWriter};

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
        Precondition::LockTokenSubmitted(paths) | Precondition::NoConflictingLock(paths) => {
            w.open(&ns, name);
            for path in paths {
                w.text_element(&Namespace::Dav, "href", &encode_path(path));
            }
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
    use super::super::super::names::Privilege;
    use super::super::super::precondition::NeededPrivilege;
    use super::super::super::status::Status;
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
            Precondition::LockTokenSubmitted(vec![path()]),
            Precondition::NoConflictingLock(vec![path()]),
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
