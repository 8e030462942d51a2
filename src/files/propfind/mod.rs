//! PROPFIND on the file tree and the trash (RFC 4918 §9.1).
//!
//! Properties a resource lacks are reported 404, only the dead properties asked for are
//! returned, and `getetag` is quoted. A folder listing streams straight from one query
//! of the children, one of their dead properties and one of the account's locks,
//! whatever the folder's size, without an element tree per property.

mod live;

use std::collections::HashMap;
use std::fmt::Write;

use davgate_storage::{Account, DeadProp, LockRecord, Node, NodeId, StorageError, Store, TreeRoot};
use http::{HeaderValue, Response, StatusCode, header};

use self::live::{ALLPROP, Live, PREFIXES, Subject};
use super::errors::FilesError;
use super::mount;
use crate::error::HttpError;
use crate::proto::raw::embeddable;
use crate::proto::request::{PropFind as PropfindRequest, parse_propfind};
use crate::proto::response::MultistatusStream;
use crate::proto::status::Status;
use crate::proto::writer::empty_element_in;
use crate::proto::{Depth, Limits};
use crate::response::{self, Body};
use crate::route::Mount;

/// Where the listing happens.
pub(crate) struct Target<'a> {
    pub(crate) store: &'a Store,
    pub(crate) account: &'a Account,
    pub(crate) tree: TreeRoot,
    /// Where the tree is mounted: hrefs and lock roots follow it.
    pub(crate) mount: Mount,
    /// Decoded segments below the tree root.
    pub(crate) segments: &'a [String],
}

/// Answers a PROPFIND: `Depth::One` lists a folder's members; infinity was refused
/// earlier, so anything else is the resource alone.
pub(crate) async fn propfind(target: Target<'_>, depth: Depth, body: &[u8]) -> Response<Body> {
    let request = match parse_propfind(body, &Limits::DEFAULT) {
        Ok(r) => r,
        Err(reason) => return FilesError::Xml(reason).into_response(),
    };
    match listing(&target, depth, &request).await {
        Ok(Some(xml)) => {
            let mut resp = Response::new(response::full(xml));
            *resp.status_mut() = StatusCode::MULTI_STATUS;
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml; charset=utf-8"),
            );
            resp
        }
        Ok(None) => response::text(
            StatusCode::NOT_FOUND,
            "there is no file or folder at this path",
        ),
        Err(e) => e.into_response(),
    }
}

async fn listing(
    t: &Target<'_>,
    depth: Depth,
    request: &PropfindRequest,
) -> Result<Option<String>, StorageError> {
    let root = t.tree.of(t.account);
    let segs: Vec<&str> = t.segments.iter().map(String::as_str).collect();
    let Some(node) = t.store.resolve(root, &segs).await? else {
        return Ok(None);
    };
    let children = if node.is_dir() && depth == Depth::One {
        t.store.children(node.id).await?
    } else {
        Vec::new()
    };
    let wants_dead = match request {
        PropfindRequest::AllProp { .. } | PropfindRequest::PropName => true,
        PropfindRequest::Prop(names) => names.iter().any(|n| Live::from_name(n).is_none()),
    };
    let mut dead: HashMap<NodeId, Vec<DeadProp>> = HashMap::new();
    if wants_dead {
        dead.insert(node.id, t.store.dead_props(node.id).await?);
        if !children.is_empty() {
            for (id, prop) in t.store.dead_props_of_children(node.id).await? {
                dead.entry(id).or_default().push(prop);
            }
        }
    }
    let wants_locks = match request {
        PropfindRequest::AllProp { .. } => true,
        PropfindRequest::PropName => false,
        PropfindRequest::Prop(names) => names
            .iter()
            .any(|n| Live::from_name(n) == Some(Live::LockDiscovery)),
    };
    let locks = if wants_locks && t.tree == TreeRoot::Files {
        t.store.locks(t.account.id).await?
    } else {
        Vec::new()
    };

    let mut writer = Writer {
        out: MultistatusStream::new(&PREFIXES, children.len()),
        account: t.account,
        tree: t.tree,
        mount: t.mount,
        locks: &locks,
        request,
        dead: &dead,
        found: String::new(),
        missing: String::new(),
    };
    let path = format!("/{}", t.segments.join("/"));
    // The decoded href; the stream percent-encodes it as it writes it.
    let mut href = mount::href(t.mount, t.tree, t.segments, node.is_dir());
    writer.resource(&node, &href, &path);
    let base = if path == "/" {
        String::new()
    } else {
        path.clone()
    };
    let parent_len = href.len();
    for child in &children {
        href.truncate(parent_len);
        href.push_str(&child.name);
        if child.is_dir() {
            href.push('/');
        }
        writer.resource(child, &href, &format!("{base}/{}", child.name));
    }
    Ok(Some(writer.out.finish()))
}

/// Writes the listing straight into one buffer: a folder of 10,000 entries must not
/// cost an allocation per property (see the bench's propfind_10k).
struct Writer<'a> {
    out: MultistatusStream,
    account: &'a Account,
    tree: TreeRoot,
    mount: Mount,
    locks: &'a [LockRecord],
    request: &'a PropfindRequest,
    dead: &'a HashMap<NodeId, Vec<DeadProp>>,
    /// Reused for every entry: one allocation per listing, not one per entry.
    found: String,
    /// The same, for the names of properties the entry does not have.
    missing: String,
}

impl Writer<'_> {
    /// One `D:response`; `href` is the entry's decoded href.
    fn resource(&mut self, node: &Node, href: &str, path: &str) {
        let subject = Subject {
            node,
            path,
            account: self.account,
            tree: self.tree,
            mount: self.mount,
            locks: self.locks,
        };
        let dead = self
            .dead
            .get(&node.id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let (found, missing) = (&mut self.found, &mut self.missing);
        found.clear();
        missing.clear();
        match self.request {
            PropfindRequest::AllProp { include } => {
                for live in ALLPROP {
                    live::write(found, live, &subject);
                }
                for prop in dead {
                    found.push_str(embeddable(&prop.xml));
                }
                for name in include {
                    if let Some(live) = Live::from_name(name)
                        && !ALLPROP.contains(&live)
                    {
                        live::write(found, live, &subject);
                    }
                }
            }
            PropfindRequest::PropName => {
                // `missing` doubles as scratch here: a live property is named when
                // it has a value for this entry.
                for live in Live::all() {
                    missing.clear();
                    if live::write(missing, live, &subject) {
                        let _ = write!(found, "<{}/>", live.qualified());
                    }
                }
                missing.clear();
                for prop in dead {
                    empty_element_in(found, &PREFIXES, &prop.namespace, &prop.name);
                }
            }
            PropfindRequest::Prop(names) => {
                for name in names {
                    let hit = match Live::from_name(name) {
                        Some(live) => live::write(found, live, &subject),
                        None => match dead.iter().find(|p| {
                            p.namespace == name.namespace().uri() && p.name == name.local_name()
                        }) {
                            Some(prop) => {
                                found.push_str(embeddable(&prop.xml));
                                true
                            }
                            None => false,
                        },
                    };
                    if !hit {
                        empty_element_in(
                            missing,
                            &PREFIXES,
                            name.namespace().uri(),
                            name.local_name(),
                        );
                    }
                }
            }
        }
        self.out.open_response(href);
        self.out.propstat(Status::OK, &self.found);
        self.out.propstat(Status::NOT_FOUND, &self.missing);
        self.out.close_response();
    }
}
