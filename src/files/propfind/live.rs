//! Live properties of files and folders: their names, and their values for one node.

use std::cell::RefCell;
use std::fmt::Write;
use std::time::{Duration, UNIX_EPOCH};

use davgate_storage::{Account, LockRecord, Node, TreeRoot, now_ms};

use super::super::lockdiscovery;
use crate::proto::escape::{Escape, escape};
use crate::proto::names::Property;
use crate::route::Mount;

const DAV: &str = "DAV:";
const OWNCLOUD: &str = "http://owncloud.org/ns";
const NEXTCLOUD: &str = "http://nextcloud.org/ns";
const MICROSOFT: &str = "urn:schemas-microsoft-com:";

/// Prefixes declared once on a file listing.
pub(crate) const PREFIXES: [(&str, &str); 4] = [
    ("D", DAV),
    ("oc", OWNCLOUD),
    ("nc", NEXTCLOUD),
    ("Z", MICROSOFT),
];

/// A property davgate computes rather than stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Live {
    ResourceType,
    ContentLength,
    ContentType,
    ETag,
    LastModified,
    CreationDate,
    LockDiscovery,
    SupportedLock,
    /// RFC 4331; never in allprop.
    QuotaUsed,
    QuotaAvailable,
    Win32LastModified,
    Win32Creation,
    Win32Attributes,
    /// ownCloud's ids and permissions, read by rclone and the Nextcloud clients.
    OcId,
    OcFileId,
    OcPermissions,
    /// ownCloud's content checksums: "SHA1:… MD5:…", compared by rclone.
    OcChecksums,
    /// Nextcloud's trash properties, on items at the top of the trash.
    TrashFilename,
    TrashOriginalLocation,
    TrashDeletionTime,
}

const ALL: [(Live, &str, &str); 20] = [
    (Live::ResourceType, DAV, "resourcetype"),
    (Live::ContentLength, DAV, "getcontentlength"),
    (Live::ContentType, DAV, "getcontenttype"),
    (Live::ETag, DAV, "getetag"),
    (Live::LastModified, DAV, "getlastmodified"),
    (Live::CreationDate, DAV, "creationdate"),
    (Live::LockDiscovery, DAV, "lockdiscovery"),
    (Live::SupportedLock, DAV, "supportedlock"),
    (Live::QuotaUsed, DAV, "quota-used-bytes"),
    (Live::QuotaAvailable, DAV, "quota-available-bytes"),
    (Live::Win32LastModified, MICROSOFT, "Win32LastModifiedTime"),
    (Live::Win32Creation, MICROSOFT, "Win32CreationTime"),
    (Live::Win32Attributes, MICROSOFT, "Win32FileAttributes"),
    (Live::OcId, OWNCLOUD, "id"),
    (Live::OcFileId, OWNCLOUD, "fileid"),
    (Live::OcPermissions, OWNCLOUD, "permissions"),
    (Live::OcChecksums, OWNCLOUD, "checksums"),
    (Live::TrashFilename, NEXTCLOUD, "trashbin-filename"),
    (
        Live::TrashOriginalLocation,
        NEXTCLOUD,
        "trashbin-original-location",
    ),
    (Live::TrashDeletionTime, NEXTCLOUD, "trashbin-deletion-time"),
];

/// The live properties RFC 4918 §14.2 puts in an allprop answer.
/// Whether a stored (dead) value of this name replaces the value we derive: the Win32
/// creation time and attributes Explorer sets with PROPPATCH and reads back.
pub(crate) fn overridable(namespace: &str, name: &str) -> bool {
    namespace == MICROSOFT && matches!(name, "Win32CreationTime" | "Win32FileAttributes")
}

pub(crate) const ALLPROP: [Live; 8] = [
    Live::ResourceType,
    Live::ContentLength,
    Live::ContentType,
    Live::ETag,
    Live::LastModified,
    Live::CreationDate,
    Live::LockDiscovery,
    Live::SupportedLock,
];

impl Live {
    pub(crate) fn from_name(name: &Property) -> Option<Live> {
        let (ns, local) = (name.namespace(), name.local_name());
        ALL.iter()
            .find(|(_, n, l)| *n == ns.uri() && *l == local)
            .map(|(live, _, _)| *live)
    }

