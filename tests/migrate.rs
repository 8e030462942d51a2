//! `davgate migrate`: a single-node installation populated through a real server (files
//! small and large, trash, dead properties, a lock, calendars, contacts, an app password,
//! two-factor sign-in) moves into PostgreSQL and an S3 bucket; the server started on the
//! copy answers every client as before, litmus and `rclone check` pass against it, and
//! `davgate check` finds nothing wrong. Also: refusals while the source server runs and
//! into a database that is not empty. The full move needs PostgreSQL (`DATABASE_URL`) and
//! S3 (`DAVGATE_S3_ENDPOINT`) and is skipped without them, unless required.

use std::path::Path;
use std::process::Command;

use crate::caldav::{CAL, event};
use crate::carddav::{BOOK, card};
use crate::cluster::Database;
use crate::common::bin::{ServerProcess, davgate, davgate_ok};
use crate::common::browser::Browser;
use crate::common::server::PASSWORD;
use crate::common::{Dav, require_tool, s3};

const LOCKINFO: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>mailto:alice@example.org</D:href></D:owner></D:lockinfo>"#;

const PROPPATCH: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:example:migrate"><D:set><D:prop><Z:colour>teal</Z:colour></D:prop></D:set></D:propertyupdate>"#;

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i >> 16) as u8 ^ seed)
        .collect()
}

/// The TOTP code for `secret` `steps` 30-second steps from now (the server accepts one
/// step of skew; a step already used is refused as a replay), taken early enough in the
/// current step to still be valid when the server checks it.
async fn totp(secret: &[u8], steps: i64) -> String {
    let mut now = davgate_storage::now_ms() / 1000;
    if now % 30 >= 25 {
        tokio::time::sleep(std::time::Duration::from_secs((30 - now % 30) as u64)).await;
        now = davgate_storage::now_ms() / 1000;
    }
    davgate::auth::totp::code(secret, now / 30 + steps)
}

