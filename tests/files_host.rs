//! The files host (`files_host`): the account's files at `/`, the trash at `/.trash/`,
//! with hrefs, Destination, lock roots and quota in that URL space; the main host
//! unchanged. The test server's files host is `localhost`; the main host is dialled
//! as `127.0.0.1`.

use crate::common::server::{FILES_HOST_CONFIG, PASSWORD};
use crate::common::{Dav, TestServer};

const LOCKINFO: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>alice</D:owner></D:lockinfo>"#;

async fn start() -> (TestServer, Dav, Dav) {
    let srv = TestServer::start_with(FILES_HOST_CONFIG).await;
    let main = srv.alice();
    let files = main.on_host("localhost");
    (srv, main, files)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_files_tree_is_served_at_the_root() {
    let (srv, main, files) = start().await;
    files.put("/a b.txt", "hello").await.status(201);
    files.mkcol("/docs/").await.status(201);
    files.put("/docs/x.txt", "x").await.status(201);
    assert_eq!(files.get("/a b.txt").await.status(200).text(), "hello");
    assert_eq!(
        main.get("/files/a%20b.txt").await.status(200).text(),
        "hello"
    );

    files
        .propfind("/", "1")
        .await
        .status(207)
        .href_set(&["/", "/a%20b.txt", "/docs/"]);
    files
        .propfind("/docs/", "1")
        .await
        .status(207)
        .href_set(&["/docs/", "/docs/x.txt"]);
    files
        .propfind("/docs", "0")
        .await
        .status(207)
        .href_set(&["/docs/"]);
    // A PROPPATCH answer is written by dav-server under the same prefix.
    let patch = r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x"><D:set><D:prop><Z:tag>v</Z:tag></D:prop></D:set></D:propertyupdate>"#;
    files
        .req("PROPPATCH", "/docs/x.txt")
        .body(patch)
        .send()
        .await
        .status(207)
        .href_set(&["/docs/x.txt"]);

    let options = files.req("OPTIONS", "/").send().await.status(200);
    assert_eq!(options.header("dav").as_deref(), Some("1, 2"));
    assert!(options.header("allow").unwrap().contains("PUT"));

    files.delete("/docs/x.txt").await.status(204);
    files.get("/docs/x.txt").await.status(404);
    files.propfind("/", "0").await.status(207).href_set(&["/"]);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_and_move_take_files_host_destinations() {
    let (srv, main, files) = start().await;
    files.put("/a.txt", "a").await.status(201);
    files.mkcol("/d/").await.status(201);
    // A Destination URL on the files host, and a bare path.
    files
        .req("COPY", "/a.txt")
        .header("Destination", &files.url("/d/copy.txt"))
        .send()
        .await
        .status(201);
    files
        .req("MOVE", "/a.txt")
        .header("Destination", "/d/moved.txt")
        .send()
        .await
        .status(201);
    files
        .req("COPY", "/d/")
        .header("Destination", &files.url("/e/"))
        .send()
        .await
        .status(201);
    files
        .propfind("/e/", "1")
        .await
        .status(207)
        .href_set(&["/e/", "/e/copy.txt", "/e/moved.txt"]);
    // A URL on the main host names the same tree.
    files
        .req("MOVE", "/e/copy.txt")
        .header("Destination", &main.url("/files/e/renamed.txt"))
        .send()
        .await
        .status(201);
    assert_eq!(
        main.get("/files/e/renamed.txt").await.status(200).text(),
        "a"
    );
    // On the files host `/files/` is an ordinary folder name.
    files
        .req("MOVE", "/e/renamed.txt")
        .header("Destination", "/files/x.txt")
        .send()
        .await
        .status(409);
    files
        .req("MOVE", "/e/renamed.txt")
        .header("Destination", &files.url("/"))
        .send()
        .await
        .status(400);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_are_rooted_on_the_files_host() {
    let (srv, _main, files) = start().await;
    files.put("/doc.txt", "v1").await.status(201);
    let locked = files
        .req("LOCK", "/doc.txt")
        .header("Timeout", "Second-600")
        .body(LOCKINFO)
        .send()
        .await
        .status(200);
    let token = locked.header("lock-token").expect("Lock-Token header");
    let token = token.trim_matches(|c| c == '<' || c == '>').to_owned();
    assert!(
        locked.values("href").contains(&"/doc.txt".to_owned()),
        "{}",
        locked.text()
    );

    let discovered = files
        .props("/doc.txt", "0", &["lockdiscovery"])
        .await
        .status(207);
    assert_eq!(
        discovered.values("href"),
        ["/doc.txt", &token, "/doc.txt"],
        "href, lock token, lock root"
    );

    files.put("/doc.txt", "v2").await.status(423);
    files
        .req("MOVE", "/doc.txt")
        .header("Destination", "/moved.txt")
        .send()
        .await
        .status(423);
    // A tagged If header names the resource by its files-host URL.
    let tagged = format!("<{}> (<{token}>)", files.url("/doc.txt"));
    files
        .req("PUT", "/doc.txt")
        .header("If", &tagged)
        .body("v2")
        .send()
        .await
        .status(204);
    files
        .req("MOVE", "/doc.txt")
        .header("Destination", "/moved.txt")
        .header("If", &tagged)
        .send()
        .await
        .status(201);
    assert_eq!(files.get("/moved.txt").await.status(200).text(), "v2");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_and_mtimes_work_at_the_root() {
    let (srv, _main, files) = start().await;
    let alice = srv.account("alice").await;
    srv.store
        .set_quota(alice.id, Some(1_000_000))
        .await
        .unwrap();
    let put = files
        .req("PUT", "/k.bin")
        .header("X-OC-Mtime", "1577934245")
        .body(vec![7u8; 1000])
        .send()
        .await
        .status(201);
    assert_eq!(put.header("x-oc-mtime").as_deref(), Some("accepted"));
    let root = files
        .props("/", "0", &["quota-used-bytes", "quota-available-bytes"])
        .await
        .status(207);
    assert_eq!(root.prop("quota-used-bytes"), "1000");
    assert_eq!(root.prop("quota-available-bytes"), "999000");
    let file = files
        .props("/k.bin", "0", &["getlastmodified"])
        .await
        .status(207);
    assert_eq!(
        file.prop("getlastmodified"),
        "Thu, 02 Jan 2020 03:04:05 GMT"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trash_is_at_dot_trash_and_restores_to_the_root() {
    let (srv, main, files) = start().await;
    files.mkcol("/project/").await.status(201);
    files.put("/project/plan.txt", "plan").await.status(201);
    files.delete("/project/").await.status(204);
    // The trash is not part of the files root's listing (rclone would sync it).
    files.propfind("/", "1").await.status(207).href_set(&["/"]);

    let listing = files.propfind("/.trash/", "1").await.status(207);
    let item = listing
        .hrefs()
        .into_iter()
        .find(|h| h.starts_with("/.trash/project.d"))
        .unwrap_or_else(|| panic!("the folder is in the trash: {:?}", listing.hrefs()));
    assert_eq!(listing.hrefs().len(), 2, "{:?}", listing.hrefs());
    assert_eq!(
        files
            .get(&format!("{item}plan.txt"))
            .await
            .status(200)
            .text(),
        "plan"
    );
    files.put(&format!("{item}new.txt"), "x").await.status(405);
    // The same item is in the main host's /trash/.
    let main_item = item.replacen("/.trash/", "/trash/", 1);
    main.propfind(&main_item, "0").await.status(207);

    files
        .req("MOVE", &item)
        .header("Destination", "/restored/")
        .send()
        .await
        .status(201);
    assert_eq!(
        files.get("/restored/plan.txt").await.status(200).text(),
        "plan"
    );
    files
        .propfind("/.trash/", "1")
        .await
        .status(207)
        .href_set(&["/.trash/"]);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendars_stay_on_the_main_host_and_probes_answer_on_both() {
    let (srv, main, files) = start().await;
    // `/dav/` and discovery are the user's paths on the files host, not CalDAV.
    files.propfind("/dav/", "0").await.status(404);
    files.get("/.well-known/caldav").await.status(404);
    files.mkcol("/dav/").await.status(201);
    files
        .propfind("/dav/", "0")
        .await
        .status(207)
        .href_set(&["/dav/"]);
    main.propfind("/files/dav/", "0").await.status(207);
    assert!(
        !main
            .propfind("/dav/", "0")
            .await
            .status(207)
            .hrefs()
            .contains(&"/files/dav/".to_owned())
    );
    // (reqwest follows the main host's redirect to /dav/.)
    main.get("/.well-known/caldav")
        .await
        .status(200)
        .says("CalDAV");

    for dav in [&main, &files] {
        dav.get("/healthz").await.status(200);
        dav.get("/readyz").await.status(200);
    }
    // Without credentials the files host asks for them; OPTIONS needs none.
    let anonymous = srv.anonymous().on_host("localhost");
    anonymous.propfind("/", "0").await.status(401);
    anonymous.req("OPTIONS", "/").send().await.status(200);

    // The main host is unchanged.
    main.put("/files/m.txt", "m").await.status(201);
    main.propfind("/files/", "1").await.status(207).href_set(&[
        "/files/",
        "/files/dav/",
        "/files/m.txt",
    ]);
    let root_options = main.req("OPTIONS", "/").send().await.status(200);
    assert!(
        root_options
            .header("dav")
            .unwrap()
            .contains("calendar-access")
    );
    files.get("/files/m.txt").await.status(404);
    srv.stop().await;
}

/// HTTP/2 names the host in `:authority`, not in a Host header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_reaches_the_files_host_by_its_authority() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = crate::common::certs::localhost(dir.path());
    let toml = format!(
        "tls_cert = {:?}\ntls_key = {:?}\n{FILES_HOST_CONFIG}",
        cert_path.display().to_string(),
        key_path.display().to_string()
    );
    let srv = TestServer::start_with(&toml).await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let root = reqwest::Certificate::from_pem(&std::fs::read(&cert_path).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(root)
        .resolve("localhost", srv.addr())
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/h2.txt", srv.addr().port());
    let put = client
        .put(&url)
        .basic_auth("alice", Some(PASSWORD))
        .body("over h2")
        .send()
        .await
        .unwrap();
    assert_eq!(put.version(), reqwest::Version::HTTP_2);
    assert_eq!(put.status().as_u16(), 201);
    let listing = client
        .request(
            reqwest::Method::from_bytes(b"PROPFIND").unwrap(),
            url.replace("h2.txt", ""),
        )
        .basic_auth("alice", Some(PASSWORD))
        .header("Depth", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(listing.status().as_u16(), 207);
    let mut hrefs = crate::common::client::elements(&listing.text().await.unwrap(), "href");
    hrefs.sort();
    assert_eq!(hrefs, ["/", "/h2.txt"]);
    srv.stop().await;
}
