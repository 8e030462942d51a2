//! Clients that need the server to bend, recognised by their `User-Agent`, each with
//! the client and the symptom named.
//!
//! Apple's Contacts apps handle one address book per CardDAV account and show
//! whichever they meet first, so they are shown only the default one:
//!
//! - macOS Contacts: `Mac OS X/10.13.6 (17G65) AddressBook/2137`, and since macOS 11
//!   `macOS/13.4 (22F66) AddressBookCore/2629.600.41`;
//! - iOS and iPadOS Contacts: `iOS/17.0 (21A329) AddressBookCore/1`, and the account
//!   daemon that syncs for Calendar and Contacts alike, `iOS/16.6 (20G75)
//!   dataaccessd/1.0` (older iOS sends only that one). Only the address-book home is
//!   trimmed, so the daemon still sees every calendar.

/// Whether this client can only use one address book per account.
pub fn single_address_book(user_agent: &str) -> bool {
    // "AddressBook" covers AddressBookCore.
    user_agent.contains("AddressBook") || user_agent.contains("dataaccessd")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apple_contacts_on_every_platform_gets_one_address_book() {
        for agent in [
            "Mac OS X/10.13.6 (17G65) AddressBook/2137",
            "macOS/13.4 (22F66) AddressBookCore/2629.600.41.1.1",
            "iOS/17.0 (21A329) AddressBookCore/1",
            "iOS/16.6 (20G75) dataaccessd/1.0",
            "iOS/9.3.5 (13G36) dataaccessd/1.0",
        ] {
            assert!(single_address_book(agent), "{agent}");
        }
        for agent in [
            "DAVx5/4.3.11-ose (2024/01/10; dav4jvm; okhttp/4.12.0) Android/14",
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0",
            "macOS/13.4 (22F66) CalendarAgent/954.5.1",
            "",
        ] {
            assert!(!single_address_book(agent), "{agent}");
        }
    }
}
