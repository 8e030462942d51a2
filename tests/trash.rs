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

/// The names of the items in the trash (`NAME.dTIMESTAMP`, hrefs decoded as sent).
async fn trashed_names(dav: &crate::common::Dav) -> Vec<String> {
    let mut names: Vec<String> = dav
        .propfind("/trash/", "1")
        .await
        .status(207)
        .hrefs()
        .into_iter()
        .filter(|h| h != "/trash/")
        .map(|h| {
            let name = h.trim_start_matches("/trash/").trim_end_matches('/');
            name.rsplit_once(".d").map_or(name, |(n, _)| n).to_owned()
        })
        .collect();
    names.sort();
    names
}

/// Client issue item 7: Finder, Explorer and Joplin noise went to the trash on DELETE and
/// kept counting against the quota there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_noise_is_deleted_for_good_and_the_rest_goes_to_the_trash() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    for folder in ["/files/photos/", "/files/notes/", "/files/notes/locks/"] {
        dav.mkcol(folder).await.status(201);
    }
    let noise = [
        "/files/photos/.DS_Store",
        "/files/photos/._IMG_0001.jpg",
        "/files/photos/Thumbs.db",
        "/files/photos/Desktop.ini",
        "/files/notes/locks/2_2_8d1b0b0c6a2e4f1c9d3e5f7a9b1c3d5e.json",
    ];
    for path in noise {
        dav.put(path, vec![7u8; 1000]).await.status(201);
    }
    let kept = [
        "/files/notes/2024_tax_return.json",
        "/files/photos/IMG_0001.jpg",
    ];
    for path in kept {
        dav.put(path, vec![8u8; 100]).await.status(201);
    }
    assert_eq!(srv.account("alice").await.used_bytes, 5_200);

    for path in noise {
        dav.delete(path).await.status(204);
        dav.get(path).await.status(404);
    }
    assert_eq!(
        srv.account("alice").await.used_bytes,
        200,
        "purged noise no longer counts"
    );
    assert_eq!(trashed_names(&dav).await, Vec::<String>::new());

    for path in kept {
        dav.delete(path).await.status(204);
    }
    assert_eq!(
        trashed_names(&dav).await,
        ["2024_tax_return.json", "IMG_0001.jpg"]
    );
    assert_eq!(srv.account("alice").await.used_bytes, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folders_go_to_the_trash_whatever_their_name_or_content() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.mkcol("/files/._folder/").await.status(201);
    dav.mkcol("/files/album/").await.status(201);
    dav.put("/files/album/.DS_Store", "finder")
        .await
        .status(201);
    dav.delete("/files/._folder/").await.status(204);
    dav.delete("/files/album/").await.status(204);
    assert_eq!(trashed_names(&dav).await, ["._folder", "album"]);
    let album = dav
        .propfind("/trash/", "1")
        .await
        .hrefs()
        .into_iter()
        .find(|h| h.starts_with("/trash/album.d"))
        .unwrap();
    assert_eq!(
        dav.get(&format!("{album}.DS_Store"))
            .await
            .status(200)
            .text(),
        "finder",
        "a deleted folder keeps all it held"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trash_skip_is_configurable_and_an_empty_list_trashes_everything() {
    let srv = TestServer::start_with("trash_skip = [\"*.tmp\"]").await;
    let dav = srv.alice();
    dav.put("/files/build.tmp", "tmp").await.status(201);
    dav.put("/files/.DS_Store", "ds").await.status(201);
    dav.delete("/files/build.tmp").await.status(204);
    dav.delete("/files/.DS_Store").await.status(204);
    assert_eq!(trashed_names(&dav).await, [".DS_Store"]);

    let srv = TestServer::start_with("trash_skip = []").await;
    let dav = srv.alice();
    dav.put("/files/.DS_Store", "ds").await.status(201);
    dav.delete("/files/.DS_Store").await.status(204);
    assert_eq!(trashed_names(&dav).await, [".DS_Store"]);
    assert_eq!(srv.account("alice").await.used_bytes, 2);
}