    pub(crate) fn all() -> impl Iterator<Item = Live> {
        ALL.iter().map(|(live, _, _)| *live)
    }

    /// The element name with its declared prefix.
    pub(crate) fn qualified(self) -> &'static str {
        match self {
            Live::ResourceType => "D:resourcetype",
            Live::ContentLength => "D:getcontentlength",
            Live::ContentType => "D:getcontenttype",
            Live::ETag => "D:getetag",
            Live::LastModified => "D:getlastmodified",
            Live::CreationDate => "D:creationdate",
            Live::LockDiscovery => "D:lockdiscovery",
            Live::SupportedLock => "D:supportedlock",
            Live::QuotaUsed => "D:quota-used-bytes",
            Live::QuotaAvailable => "D:quota-available-bytes",
            Live::Win32LastModified => "Z:Win32LastModifiedTime",
            Live::Win32Creation => "Z:Win32CreationTime",
            Live::Win32Attributes => "Z:Win32FileAttributes",
            Live::OcId => "oc:id",
            Live::OcFileId => "oc:fileid",
            Live::OcPermissions => "oc:permissions",
            Live::OcChecksums => "oc:checksums",
            Live::TrashFilename => "nc:trashbin-filename",
            Live::TrashOriginalLocation => "nc:trashbin-original-location",
            Live::TrashDeletionTime => "nc:trashbin-deletion-time",
        }
    }
}

/// What a property value is computed from.
pub(crate) struct Subject<'a> {
    pub(crate) node: &'a Node,
    /// Decoded path below the tree root, for locks ("/a/b").
    pub(crate) path: &'a str,
    pub(crate) account: &'a Account,
    pub(crate) tree: TreeRoot,
    /// Where the tree is mounted, for lock roots.
    pub(crate) mount: Mount,
    pub(crate) locks: &'a [LockRecord],
}

/// Writes the value of `prop` for `subject` into `out`; `false` if it has none here.
///
/// Values go straight into the listing's buffer: a folder of 10,000 entries writes
/// 50,000 of them, so no value gets a `String` of its own unless it must.
pub(crate) fn write(out: &mut String, prop: Live, s: &Subject) -> bool {
    let node = s.node;
    let dir = node.is_dir();
    let applies = match prop {
        Live::ContentLength => !dir,
        Live::QuotaUsed => dir,
        Live::QuotaAvailable => dir && s.account.available_bytes().is_some(),
        Live::OcChecksums => !dir && node.digests.is_some(),
        Live::TrashFilename => origin_name(node).is_some(),
        Live::TrashOriginalLocation => node.trash_origin.is_some(),
        Live::TrashDeletionTime => node.trashed_ms.is_some(),
        _ => true,
    };
    if !applies {
        return false;
    }
    let name = prop.qualified();
    if prop == Live::ResourceType && !dir {
        tag(out, "<", name, "/>");
        return true;
    }
    let start = out.len();
    tag(out, "<", name, ">");
    let content = out.len();
    match prop {
        Live::ResourceType => out.push_str("<D:collection/>"),
        Live::ContentLength => {
            let _ = write!(out, "{}", node.size);
        }
        Live::ContentType if dir => out.push_str("httpd/unix-directory"),
        Live::ContentType => content_type(out, node),
        Live::ETag => {
            out.push('"');
            escape(&node.etag, Escape::Text, out);
            out.push('"');
        }
        Live::LastModified | Live::Win32LastModified => http_date(out, node.mtime_ms),
        Live::Win32Creation => http_date(out, node.created_ms),
        Live::CreationDate => {
            let _ = write!(
                out,
                "{}",
                humantime::format_rfc3339_seconds(time(node.created_ms))
            );
        }
        Live::LockDiscovery => lock_discovery(out, s),
        Live::SupportedLock => out.push_str(SUPPORTED_LOCK),
        Live::QuotaUsed => {
            let _ = write!(out, "{}", s.account.used_bytes);
        }
        Live::QuotaAvailable => {
            let _ = write!(out, "{}", s.account.available_bytes().unwrap_or(0));
        }
        Live::Win32Attributes => {
            let hidden = if node.name.starts_with('.') { 0x2 } else { 0 };
            let _ = write!(out, "{:08x}", if dir { 0x10 } else { 0x20 } | hidden);
        }
        Live::OcId => {
            let _ = write!(out, "{:08}davgate", node.id.0);
        }
        Live::OcFileId => {
            let _ = write!(out, "{}", node.id.0);
        }
        Live::OcPermissions => out.push_str(match (s.tree, dir) {
            (davgate_storage::TreeRoot::Trash, _) => "D",
            (_, true) => "GDNVCK",
            (_, false) => "GDNVW",
        }),
        Live::OcChecksums => {
            if let Some(d) = &node.digests {
                let _ = write!(out, "<oc:checksum>SHA1:{}", d.sha1);
                if let Some(md5) = &d.md5 {
                    let _ = write!(out, " MD5:{md5}");
                }
                out.push_str("</oc:checksum>");
            }
        }
        Live::TrashFilename => escape(origin_name(node).unwrap_or_default(), Escape::Text, out),
        Live::TrashOriginalLocation => {
            let origin = node.trash_origin.as_deref().unwrap_or_default();
            escape(origin.trim_start_matches('/'), Escape::Text, out);
        }
        Live::TrashDeletionTime => {
            let _ = write!(out, "{}", node.trashed_ms.unwrap_or(0) / 1000);
        }
    }
    if out.len() == content {
        // No value (an unlocked entry's lockdiscovery): one empty element, 17 bytes less
        // on every entry of a listing.
        out.truncate(start);
        tag(out, "<", name, "/>");
    } else {
        tag(out, "</", name, ">");
    }
    true
}

