//! The `D:activelock` elements of `D:lockdiscovery` (RFC 4918 §15.8), written the same
//! way in a PROPFIND listing and in the answer to a LOCK. Pure: records in, XML out.

use std::fmt::Write;

use davgate_storage::{LockRecord, TreeRoot};

use super::mount;
use crate::proto::escape::escaped;
use crate::proto::href::encode_path;
use crate::proto::raw::embeddable;
use crate::route::Mount;

/// The locks of `locks` that apply to `key` ("/a/b"): on it, or deep above it.
pub(crate) fn applies(lock: &LockRecord, key: &str) -> bool {
    lock.path == key
        || (lock.deep
            && (lock.path == "/"
                || key
                    .strip_prefix(lock.path.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))))
}

/// Writes one `D:activelock` for `lock` in `tree` as mounted at `mount`, reporting
/// `seconds` left.
pub(crate) fn write_active_lock(
    out: &mut String,
    (mount, tree): (Mount, TreeRoot),
    lock: &LockRecord,
    seconds: u64,
) {
    let scope = if lock.shared { "shared" } else { "exclusive" };
    let depth = if lock.deep { "infinity" } else { "0" };
    // The root is decoded; the href is encoded once.
    let root = encode_path(&mount::href_of_key(mount, tree, &lock.path));
    let owner = lock
        .owner_xml
        .as_deref()
        .map(embeddable)
        .unwrap_or_default();
    let _ = write!(
        out,
        "<D:activelock><D:lockscope><D:{scope}/></D:lockscope><D:locktype><D:write/></D:locktype>\
         <D:depth>{depth}</D:depth>{owner}<D:timeout>Second-{seconds}</D:timeout>\
         <D:locktoken><D:href>{}</D:href></D:locktoken><D:lockroot><D:href>{}</D:href></D:lockroot></D:activelock>",
        escaped(&lock.token),
        escaped(&root)
    );
}

/// Whole seconds until `expires_ms`, rounded up: a lock is live until its last
/// millisecond, and one granted `Second-100` is reported as that, not 99.
pub(crate) fn seconds_left(expires_ms: i64, now_ms: i64) -> u64 {
    (expires_ms.saturating_sub(now_ms).max(0) as u64).div_ceil(1000)
}

/// The body answering a LOCK: `D:prop` holding the lockdiscovery of the lock granted
/// (RFC 4918 §9.10.1), with the time granted.
pub(crate) fn lock_body(place: (Mount, TreeRoot), lock: &LockRecord, seconds: u64) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:prop xmlns:D=\"DAV:\"><D:lockdiscovery>",
    );
    write_active_lock(&mut out, place, lock, seconds);
    out.push_str("</D:lockdiscovery></D:prop>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Limits;
    use crate::proto::names::Namespace;
    use crate::proto::reader::parse_document;

    fn lock(path: &str, shared: bool, deep: bool, owner: Option<&str>) -> LockRecord {
        LockRecord {
            token: "urn:uuid:0-1".into(),
            path: path.into(),
            principal: Some("alice".into()),
            owner_xml: owner.map(|o| o.as_bytes().to_vec()),
            expires_ms: 0,
            shared,
            deep,
        }
    }

    #[test]
    fn active_locks_say_scope_depth_owner_timeout_token_and_root() {
        let table = [
            (
                lock("/a b/c&d", false, false, None),
                "<D:activelock><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>\
                 <D:depth>0</D:depth><D:timeout>Second-100</D:timeout><D:locktoken><D:href>urn:uuid:0-1</D:href>\
                 </D:locktoken><D:lockroot><D:href>/files/a%20b/c%26d</D:href></D:lockroot></D:activelock>",
            ),
            (
                lock(
                    "/",
                    true,
                    true,
                    Some("<?xml version=\"1.0\"?><D:owner xmlns:D=\"DAV:\">me</D:owner>"),
                ),
                "<D:activelock><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype>\
                 <D:depth>infinity</D:depth><D:owner xmlns:D=\"DAV:\">me</D:owner><D:timeout>Second-100</D:timeout>\
                 <D:locktoken><D:href>urn:uuid:0-1</D:href></D:locktoken><D:lockroot><D:href>/files/</D:href>\
                 </D:lockroot></D:activelock>",
            ),
        ];
        for (record, want) in table {
            let mut out = String::new();
            write_active_lock(&mut out, (Mount::Main, TreeRoot::Files), &record, 100);
            assert_eq!(out, want);
        }
    }

    #[test]
    fn the_lock_body_parses_as_a_prop() {
        let body = lock_body(
            (Mount::Main, TreeRoot::Files),
            &lock(
                "/x",
                false,
                true,
                Some("<D:owner xmlns:D=\"DAV:\"><D:href>mailto:a@b</D:href></D:owner>"),
            ),
            3600,
        );
        let root = parse_document(body.as_bytes(), &Limits::DEFAULT).unwrap();
        assert!(root.is(&Namespace::Dav, "prop"));
        assert!(body.contains("<D:timeout>Second-3600</D:timeout>"));
    }

    #[test]
    fn locks_apply_to_their_path_and_deep_ones_below() {
        assert!(applies(&lock("/a", false, false, None), "/a"));
        assert!(!applies(&lock("/a", false, false, None), "/a/b"));
        assert!(applies(&lock("/a", false, true, None), "/a/b"));
        assert!(!applies(&lock("/a", false, true, None), "/ab"));
        assert!(applies(&lock("/", false, true, None), "/anything"));
    }

    #[test]
    fn the_time_left_rounds_up_to_the_second() {
        assert_eq!(seconds_left(100_000, 0), 100);
        assert_eq!(seconds_left(100_000, 1), 100, "not 99 a millisecond later");
        assert_eq!(seconds_left(100_000, 999), 100);
        assert_eq!(seconds_left(100_000, 1_000), 99);
        assert_eq!(seconds_left(100_000, 99_999), 1);
        assert_eq!(seconds_left(100_000, 100_000), 0);
        assert_eq!(seconds_left(0, 100_000), 0);
        assert_eq!(
            seconds_left(i64::MAX, i64::MIN),
            (i64::MAX as u64).div_ceil(1000),
            "no overflow"
        );
    }
}
