//! The trash: DELETE moves to /trash/, MOVE restores, DELETE purges, retention expires.

use std::time::Duration;

use crate::common::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_moves_to_the_trash_and_move_restores() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.mkcol("/files/project/").await.status(201);
    dav.put("/files/project/plan.txt", "plan").await.status(201);
    dav.delete("/files/project/").await.status(204);
    dav.get("/files/project/plan.txt").await.status(404);
    assert_eq!(
        srv.account("alice").await.used_bytes,
        4,
        "trashed bytes still count"
    );

    let listing = dav.propfind("/trash/", "1").await.status(207);
    let item = listing
        .hrefs()
        .into_iter()
        .find(|h| h.starts_with("/trash/project.d"))
        .expect("the folder is in the trash as one item");
    assert_eq!(listing.hrefs().len(), 2, "{:?}", listing.hrefs());
    assert_eq!(
        dav.get(&format!("{item}plan.txt")).await.status(200).text(),
        "plan"
    );

    // The trash is read-only apart from restoring and purging.
    dav.put(&format!("{item}new.txt"), "x")
        .await
        .status(405)
        .says("restore an item with MOVE");

    dav.req("MOVE", &item)
        .header("Destination", &dav.url("/files/restored/"))
        .send()
        .await
        .status(201);
    assert_eq!(
        dav.get("/files/restored/plan.txt").await.status(200).text(),
        "plan"
    );
    dav.propfind("/trash/", "1")
        .await
        .status(207)
        .href_set(&["/trash/"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restoring_over_an_existing_name_needs_overwrite() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.put("/files/a.txt", "old").await.status(201);
    dav.delete("/files/a.txt").await.status(204);
    dav.put("/files/a.txt", "new").await.status(201);
    let item = dav
        .propfind("/trash/", "1")
        .await
        .hrefs()
        .into_iter()
        .find(|h| h != "/trash/")
        .unwrap();
    let dest = dav.url("/files/a.txt");
    dav.req("MOVE", &item)
        .header("Destination", &dest)
        .header("Overwrite", "F")
        .send()
        .await
        .status(412);
    dav.req("MOVE", &item)
        .header("Destination", &dest)
        .send()
        .await
        .status(204);
    assert_eq!(dav.get("/files/a.txt").await.text(), "old");
    let trashed = dav.propfind("/trash/", "1").await.hrefs();
    assert_eq!(
        trashed.len(),
        2,
        "the overwritten file went to the trash: {trashed:?}"
    );
    dav.req("MOVE", "/trash/nothing")
        .header("Destination", &dest)
        .send()
        .await
        .status(404);
    dav.req("MOVE", &trashed[1])
        .header("Destination", &dav.url("/files/no/such/dir/x"))
        .send()
        .await
        .status(409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purging_frees_quota_and_bytes() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.put("/files/big.bin", vec![1u8; 100_000])
        .await
        .status(201);
    dav.delete("/files/big.bin").await.status(204);
    assert_eq!(srv.blob_files(), 1);
    let item = dav
        .propfind("/trash/", "1")
        .await
        .hrefs()
        .into_iter()
        .find(|h| h != "/trash/")
        .unwrap();
    dav.delete(&item).await.status(204);
    assert_eq!(srv.account("alice").await.used_bytes, 0);
    assert_eq!(srv.blob_files(), 0);
    dav.propfind("/trash/", "1")
        .await
        .status(207)
        .href_set(&["/trash/"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_items_are_purged_automatically() {
    let srv = TestServer::start_with("trash_retention = \"2s\"").await;
    let dav = srv.alice();
    dav.put("/files/old.txt", "old").await.status(201);
    dav.delete("/files/old.txt").await.status(204);
    for _ in 0..100 {
        if dav.propfind("/trash/", "1").await.hrefs().len() == 1 {
            assert_eq!(srv.account("alice").await.used_bytes, 0);
            assert_eq!(srv.blob_files(), 0);
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the trashed item was not purged after its retention");
}
