//! The administration CLI against a data directory.

use crate::common::bin::{davgate, davgate_ok};

#[test]
fn users_are_added_listed_limited_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(
        davgate_ok(
            d,
            &["user", "add", "carol", "--password-stdin"],
            "long enough password\n"
        )
        .contains("created")
    );
    let dup = davgate(
        d,
        &["user", "add", "carol", "--password-stdin"],
        "long enough password\n",
    );
    assert_eq!(dup.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&dup.stderr).contains("exists already"));

    let short = davgate(d, &["user", "add", "dave", "--password-stdin"], "short\n");
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8 characters"));
    let bad = davgate(
        d,
        &["user", "add", "bad:name", "--password-stdin"],
        "long enough password\n",
    );
    assert!(!bad.status.success());

    davgate_ok(d, &["user", "set-quota", "carol", "10GiB"], "");
    davgate_ok(d, &["user", "set-upload-limit", "carol", "100GiB"], "");
    let too_big = davgate(d, &["user", "set-upload-limit", "carol", "101GiB"], "");
    assert_eq!(too_big.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&too_big.stderr).contains("100GiB"));
    let nonsense = davgate(d, &["user", "set-quota", "carol", "lots"], "");
    assert_eq!(nonsense.status.code(), Some(2));
    let list = davgate_ok(d, &["user", "list"], "");
    assert!(
        list.contains("carol") && list.contains("10GiB") && list.contains("100GiB"),
        "{list}"
    );
    davgate_ok(d, &["user", "set-quota", "carol", "none"], "");
    davgate_ok(d, &["user", "set-upload-limit", "carol", "default"], "");
    let list = davgate_ok(d, &["user", "list"], "");
    assert!(list.contains("50GiB (default)"), "{list}");

    davgate_ok(
        d,
        &["user", "passwd", "carol", "--password-stdin"],
        "another long password\n",
    );
    davgate_ok(d, &["user", "delete", "carol"], "");
    let gone = davgate(d, &["user", "delete", "carol"], "");
    assert_eq!(gone.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&gone.stderr).contains("no account named"));
}
