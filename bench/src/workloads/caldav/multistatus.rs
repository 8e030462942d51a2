//! Just enough of a 207 Multi-Status (RFC 4918 §13) to check a CalDAV answer: each
//! `DAV:response`'s href and statuses, and the `DAV:sync-token` (RFC 6578 §6.4).
//!
//! Names are matched by namespace, not prefix: davgate writes `d:`, Radicale a default
//! namespace, and both are the same document. Everything else (props, calendar data) is
//! skipped unread. Parsing happens after the clock stops, so it costs the results nothing.

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};

const DAV: &[u8] = b"DAV:";

/// One `DAV:response`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its first `DAV:href`, as written (percent-encoding kept).
    pub href: String,
    /// Every `DAV:status` in it: the response's own, or one per propstat.
    pub statuses: Vec<String>,
}

impl Member {
    /// The last path segment of the href, without a trailing slash: the object's name.
    pub fn name(&self) -> &str {
        let path = self.href.trim_end_matches('/');
        path.rsplit('/').next().unwrap_or(path)
    }

    /// Whether the href names a collection.
    pub fn is_collection(&self) -> bool {
        self.href.ends_with('/')
    }

    /// Whether something in it succeeded: a 200 status (a propstat may also carry a 404 for
    /// a property the resource lacks, which is fine).
    pub fn ok(&self) -> bool {
        self.statuses
            .iter()
            .any(|s| s.split_whitespace().nth(1) == Some("200"))
    }
}

/// The parts of a multistatus the workloads check.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Multistatus {
    pub members: Vec<Member>,
    /// The `DAV:sync-token` directly under `DAV:multistatus`, if any.
    pub sync_token: Option<String>,
}

/// What is being read into while inside an element of interest.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Href,
    Status,
    SyncToken,
}

