//! PROPFIND on the file tree and the trash (RFC 4918 §9.1).
//!
//! Properties a resource lacks are reported 404, only the dead properties asked for are
//! returned, and `getetag` is quoted. A folder listing comes from one query of the
//! children, one of their dead properties and one of the account's locks, whatever the
//! folder's size, without an element tree per property. All three are read before the
//! status is chosen, so a failure is a 5xx and never half a 207; then the XML is written
//! a piece at a time as the client takes it ([`Listing`]), each child's row dropped once
//! written, so a folder of 50,000 entries never has its whole answer in memory.

mod live;

use std::collections::HashMap;
use std::fmt::Write;

use bytes::Bytes;
use davgate_storage::{
    Account, ChildDigests, DeadProp, LockRecord, Node, NodeId, StorageError, Store, TreeRoot,
};
use http::{Response, StatusCode};

use self::live::{ALLPROP, Live, PREFIXES, Subject};
use super::errors::FilesError;
use super::mount;
use crate::error::HttpError;
use crate::proto::names::Property;
use crate::proto::raw::embeddable;
use crate::proto::request::{PropFind as PropfindRequest, parse_propfind};
use crate::proto::response::{MultistatusStream, PIECE_LEN};
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
    match listing(&target, depth, request).await {
        Ok(Some(listing)) => response::multistatus_body(response::pieces(listing)),
        Ok(None) => response::text(
            StatusCode::NOT_FOUND,
            "there is no file or folder at this path",
        ),
        Err(e) => e.into_response(),
    }
}

