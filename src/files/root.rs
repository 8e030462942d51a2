//! The server root `/` for a credential that may see only files.
//!
//! Windows' WebDAV redirector sends `OPTIONS /` and `PROPFIND /` before it touches the
//! folder a person maps, and gives up with error 0x80070043 (caching the failure until a
//! reboot) unless the root answers as a DAV collection. A files-only app password, which
//! the README recommends for file clients, must therefore get a 207 here: the root as a
//! collection and, at Depth 1, the files tree in it. (A credential with calendars or
//! contacts gets the CalDAV/CardDAV discovery answer instead, as Apple's clients expect.)

use davgate_storage::TreeRoot;
use http::Response;

use crate::proto::names::{DavProperty, Property, ResourceType};
use crate::proto::request::{PropFind, parse_propfind};
use crate::proto::response::{Multistatus, Response as XmlResponse, Value};
use crate::proto::status::Status;
use crate::proto::{Depth, Limits, XmlError};
use crate::response::{Body, multistatus};
use crate::route::Mount;

/// Answers a PROPFIND of `/` that sees only the files tree.
pub(crate) fn propfind(depth: Depth, body: &[u8]) -> Result<Response<Body>, XmlError> {
    let request = parse_propfind(body, &Limits::DEFAULT)?;
    let mut ms = Multistatus::new();
    ms.push(collection("/", "davgate", &request));
    if depth == Depth::One {
        let files = Mount::Main.href(TreeRoot::Files, &[], true);
        ms.push(collection(&files, "Files", &request));
    }
    Ok(multistatus(ms.finish(None)))
}

/// A collection's entry with the properties asked for; those a bare collection does
/// not have are 404, as RFC 4918 §9.1 asks.
fn collection(path: &str, name: &str, request: &PropFind) -> XmlResponse {
    const LIVE: [Property; 2] = [
        Property::Dav(DavProperty::ResourceType),
        Property::Dav(DavProperty::DisplayName),
    ];
    let mut entry = XmlResponse::new(path);
    let (asked, names_only): (Vec<&Property>, bool) = match request {
        PropFind::AllProp { include } => (LIVE.iter().chain(include).collect(), false),
        PropFind::PropName => (LIVE.iter().collect(), true),
        PropFind::Prop(props) => (props.iter().collect(), false),
    };
    for prop in asked {
        let value = match prop {
            _ if names_only => Some(Value::Empty),
            Property::Dav(DavProperty::ResourceType) => {
                Some(Value::ResourceType(&[ResourceType::Collection]))
            }
            Property::Dav(DavProperty::DisplayName) => Some(Value::Text(name)),
            _ => None,
        };
        match value {
            Some(value) => entry.prop(Status::OK, prop, value),
            None => entry.prop(Status::NOT_FOUND, prop, Value::Empty),
        };
    }
    entry
}
