//! Where the two file trees are mounted in URL space, and the one place in the file room
//! that turns a path below a tree into the href a client reads (or a tagged `If` URL back
//! into a path). The request's [`Mount`] (decided by the router from its host) says
//! which URL space it is in: `/files/` and `/trash/` on the main host, `/` and
//! `/.trash/` on the files host.

use davgate_storage::{TreeRoot, name_key};

use crate::route::{self, Mount};

/// The decoded href of the item at `segments` in `tree`; folders (and the tree itself)
/// end in a slash. Writers percent-encode it once, as they write it.
pub(crate) fn href(mount: Mount, tree: TreeRoot, segments: &[String], dir: bool) -> String {
    mount.href(tree, segments, dir)
}

/// The decoded href of a lock root, from its path key ("/a/b").
pub(crate) fn href_of_key(mount: Mount, tree: TreeRoot, key: &str) -> String {
    format!("{}{key}", mount.prefix(tree))
}

/// The key a path is cached, locked and compared by: NFC, one leading slash, no
/// trailing one.
pub(crate) fn path_key(segments: &[String]) -> String {
    let mut key = String::from("/");
    key.push_str(&segments.join("/"));
    name_key(&key)
}

/// The path key of an `If` resource tag (`<http://host/files/a>` or `</files/a>` on the
/// main host, `</a>` on the files host) in `tree`; `None` for a URL outside it.
pub(crate) fn tagged_key(mount: Mount, tree: TreeRoot, tag: &str) -> Option<String> {
    let uri: http::Uri = tag.parse().ok()?;
    let segments = route::decode_path(uri.path()).ok()?;
    let (tagged_tree, segments) = mount.locate(uri.path(), segments)?;
    (tagged_tree == tree).then(|| path_key(&segments))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_and_tags_round_trip() {
        let segs = vec!["My Docs".to_owned(), "a.txt".to_owned()];
        assert_eq!(
            href(Mount::Main, TreeRoot::Files, &segs, false),
            "/files/My Docs/a.txt"
        );
        assert_eq!(
            href(Mount::Main, TreeRoot::Files, &segs[..1], true),
            "/files/My Docs/"
        );
        assert_eq!(href(Mount::Main, TreeRoot::Trash, &[], false), "/trash/");
        assert_eq!(
            tagged_key(
                Mount::Main,
                TreeRoot::Files,
                "http://h/files/My%20Docs/a.txt"
            )
            .as_deref(),
            Some("/My Docs/a.txt")
        );
        assert_eq!(
            tagged_key(Mount::Main, TreeRoot::Files, "/files/").as_deref(),
            Some("/")
        );
        assert_eq!(tagged_key(Mount::Main, TreeRoot::Files, "/trash/a"), None);
        assert_eq!(href_of_key(Mount::Main, TreeRoot::Files, "/a"), "/files/a");
        assert_eq!(
            href(Mount::FilesHost, TreeRoot::Files, &segs, false),
            "/My Docs/a.txt"
        );
        assert_eq!(
            href_of_key(Mount::FilesHost, TreeRoot::Trash, "/a"),
            "/.trash/a"
        );
        assert_eq!(
            tagged_key(
                Mount::FilesHost,
                TreeRoot::Files,
                "http://h/My%20Docs/a.txt"
            )
            .as_deref(),
            Some("/My Docs/a.txt")
        );
        assert_eq!(
            tagged_key(Mount::FilesHost, TreeRoot::Files, "/.trash/a"),
            None
        );
    }
}
