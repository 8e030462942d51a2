//! `D:href` ⇄ path: percent-encoding on the way out, tolerant decoding on the way in.
//!
//! Clients disagree on how to encode the same path. iOS and macOS send `%40` where
//! others send `@`, GNOME and Windows send unencoded spaces, DAVx5 and Apple sometimes
//! send absolute `https://host/...` URLs, and old Evolution sends lower-case hex. All
//! of them must land on the same resource, so incoming hrefs are decoded into one
//! normalized path and outgoing paths are encoded one way.
//!
//! Not done here: Unicode normalization (NFC vs NFD from macOS Finder), which is the
//! file tree's business.

use super::error::XmlError;

/// Percent-encodes a decoded path for `D:href`.
///
/// Kept literal: RFC 3986 unreserved characters, `/`, and the path-safe sub-delims
/// `@ ! $ ' ( ) * , = :`. Encoded besides the obvious: `+` (PHP- and Java-style form
/// decoding turns it into a space), `;` (old Java URI code strips `;params` from
/// segments), `&` (clients that build URLs from unescaped XML text). RFC 3986 allows
/// all three raw in a path, but an encoded one is read right by every client, and a
/// raw one is not: this is the one encoding both rooms write.
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    encode_path_into(&mut out, path);
    out
}

/// [`encode_path`] appending to `out`, for writers that build one buffer per listing.
pub fn encode_path_into(out: &mut String, path: &str) {
    encode_into(out, path, Slash::Keep);
}

/// Percent-encodes one decoded path segment: as [`encode_path`], and a `/` in it is
/// encoded too, so the result is always exactly one segment.
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    encode_segment_into(&mut out, segment);
    out
}

/// [`encode_segment`] appending to `out`.
pub fn encode_segment_into(out: &mut String, segment: &str) {
    encode_into(out, segment, Slash::Encode);
}

/// Whether `/` separates segments (a path) or is data (one segment).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slash {
    Keep,
    Encode,
}

/// Whether a byte stays as it is in an encoded href: RFC 3986's unreserved characters and
/// the sub-delimiters and `:` and `@` a path segment may hold literally.
const fn kept(byte: u8, slash: Slash) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'@'
                | b'!'
                | b'$'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b','
                | b'='
                | b':'
        )
        || (byte == b'/' && matches!(slash, Slash::Keep))
}

/// [`kept`] for every byte: one load per byte, for the 10,000 names of a large listing.
const fn kept_bytes(slash: Slash) -> [bool; 256] {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = kept(byte as u8, slash);
        byte += 1;
    }
    table
}

static KEPT_IN_PATH: [bool; 256] = kept_bytes(Slash::Keep);
static KEPT_IN_SEGMENT: [bool; 256] = kept_bytes(Slash::Encode);

fn encode_into(out: &mut String, text: &str, slash: Slash) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let table = match slash {
        Slash::Keep => &KEPT_IN_PATH,
        Slash::Encode => &KEPT_IN_SEGMENT,
    };
    let keep = |byte: u8| table[usize::from(byte)];
    // Most names need no escape at all: copy them in one go.
    if text.bytes().all(keep) {
        out.push_str(text);
        return;
    }
    for byte in text.bytes() {
        if keep(byte) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0F)]));
        }
    }
}

/// Decodes an href into a normalized absolute path.
///
/// `base` is the decoded path of the request, used for relative hrefs (RFC 4918 allows
/// them in multiget and sync bodies). The result starts with `/`, has no empty, `.` or
/// `..` segments (`..` never climbs above `/`), and ends with `/` exactly when the href
/// did. Query and fragment are dropped. A `%` not followed by two hex digits is taken
/// literally, because a client that sent `100%.ics` meant exactly that.
pub fn decode_href(href: &str, base: &str) -> Result<String, XmlError> {
    let invalid = |reason| XmlError::InvalidHref {
        href: href.to_owned(),
        reason,
    };
    let trimmed = href.trim();
    if trimmed.is_empty() {
        // RFC 3986 §5.2.2: an empty reference is the base itself (already decoded).
        return Ok(base.to_owned());
    }
    let origin_path = strip_origin(trimmed);
    let path = origin_path.unwrap_or(trimmed);
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let mut segments: Vec<String> = Vec::new();
    // An absolute URL's path is absolute even when empty (`https://host` is `/`).
    if origin_path.is_none() && !path.starts_with('/') {
        // A relative reference resolves against the base's directory.
        let directory = base.rsplit_once('/').map_or("", |(dir, _)| dir);
        segments.extend(
            directory
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        );
    }
    let mut directory_like = path.ends_with('/');
    for raw in path.split('/').filter(|s| !s.is_empty()) {
        let segment = percent_decode(raw).map_err(invalid)?;
        directory_like = false;
        match segment.as_str() {
            "." => directory_like = true,
            ".." => {
                segments.pop();
                directory_like = true;
            }
            _ if segment.contains('/') => return Err(invalid("an encoded slash inside a segment")),
            _ if segment.chars().any(char::is_control) => {
                return Err(invalid("a control character"));
            }
            _ => segments.push(segment),
        }
    }
    if path.ends_with('/') {
        directory_like = true;
    }
    let mut out = String::with_capacity(path.len() + 1);
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    if directory_like || segments.is_empty() {
        out.push('/');
    }
    Ok(out)
}

