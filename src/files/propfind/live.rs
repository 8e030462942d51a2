//! Live properties of files and folders: their names, and their values for one node.

use std::fmt::Write;
use std::time::{Duration, UNIX_EPOCH};

use davgate_storage::{Account, LockRecord, Node, TreeRoot, now_ms};

use super::request::PropName;
use crate::response::escape;

pub(crate) const DAV: &str = "DAV:";
pub(crate) const OWNCLOUD: &str = "http://owncloud.org/ns";
pub(crate) const NEXTCLOUD: &str = "http://nextcloud.org/ns";
pub(crate) const MICROSOFT: &str = "urn:schemas-microsoft-com:";

/// Prefixes declared once on the multistatus root.
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
    pub(crate) fn from_name(name: &PropName) -> Option<Live> {
        ALL.iter()
            .find(|(_, ns, local)| *ns == name.namespace && *local == name.local)
            .map(|(live, _, _)| *live)
    }

    pub(crate) fn all() -> impl Iterator<Item = Live> {
        ALL.iter().map(|(live, _, _)| *live)
    }

    /// The element name with its declared prefix.
    pub(crate) fn qualified(self) -> String {
        let (_, ns, local) = ALL
            .iter()
            .find(|(l, _, _)| *l == self)
            .expect("every Live is listed");
        let prefix = PREFIXES
            .iter()
            .find(|(_, uri)| uri == ns)
            .map_or("D", |(p, _)| p);
        format!("{prefix}:{local}")
    }
}

/// What a property value is computed from.
pub(crate) struct Subject<'a> {
    pub(crate) node: &'a Node,
    /// Decoded path below the tree root, for locks ("/a/b").
    pub(crate) path: &'a str,
    pub(crate) account: &'a Account,
    pub(crate) tree: TreeRoot,
    pub(crate) locks: &'a [LockRecord],
    /// The href of the locks' roots is built from this prefix ("/files").
    pub(crate) href_prefix: &'a str,
}

/// Writes the value of `prop` for `subject` into `out`; `false` if it has none here.
pub(crate) fn write(out: &mut String, prop: Live, s: &Subject) -> bool {
    let node = s.node;
    let dir = node.is_dir();
    let name = prop.qualified();
    let value: String = match prop {
        Live::ResourceType if dir => "<D:collection/>".into(),
        Live::ResourceType => String::new(),
        Live::ContentLength if !dir => node.size.to_string(),
        Live::ContentType if dir => "httpd/unix-directory".into(),
        Live::ContentType => escape(&content_type(node)),
        Live::ETag => format!("\"{}\"", escape(&node.etag)),
        Live::LastModified => httpdate::fmt_http_date(time(node.mtime_ms)),
        Live::CreationDate => humantime::format_rfc3339_seconds(time(node.created_ms)).to_string(),
        Live::LockDiscovery => lock_discovery(s),
        Live::SupportedLock => SUPPORTED_LOCK.into(),
        Live::QuotaUsed if dir => s.account.used_bytes.to_string(),
        Live::QuotaAvailable if dir => match s.account.available_bytes() {
            Some(free) => free.to_string(),
            None => return false,
        },
        Live::Win32LastModified => httpdate::fmt_http_date(time(node.mtime_ms)),
        Live::Win32Creation => httpdate::fmt_http_date(time(node.created_ms)),
        Live::Win32Attributes => {
            let hidden = if node.name.starts_with('.') { 0x2 } else { 0 };
            format!("{:08x}", if dir { 0x10 } else { 0x20 } | hidden)
        }
        Live::OcId => format!("{:08}davgate", node.id.0),
        Live::OcFileId => node.id.0.to_string(),
        Live::OcPermissions if s.tree == davgate_storage::TreeRoot::Trash => "D".into(),
        Live::OcPermissions if dir => "GDNVCK".into(),
        Live::OcPermissions => "GDNVW".into(),
        Live::OcChecksums => match &node.digests {
            Some(d) if !dir => format!("<oc:checksum>SHA1:{} MD5:{}</oc:checksum>", d.sha1, d.md5),
            _ => return false,
        },
        Live::TrashFilename => match origin_name(node) {
            Some(n) => escape(n),
            None => return false,
        },
        Live::TrashOriginalLocation => match &node.trash_origin {
            Some(origin) => escape(origin.trim_start_matches('/')),
            None => return false,
        },
        Live::TrashDeletionTime => match node.trashed_ms {
            Some(ms) => (ms / 1000).to_string(),
            None => return false,
        },
        _ => return false,
    };
    if value.is_empty() {
        let _ = write!(out, "<{name}/>");
    } else {
        let _ = write!(out, "<{name}>{value}</{name}>");
    }
    true
}

const SUPPORTED_LOCK: &str = "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>\
     <D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>";

fn time(ms: i64) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

fn content_type(node: &Node) -> String {
    if let Some(ct) = &node.content_type
        && !ct.is_empty()
    {
        return ct.clone();
    }
    mime_guess::from_path(&node.name)
        .first_or_octet_stream()
        .to_string()
}

/// The name an item had before it was deleted (its origin's last segment).
fn origin_name(node: &Node) -> Option<&str> {
    let origin = node.trash_origin.as_deref()?.trim_end_matches('/');
    origin.rsplit('/').next().filter(|n| !n.is_empty())
}

fn lock_discovery(s: &Subject) -> String {
    let now = now_ms();
    let mut out = String::new();
    let applies = |l: &&LockRecord| {
        l.path == s.path
            || (l.deep && (l.path == "/" || s.path.starts_with(&format!("{}/", l.path))))
    };
    for lock in s.locks.iter().filter(applies) {
        let scope = if lock.shared { "shared" } else { "exclusive" };
        let depth = if lock.deep { "infinity" } else { "0" };
        let timeout = match lock.expires_ms {
            Some(at) => format!("Second-{}", ((at - now).max(0) + 999) / 1000),
            None => "Infinite".into(),
        };
        let root: String = lock
            .path
            .split('/')
            .map(crate::route::encode_segment)
            .collect::<Vec<_>>()
            .join("/");
        let owner = lock
            .owner_xml
            .as_deref()
            .map(super::embeddable)
            .unwrap_or_default();
        let _ = write!(
            out,
            "<D:activelock><D:lockscope><D:{scope}/></D:lockscope><D:locktype><D:write/></D:locktype>\
             <D:depth>{depth}</D:depth>{owner}<D:timeout>{timeout}</D:timeout>\
             <D:locktoken><D:href>{}</D:href></D:locktoken><D:lockroot><D:href>{}{}</D:href></D:lockroot></D:activelock>",
            escape(&lock.token),
            escape(s.href_prefix),
            escape(&root)
        );
    }
    out
}
