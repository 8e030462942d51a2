//! Request methods as a type: the standard ones and those WebDAV, CalDAV and CardDAV add.

use std::fmt;

use http::Method;

/// A request method, matched once instead of as text in every room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    Options,
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    /// RFC 4918.
    PropFind,
    PropPatch,
    MkCol,
    Copy,
    Move,
    Lock,
    Unlock,
    /// RFC 3253, used by CalDAV, CardDAV and sync-collection.
    Report,
    /// RFC 4791.
    MkCalendar,
    /// Anything else; answered 405 by the room it reaches.
    Other,
}

impl Verb {
    const NAMED: [(Verb, &'static str); 16] = [
        (Verb::Options, "OPTIONS"),
        (Verb::Get, "GET"),
        (Verb::Head, "HEAD"),
        (Verb::Post, "POST"),
        (Verb::Put, "PUT"),
        (Verb::Patch, "PATCH"),
        (Verb::Delete, "DELETE"),
        (Verb::PropFind, "PROPFIND"),
        (Verb::PropPatch, "PROPPATCH"),
        (Verb::MkCol, "MKCOL"),
        (Verb::Copy, "COPY"),
        (Verb::Move, "MOVE"),
        (Verb::Lock, "LOCK"),
        (Verb::Unlock, "UNLOCK"),
        (Verb::Report, "REPORT"),
        (Verb::MkCalendar, "MKCALENDAR"),
    ];

    /// The verb of an HTTP method; methods are case-sensitive (RFC 9110 §9.1).
    pub fn of(method: &Method) -> Verb {
        let name = method.as_str();
        Self::NAMED
            .iter()
            .find(|(_, n)| *n == name)
            .map_or(Verb::Other, |(verb, _)| *verb)
    }

    /// Whether the method only reads: a read-only credential may send it.
    pub fn is_read(self) -> bool {
        matches!(
            self,
            Verb::Options | Verb::Get | Verb::Head | Verb::PropFind | Verb::Report
        )
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = Self::NAMED
            .iter()
            .find(|(v, _)| v == self)
            .map_or("an unknown method", |(_, n)| *n);
        f.write_str(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_method_round_trips() {
        for (verb, name) in Verb::NAMED {
            let method = Method::from_bytes(name.as_bytes()).unwrap();
            assert_eq!(Verb::of(&method), verb);
            assert_eq!(verb.to_string(), name);
        }
        assert_eq!(Verb::of(&Method::from_bytes(b"BREW").unwrap()), Verb::Other);
        assert_eq!(
            Verb::of(&Method::from_bytes(b"propfind").unwrap()),
            Verb::Other
        );
    }

    #[test]
    fn writes_are_everything_but_the_reads() {
        let reads: Vec<Verb> = Verb::NAMED
            .iter()
            .map(|(v, _)| *v)
            .filter(|v| v.is_read())
            .collect();
        assert_eq!(
            reads,
            [
                Verb::Options,
                Verb::Get,
                Verb::Head,
                Verb::PropFind,
                Verb::Report
            ]
        );
        assert!(!Verb::Other.is_read());
    }
}