/// Reads everything the listing needs; `None` when there is nothing at the path.
async fn listing(
    t: &Target<'_>,
    depth: Depth,
    request: PropfindRequest,
) -> Result<Option<Listing>, StorageError> {
    let root = t.tree.of(t.account);
    let segs: Vec<&str> = t.segments.iter().map(String::as_str).collect();
    let Some(node) = t.store.resolve(root, &segs).await? else {
        return Ok(None);
    };
    let children = if node.is_dir() && depth == Depth::One {
        t.store
            .children_listing(node.id, digests_wanted(&request))
            .await?
    } else {
        Vec::new()
    };
    let wants_dead = match &request {
        PropfindRequest::AllProp { .. } | PropfindRequest::PropName => true,
        PropfindRequest::Prop(names) => names.iter().any(|n| {
            Live::from_name(n).is_none() || live::overridable(n.namespace().uri(), n.local_name())
        }),
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
    let wants_locks = match &request {
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

    let path = format!("/{}", t.segments.join("/"));
    // The decoded href; the stream percent-encodes it as it writes it.
    let href = mount::href(t.mount, t.tree, t.segments, node.is_dir());
    let base = if path == "/" {
        String::new()
    } else {
        path.clone()
    };
    let named_live: Vec<Option<Live>> = match &request {
        PropfindRequest::Prop(names) => names.iter().map(Live::from_name).collect(),
        _ => Vec::new(),
    };
    let mut account = t.account.clone();
    let wants_quota = named_live
        .iter()
        .any(|live| matches!(live, Some(Live::QuotaUsed | Live::QuotaAvailable)));
    if wants_quota && let Some(used) = t.store.used_bytes(account.id).await? {
        // The request's account row may miss the last second's uploads.
        account.used_bytes = used;
    }
    Ok(Some(Listing {
        writer: Writer {
            out: MultistatusStream::new(&PREFIXES),
            account,
            tree: t.tree,
            mount: t.mount,
            locks,
            request,
            named_live,
            dead,
            found: String::new(),
            missing: String::new(),
        },
        parent_len: href.len(),
        folder: Some((node, path)),
        children: children.into_iter(),
        href,
        base,
        child_path: String::new(),
        done: false,
    }))
}

/// Whether the listing shows `oc:checksums`, the one property read from the children's
/// blobs: rclone's plain WebDAV listing does not ask for it, and skipping the lookup takes
/// about a third off the database's share of a 10,000-entry PROPFIND.
fn digests_wanted(request: &PropfindRequest) -> ChildDigests {
    let names = match request {
        PropfindRequest::PropName => return ChildDigests::Read,
        PropfindRequest::AllProp { include } => include,
        PropfindRequest::Prop(names) => names,
    };
    if names
        .iter()
        .any(|n| Live::from_name(n) == Some(Live::OcChecksums))
    {
        ChildDigests::Read
    } else {
        ChildDigests::Skip
    }
}

/// A listing whose rows are all read, written a piece of about [`PIECE_LEN`] at a time
/// as the body is sent: nothing in it can fail any more.
struct Listing {
    writer: Writer,
    /// The resource asked for, with its path below the tree root; `None` once written.
    folder: Option<(Node, String)>,
    /// The members still to write, each dropped once written.
    children: std::vec::IntoIter<Node>,
    /// The decoded href being written: the folder's, then each child's after it.
    href: String,
    /// Length of the folder's href, which each child's is cut back to.
    parent_len: usize,
    /// The folder's path below the tree root ("" for the root).
    base: String,
    /// Reused for each child's path below the tree root.
    child_path: String,
    done: bool,
}

impl Iterator for Listing {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        if let Some((node, path)) = self.folder.take() {
            self.writer.resource(&node, &self.href, &path);
        }
        // Bounded: each round writes one child, and there are finitely many.
        while self.writer.out.len() < PIECE_LEN {
            let Some(child) = self.children.next() else {
                self.writer.out.close();
                self.done = true;
                break;
            };
            self.href.truncate(self.parent_len);
            self.href.push_str(&child.name);
            if child.is_dir() {
                self.href.push('/');
            }
            self.child_path.clear();
            let _ = write!(self.child_path, "{}/{}", self.base, child.name);
            self.writer.resource(&child, &self.href, &self.child_path);
        }
        Some(Bytes::from(self.writer.out.take()))
    }
}

/// Writes the listing straight into the piece being filled: a folder of 10,000 entries
/// must not cost an allocation per property (see the bench's propfind_10k).
struct Writer {
    out: MultistatusStream,
    account: Account,
    tree: TreeRoot,
    mount: Mount,
    locks: Vec<LockRecord>,
    request: PropfindRequest,
    /// The live property each name of a `prop` request stands for, looked up once for
    /// the listing rather than once per entry.
    named_live: Vec<Option<Live>>,
    dead: HashMap<NodeId, Vec<DeadProp>>,
    /// Reused for every entry: one allocation per listing, not one per entry.
    found: String,
    /// The same, for the names of properties the entry does not have.
    missing: String,
}

impl Writer {
    /// One `D:response`; `href` is the entry's decoded href.
    fn resource(&mut self, node: &Node, href: &str, path: &str) {
        let subject = Subject {
            node,
            path,
            account: &self.account,
            tree: self.tree,
            mount: self.mount,
            locks: &self.locks,
        };
        let dead = self
            .dead
            .get(&node.id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let (found, missing) = (&mut self.found, &mut self.missing);
        found.clear();
        missing.clear();
        match &self.request {
            PropfindRequest::AllProp { include } => {
                for live in ALLPROP {
                    live::write(found, live, &subject);
                }
                for prop in dead {
                    found.push_str(embeddable(&prop.xml));
                }
                // Dead values that stand in for a live one are written above, once.
                for name in include {
                    if let Some(live) = Live::from_name(name)
                        && !ALLPROP.contains(&live)
                        && stored_value(dead, name).is_none()
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
                for prop in dead
                    .iter()
                    .filter(|p| !live::overridable(&p.namespace, &p.name))
                {
                    empty_element_in(found, &PREFIXES, &prop.namespace, &prop.name);
                }
            }
            PropfindRequest::Prop(names) => {
                for (name, named_live) in names.iter().zip(&self.named_live) {
                    let hit = match (stored_value(dead, name), named_live) {
                        (Some(prop), _) => {
                            found.push_str(embeddable(&prop.xml));
                            true
                        }
                        (None, Some(live)) => live::write(found, *live, &subject),
                        (None, None) => false,
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

/// The stored value of `name` on an entry: a dead property, or a Win32 value Explorer set
/// that stands in for the one we would derive.
fn stored_value<'a>(dead: &'a [DeadProp], name: &Property) -> Option<&'a DeadProp> {
    dead.iter()
        .find(|p| p.namespace == name.namespace().uri() && p.name == name.local_name())
}
