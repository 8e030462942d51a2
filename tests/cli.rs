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

/// `davgate locks list|clear` beside a running server, on the same data directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_are_listed_and_cleared_by_path() {
    let srv = crate::common::TestServer::start().await;
    let d = srv.data_dir().to_owned();
    let dav = srv.alice();
    dav.mkcol("/files/docs").await.status(201);
    let lockinfo = r#"<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>mailto:alice@example.org</D:href></D:owner></D:lockinfo>"#;
    let mut tokens = Vec::new();
    for path in ["/files/docs/a b.txt", "/files/top.txt"] {
        let locked = dav
            .req("LOCK", &path.replace(' ', "%20"))
            .header("Timeout", "Second-600")
            .header("Depth", "0")
            .body(lockinfo)
            .send()
            .await
            .status(201);
        tokens.push(locked.header("lock-token").expect("Lock-Token"));
    }
    let run = |args: &'static [&'static str]| {
        let d = d.clone();
        tokio::task::spawn_blocking(move || davgate(&d, args, ""))
    };
    let ok = |args: &'static [&'static str]| {
        let d = d.clone();
        tokio::task::spawn_blocking(move || davgate_ok(&d, args, ""))
    };

    let list = ok(&["locks", "list", "alice"]).await.unwrap();
    for want in [
        "/docs/a b.txt",
        "/top.txt",
        "mailto:alice@example.org",
        "exclusive",
        "expires",
    ] {
        assert!(list.contains(want), "{want:?} missing from:\n{list}");
    }
    for token in &tokens {
        let bare = token.trim_start_matches('<').trim_end_matches('>');
        assert!(list.contains(bare), "{bare} missing from:\n{list}");
    }

    let cleared = ok(&["locks", "clear", "alice", "/docs/"]).await.unwrap();
    assert!(cleared.contains("removed 1 lock"), "{cleared}");
    dav.put("/files/docs/a%20b.txt", "mine now")
        .await
        .status(204);
    dav.put("/files/top.txt", "still locked").await.status(423);

    // --config is honoured like --data-dir.
    let config = d.join("cli.toml");
    std::fs::write(
        &config,
        format!("data_dir = {:?}\n", d.display().to_string()),
    )
    .unwrap();
    let by_config = tokio::task::spawn_blocking(move || {
        std::process::Command::new(crate::common::bin::BIN)
            .args(["locks", "list", "alice", "--config"])
            .arg(&config)
            .env_remove("DAVGATE_DATA_DIR")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let listed = String::from_utf8_lossy(&by_config.stdout);
    assert!(
        by_config.status.success() && listed.contains("/top.txt"),
        "{listed}"
    );
    assert!(!listed.contains("/docs/a b.txt"), "{listed}");

    let all = ok(&["locks", "clear", "alice", "/"]).await.unwrap();
    assert!(all.contains("removed 1 lock"), "{all}");
    dav.put("/files/top.txt", "free").await.status(204);
    let none = ok(&["locks", "list", "alice"]).await.unwrap();
    assert!(none.contains("no locks"), "{none}");
    let nobody = run(&["locks", "list", "nobody"]).await.unwrap();
    assert_eq!(nobody.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("no account named"));
}

#[test]
fn a_password_prompt_without_a_terminal_says_to_use_password_stdin() {
    let dir = tempfile::tempdir().unwrap();
    // setsid detaches from any controlling terminal, as under cron or in a container.
    let Ok(out) = std::process::Command::new("setsid")
        .arg(crate::common::bin::BIN)
        .args(["user", "add", "erin", "--data-dir"])
        .arg(dir.path())
        .env_remove("DAVGATE_CONFIG")
        .stdin(std::process::Stdio::null())
        .output()
    else {
        eprintln!("skipped: setsid is not installed");
        return;
    };
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--password-stdin"), "{stderr}");
    assert!(stderr.contains("no terminal"), "{stderr}");
}
