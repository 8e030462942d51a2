//! Typed XML names: namespaces, properties, reports, resource types, privileges and
//! iCalendar component names.
//!
//! Everything the server matches on is an enum here, so a typo is a compile error and
//! an unknown name is an explicit `Dead`/`Other` value rather than a stray string.

use std::fmt;

/// An XML namespace, with the ones DAV clients use spelled out.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Namespace {
    /// `DAV:` (RFC 4918, 3744, 5397, 6578, 4331).
    Dav,
    /// `urn:ietf:params:xml:ns:caldav` (RFC 4791, 6638).
    CalDav,
    /// `urn:ietf:params:xml:ns:carddav` (RFC 6352).
    CardDav,
    /// `http://calendarserver.org/ns/`: Apple's CalendarServer extensions (getctag).
    CalendarServer,
    /// `http://apple.com/ns/ical/`: calendar-color, calendar-order.
    AppleIcal,
    /// Any other namespace URI; the empty string means "no namespace".
    Other(String),
}

impl Namespace {
    /// The namespace for a URI, mapping the well-known ones to their variants.
    pub fn from_uri(uri: &str) -> Self {
        match uri {
            "DAV:" => Self::Dav,
            "urn:ietf:params:xml:ns:caldav" => Self::CalDav,
            "urn:ietf:params:xml:ns:carddav" => Self::CardDav,
            "http://calendarserver.org/ns/" => Self::CalendarServer,
            "http://apple.com/ns/ical/" => Self::AppleIcal,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The namespace URI.
    pub fn uri(&self) -> &str {
        match self {
            Self::Dav => "DAV:",
            Self::CalDav => "urn:ietf:params:xml:ns:caldav",
            Self::CardDav => "urn:ietf:params:xml:ns:carddav",
            Self::CalendarServer => "http://calendarserver.org/ns/",
            Self::AppleIcal => "http://apple.com/ns/ical/",
            Self::Other(uri) => uri,
        }
    }

    /// The fixed prefix our writers declare for this namespace, if it has one.
    pub fn prefix(&self) -> Option<&'static str> {
        match self {
            Self::Dav => Some("D"),
            Self::CalDav => Some("C"),
            Self::CardDav => Some("CR"),
            Self::CalendarServer => Some("CS"),
            Self::AppleIcal => Some("ICAL"),
            Self::Other(_) => None,
        }
    }

    /// Whether this is "no namespace" (an unprefixed name with no default namespace).
    pub fn is_none(&self) -> bool {
        matches!(self, Self::Other(uri) if uri.is_empty())
    }
}

/// Declares a family of properties (or other names) of one namespace, with the table
/// from XML local name to variant written once.
macro_rules! name_table {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $xml:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The XML local name.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $xml,)+
                }
            }

            /// The variant for an XML local name (case-sensitive, as XML is).
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($xml => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

name_table! {
    /// Live properties of the `DAV:` namespace we understand.
    DavProperty {
        /// RFC 4918 §15.9.
        ResourceType => "resourcetype",
        /// RFC 4918 §15.2.
        DisplayName => "displayname",
        /// RFC 4918 §15.6.
        GetEtag => "getetag",
        /// RFC 4918 §15.5.
        GetContentType => "getcontenttype",
        /// RFC 4918 §15.4.
        GetContentLength => "getcontentlength",
        /// RFC 4918 §15.7.
        GetLastModified => "getlastmodified",
        /// RFC 4918 §15.1.
        CreationDate => "creationdate",
        /// RFC 5397.
        CurrentUserPrincipal => "current-user-principal",
        /// RFC 3744 §4.2.
        PrincipalUrl => "principal-URL",
        /// RFC 3744 §5.1.
        Owner => "owner",
        /// RFC 3253 §3.1.5.
        SupportedReportSet => "supported-report-set",
        /// RFC 3744 §5.4.
        CurrentUserPrivilegeSet => "current-user-privilege-set",
        /// RFC 6578 §4.
        SyncToken => "sync-token",
        /// RFC 4331 §3.
        QuotaAvailableBytes => "quota-available-bytes",
        /// RFC 4331 §4.
        QuotaUsedBytes => "quota-used-bytes",
        /// RFC 5995 §3.2.1.
        AddMember => "add-member",
        /// RFC 4918 §15.8.
        LockDiscovery => "lockdiscovery",
        /// RFC 4918 §15.10.
        SupportedLock => "supportedlock",
        /// RFC 3744 §5.8, asked for by macOS during discovery.
        PrincipalCollectionSet => "principal-collection-set",
        /// RFC 5842 §3.1, asked for by macOS.
        ResourceId => "resource-id",
    }
}

name_table! {
    /// Properties of the CalDAV namespace (RFC 4791, RFC 6638).
    CalDavProperty {
        /// RFC 4791 §6.2.1.
        CalendarHomeSet => "calendar-home-set",
        /// RFC 6638 §2.4.1.
        CalendarUserAddressSet => "calendar-user-address-set",
        /// RFC 6638 §2.4.2.
        CalendarUserType => "calendar-user-type",
        /// RFC 4791 §5.2.1.
        CalendarDescription => "calendar-description",
        /// RFC 4791 §5.2.2: a VCALENDAR with one VTIMEZONE, as text.
        CalendarTimezone => "calendar-timezone",
        /// RFC 4791 §5.2.3.
        SupportedCalendarComponentSet => "supported-calendar-component-set",
        /// RFC 4791 §5.2.4.
        SupportedCalendarData => "supported-calendar-data",
        /// RFC 4791 §5.2.5.
        MaxResourceSize => "max-resource-size",
        /// RFC 4791 §5.2.6.
        MinDateTime => "min-date-time",
        /// RFC 4791 §5.2.7.
        MaxDateTime => "max-date-time",
        /// RFC 4791 §5.2.8.
        MaxInstances => "max-instances",
        /// RFC 4791 §5.2.9.
        MaxAttendeesPerInstance => "max-attendees-per-instance",
        /// RFC 6638 §2.2.
        ScheduleInboxUrl => "schedule-inbox-URL",
        /// RFC 6638 §2.1.
        ScheduleOutboxUrl => "schedule-outbox-URL",
        /// RFC 4791 §9.6: the calendar object itself, in REPORT responses.
        CalendarData => "calendar-data",
    }
}

name_table! {
    /// Properties of the CardDAV namespace (RFC 6352).
    CardDavProperty {
        /// RFC 6352 §7.1.1.
        AddressbookHomeSet => "addressbook-home-set",
        /// RFC 6352 §6.2.1.
        AddressbookDescription => "addressbook-description",
        /// RFC 6352 §6.2.2.
        SupportedAddressData => "supported-address-data",
        /// RFC 6352 §6.2.3.
        MaxResourceSize => "max-resource-size",
        /// RFC 6352 §10.4: the vCard itself, in REPORT responses.
        AddressData => "address-data",
    }
}

name_table! {
    /// Properties of Apple's CalendarServer namespace.
    CalendarServerProperty {
        /// The collection tag clients poll before sync-collection existed.
        GetCtag => "getctag",
        /// A principal's e-mail addresses, which Apple clients search and show.
        EmailAddressSet => "email-address-set",
    }
}

name_table! {
    /// Properties of Apple's iCal namespace.
    AppleProperty {
        /// `#RRGGBBAA` colour of a calendar.
        CalendarColor => "calendar-color",
        /// Integer sort position of a calendar.
        CalendarOrder => "calendar-order",
    }
}

/// A property name, typed where we know it, dead otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Property {
    /// A `DAV:` property we understand.
    Dav(DavProperty),
    /// A CalDAV property we understand.
    CalDav(CalDavProperty),
    /// A CardDAV property we understand.
    CardDav(CardDavProperty),
    /// A CalendarServer property we understand.
    CalendarServer(CalendarServerProperty),
    /// An Apple iCal property we understand.
    Apple(AppleProperty),
    /// Anything else: stored and returned verbatim.
    Dead {
        /// Its namespace.
        namespace: Namespace,
        /// Its local name.
        name: String,
    },
}

