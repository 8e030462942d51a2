//! What a credential may do: scopes (files, calendars, contacts) and read-only.

use std::fmt;
use std::str::FromStr;

use http::StatusCode;

use crate::error::HttpError;
use crate::route::{Need, Verb};

/// One area a credential can be allowed into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// WebDAV files and the trash.
    Files,
    /// CalDAV calendars and task lists.
    Calendars,
    /// CardDAV address books.
    Contacts,
}

impl Scope {
    const ALL: [Scope; 3] = [Scope::Files, Scope::Calendars, Scope::Contacts];

    fn bit(self) -> i64 {
        match self {
            Scope::Files => 1,
            Scope::Calendars => 2,
            Scope::Contacts => 4,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scope::Files => "files",
            Scope::Calendars => "calendars",
            Scope::Contacts => "contacts",
        }
    }
}

/// A set of scopes, stored as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scopes(i64);

impl Scopes {
    /// Every scope.
    pub const ALL: Scopes = Scopes(7);
    /// Calendars and contacts, no files: what an Apple device profile's password gets.
    pub const GROUPWARE: Scopes = Scopes(6);

    /// From stored bits (unknown bits ignored).
    pub fn from_bits(bits: i64) -> Self {
        Scopes(bits & Self::ALL.0)
    }

    /// The stored bits.
    pub fn bits(self) -> i64 {
        self.0
    }

    /// Whether calendars or contacts are in the set.
    pub fn sees_groupware(self) -> bool {
        self.contains(Scope::Calendars) || self.contains(Scope::Contacts)
    }

    /// Whether `scope` is in the set.
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }
}

impl FromStr for Scopes {
    type Err = String;

    /// Parses `files,calendars,contacts` (any subset, any order).
    fn from_str(s: &str) -> Result<Self, String> {
        let mut bits = 0;
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let scope = Scope::ALL
                .into_iter()
                .find(|sc| sc.name() == part)
                .ok_or_else(|| {
                    format!("unknown scope {part:?}: use files, calendars or contacts")
                })?;
            bits |= scope.bit();
        }
        if bits == 0 {
            return Err("name at least one scope: files, calendars or contacts".into());
        }
        Ok(Scopes(bits))
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Scope::ALL
            .into_iter()
            .filter(|s| self.contains(*s))
            .map(Scope::name)
            .collect();
        f.write_str(&names.join(","))
    }
}

/// What a signed-in credential may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// Where it may go.
    pub scopes: Scopes,
    /// Whether it may only read.
    pub read_only: bool,
}

impl Access {
    /// Everything: the account password.
    pub const FULL: Access = Access {
        scopes: Scopes::ALL,
        read_only: false,
    };

    /// Whether a request with `verb` to a route that `needs` is allowed. Discovery
    /// admits either scope; a refusal there names calendars.
    pub fn permit(&self, needs: Need, verb: Verb) -> Result<(), Denied> {
        let scope = match needs {
            Need::Files => Scope::Files,
            Need::Calendars => Scope::Calendars,
            Need::Contacts => Scope::Contacts,
            Need::CalendarsOrContacts if self.scopes.contains(Scope::Contacts) => Scope::Contacts,
            Need::CalendarsOrContacts => Scope::Calendars,
            Need::Any => {
                // Every credential has at least one scope; the root lists only those.
                return if self.read_only && !verb.is_read() {
                    Err(Denied::ReadOnly)
                } else {
                    Ok(())
                };
            }
        };
        if !self.scopes.contains(scope) {
            return Err(Denied::MissingScope(scope));
        }
        if self.read_only && !verb.is_read() {
            return Err(Denied::ReadOnly);
        }
        Ok(())
    }
}

/// Why a signed-in request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The app password does not cover this area.
    MissingScope(Scope),
    /// The app password may only read.
    ReadOnly,
}

impl HttpError for Denied {
    fn status(&self) -> StatusCode {
        StatusCode::FORBIDDEN
    }

    /// The missing permission, named.
    fn message(&self) -> String {
        match self {
            Denied::MissingScope(scope) => format!(
                "forbidden: this app password lacks the {0} scope; create one that includes it \
                 (davgate app-password create USER --name NAME --scope {0})",
                scope.name()
            ),
            Denied::ReadOnly => "forbidden: this app password is read-only; create one without \
                                 --read-only to make changes"
                .to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_print() {
        let s: Scopes = "contacts, files".parse().unwrap();
        assert!(
            s.contains(Scope::Files)
                && s.contains(Scope::Contacts)
                && !s.contains(Scope::Calendars)
        );
        assert_eq!(s.to_string(), "files,contacts");
        assert!("".parse::<Scopes>().is_err());
        assert!("mail".parse::<Scopes>().is_err());
        assert_eq!(Scopes::from_bits(s.bits()), s);
    }

    #[test]
    fn access_checks_scope_then_writes() {
        let calendars = Access {
            scopes: "calendars".parse().unwrap(),
            read_only: false,
        };
        assert_eq!(
            calendars.permit(Need::Files, Verb::Get),
            Err(Denied::MissingScope(Scope::Files))
        );
        assert_eq!(
            calendars.permit(Need::CalendarsOrContacts, Verb::PropFind),
            Ok(())
        );
        let contacts = Access {
            scopes: "contacts".parse().unwrap(),
            read_only: false,
        };
        assert_eq!(
            contacts.permit(Need::CalendarsOrContacts, Verb::PropFind),
            Ok(())
        );
        let files = Access {
            scopes: "files".parse().unwrap(),
            read_only: false,
        };
        assert_eq!(
            files.permit(Need::CalendarsOrContacts, Verb::PropFind),
            Err(Denied::MissingScope(Scope::Calendars))
        );
        let read_only = Access {
            scopes: Scopes::ALL,
            read_only: true,
        };
        assert_eq!(read_only.permit(Need::Files, Verb::Get), Ok(()));
        assert_eq!(
            read_only.permit(Need::Files, Verb::Put),
            Err(Denied::ReadOnly)
        );
        for m in [
            "PUT",
            "DELETE",
            "MOVE",
            "COPY",
            "MKCOL",
            "PROPPATCH",
            "LOCK",
            "UNLOCK",
        ] {
            let verb = Verb::of(&http::Method::from_bytes(m.as_bytes()).unwrap());
            assert_eq!(
                read_only.permit(Need::Files, verb),
                Err(Denied::ReadOnly),
                "{m}"
            );
        }
    }
}