/// Enrols alice in two-factor sign-in through the CLI; returns the secret.
async fn enrol_second_factor(data: &Path) -> Vec<u8> {
    let out = davgate_ok(data, &["2fa", "enable", "alice"], "");
    let secret = out
        .split("enter the secret ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .unwrap_or_else(|| panic!("no secret in:\n{out}"));
    let secret = data_encoding::BASE32_NOPAD
        .decode(secret.as_bytes())
        .expect("base32 secret");
    let code = totp(&secret, 0).await;
    davgate_ok(data, &["2fa", "confirm", "alice", &code], "");
    secret
}

/// The app password `app-password create` printed.
fn app_password(data: &Path, extra: &[&str], name: &str) -> String {
    let mut args = extra.to_vec();
    args.extend_from_slice(&["app-password", "create", "alice", "--name", name]);
    let out = davgate_ok(data, &args, "");
    out.lines()
        .map(str::trim)
        .find(|l| l.len() == 40 && l.matches('-').count() == 4)
        .unwrap_or_else(|| panic!("no password in:\n{out}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_refuses_while_a_server_runs_on_the_installation() {
    let dir = tempfile::tempdir().unwrap();
    davgate_ok(
        dir.path(),
        &["user", "add", "alice", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    let server = ServerProcess::start(dir.path(), &[]);
    // No database is reached: the refusal comes first.
    let out = davgate(
        dir.path(),
        &[
            "migrate",
            "--to-database",
            "postgres://nobody@127.0.0.1:1/none",
        ],
        "",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("stop it"), "{stderr}");
    assert!(stderr.contains("davgate.lock"), "{stderr}");

    // Not PostgreSQL: told how to name the target.
    server.signal("TERM").expect("the server stops");
    let out = davgate(dir.path(), &["migrate"], "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--to-database postgres://"), "{stderr}");

    // No installation where it looks: said so, and nothing is created there.
    let empty = tempfile::tempdir().unwrap();
    let nowhere = empty.path().join("nowhere");
    let out = davgate(
        &nowhere,
        &[
            "migrate",
            "--to-database",
            "postgres://nobody@127.0.0.1:1/none",
        ],
        "",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no installation to migrate"), "{stderr}");
    assert!(!nowhere.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_populated_installation_moves_to_postgres_and_s3() {
    let Some(endpoint) = s3::endpoint() else {
        return;
    };
    let Some(db) = Database::create().await else {
        return;
    };
    let source = tempfile::tempdir().unwrap();
    let src = source.path();
    davgate_ok(
        src,
        &["user", "add", "alice", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );

    // Populate through the server, as clients do.
    let server = ServerProcess::start(src, &[]);
    let alice = Dav::new(server.addr, Some(("alice".into(), PASSWORD.into())));
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (
            "/files/note.txt".into(),
            b"a small note, kept inline".to_vec(),
        ),
        ("/files/docs/letter.txt".into(), pattern(20_000, 1)),
        ("/files/docs/deep/er/photo.jpg".into(), pattern(3 << 20, 2)),
        ("/files/video.bin".into(), pattern((5 << 20) + 77, 3)),
        ("/files/empty.txt".into(), Vec::new()),
    ];
    for dir in ["/files/docs/", "/files/docs/deep/", "/files/docs/deep/er/"] {
        alice.req("MKCOL", dir).send().await.status(201);
    }
    for (path, body) in &files {
        alice.put(path, body.clone()).await.status(201);
    }
    // A folder made after the file moved into it: the child's id is lower than its
    // parent's, which the copy must order around.
    alice.req("MKCOL", "/files/later/").send().await.status(201);
    alice
        .req("MOVE", "/files/note.txt")
        .header("Destination", &alice.url("/files/later/note.txt"))
        .send()
        .await
        .status(201);
    files[0].0 = "/files/later/note.txt".into();
    alice
        .put("/files/gone.txt", "to the trash")
        .await
        .status(201);
    alice.delete("/files/gone.txt").await.status(204);
    alice
        .req("PROPPATCH", "/files/docs/letter.txt")
        .body(PROPPATCH)
        .send()
        .await
        .status(207);
    let locked = alice
        .req("LOCK", "/files/video.bin")
        .header("Timeout", "Second-3600")
        .body(LOCKINFO)
        .send()
        .await
        .status(200);
    let lock_token = locked.header("lock-token").expect("a lock token");
    crate::caldav::put(
        &alice,
        &format!("{CAL}meeting.ics"),
        &event("meeting", "20261201T100000Z", "20261201T110000Z", ""),
    )
    .await
    .status(201);
    alice
        .req("PUT", &format!("{BOOK}bob.vcf"))
        .header("Content-Type", "text/vcard")
        .body(card("bob", "Bob Builder", "bob@example.org", "4.0"))
        .send()
        .await
        .status(201);
    let phone = app_password(src, &[], "phone");
    let secret = enrol_second_factor(src).await;

    // Refused while the server runs; stopped, it moves.
    let target_dir = tempfile::tempdir().unwrap();
    let bucket = s3::bucket_name("davgate-migrate");
    let config = target_dir.path().join("davgate.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\ndatabase_url = {:?}\nblob_store = \"s3\"\n\
             s3_endpoint = {endpoint:?}\ns3_bucket = {bucket:?}\ns3_allow_http = true\n",
            target_dir.path().join("data").display().to_string(),
            db.url
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let running = davgate(src, &["migrate", "--to-config", &config], "");
    assert!(!running.status.success(), "refused while the server runs");
    server.signal("TERM").expect("the server stops");
    let moved = davgate_ok(src, &["migrate", "--to-config", &config], "");
    for line in [
        "rows of accounts",
        "rows of nodes",
        "rows of dav_objects",
        "rows of app_passwords",
        "rows of locks",
        "rows of dead_props",
        "all match",
    ] {
        assert!(moved.contains(line), "no {line:?} in:\n{moved}");
    }
    assert!(
        moved.contains("blobs: 2 copied"),
        "the two large files went to S3, the small ones stay inline:\n{moved}"
    );
    let again = davgate(src, &["migrate", "--to-config", &config], "");
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success(), "a second run is refused");
    assert!(stderr.contains("not empty"), "{stderr}");

    // The server on the copy.
    let target_data = target_dir.path().join("data");
    let server = ServerProcess::start(&target_data, &["--config", &config]);
    let base = Dav::new(server.addr, None);
    let phone_dav = base.as_user("alice", &phone);
    for (path, body) in &files {
        let got = phone_dav.get(path).await.status(200);
        assert!(got.body == *body, "{path}: the bytes differ");
    }
    // The second factor still gates the password: refused for sync, and the portal
    // asks for the code, which the carried server key still checks.
    base.as_user("alice", PASSWORD)
        .get("/files/")
        .await
        .status(401);
    let mut browser = Browser::new(server.addr);
    browser.sign_in("alice", PASSWORD).await.status(303);
    browser.get("/account/app-passwords").await.status(403);
    browser
        .post(
            "/account/sign-in/code",
            &[("code", &totp(&secret, 1).await)],
        )
        .await
        .status(303);
    browser.get("/account/").await.says("Your account");
    // Trash, dead property, lock, calendar and contacts came along.
    let trash = phone_dav.propfind("/trash/", "1").await.status(207).hrefs();
    assert!(
        trash.iter().any(|h| h.contains("gone.txt")),
        "trash: {trash:?}"
    );
    let props = phone_dav
        .req("PROPFIND", "/files/docs/letter.txt")
        .header("Depth", "0")
        .body(r#"<D:propfind xmlns:D="DAV:" xmlns:Z="urn:example:migrate"><D:prop><Z:colour/></D:prop></D:propfind>"#)
        .send()
        .await
        .status(207);
    assert_eq!(props.prop("colour"), "teal");
    phone_dav
        .put("/files/video.bin", "overwrite")
        .await
        .status(423);
    phone_dav
        .req("UNLOCK", "/files/video.bin")
        .header("Lock-Token", &lock_token)
        .send()
        .await
        .status(204);
    let meeting = phone_dav
        .get(&format!("{CAL}meeting.ics"))
        .await
        .status(200);
    assert!(meeting.text().contains("UID:meeting"));
    let bob = phone_dav.get(&format!("{BOOK}bob.vcf")).await.status(200);
    assert!(bob.text().contains("Bob Builder"));
    // New rows take fresh ids: the sequences moved past the copied ones.
    phone_dav.put("/files/new.txt", "after").await.status(201);
    phone_dav
        .req("MKCOL", "/files/newer/")
        .send()
        .await
        .status(201);
    let tablet = app_password(&target_data, &["--config", &config], "tablet");
    base.as_user("alice", &tablet)
        .get("/files/new.txt")
        .await
        .status(200);

    litmus_passes(
        &format!("http://{}/files/litmus/", server.addr),
        &phone,
        &phone_dav,
    )
    .await;
    rclone_check_passes(server.addr, &phone, &files);
    drop(server);

    let check = davgate_ok(&target_data, &["--config", &config, "check"], "");
    assert!(check.contains("no problems"), "{check}");
    s3::remove_bucket(&s3::bucket(&endpoint, &bucket)).await;
    db.drop_now().await;
}

/// litmus's suites against `url` (a fresh folder), signed in with `password`.
async fn litmus_passes(url: &str, password: &str, dav: &Dav) {
    let Some(litmus) = require_tool("litmus") else {
        return;
    };
    dav.req("MKCOL", "/files/litmus/").send().await.status(201);
    let work = tempfile::tempdir().unwrap();
    let (url, password) = (url.to_owned(), password.to_owned());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(litmus)
            .args([&url, "alice", &password])
            .env("TESTS", "basic copymove props locks http")
            .current_dir(work.path())
            .output()
            .expect("litmus runs")
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let summaries: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("<- summary for"))
        .collect();
    assert_eq!(summaries.len(), 5, "all five suites ran:\n{text}");
    for line in &summaries {
        assert!(line.contains(" 0 failed"), "{line}\n{text}");
    }
}

/// `rclone check` between a local copy of the migrated files and the server: sizes and
/// content hashes agree.
fn rclone_check_passes(addr: std::net::SocketAddr, password: &str, files: &[(String, Vec<u8>)]) {
    let Some(rclone) = require_tool("rclone") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("local");
    for (path, body) in files {
        let path = local.join(path.trim_start_matches("/files/"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    let obscured = Command::new(&rclone)
        .args(["obscure", password])
        .output()
        .expect("rclone obscure");
    let pass = String::from_utf8(obscured.stdout)
        .unwrap()
        .trim()
        .to_owned();
    let out = Command::new(&rclone)
        .args(["check", "--one-way"])
        .arg(&local)
        .arg("dg:")
        .args(["--retries", "1", "--low-level-retries", "1"])
        .env("RCLONE_CONFIG", work.path().join("rclone.conf"))
        .env("RCLONE_CONFIG_DG_TYPE", "webdav")
        .env("RCLONE_CONFIG_DG_URL", format!("http://{addr}/files/"))
        .env("RCLONE_CONFIG_DG_VENDOR", "owncloud")
        .env("RCLONE_CONFIG_DG_USER", "alice")
        .env("RCLONE_CONFIG_DG_PASS", pass)
        .output()
        .expect("rclone runs");
    assert!(
        out.status.success(),
        "rclone check failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_server_starts_while_a_migration_holds_the_installation() {
    let dir = tempfile::tempdir().unwrap();
    let migrating = davgate::data_lock::DataDirLock::exclusive(dir.path()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let settings = crate::common::server::settings(dir.path(), "");
    let Err(refused) = davgate::server::start_on(settings, listener).await else {
        panic!("a server started during a migration");
    };
    assert!(
        refused.to_string().contains("is being migrated"),
        "{refused}"
    );
    drop(migrating);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let settings = crate::common::server::settings(dir.path(), "");
    let running = davgate::server::start_on(settings, listener).await.unwrap();
    running.shutdown().await;
}

/// Only the metadata moves: the blobs stay in the data directory, which the server on
/// PostgreSQL keeps using.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metadata_alone_moves_to_postgres() {
    let Some(db) = Database::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    davgate_ok(
        data,
        &["user", "add", "alice", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    let server = ServerProcess::start(data, &[]);
    let alice = Dav::new(server.addr, Some(("alice".into(), PASSWORD.into())));
    let large = pattern((1 << 20) + 3, 9);
    alice
        .put("/files/large.bin", large.clone())
        .await
        .status(201);
    alice.put("/files/small.txt", "small").await.status(201);
    server.signal("TERM").expect("the server stops");

    let moved = davgate_ok(data, &["migrate", "--to-database", &db.url], "");
    assert!(moved.contains("1 left in place"), "{moved}");
    assert!(moved.contains("all match"), "{moved}");
    let server = ServerProcess::start(data, &["--database-url", &db.url]);
    let alice = Dav::new(server.addr, Some(("alice".into(), PASSWORD.into())));
    assert!(alice.get("/files/large.bin").await.status(200).body == large);
    assert_eq!(
        alice.get("/files/small.txt").await.status(200).text(),
        "small"
    );
    alice.put("/files/more.txt", "more").await.status(201);
    drop(server);
    db.drop_now().await;
}
