//! The content of an Apple configuration profile: a `Configuration` payload holding one
//! `com.apple.caldav.account` and one `com.apple.carddav.account` payload, both pointing
//! at this server's principal with the account name and an app password. Pure: the
//! caller brings the address, the password and the identifiers.
//!
//! Keys as Apple's Device Management reference names them (CalDAV / CardDAV payloads).
//! The principal URL is absolute so that a `public_url` with a path prefix, or a port
//! other than the scheme's, reaches the right place without discovery.

use super::plist::{self, Value};
use crate::public_url::PublicUrl;

/// What a profile is made of.
pub struct ProfileContent<'a> {
    /// Where devices connect.
    pub url: &'a PublicUrl,
    /// The account name, as the device signs in with it.
    pub user: &'a str,
    /// The app password the device signs in with.
    pub password: &'a str,
    /// The device name the person typed ("Anna's iPhone").
    pub device: &'a str,
    /// The principal's path on the server (`/dav/principals/alice/`).
    pub principal_path: &'a str,
    /// Random identifiers: the profile's and each payload's.
    pub uuids: ProfileUuids,
}

/// The three UUIDs a profile carries. Apple replaces an installed profile with a new one
/// of the same `PayloadIdentifier`; random ones let a person install one per device.
#[derive(Debug, Clone)]
pub struct ProfileUuids {
    /// The whole profile.
    pub profile: String,
    /// The CalDAV payload.
    pub caldav: String,
    /// The CardDAV payload.
    pub carddav: String,
}

impl ProfileUuids {
    /// Three fresh random (version 4) UUIDs.
    pub fn random() -> Self {
        ProfileUuids {
            profile: uuid_v4(),
            caldav: uuid_v4(),
            carddav: uuid_v4(),
        }
    }
}

/// The profile as XML plist text.
pub fn render(content: &ProfileContent<'_>) -> String {
    plist::document(&profile(content))
}

fn profile(c: &ProfileContent<'_>) -> Value {
    let host = c.url.host();
    // Reverse-DNS identifiers, as Apple expects them; the UUID keeps them apart.
    let base = format!("{}.davgate.{}", reverse_dns(host), c.uuids.profile);
    let principal_url = c.url.join(c.principal_path);
    let account = |kind: &str, what: &str, uuid: &str| -> Value {
        // The CalDAV and CardDAV payloads have the same keys, each prefixed by its kind.
        let key = |field: &str| format!("{kind}{field}");
        let lower = kind.to_ascii_lowercase();
        Value::dict([
            (
                key("AccountDescription"),
                format!("{what} ({} on {host})", c.user).into(),
            ),
            (key("HostName"), host.into()),
            (key("Port"), Value::Integer(c.url.port().into())),
            (key("PrincipalURL"), principal_url.as_str().into()),
            (key("UseSSL"), Value::Bool(c.url.uses_tls())),
            (key("Username"), c.user.into()),
            (key("Password"), c.password.into()),
            (
                "PayloadDescription".into(),
                format!("{what} of {} on {host}", c.user).into(),
            ),
            (
                "PayloadDisplayName".into(),
                format!("{what} ({})", c.device).into(),
            ),
            ("PayloadIdentifier".into(), format!("{base}.{lower}").into()),
            (
                "PayloadType".into(),
                format!("com.apple.{lower}.account").into(),
            ),
            ("PayloadUUID".into(), uuid.into()),
            ("PayloadVersion".into(), Value::Integer(1)),
        ])
    };
    Value::dict([
        (
            "PayloadContent",
            Value::Array(vec![
                account("CalDAV", "Calendars", &c.uuids.caldav),
                account("CardDAV", "Contacts", &c.uuids.carddav),
            ]),
        ),
        (
            "PayloadDescription",
            format!(
                "Calendars and contacts of {} on {host}, with an app password named \
                 after this device; revoke it on the account page when the device is gone.",
                c.user
            )
            .into(),
        ),
        (
            "PayloadDisplayName",
            format!("{host} for {}", c.device).into(),
        ),
        ("PayloadIdentifier", base.into()),
        ("PayloadOrganization", host.into()),
        ("PayloadRemovalDisallowed", Value::Bool(false)),
        ("PayloadType", "Configuration".into()),
        ("PayloadUUID", c.uuids.profile.as_str().into()),
        ("PayloadVersion", Value::Integer(1)),
    ])
}

/// `dav.example.org` → `org.example.dav`; an IP literal becomes its digits joined by dots.
fn reverse_dns(host: &str) -> String {
    let labels: Vec<&str> = host
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '-')
        .filter(|l| !l.is_empty())
        .collect();
    labels.into_iter().rev().collect::<Vec<_>>().join(".")
}

/// A random (version 4, RFC 9562) UUID in upper-case hex, as Apple writes them.
fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = data_encoding::HEXUPPER.encode(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_random_version_4() {
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "A" | "B"), "{u}");
        assert_ne!(u, uuid_v4());
    }

    #[test]
    fn payloads_point_at_the_principal_with_the_device_name_escaped() {
        let url = PublicUrl::parse("https://dav.example.org:8443").unwrap();
        let text = render(&ProfileContent {
            url: &url,
            user: "alice",
            password: "pw",
            device: "Tom & Jerry <iPad>",
            principal_path: "/dav/principals/alice/",
            uuids: ProfileUuids::random(),
        });
        assert!(text.contains("<string>com.apple.caldav.account</string>"));
        assert!(text.contains("<string>com.apple.carddav.account</string>"));
        assert!(text.contains("<string>Configuration</string>"));
        assert!(text.contains(
            "<key>CardDAVPrincipalURL</key>\n\t\t\t<string>https://dav.example.org:8443/dav/principals/alice/</string>"
        ));
        assert!(text.contains("<key>CalDAVPort</key>\n\t\t\t<integer>8443</integer>"));
        assert!(text.contains("Tom &amp; Jerry &lt;iPad&gt;"));
        assert!(!text.contains("Tom & Jerry"));
        assert!(text.contains("<string>org.example.dav.davgate."));
    }
}