impl Property {
    /// The property for a (namespace URI, local name) pair.
    pub fn from_qname(namespace_uri: &str, local: &str) -> Self {
        Self::from_parts(Namespace::from_uri(namespace_uri), local)
    }

    /// The property for a resolved namespace and local name.
    pub fn from_parts(namespace: Namespace, local: &str) -> Self {
        let known = match namespace {
            Namespace::Dav => DavProperty::from_name(local).map(Self::Dav),
            Namespace::CalDav => CalDavProperty::from_name(local).map(Self::CalDav),
            Namespace::CardDav => CardDavProperty::from_name(local).map(Self::CardDav),
            Namespace::CalendarServer => {
                CalendarServerProperty::from_name(local).map(Self::CalendarServer)
            }
            Namespace::AppleIcal => AppleProperty::from_name(local).map(Self::Apple),
            Namespace::Other(_) => None,
        };
        known.unwrap_or_else(|| Self::Dead {
            namespace,
            name: local.to_owned(),
        })
    }

    /// Its namespace.
    pub fn namespace(&self) -> Namespace {
        match self {
            Self::Dav(_) => Namespace::Dav,
            Self::CalDav(_) => Namespace::CalDav,
            Self::CardDav(_) => Namespace::CardDav,
            Self::CalendarServer(_) => Namespace::CalendarServer,
            Self::Apple(_) => Namespace::AppleIcal,
            Self::Dead { namespace, .. } => namespace.clone(),
        }
    }