/// Reads `body`; a body that is not well-formed XML is an error naming the byte offset.
pub fn parse(body: &[u8]) -> Result<Multistatus, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut reader = NsReader::from_str(text);
    let mut out = Multistatus::default();
    // Element depth, the depth of the open DAV:response, and the field being read.
    let mut depth = 0usize;
    let mut response_depth = None;
    let mut reading: Option<(Field, usize, String)> = None;
    let mut root_is_multistatus = false;
    loop {
        let position = reader.buffer_position();
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("bad XML near byte {position}: {e}"))?;
        let is_dav = matches!(ns, ResolveResult::Bound(Namespace(n)) if n.as_bytes() == DAV);
        match event {
            Event::Start(start) => {
                depth += 1;
                let local = start.local_name();
                if depth == 1 {
                    root_is_multistatus = is_dav && local.as_ref() == "multistatus";
                }
                match (is_dav, local.as_ref()) {
                    (true, "response") if response_depth.is_none() => {
                        response_depth = Some(depth);
                        out.members.push(Member::default());
                    }
                    (true, "href") if response_depth.is_some() => {
                        reading = Some((Field::Href, depth, String::new()));
                    }
                    (true, "status") if response_depth.is_some() => {
                        reading = Some((Field::Status, depth, String::new()));
                    }
                    // Directly under multistatus (depth 2), not a property of the same name.
                    (true, "sync-token") if depth == 2 => {
                        reading = Some((Field::SyncToken, depth, String::new()));
                    }
                    _ => {}
                }
            }
            Event::End(_) => {
                if let Some((field, _, value)) = reading.take_if(|(_, at, _)| *at == depth) {
                    store(&mut out, field, value.trim().to_owned());
                }
                if response_depth == Some(depth) {
                    response_depth = None;
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(text) => {
                if let Some((_, _, value)) = &mut reading {
                    value.push_str(&text.xml10_content());
                }
            }
            Event::CData(data) => {
                if let Some((_, _, value)) = &mut reading {
                    value.push_str(&data.xml10_content());
                }
            }
            Event::GeneralRef(reference) => {
                if let Some((_, _, value)) = &mut reading {
                    let resolved =
                        reference.resolve_char_ref().ok().flatten().or(
                            match reference.xml10_content().as_ref() {
                                "amp" => Some('&'),
                                "lt" => Some('<'),
                                "gt" => Some('>'),
                                "quot" => Some('"'),
                                "apos" => Some('\''),
                                _ => None,
                            },
                        );
                    value.extend(resolved);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !root_is_multistatus {
        return Err("the root element is not DAV:multistatus".to_owned());
    }
    Ok(out)
}

fn store(out: &mut Multistatus, field: Field, value: String) {
    match field {
        Field::SyncToken => out.sync_token = Some(value),
        Field::Href | Field::Status => {
            let Some(member) = out.members.last_mut() else {
                return;
            };
            if field == Field::Status {
                member.statuses.push(value);
            } else if member.href.is_empty() {
                member.href = value;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_and_default_namespaces_read_alike() {
        let prefixed = br#"<?xml version="1.0"?>
<d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
 <d:response><d:href>/dav/calendars/bench/bench/ev-1.ics</d:href>
  <d:propstat><d:prop><d:getetag>"x"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
 </d:response>
 <d:sync-token>urn:davgate:sync:7</d:sync-token>
</d:multistatus>"#;
        let default_ns = br#"<?xml version='1.0' encoding='utf-8'?>
<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><response><href>/bench/bench/ev-1.ics</href><propstat><prop><getetag>"y"</getetag></prop><status>HTTP/1.1 200 OK</status></propstat></response><sync-token>http://radicale.org/ns/sync/abc</sync-token></multistatus>"#;
        for (body, token) in [
            (&prefixed[..], "urn:davgate:sync:7"),
            (&default_ns[..], "http://radicale.org/ns/sync/abc"),
        ] {
            let ms = parse(body).unwrap();
            assert_eq!(ms.members.len(), 1);
            assert_eq!(ms.members[0].name(), "ev-1.ics");
            assert!(ms.members[0].ok());
            assert_eq!(ms.sync_token.as_deref(), Some(token));
        }
    }

    #[test]
    fn a_missing_href_is_not_ok_and_other_namespaces_do_not_count() {
        let body = br#"<D:multistatus xmlns:D="DAV:" xmlns:X="urn:x">
<D:response><D:href>/c/a%20b.ics</D:href><D:status>HTTP/1.1 404 Not Found</D:status></D:response>
<X:response><X:href>/c/not-dav</X:href></X:response>
<D:response><D:href>/c/</D:href><D:propstat><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>
<D:propstat><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
</D:multistatus>"#;
        let ms = parse(body).unwrap();
        assert_eq!(ms.members.len(), 2);
        assert_eq!(ms.members[0].name(), "a%20b.ics");
        assert!(!ms.members[0].ok());
        assert!(ms.members[1].is_collection() && ms.members[1].ok());
        assert_eq!(ms.members[1].statuses.len(), 2);
        assert_eq!(ms.sync_token, None);
    }

    #[test]
    fn calendar_data_and_references_are_handled() {
        let body = br#"<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><response>
<href>/c/a&amp;b&#46;ics</href><propstat><prop><C:calendar-data><![CDATA[BEGIN:VCALENDAR
<href>fake</href>
END:VCALENDAR]]></C:calendar-data><C:calendar-data>a &lt;response&gt;</C:calendar-data></prop>
<status>HTTP/1.1 200 OK</status></propstat></response></multistatus>"#;
        let ms = parse(body).unwrap();
        assert_eq!(ms.members.len(), 1);
        assert_eq!(ms.members[0].href, "/c/a&b.ics");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse(b"<html><body>502 Bad Gateway</body></html>").is_err());
        assert!(parse(b"<a><b></a>").is_err());
        assert!(parse(&[0xff, 0xfe]).is_err());
    }
}
