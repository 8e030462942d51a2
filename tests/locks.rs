//! LOCK and UNLOCK, kept in the database: another client gets 423, the holder writes.

use crate::common::TestServer;

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