    /// Its XML local name.
    pub fn local_name(&self) -> &str {
        match self {
            Self::Dav(p) => p.name(),
            Self::CalDav(p) => p.name(),
            Self::CardDav(p) => p.name(),
            Self::CalendarServer(p) => p.name(),
            Self::Apple(p) => p.name(),
            Self::Dead { name, .. } => name,
        }
    }

    /// Whether this is a dead property (one we store verbatim).
    pub fn is_dead(&self) -> bool {
        matches!(self, Self::Dead { .. })
    }
}

/// Clark notation, `{DAV:}displayname`, for logs and error messages.
impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}{}", self.namespace().uri(), self.local_name())
    }
}

name_table! {
    /// The REPORTs this layer parses, for dispatch and for `DAV:supported-report-set`.
    ReportName {
        /// RFC 4791 §7.8 (CalDAV namespace).
        CalendarQuery => "calendar-query",
        /// RFC 4791 §7.9 (CalDAV namespace).
        CalendarMultiget => "calendar-multiget",
        /// RFC 4791 §7.10 (CalDAV namespace).
        FreeBusyQuery => "free-busy-query",
        /// RFC 6352 §8.6 (CardDAV namespace).
        AddressbookQuery => "addressbook-query",
        /// RFC 6352 §8.7 (CardDAV namespace).
        AddressbookMultiget => "addressbook-multiget",
        /// RFC 6578 §3.2 (`DAV:` namespace).
        SyncCollection => "sync-collection",
        /// RFC 3744 §9.4 (`DAV:` namespace).
        PrincipalPropertySearch => "principal-property-search",
        /// RFC 3744 §9.5 (`DAV:` namespace).
        PrincipalSearchPropertySet => "principal-search-property-set",
    }
}

impl ReportName {
    /// The namespace of the report's root element.
    pub fn namespace(self) -> Namespace {
        match self {
            Self::CalendarQuery | Self::CalendarMultiget | Self::FreeBusyQuery => Namespace::CalDav,
            Self::AddressbookQuery | Self::AddressbookMultiget => Namespace::CardDav,
            Self::SyncCollection
            | Self::PrincipalPropertySearch
            | Self::PrincipalSearchPropertySet => Namespace::Dav,
        }
    }

    /// The report named by a root element, if it is one we know.
    pub fn from_qname(namespace: &Namespace, local: &str) -> Option<Self> {
        Self::from_name(local).filter(|report| report.namespace() == *namespace)
    }
}

/// A child of `DAV:resourcetype`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResourceType {
    /// `DAV:collection`.
    Collection,
    /// `CALDAV:calendar`.
    Calendar,
    /// `CARDDAV:addressbook`.
    Addressbook,
    /// `DAV:principal`.
    Principal,
    /// `CALDAV:schedule-inbox` (RFC 6638).
    ScheduleInbox,
    /// `CALDAV:schedule-outbox` (RFC 6638).
    ScheduleOutbox,
    /// Anything else, kept so a client's extra marker survives.
    Other {
        /// Its namespace.
        namespace: Namespace,
        /// Its local name.
        name: String,
    },
}