/// `https://host:port/path?q` → `/path?q`; `None` when `href` is not an http(s) URL.
fn strip_origin(href: &str) -> Option<&str> {
    let lower = href.get(..8).unwrap_or(href).to_ascii_lowercase();
    let scheme_len = if lower.starts_with("https://") {
        8
    } else if lower.starts_with("http://") {
        7
    } else {
        return None;
    };
    // The scheme matched ASCII bytes, so `scheme_len` is a character boundary.
    let rest = &href[scheme_len..];
    Some(rest.find(['/', '?', '#']).map_or("", |at| &rest[at..]))
}

/// Decodes `%XX` escapes; anything else, including a stray `%`, stays as it is.
fn percent_decode(segment: &str) -> Result<String, &'static str> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&hi), Some(&lo)) => hex_value(hi).zip(hex_value(lo)),
            _ => None,
        };
        match escaped {
            Some((hi, lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "not UTF-8 once percent-decoded")
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(href: &str) -> String {
        decode_href(href, "/dav/calendars/ann/work/").unwrap()
    }

    #[test]
    fn apple_over_encoding_and_gnome_under_encoding_meet() {
        assert_eq!(
            decoded("/dav/calendars/ann%40example.com/"),
            "/dav/calendars/ann@example.com/"
        );
        assert_eq!(
            decoded("/dav/calendars/ann@example.com/"),
            "/dav/calendars/ann@example.com/"
        );
        assert_eq!(
            decoded("/files/My Documents/a b.txt"),
            "/files/My Documents/a b.txt"
        );
        assert_eq!(
            decoded("/files/My%20Documents/a%20b.txt"),
            "/files/My Documents/a b.txt"
        );
        assert_eq!(decoded("/files/caf%c3%a9/%C3%A9t%C3%A9"), "/files/café/été");
    }

    #[test]
    fn absolute_urls_lose_origin_query_and_fragment() {
        assert_eq!(
            decoded("https://dav.example.com:8443/dav/x%20y.ics?x=1#frag"),
            "/dav/x y.ics"
        );
        assert_eq!(decoded("HTTP://dav.example.com"), "/");
        assert_eq!(decoded("https://dav.example.com?x=/y"), "/");
        assert_eq!(decoded("http://user@host/dav/"), "/dav/");
    }

    #[test]
    fn relative_hrefs_resolve_against_the_base_directory() {
        assert_eq!(
            decoded("event%201.ics"),
            "/dav/calendars/ann/work/event 1.ics"
        );
        assert_eq!(decoded("../home/"), "/dav/calendars/ann/home/");
        assert_eq!(decoded(""), "/dav/calendars/ann/work/");
        assert_eq!(
            decode_href("b.ics", "/dav/calendars/ann/work/a.ics").unwrap(),
            "/dav/calendars/ann/work/b.ics"
        );
        // The base is already decoded: a literal '%41' in it must not be decoded again.
        assert_eq!(
            decode_href("x", "/files/100%41/").unwrap(),
            "/files/100%41/x"
        );
    }

    #[test]
    fn dot_segments_and_doubled_slashes_normalize_without_escaping_root() {
        assert_eq!(decoded("/dav/a/../../../etc/passwd"), "/etc/passwd");
        assert_eq!(decoded("/dav/%2e%2E/x"), "/x");
        assert_eq!(decoded("/dav//double///slash"), "/dav/double/slash");
        assert_eq!(decoded("/dav/a/."), "/dav/a/");
        assert_eq!(decoded("/dav/a/b/.."), "/dav/a/");
        assert_eq!(decoded("/"), "/");
    }

    #[test]
    fn stray_percent_is_literal_but_bad_bytes_are_refused() {
        assert_eq!(decoded("/files/100%.txt"), "/files/100%.txt");
        assert_eq!(decoded("/files/%zz%4"), "/files/%zz%4");
        for bad in [
            "/files/a%2Fb",
            "/files/%00",
            "/files/%ff",
            "/files/a%0Ab",
            "/files/%7F",
        ] {
            let err = decode_href(bad, "/").unwrap_err();
            assert!(matches!(err, XmlError::InvalidHref { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn a_segment_encodes_its_slash_and_the_rest_like_a_path() {
        assert_eq!(encode_segment("a/b c+d;e&f"), "a%2Fb%20c%2Bd%3Be%26f");
        assert_eq!(encode_segment("plain-name.txt"), "plain-name.txt");
        let mut out = String::from("/files/");
        encode_segment_into(&mut out, "Caf\u{e9}");
        assert_eq!(out, "/files/Caf%C3%A9");
    }

    #[test]
    fn encoding_is_canonical_and_round_trips() {
        assert_eq!(
            encode_path("/dav/calendars/ann@example.com/a b+c;d&e%f.ics"),
            "/dav/calendars/ann@example.com/a%20b%2Bc%3Bd%26e%25f.ics"
        );
        assert_eq!(
            encode_path("/files/café (1).txt"),
            "/files/caf%C3%A9%20(1).txt"
        );
        for path in [
            "/",
            "/files/a b/",
            "/files/100%.txt",
            "/files/émoji 🎉/x#y?z.txt",
            "/dav/calendars/ann@example.com/work/",
        ] {
            assert_eq!(
                decode_href(&encode_path(path), "/").unwrap(),
                path,
                "{path}"
            );
        }
    }
}
