//! LOCK and UNLOCK, kept in the database: another client gets 423, the holder writes.

use crate::common::client::Resp;
use crate::common::{Dav, TestServer};

const LOCKINFO: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>mailto:alice@example.org</D:href></D:owner></D:lockinfo>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_held_by_another_client_yields_423() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.put("/files/doc.txt", "v1").await.status(201);
    let locked = dav
        .req("LOCK", "/files/doc.txt")
        .header("Timeout", "Second-600")
        .body(LOCKINFO)
        .send()
        .await
        .status(200);
    let token = locked.header("lock-token").expect("Lock-Token header");
    assert!(locked.text().contains("mailto:alice@example.org"));

    // Without the token: locked, with words.
    dav.put("/files/doc.txt", "v2")
        .await
        .status(423)
        .says("locked by another client");
    dav.delete("/files/doc.txt").await.status(423);
    dav.req("MOVE", "/files/doc.txt")
        .header("Destination", &dav.url("/files/x.txt"))
        .send()
        .await
        .status(423);

    // The lock is in the database: a restarted server still knows it.
    let lockdiscovery = dav
        .props("/files/doc.txt", "0", &["lockdiscovery"])
        .await
        .status(207);
    assert_eq!(lockdiscovery.values("locktoken").len(), 1);

    let if_header = format!("({token})");
    dav.req("PUT", "/files/doc.txt")
        .header("If", &if_header)
        .body("v2")
        .send()
        .await
        .status(204);
    dav.req("UNLOCK", "/files/doc.txt")
        .header("Lock-Token", &token)
        .send()
        .await
        .status(204);
    dav.put("/files/doc.txt", "v3").await.status(204);
    assert!(
        srv.store
            .locks(srv.account("alice").await.id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_survive_a_restart() {
    let mut srv = TestServer::start().await;
    let dav = srv.alice();
    dav.put("/files/doc.txt", "v1").await.status(201);
    dav.req("LOCK", "/files/doc.txt")
        .body(LOCKINFO)
        .send()
        .await
        .status(200);
    let settings = crate::common::server::settings(srv.dir.path(), "");
    srv.running.take().unwrap().shutdown().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    srv.running = Some(davgate::server::start_on(settings, listener).await.unwrap());
    srv.alice().put("/files/doc.txt", "v2").await.status(423);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locking_an_unmapped_url_creates_an_empty_file() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.req("LOCK", "/files/new.txt")
        .body(LOCKINFO)
        .send()
        .await
        .status(201);
    let got = dav.get("/files/new.txt").await.status(200);
    assert!(got.body.is_empty());
    dav.req("LOCK", "/files/no/such/dir.txt")
        .body(LOCKINFO)
        .send()
        .await
        .status(409);
}

/// LOCKs `path` with this `Timeout` header (none when `None`); returns the answer.
async fn lock(dav: &Dav, path: &str, timeout: Option<&str>) -> Resp {
    let mut req = dav.req("LOCK", path).body(LOCKINFO);
    if let Some(timeout) = timeout {
        req = req.header("Timeout", timeout);
    }
    req.send().await
}

/// Refreshes the lock `token` on `path`: LOCK with an `If` header and no body.
async fn refresh(dav: &Dav, path: &str, token: &str, timeout: Option<&str>) -> Resp {
    let mut req = dav.req("LOCK", path).header("If", &format!("({token})"));
    if let Some(timeout) = timeout {
        req = req.header("Timeout", timeout);
    }
    req.send().await
}

/// Asserts that alice's only lock expires about `secs` from now.
#[track_caller]
fn expires_in(locks: &[davgate_storage::LockRecord], secs: i64) {
    assert_eq!(locks.len(), 1, "{locks:?}");
    let left = locks[0].expires_ms - davgate_storage::now_ms();
    assert!(
        (secs * 1000 - 5_000..=secs * 1000).contains(&left),
        "expires in {left} ms, not about {secs} s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_and_huge_timeouts_are_capped_at_the_maximum() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let alice = srv.account("alice").await.id;
    dav.put("/files/doc.txt", "v1").await.status(201);
    // RFC 4918 §10.7's own example, as Windows Explorer sends it.
    let locked = lock(&dav, "/files/doc.txt", Some("Infinite, Second-4100000000"))
        .await
        .status(200);
    assert_eq!(locked.prop("timeout"), "Second-3600");
    expires_in(&srv.store.locks(alice).await.unwrap(), 3600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_without_a_usable_timeout_still_expires() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let alice = srv.account("alice").await.id;
    for (path, timeout) in [
        ("/files/none.txt", None),
        ("/files/garbage.txt", Some("whenever")),
    ] {
        let locked = lock(&dav, path, timeout).await.status(201);
        assert_eq!(
            locked.prop("timeout"),
            "Second-3600",
            "Timeout: {timeout:?}"
        );
        let token = locked.header("lock-token").expect("Lock-Token");
        expires_in(&srv.store.locks(alice).await.unwrap(), 3600);
        dav.req("UNLOCK", path)
            .header("Lock-Token", &token)
            .send()
            .await
            .status(204);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reported_timeout_is_the_granted_one() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    // The time left used to be truncated, so whether an answer said 99 depended on a
    // millisecond passing while the lock was stored: several locks make it certain.
    for n in 0..20 {
        let path = format!("/files/doc{n}.txt");
        let locked = lock(&dav, &path, Some("Second-100")).await.status(201);
        assert_eq!(locked.prop("timeout"), "Second-100", "{path}");
        let token = locked.header("lock-token").expect("Lock-Token");
        let refreshed = refresh(&dav, &path, &token, Some("Second-100"))
            .await
            .status(200);
        assert_eq!(refreshed.prop("timeout"), "Second-100", "{path} refreshed");
    }
    let discovered = dav
        .props("/files/doc0.txt", "0", &["lockdiscovery"])
        .await
        .status(207);
    assert_eq!(discovered.prop("timeout"), "Second-100");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_is_granted_and_capped_the_same_way() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let alice = srv.account("alice").await.id;
    dav.put("/files/doc.txt", "v1").await.status(201);
    let locked = lock(&dav, "/files/doc.txt", Some("Second-100"))
        .await
        .status(200);
    let token = locked.header("lock-token").expect("Lock-Token");
    for (timeout, granted) in [
        (Some("Infinite, Second-4100000000"), 3600),
        (Some("Second-200"), 200),
        (None, 3600),
    ] {
        let refreshed = refresh(&dav, "/files/doc.txt", &token, timeout)
            .await
            .status(200);
        assert_eq!(
            refreshed.prop("timeout"),
            format!("Second-{granted}"),
            "Timeout: {timeout:?}"
        );
        expires_in(&srv.store.locks(alice).await.unwrap(), granted);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lower_configured_maximum_is_honoured() {
    let srv = TestServer::start_with("lock_max_timeout = \"30s\"").await;
    let dav = srv.alice();
    let alice = srv.account("alice").await.id;
    dav.put("/files/doc.txt", "v1").await.status(201);
    let locked = lock(&dav, "/files/doc.txt", Some("Second-100"))
        .await
        .status(200);
    assert_eq!(locked.prop("timeout"), "Second-30");
    expires_in(&srv.store.locks(alice).await.unwrap(), 30);
    let token = locked.header("lock-token").expect("Lock-Token");
    let refreshed = refresh(&dav, "/files/doc.txt", &token, Some("Infinite"))
        .await
        .status(200);
    assert_eq!(refreshed.prop("timeout"), "Second-30");
    let short = lock(&dav, "/files/other.txt", Some("Second-10"))
        .await
        .status(201);
    assert_eq!(short.prop("timeout"), "Second-10", "shorter asks are kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lock_blocks_nobody_and_leaves_the_table() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let alice = srv.account("alice").await.id;
    dav.put("/files/doc.txt", "v1").await.status(201);
    lock(&dav, "/files/doc.txt", Some("Second-1"))
        .await
        .status(200);
    dav.put("/files/doc.txt", "v2").await.status(423);
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    // Another client, without the token.
    dav.put("/files/doc.txt", "v3").await.status(204);
    // Purging with a cutoff in the far future counts every row left, live or not.
    assert_eq!(
        srv.store
            .purge_expired_locks(alice, i64::MAX)
            .await
            .unwrap(),
        0,
        "the expired lock was deleted when it was read"
    );
}
