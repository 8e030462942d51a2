//! COPY, MOVE, DELETE and restore are each one storage transaction: racing requests have
//! one winner, and a copy that fails part-way leaves nothing behind.

use crate::common::TestServer;
use crate::common::client::Dav;

/// Rounds of each race: enough for both orders and the interleavings between them.
const ROUNDS: usize = 20;

fn won(status: u16) -> bool {
    matches!(status, 201 | 204)
}

async fn move_to(dav: &Dav, from: &str, to: &str) -> u16 {
    dav.req("MOVE", from)
        .header("Destination", &dav.url(to))
        .send()
        .await
        .status
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_moves_of_one_file_have_one_winner() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    for round in 0..ROUNDS {
        let source = format!("/files/f{round}.txt");
        dav.put(&source, "content").await.status(201);
        let targets = [
            format!("/files/a{round}.txt"),
            format!("/files/b{round}.txt"),
        ];
        let (d1, d2) = (dav.clone(), dav.clone());
        let (s1, s2) = (source.clone(), source.clone());
        let (t1, t2) = (targets[0].clone(), targets[1].clone());
        let first = tokio::spawn(async move { move_to(&d1, &s1, &t1).await });
        let second = tokio::spawn(async move { move_to(&d2, &s2, &t2).await });
        let statuses = [first.await.unwrap(), second.await.unwrap()];
        let winners: Vec<usize> = (0..2).filter(|i| won(statuses[*i])).collect();
        assert_eq!(winners.len(), 1, "round {round}: one winner: {statuses:?}");
        let (winner, loser) = (winners[0], 1 - winners[0]);
        assert!(
            matches!(statuses[loser], 404 | 412),
            "round {round}: the loser is told: {statuses:?}"
        );
        assert_eq!(
            dav.get(&targets[winner]).await.status(200).text(),
            "content"
        );
        dav.get(&targets[loser]).await.status(404);
        dav.get(&source).await.status(404);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_racing_a_delete_never_both_succeed() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    for round in 0..ROUNDS {
        let source = format!("/files/f{round}.txt");
        let target = format!("/files/moved{round}.txt");
        dav.put(&source, "content").await.status(201);
        let (d1, d2) = (dav.clone(), dav.clone());
        let (s1, s2, t1) = (source.clone(), source.clone(), target.clone());
        let mover = tokio::spawn(async move { move_to(&d1, &s1, &t1).await });
        let deleter = tokio::spawn(async move { d2.delete(&s2).await.status.as_u16() });
        let (moved, deleted) = (mover.await.unwrap(), deleter.await.unwrap());
        assert!(
            won(moved) != won(deleted),
            "round {round}: exactly one wins: MOVE {moved}, DELETE {deleted}"
        );
        dav.get(&source).await.status(404);
        if won(moved) {
            assert_eq!(deleted, 404, "round {round}");
            assert_eq!(dav.get(&target).await.status(200).text(), "content");
        } else {
            assert!(matches!(moved, 404 | 412), "round {round}: MOVE {moved}");
            dav.get(&target).await.status(404);
        }
    }
    let trashed = dav.propfind("/trash/", "1").await.status(207).hrefs().len() - 1;
    let moved = dav.propfind("/files/", "1").await.status(207).hrefs().len() - 1;
    assert_eq!(trashed + moved, ROUNDS, "every file is in one place");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_copy_past_the_quota_leaves_nothing() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.mkcol("/files/src/").await.status(201);
    dav.mkcol("/files/src/sub/").await.status(201);
    for name in ["a", "b", "c"] {
        dav.put(&format!("/files/src/{name}.txt"), "0123456789")
            .await
            .status(201);
        dav.put(&format!("/files/src/sub/{name}.txt"), "0123456789")
            .await
            .status(201);
    }
    let alice = srv.account("alice").await;
    assert_eq!(alice.used_bytes, 60);
    // Room for half of the copy: a copy made file by file would stop half-way.
    srv.store.set_quota(alice.id, Some(95)).await.unwrap();

    dav.req("COPY", "/files/src/")
        .header("Destination", &dav.url("/files/copy/"))
        .send()
        .await
        .status(507)
        .says("nothing was changed");
    dav.propfind("/files/copy/", "0").await.status(404);
    assert_eq!(srv.account("alice").await.used_bytes, 60);

    // Overwriting: the destination stays as it was, not in the trash.
    dav.mkcol("/files/dest/").await.status(201);
    dav.req("COPY", "/files/src/")
        .header("Destination", &dav.url("/files/dest/"))
        .send()
        .await
        .status(507);
    dav.propfind("/files/dest/", "0").await.status(207);
    dav.propfind("/trash/", "1")
        .await
        .status(207)
        .href_set(&["/trash/"]);

    srv.store.set_quota(alice.id, Some(120)).await.unwrap();
    dav.req("COPY", "/files/src/")
        .header("Destination", &dav.url("/files/copy/"))
        .send()
        .await
        .status(201);
    assert_eq!(
        dav.get("/files/copy/sub/c.txt").await.status(200).text(),
        "0123456789"
    );
    assert_eq!(srv.account("alice").await.used_bytes, 120);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_racing_a_purge_is_all_or_nothing() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    for round in 0..ROUNDS {
        let dest = format!("/files/x{round}.txt");
        dav.put(&dest, "item").await.status(201);
        dav.delete(&dest).await.status(204);
        dav.put(&dest, "dest").await.status(201);
        let item = dav
            .propfind("/trash/", "1")
            .await
            .hrefs()
            .into_iter()
            .find(|h| h.starts_with(&format!("/trash/x{round}.txt.d")))
            .expect("the item is in the trash");
        let (d1, d2) = (dav.clone(), dav.clone());
        let (i1, i2, t1) = (item.clone(), item.clone(), dest.clone());
        let restorer = tokio::spawn(async move { move_to(&d1, &i1, &t1).await });
        let purger = tokio::spawn(async move { d2.delete(&i2).await.status.as_u16() });
        let (restored, purged) = (restorer.await.unwrap(), purger.await.unwrap());
        assert!(
            won(restored) != won(purged),
            "round {round}: exactly one wins: MOVE {restored}, DELETE {purged}"
        );
        let now = dav.get(&dest).await.status(200).text();
        if won(restored) {
            assert_eq!(restored, 204, "round {round}");
            assert_eq!(now, "item", "round {round}");
        } else {
            assert_eq!(restored, 404, "round {round}");
            assert_eq!(now, "dest", "round {round}: the destination was left alone");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_and_move_refuse_with_the_status_rfc_4918_gives() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.mkcol("/files/dir/").await.status(201);
    dav.put("/files/dir/f.txt", "f").await.status(201);
    let send = |method: &'static str,
                from: &'static str,
                to: String,
                extra: Option<(&'static str, &'static str)>| {
        let mut req = dav.req(method, from).header("Destination", &to);
        if let Some((name, value)) = extra {
            req = req.header(name, value);
        }
        req.send()
    };
    send("COPY", "/files/dir/", dav.url("/files/dir/"), None)
        .await
        .status(403);
    send("MOVE", "/files/dir/", dav.url("/files/dir/inner/"), None)
        .await
        .status(403);
    send("COPY", "/files/dir/", dav.url("/files/dir/inner/"), None)
        .await
        .status(403);
    send(
        "COPY",
        "/files/dir/f.txt",
        dav.url("/files/none/f.txt"),
        None,
    )
    .await
    .status(409);
    send("COPY", "/files/nothing", dav.url("/files/g.txt"), None)
        .await
        .status(404);
    send(
        "COPY",
        "/files/dir/",
        dav.url("/files/c/"),
        Some(("Depth", "1")),
    )
    .await
    .status(400);
    send(
        "MOVE",
        "/files/dir/",
        dav.url("/files/c/"),
        Some(("Depth", "0")),
    )
    .await
    .status(400);
    send(
        "MOVE",
        "/files/dir/",
        dav.url("/files/c/"),
        Some(("Overwrite", "maybe")),
    )
    .await
    .status(400);
    send(
        "COPY",
        "/files/dir/f.txt",
        dav.url("/elsewhere/f.txt"),
        None,
    )
    .await
    .status(502);
    send("MOVE", "/files/dir/f.txt", "/files/g.txt".to_owned(), None)
        .await
        .status(201);
    send("COPY", "/files/g.txt", dav.url("/files/dir/f.txt"), None)
        .await
        .status(201);
    send(
        "COPY",
        "/files/g.txt",
        dav.url("/files/dir/f.txt"),
        Some(("Overwrite", "F")),
    )
    .await
    .status(412);
    assert_eq!(dav.get("/files/dir/f.txt").await.status(200).text(), "f");
}

const LOCKINFO: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preconditions_and_locks_guard_copy_and_move() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let etag = dav
        .put("/files/a.txt", "a")
        .await
        .status(201)
        .header("etag")
        .expect("PUT answers an ETag");
    dav.put("/files/b.txt", "b").await.status(201);
    let to_c = dav.url("/files/c.txt");

    // A conditional MOVE: it happens only while the source is what the client saw.
    dav.req("MOVE", "/files/a.txt")
        .header("Destination", &to_c)
        .header("If-Match", "\"stale\"")
        .send()
        .await
        .status(412);
    dav.req("MOVE", "/files/a.txt")
        .header("Destination", &to_c)
        .header("If", "([\"stale\"])")
        .send()
        .await
        .status(412);
    dav.req("MOVE", "/files/a.txt")
        .header("Destination", &to_c)
        .header("If", "(<urn:uuid:not-a-lock>)")
        .send()
        .await
        .status(412);
    dav.req("MOVE", "/files/a.txt")
        .header("Destination", &to_c)
        .header("If", "(<urn:uuid:not-a-lock>")
        .send()
        .await
        .status(400);
    dav.req("MOVE", "/files/a.txt")
        .header("Destination", &to_c)
        .header("If-Match", &etag)
        .send()
        .await
        .status(201);

    // A locked destination needs its token, tagged with its URL.
    let token = dav
        .req("LOCK", "/files/b.txt")
        .body(LOCKINFO)
        .send()
        .await
        .status(200)
        .header("lock-token")
        .expect("Lock-Token");
    let to_b = dav.url("/files/b.txt");
    dav.req("COPY", "/files/c.txt")
        .header("Destination", &to_b)
        .send()
        .await
        .status(423);
    dav.req("COPY", "/files/c.txt")
        .header("Destination", &to_b)
        .header("If", &format!("<{to_b}> ({token})"))
        .send()
        .await
        .status(204);
    assert_eq!(dav.get("/files/b.txt").await.status(200).text(), "a");
    assert!(
        srv.store
            .locks(srv.account("alice").await.id)
            .await
            .unwrap()
            .is_empty(),
        "the overwritten resource's lock went with it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn below_a_file_there_is_no_folder() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.put("/files/f.txt", "f").await.status(201);
    dav.req("COPY", "/files/f.txt")
        .header("Destination", &dav.url("/files/f.txt/inner"))
        .send()
        .await
        .status(409);
}