impl ResourceType {
    /// The resource type for a resolved element name.
    pub fn from_parts(namespace: Namespace, local: &str) -> Self {
        match (&namespace, local) {
            (Namespace::Dav, "collection") => Self::Collection,
            (Namespace::Dav, "principal") => Self::Principal,
            (Namespace::CalDav, "calendar") => Self::Calendar,
            (Namespace::CalDav, "schedule-inbox") => Self::ScheduleInbox,
            (Namespace::CalDav, "schedule-outbox") => Self::ScheduleOutbox,
            (Namespace::CardDav, "addressbook") => Self::Addressbook,
            _ => Self::Other {
                namespace,
                name: local.to_owned(),
            },
        }
    }

    /// Its element namespace and local name.
    pub fn qname(&self) -> (Namespace, &str) {
        match self {
            Self::Collection => (Namespace::Dav, "collection"),
            Self::Principal => (Namespace::Dav, "principal"),
            Self::Calendar => (Namespace::CalDav, "calendar"),
            Self::ScheduleInbox => (Namespace::CalDav, "schedule-inbox"),
            Self::ScheduleOutbox => (Namespace::CalDav, "schedule-outbox"),
            Self::Addressbook => (Namespace::CardDav, "addressbook"),
            Self::Other { namespace, name } => (namespace.clone(), name),
        }
    }
}

name_table! {
    /// A privilege of RFC 3744 §3 (all `DAV:`), for current-user-privilege-set and
    /// need-privileges.
    Privilege {
        /// `DAV:read`.
        Read => "read",
        /// `DAV:write`.
        Write => "write",
        /// `DAV:write-properties`.
        WriteProperties => "write-properties",
        /// `DAV:write-content`.
        WriteContent => "write-content",
        /// `DAV:unlock`.
        Unlock => "unlock",
        /// `DAV:read-acl`.
        ReadAcl => "read-acl",
        /// `DAV:read-current-user-privilege-set`.
        ReadCurrentUserPrivilegeSet => "read-current-user-privilege-set",
        /// `DAV:write-acl`.
        WriteAcl => "write-acl",
        /// `DAV:bind`.
        Bind => "bind",
        /// `DAV:unbind`.
        Unbind => "unbind",
        /// `DAV:all`.
        All => "all",
    }
}

/// An iCalendar component name, as used in comp-filter, calendar-data and
/// supported-calendar-component-set. Names compare case-insensitively (RFC 5545 §2),
/// so they are stored upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ComponentType {
    /// `VCALENDAR`.
    VCalendar,
    /// `VEVENT`.
    VEvent,
    /// `VTODO`.
    VTodo,
    /// `VJOURNAL`.
    VJournal,
    /// `VFREEBUSY`.
    VFreeBusy,
    /// `VTIMEZONE`.
    VTimezone,
    /// `VALARM`.
    VAlarm,
    /// `VAVAILABILITY` (RFC 7953).
    VAvailability,
    /// `STANDARD` (inside VTIMEZONE).
    Standard,
    /// `DAYLIGHT` (inside VTIMEZONE).
    Daylight,
    /// Any other (`X-` or IANA) component, upper-cased.
    Other(String),
}

impl ComponentType {
    /// The component for a name, in any case.
    pub fn from_name(name: &str) -> Self {
        let upper = name.trim().to_ascii_uppercase();
        match upper.as_str() {
            "VCALENDAR" => Self::VCalendar,
            "VEVENT" => Self::VEvent,
            "VTODO" => Self::VTodo,
            "VJOURNAL" => Self::VJournal,
            "VFREEBUSY" => Self::VFreeBusy,
            "VTIMEZONE" => Self::VTimezone,
            "VALARM" => Self::VAlarm,
            "VAVAILABILITY" => Self::VAvailability,
            "STANDARD" => Self::Standard,
            "DAYLIGHT" => Self::Daylight,
            _ => Self::Other(upper),
        }
    }