/// `open`, `name`, `close` appended as they are: an element's tag without a formatter,
/// 100,000 times in a 10,000-entry listing.
fn tag(out: &mut String, open: &str, name: &str, close: &str) {
    out.push_str(open);
    out.push_str(name);
    out.push_str(close);
}

fn http_date(out: &mut String, ms: i64) {
    thread_local! {
        /// The second last formatted on this thread and its text: the files of a folder
        /// mostly share their second, as a sync client uploads them together.
        static LAST: RefCell<(i64, String)> = const { RefCell::new((-1, String::new())) };
    }
    let second = ms.max(0) / 1000;
    LAST.with_borrow_mut(|(last, text)| {
        if *last != second {
            text.clear();
            let _ = write!(text, "{}", httpdate::HttpDate::from(time(ms)));
            *last = second;
        }
        out.push_str(text);
    });
}

const SUPPORTED_LOCK: &str = "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>\
     <D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>";

fn time(ms: i64) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

fn content_type(out: &mut String, node: &Node) {
    match &node.content_type {
        Some(ct) if !ct.is_empty() => escape(ct, Escape::Text, out),
        _ => out.push_str(
            mime_guess::from_path(&node.name)
                .first_raw()
                .unwrap_or("application/octet-stream"),
        ),
    }
}

/// The name an item had before it was deleted (its origin's last segment).
fn origin_name(node: &Node) -> Option<&str> {
    let origin = node.trash_origin.as_deref()?.trim_end_matches('/');
    origin.rsplit('/').next().filter(|n| !n.is_empty())
}

fn lock_discovery(out: &mut String, s: &Subject) {
    let now = now_ms();
    for lock in s.locks.iter().filter(|l| lockdiscovery::applies(l, s.path)) {
        let seconds = lockdiscovery::seconds_left(lock.expires_ms, now);
        lockdiscovery::write_active_lock(out, (s.mount, s.tree), lock, seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(ms: i64) -> String {
        let mut out = String::new();
        http_date(&mut out, ms);
        out
    }

    #[test]
    fn a_date_kept_from_the_entry_before_is_only_reused_within_its_second() {
        assert_eq!(date(1_000), "Thu, 01 Jan 1970 00:00:01 GMT");
        assert_eq!(date(1_999), "Thu, 01 Jan 1970 00:00:01 GMT");
        assert_eq!(date(2_000), "Thu, 01 Jan 1970 00:00:02 GMT");
        assert_eq!(date(1_796_601_600_500), "Mon, 07 Dec 2026 00:00:00 GMT");
        assert_eq!(date(-5), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(date(-5_000), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
