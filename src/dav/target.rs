//! The URL map of `/dav/`: which principal, home, collection or object a path names.
//!
//! ```text
//! /dav/                                   root: discovery (current-user-principal)
//! /dav/principals/                        the principal collection
//! /dav/principals/USER/                   a principal
//! /dav/calendars/USER/                    calendar home
//! /dav/calendars/USER/SLUG/               a calendar of USER
//! /dav/calendars/USER/SLUG@OWNER/         OWNER's calendar SLUG, shared with USER
//! /dav/calendars/USER/SLUG/NAME.ics       a calendar object
//! /dav/addressbooks/USER/…                the same for address books and vCards
//! ```
//!
//! Pure: no I/O. Slugs never contain `@`, so `SLUG@OWNER` is unambiguous even though
//! user names may contain one.

use davgate_storage::CollectionKind;

/// A collection as named in a path: its slug, and its owner when it is shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionRef {
    /// The owner's slug for it.
    pub slug: String,
    /// `Some(owner)` for a collection shared with the path's user.
    pub owner: Option<String>,
}

impl CollectionRef {
    fn parse(segment: &str) -> Self {
        match segment.split_once('@') {
            Some((slug, owner)) if !slug.is_empty() && !owner.is_empty() => CollectionRef {
                slug: slug.to_owned(),
                owner: Some(owner.to_owned()),
            },
            _ => CollectionRef {
                slug: segment.to_owned(),
                owner: None,
            },
        }
    }

    /// The path segment.
    pub fn segment(&self) -> String {
        match &self.owner {
            Some(owner) => format!("{}@{owner}", self.slug),
            None => self.slug.clone(),
        }
    }
}

/// What a `/dav/` path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/dav/`.
    Root,
    /// `/dav/principals/`.
    Principals,
    /// `/dav/principals/USER/`.
    Principal(String),
    /// `/dav/calendars/USER/` or `/dav/addressbooks/USER/`.
    Home(CollectionKind, String),
    /// A calendar or address book.
    Collection(CollectionKind, String, CollectionRef),
    /// A calendar object or vCard in a collection.
    Object(CollectionKind, String, CollectionRef, String),
}

impl Target {
    /// Reads the decoded segments after `/dav/`; `None` for paths nothing lives at.
    pub fn parse(segments: &[String]) -> Option<Target> {
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        let kind = |home: &str| match home {
            "calendars" => Some(CollectionKind::Calendar),
            "addressbooks" => Some(CollectionKind::AddressBook),
            _ => None,
        };
        Some(match s.as_slice() {
            [] => Target::Root,
            ["principals"] => Target::Principals,
            ["principals", user] => Target::Principal((*user).to_owned()),
            [home, user] => Target::Home(kind(home)?, (*user).to_owned()),
            [home, user, collection] => Target::Collection(
                kind(home)?,
                (*user).to_owned(),
                CollectionRef::parse(collection),
            ),
            [home, user, collection, name] => Target::Object(
                kind(home)?,
                (*user).to_owned(),
                CollectionRef::parse(collection),
                (*name).to_owned(),
            ),
            _ => return None,
        })
    }

    /// The user a path belongs to, if any.
    pub fn user(&self) -> Option<&str> {
        match self {
            Target::Root | Target::Principals => None,
            Target::Principal(u)
            | Target::Home(_, u)
            | Target::Collection(_, u, _)
            | Target::Object(_, u, _, _) => Some(u),
        }
    }

    /// The kind of data the path is about, if it is about one.
    pub fn kind(&self) -> Option<CollectionKind> {
        match self {
            Target::Home(k, _) | Target::Collection(k, _, _) | Target::Object(k, _, _, _) => {
                Some(*k)
            }
            _ => None,
        }
    }

    /// The decoded path of this target (collections end in '/').
    pub fn path(&self) -> String {
        match self {
            Target::Root => "/dav/".into(),
            Target::Principals => "/dav/principals/".into(),
            Target::Principal(u) => principal_path(u),
            Target::Home(k, u) => home_path(*k, u),
            Target::Collection(k, u, c) => format!("{}{}/", home_path(*k, u), c.segment()),
            Target::Object(k, u, c, name) => format!("{}{}/{name}", home_path(*k, u), c.segment()),
        }
    }
}

/// `/dav/principals/USER/`.
pub fn principal_path(user: &str) -> String {
    format!("/dav/principals/{user}/")
}

/// `/dav/calendars/USER/` or `/dav/addressbooks/USER/`.
pub fn home_path(kind: CollectionKind, user: &str) -> String {
    match kind {
        CollectionKind::Calendar => format!("/dav/calendars/{user}/"),
        CollectionKind::AddressBook => format!("/dav/addressbooks/{user}/"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(path: &str) -> Option<Target> {
        let segments: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        Target::parse(&segments)
    }

    #[test]
    fn the_url_map_round_trips() {
        let cal = CollectionKind::Calendar;
        let table = [
            ("/", Target::Root),
            ("/principals/", Target::Principals),
            ("/principals/a@b.org/", Target::Principal("a@b.org".into())),
            ("/calendars/alice/", Target::Home(cal, "alice".into())),
            (
                "/calendars/bob/team@alice/",
                Target::Collection(
                    cal,
                    "bob".into(),
                    CollectionRef {
                        slug: "team".into(),
                        owner: Some("alice".into()),
                    },
                ),
            ),
            (
                "/addressbooks/alice/default/x.vcf",
                Target::Object(
                    CollectionKind::AddressBook,
                    "alice".into(),
                    CollectionRef {
                        slug: "default".into(),
                        owner: None,
                    },
                    "x.vcf".into(),
                ),
            ),
        ];
        for (path, target) in table {
            assert_eq!(parse(path).as_ref(), Some(&target), "{path}");
            assert_eq!(format!("/dav{path}"), target.path());
        }
        assert_eq!(parse("/nowhere/x/"), None);
        assert_eq!(parse("/calendars/a/b/c/d"), None);
    }
}
