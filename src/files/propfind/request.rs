//! The PROPFIND request body (RFC 4918 §9.1, §14.20): allprop, propname or a prop list.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

/// A property name: namespace URI ("" for none) and local name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PropName {
    pub(crate) namespace: String,
    pub(crate) local: String,
}

impl PropName {
    pub(crate) fn new(namespace: &str, local: &str) -> Self {
        PropName {
            namespace: namespace.to_owned(),
            local: local.to_owned(),
        }
    }
}

/// What a PROPFIND asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PropfindRequest {
    /// Every dead property and the RFC 4918 live ones, plus `include`d extras.
    AllProp { include: Vec<PropName> },
    /// The names of every property, without values.
    PropName,
    /// These properties.
    Props(Vec<PropName>),
}

/// Most properties one request may name.
const MAX_PROPS: usize = 256;

/// Parses a PROPFIND body; an empty body means allprop (RFC 4918 §9.1).
pub(crate) fn parse(body: &[u8]) -> Result<PropfindRequest, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(PropfindRequest::AllProp {
            include: Vec::new(),
        });
    }
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_owned())?;
    let mut reader = quick_xml::NsReader::from_str(text);
    let mut path: Vec<(String, String)> = Vec::new();
    let mut kind: Option<&'static str> = None;
    let mut props = Vec::new();
    let mut include = Vec::new();
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(|e| e.to_string())?;
        let (element, empty) = match event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                path.pop();
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let namespace = match ns {
            ResolveResult::Bound(n) => n.as_ref().to_owned(),
            ResolveResult::Unbound => String::new(),
            ResolveResult::Unknown(p) => return Err(format!("the prefix {p:?} is not declared")),
        };
        let local = element.local_name().as_ref().to_owned();
        let parent: Vec<&str> = path
            .iter()
            .filter(|(n, _)| n == "DAV:")
            .map(|(_, l)| l.as_str())
            .collect();
        let in_dav = namespace == "DAV:";
        match (parent.as_slice(), in_dav, local.as_str()) {
            ([], true, "propfind") => {}
            ([], _, _) => return Err("the root element must be DAV:propfind".into()),
            (["propfind"], true, name @ ("allprop" | "propname" | "prop")) => {
                if kind.is_some_and(|k| k != "allprop" || name != "prop") {
                    return Err("allprop, propname and prop cannot be combined".into());
                }
                kind = Some(match name {
                    "allprop" => "allprop",
                    "propname" => "propname",
                    _ => "prop",
                });
            }
            (["propfind"], true, "include") => {}
            (["propfind", "prop"], _, _) => props.push(PropName {
                namespace,
                local: local.clone(),
            }),
            (["propfind", "include"], _, _) => include.push(PropName {
                namespace,
                local: local.clone(),
            }),
            _ => {}
        }
        if props.len() + include.len() > MAX_PROPS {
            return Err(format!(
                "at most {MAX_PROPS} properties may be asked for at once"
            ));
        }
        if !empty {
            path.push((
                if in_dav {
                    "DAV:".to_owned()
                } else {
                    String::new()
                },
                local,
            ));
        }
    }
    match kind {
        Some("allprop") => Ok(PropfindRequest::AllProp { include }),
        Some("propname") => Ok(PropfindRequest::PropName),
        Some(_) => Ok(PropfindRequest::Props(props)),
        None => Err("DAV:propfind needs allprop, propname or prop".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_three_forms() {
        assert_eq!(parse(b""), Ok(PropfindRequest::AllProp { include: vec![] }));
        assert_eq!(
            parse(br#"<propfind xmlns="DAV:"><propname/></propfind>"#),
            Ok(PropfindRequest::PropName)
        );
        let rclone = br#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">
            <d:prop><d:getlastmodified/><oc:checksums/><x:odd xmlns:x="urn:x"/><nons xmlns=""/></d:prop></d:propfind>"#;
        assert_eq!(
            parse(rclone),
            Ok(PropfindRequest::Props(vec![
                PropName::new("DAV:", "getlastmodified"),
                PropName::new("http://owncloud.org/ns", "checksums"),
                PropName::new("urn:x", "odd"),
                PropName::new("", "nons"),
            ]))
        );
        assert_eq!(
            parse(br#"<D:propfind xmlns:D="DAV:"><D:allprop/><D:include><D:quota-used-bytes/></D:include></D:propfind>"#),
            Ok(PropfindRequest::AllProp {
                include: vec![PropName::new("DAV:", "quota-used-bytes")]
            })
        );
    }

    #[test]
    fn refuses_what_is_not_a_propfind() {
        for bad in [
            &b"<hello/>"[..],
            b"<D:propfind xmlns:D=\"DAV:\"/>",
            b"<D:propfind xmlns:D=\"DAV:\"><D:propname/><D:allprop/></D:propfind>",
            b"<x:propfind xmlns:x=\"DAV:\"><y:prop/></x:propfind>",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
