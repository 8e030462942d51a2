//! The HTTP status as `D:status` carries it, without a dependency on the `http` crate.
//!
//! A leaf: it imports nothing else from [`crate::proto`].

use std::fmt;

/// An HTTP status as it appears in `D:status` (no dependency on the `http` crate here).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Status(u16);

impl Status {
    /// 200.
    pub const OK: Self = Self(200);
    /// 401.
    pub const UNAUTHORIZED: Self = Self(401);
    /// 403.
    pub const FORBIDDEN: Self = Self(403);
    /// 404: a missing property, or a resource gone since the sync token.
    pub const NOT_FOUND: Self = Self(404);
    /// 409: a property value the server cannot accept (PROPPATCH).
    pub const CONFLICT: Self = Self(409);
    /// 412.
    pub const PRECONDITION_FAILED: Self = Self(412);
    /// 424: the other properties of a PROPPATCH that failed as a whole.
    pub const FAILED_DEPENDENCY: Self = Self(424);
    /// 423 Locked.
    pub const LOCKED: Self = Self(423);
    /// 500.
    pub const INTERNAL_SERVER_ERROR: Self = Self(500);
    /// 507: quota, or too many results.
    pub const INSUFFICIENT_STORAGE: Self = Self(507);

    /// Any status code.
    pub const fn from_code(code: u16) -> Self {
        Self(code)
    }

    /// The numeric code.
    pub const fn code(self) -> u16 {
        self.0
    }

    /// The standard reason phrase ("" for codes we never write).
    pub fn reason(self) -> &'static str {
        match self.0 {
            200 => "OK",
            201 => "Created",
            204 => "No Content",
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            409 => "Conflict",
            412 => "Precondition Failed",
            413 => "Payload Too Large",
            423 => "Locked",
            424 => "Failed Dependency",
            500 => "Internal Server Error",
            501 => "Not Implemented",
            507 => "Insufficient Storage",
            _ => "",
        }
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Status({})", self.0)
    }
}

impl Status {
    /// Appends `HTTP/1.1 404 Not Found`, the form `D:status` carries, without going
    /// through a formatter: a 10,000-entry listing writes it 10,000 times.
    pub fn write_line(self, out: &mut String) {
        out.push_str("HTTP/1.1 ");
        if (100..1000).contains(&self.0) {
            for digit in [self.0 / 100, self.0 / 10 % 10, self.0 % 10] {
                out.push(char::from(b'0' + digit as u8));
            }
        } else {
            out.push_str(&self.0.to_string());
        }
        out.push(' ');
        out.push_str(self.reason());
    }
}

/// `HTTP/1.1 404 Not Found`, the form `D:status` carries: [`Status::write_line`]'s text.
impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = String::with_capacity(32);
        self.write_line(&mut line);
        f.write_str(&line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_line_is_the_displayed_one() {
        for (code, expected) in [
            (200, "HTTP/1.1 200 OK"),
            (207, "HTTP/1.1 207 "),
            (404, "HTTP/1.1 404 Not Found"),
            (423, "HTTP/1.1 423 Locked"),
            (507, "HTTP/1.1 507 Insufficient Storage"),
            (99, "HTTP/1.1 99 "),
            (1000, "HTTP/1.1 1000 "),
            (0, "HTTP/1.1 0 "),
        ] {
            let status = Status::from_code(code);
            let mut line = String::new();
            status.write_line(&mut line);
            assert_eq!(line, status.to_string());
            assert_eq!(line, expected);
        }
        let mut line = String::new();
        Status::NOT_FOUND.write_line(&mut line);
        assert_eq!(line, "HTTP/1.1 404 Not Found");
    }
}