    /// The upper-case iCalendar name.
    pub fn name(&self) -> &str {
        match self {
            Self::VCalendar => "VCALENDAR",
            Self::VEvent => "VEVENT",
            Self::VTodo => "VTODO",
            Self::VJournal => "VJOURNAL",
            Self::VFreeBusy => "VFREEBUSY",
            Self::VTimezone => "VTIMEZONE",
            Self::VAlarm => "VALARM",
            Self::VAvailability => "VAVAILABILITY",
            Self::Standard => "STANDARD",
            Self::Daylight => "DAYLIGHT",
            Self::Other(name) => name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_round_trip_through_their_uris() {
        for ns in [
            Namespace::Dav,
            Namespace::CalDav,
            Namespace::CardDav,
            Namespace::CalendarServer,
            Namespace::AppleIcal,
            Namespace::Other("urn:x".into()),
        ] {
            assert_eq!(Namespace::from_uri(ns.uri()), ns);
        }
        assert!(Namespace::from_uri("").is_none());
        // A look-alike URI is not the DAV namespace: "dav:" is case-sensitive.
        assert_eq!(Namespace::from_uri("dav:"), Namespace::Other("dav:".into()));
    }

    #[test]
    fn every_known_property_parses_back_from_its_qname() {
        let families: Vec<Property> = DavProperty::ALL
            .iter()
            .map(|p| Property::Dav(*p))
            .chain(CalDavProperty::ALL.iter().map(|p| Property::CalDav(*p)))
            .chain(CardDavProperty::ALL.iter().map(|p| Property::CardDav(*p)))
            .chain(
                CalendarServerProperty::ALL
                    .iter()
                    .map(|p| Property::CalendarServer(*p)),
            )
            .chain(AppleProperty::ALL.iter().map(|p| Property::Apple(*p)))
            .collect();
        for prop in families {
            let back = Property::from_qname(prop.namespace().uri(), prop.local_name());
            assert_eq!(back, prop, "{prop}");
        }
    }

    #[test]
    fn unknown_and_misplaced_names_are_dead() {
        // displayname in the CalDAV namespace is not DAV:displayname.
        let p = Property::from_qname("urn:ietf:params:xml:ns:caldav", "displayname");
        assert!(p.is_dead());
        // XML names are case-sensitive: principal-url is not principal-URL.
        assert!(Property::from_qname("DAV:", "principal-url").is_dead());
        let p = Property::from_qname("http://example.com/ns", "x");
        assert_eq!(p.to_string(), "{http://example.com/ns}x");
    }

    #[test]
    fn max_resource_size_is_two_different_properties() {
        let cal = Property::from_qname("urn:ietf:params:xml:ns:caldav", "max-resource-size");
        let card = Property::from_qname("urn:ietf:params:xml:ns:carddav", "max-resource-size");
        assert_eq!(cal, Property::CalDav(CalDavProperty::MaxResourceSize));
        assert_eq!(card, Property::CardDav(CardDavProperty::MaxResourceSize));
    }

    #[test]
    fn reports_need_their_own_namespace() {
        assert_eq!(
            ReportName::from_qname(&Namespace::CalDav, "calendar-query"),
            Some(ReportName::CalendarQuery)
        );
        assert_eq!(
            ReportName::from_qname(&Namespace::Dav, "calendar-query"),
            None
        );
        assert_eq!(
            ReportName::from_qname(&Namespace::Dav, "sync-collection"),
            Some(ReportName::SyncCollection)
        );
    }

    #[test]
    fn component_names_are_case_insensitive() {
        assert_eq!(ComponentType::from_name("vevent"), ComponentType::VEvent);
        assert_eq!(
            ComponentType::from_name("x-custom"),
            ComponentType::Other("X-CUSTOM".into())
        );
        assert_eq!(ComponentType::from_name(" VTODO ").name(), "VTODO");
    }

    #[test]
    fn resource_types_round_trip() {
        for rt in [
            ResourceType::Collection,
            ResourceType::Calendar,
            ResourceType::Addressbook,
            ResourceType::Principal,
            ResourceType::ScheduleInbox,
            ResourceType::ScheduleOutbox,
        ] {
            let (ns, name) = rt.qname();
            assert_eq!(ResourceType::from_parts(ns, name), rt);
        }
    }
}
