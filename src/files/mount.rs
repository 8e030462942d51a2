//! Where the two file trees are mounted in URL space, and the one place that turns a
//! path below a tree into the href a client reads (or a tagged `If` URL back into a
//! path). Every href the file room writes and every `/files` prefix it strips goes
//! through here, so serving a tree somewhere else changes one file.

use davgate_storage::{TreeRoot, name_key};

use crate::route;

/// The URL prefix a tree is served under, without a trailing slash.
pub(crate) fn prefix(tree: TreeRoot) -> &'static str {
    match tree {
        TreeRoot::Files => "/files",
        TreeRoot::Trash => "/trash",
    }
}

/// The decoded href of the item at `segments` in `tree`; folders (and the tree itself)
/// end in a slash. Writers percent-encode it once, as they write it.
pub(crate) fn href(tree: TreeRoot, segments: &[String], dir: bool) -> String {
    let mut href = String::from(prefix(tree));
    for segment in segments {
        href.push('/');
        href.push_str(segment);
    }
    if dir || segments.is_empty() {
        href.push('/');
    }
    href
}

/// The decoded href of a lock root, from its path key ("/a/b").
pub(crate) fn href_of_key(tree: TreeRoot, key: &str) -> String {
    format!("{}{key}", prefix(tree))
}

/// The key a path is cached, locked and compared by: NFC, one leading slash, no
/// trailing one.
pub(crate) fn path_key(segments: &[String]) -> String {
    let mut key = String::from("/");
    key.push_str(&segments.join("/"));
    name_key(&key)
}

/// The path key of an `If` resource tag (`<http://host/files/a>` or `</files/a>`) in
/// `tree`; `None` for a URL outside it.
pub(crate) fn tagged_key(tree: TreeRoot, tag: &str) -> Option<String> {
    let uri: http::Uri = tag.parse().ok()?;
    let segments = route::decode_path(uri.path()).ok()?;
    let root = prefix(tree).trim_start_matches('/');
    (segments.first().map(String::as_str) == Some(root)).then(|| path_key(&segments[1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_and_tags_round_trip() {
        let segs = vec!["My Docs".to_owned(), "a.txt".to_owned()];
        assert_eq!(href(TreeRoot::Files, &segs, false), "/files/My Docs/a.txt");
        assert_eq!(href(TreeRoot::Files, &segs[..1], true), "/files/My Docs/");
        assert_eq!(href(TreeRoot::Trash, &[], false), "/trash/");
        assert_eq!(
            tagged_key(TreeRoot::Files, "http://h/files/My%20Docs/a.txt").as_deref(),
            Some("/My Docs/a.txt")
        );
        assert_eq!(tagged_key(TreeRoot::Files, "/files/").as_deref(), Some("/"));
        assert_eq!(tagged_key(TreeRoot::Files, "/trash/a"), None);
        assert_eq!(href_of_key(TreeRoot::Files, "/a"), "/files/a");
    }
}
