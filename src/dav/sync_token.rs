//! The sync-token format (RFC 6578 §3.2): a URI naming the collection and its change
//! number in the store's change log. Written by the `sync-token` property and the
//! sync-collection report, read back by the report; both import it from here.

use davgate_storage::CollectionId;

/// Sync tokens are URIs (RFC 6578 §3.2) naming the collection and its change number.
const TOKEN_PREFIX: &str = "http://davgate.org/ns/sync/";

/// The token of a collection at change `seq`.
pub fn sync_token(collection: CollectionId, seq: i64) -> String {
    format!("{TOKEN_PREFIX}{}-{seq}", collection.0)
}

/// The change number in a token of this collection; 0 for the initial sync.
pub fn parse_token(token: &str, collection: CollectionId) -> Option<i64> {
    let token = token.trim();
    if token.is_empty() {
        return Some(0);
    }
    let (id, seq) = token.strip_prefix(TOKEN_PREFIX)?.split_once('-')?;
    (id.parse::<i64>().ok()? == collection.0).then_some(())?;
    seq.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_their_collection() {
        let id = CollectionId(7);
        assert_eq!(parse_token("", id), Some(0));
        assert_eq!(parse_token(&sync_token(id, 42), id), Some(42));
        assert_eq!(parse_token(&sync_token(CollectionId(8), 42), id), None);
        for bad in [
            "42",
            "http://davgate.org/ns/sync/7-x",
            "http://example.org/7-1",
            "data:,7-1",
        ] {
            assert_eq!(parse_token(bad, id), None, "{bad}");
        }
    }
}
