//! `davgate migrate`: a single-node installation populated through a real server (files
//! small and large, trash, dead properties, a lock, calendars, contacts, an app password,
//! two-factor sign-in) moves into PostgreSQL and an S3 bucket; the server started on the
//! copy answers every client as before, litmus and `rclone check` pass against it, and
//! `davgate check` finds nothing wrong. Also: refusals while the source server runs and
//! into a database that is not empty. The full move needs PostgreSQL (`DATABASE_URL`) and
//! S3 (`DAVGATE_S3_ENDPOINT`) and is skipped without them, unless required.

use std::path::Path;
use std::process::Command;

use davgate_storage::blob::{BlobKey, BlobStore};
use sqlx::Connection;

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
    let Some((endpoint, db)) = s3_and_database().await else {
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
    let config = target_config(target_dir.path(), &db.url, Some((&endpoint, &bucket)));
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
    let copied = object_keys(&endpoint, &bucket).await;
    assert_eq!(copied.len(), 2, "{copied:?}");
    let again = davgate(src, &["migrate", "--to-config", &config], "");
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success(), "a second run is refused");
    assert!(stderr.contains("not empty"), "{stderr}");
    assert_eq!(
        object_keys(&endpoint, &bucket).await,
        copied,
        "the refused run wrote nothing"
    );

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

/// The S3 endpoint and a fresh database to migrate into; `None` (skip) without either.
async fn s3_and_database() -> Option<(String, Database)> {
    let endpoint = s3::endpoint()?;
    Some((endpoint, Database::create().await?))
}

/// The configuration of a migration target in `dir` (data directory `dir/data`): the
/// database `url` and, given an S3 endpoint and bucket, that bucket, else `dir/data/blobs`.
fn target_config(dir: &Path, url: &str, s3: Option<(&str, &str)>) -> String {
    let config = dir.join("davgate.toml");
    let store = match s3 {
        Some((endpoint, bucket)) => format!(
            "blob_store = \"s3\"\ns3_endpoint = {endpoint:?}\ns3_bucket = {bucket:?}\n\
             s3_allow_http = true\n"
        ),
        None => "blob_store = \"local\"\n".to_owned(),
    };
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\ndatabase_url = {url:?}\n{store}",
            dir.join("data").display().to_string(),
        ),
    )
    .unwrap();
    config.display().to_string()
}

/// An installation in `dir` whose every upload is a blob file (`inline_blob_max = 0`),
/// holding `files` put through a server, which is stopped again; returns its
/// configuration file.
async fn installation(dir: &Path, files: &[(String, Vec<u8>)]) -> String {
    let config = dir.join("source.toml");
    std::fs::write(&config, "inline_blob_max = 0\n").unwrap();
    let config = config.display().to_string();
    davgate_ok(
        dir,
        &[
            "--config",
            &config,
            "user",
            "add",
            "alice",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    let server = ServerProcess::start(dir, &["--config", &config]);
    let alice = Dav::new(server.addr, Some(("alice".into(), PASSWORD.into())));
    for (path, body) in files {
        alice.put(path, body.clone()).await.status(201);
    }
    server.signal("TERM").expect("the server stops");
    config
}

/// `count` files of a few KiB, each different.
fn numbered_files(count: usize) -> Vec<(String, Vec<u8>)> {
    (0..count)
        .map(|i| (format!("/files/f{i:04}.bin"), pattern(4096 + i, i as u8)))
        .collect()
}

/// The keys of the blob files in `data_dir`'s blob directory, sorted.
fn blob_files(data_dir: &Path) -> Vec<String> {
    let mut keys = Vec::new();
    for shard in std::fs::read_dir(data_dir.join("blobs")).unwrap() {
        for file in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            let name = file.unwrap().file_name().to_string_lossy().into_owned();
            if BlobKey::parse(&name).is_some() {
                keys.push(name);
            }
        }
    }
    keys.sort();
    keys
}

/// The keys of the objects in `bucket`, sorted.
async fn object_keys(endpoint: &str, bucket: &str) -> Vec<String> {
    let mut keys: Vec<String> = s3::bucket(endpoint, bucket)
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.key.as_str().to_owned())
        .collect();
    keys.sort();
    keys
}

/// Puts `body` into `bucket` under `key`, as an earlier run or another installation would.
async fn put_object(endpoint: &str, bucket: &str, key: &str, body: &[u8]) {
    let mut writer = s3::bucket(endpoint, bucket).create_as(BlobKey::parse(key).unwrap());
    writer.write(body.to_vec().into()).await.unwrap();
    writer.finish().await.unwrap().committed();
}

/// Rows in `table` of the database at `url`.
async fn rows(url: &str, table: &str) -> i64 {
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

/// A bucket holding a blob this installation does not know is someone else's (another
/// installation, an earlier migration from elsewhere): refused before anything is
/// written. Objects under keys the source has are what a failed run leaves, and a run
/// replaces them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_with_blobs_the_source_does_not_know_is_refused() {
    let Some((endpoint, db)) = s3_and_database().await else {
        return;
    };
    let source = tempfile::tempdir().unwrap();
    let src = source.path();
    let files = numbered_files(3);
    let file = installation(src, &files).await;
    let known = blob_files(src);
    assert_eq!(known.len(), 3, "{known:?}");
    let target = tempfile::tempdir().unwrap();
    let bucket = s3::bucket_name("davgate-migrate-foreign");
    let config = target_config(target.path(), &db.url, Some((&endpoint, &bucket)));
    let foreign = BlobKey::random().as_str().to_owned();
    put_object(&endpoint, &bucket, &foreign, b"another installation's file").await;

    let migrate = ["--config", &file, "migrate", "--to-config", &config];
    let refused = davgate(src, &migrate, "");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&bucket), "names the bucket: {stderr}");
    assert!(stderr.contains(&foreign), "names an object: {stderr}");
    assert!(stderr.contains("empty bucket"), "says what to do: {stderr}");
    assert_eq!(rows(&db.url, "accounts").await, 0, "no row was committed");
    assert_eq!(object_keys(&endpoint, &bucket).await, [foreign.as_str()]);

    // Without it, a run goes through, replacing what an earlier run left under a key
    // of the source (here bytes that do not match, which the read-back would report).
    s3::bucket(&endpoint, &bucket)
        .delete(&BlobKey::parse(&foreign).unwrap())
        .await
        .unwrap();
    put_object(&endpoint, &bucket, &known[0], b"half of an earlier run").await;
    let moved = davgate_ok(src, &migrate, "");
    assert!(moved.contains("blobs: 3 copied"), "{moved}");
    assert!(
        moved.contains("held 1 of the copied blobs, left by an earlier run"),
        "{moved}"
    );
    assert!(moved.contains("all match"), "{moved}");
    assert_eq!(object_keys(&endpoint, &bucket).await, known);
    s3::remove_bucket(&s3::bucket(&endpoint, &bucket)).await;
    db.drop_now().await;
}

/// A blob the target store cannot take ends the run with an error naming it and
/// commits nothing; once the cause is gone the same command completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_the_target_refuses_fails_the_run_and_a_rerun_completes() {
    let Some(db) = Database::create().await else {
        return;
    };
    let source = tempfile::tempdir().unwrap();
    let src = source.path();
    let files = numbered_files(24);
    let file = installation(src, &files).await;
    let keys = blob_files(src);
    let target = tempfile::tempdir().unwrap();
    let config = target_config(target.path(), &db.url, None);
    // A directory where one blob's file goes: its copy fails, whatever the others do.
    let blocked = &keys[keys.len() / 2];
    let blocker = target
        .path()
        .join("data/blobs")
        .join(&blocked[..2])
        .join(blocked);
    std::fs::create_dir_all(blocker.join("in-the-way")).unwrap();

    let migrate = ["--config", &file, "migrate", "--to-config", &config];
    let failed = davgate(src, &migrate, "");
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(blocked.as_str()),
        "names the blob: {stderr}"
    );
    assert!(stderr.contains("run the same command again"), "{stderr}");
    assert_eq!(rows(&db.url, "accounts").await, 0, "nothing was committed");

    std::fs::remove_dir_all(&blocker).unwrap();
    let moved = davgate_ok(src, &migrate, "");
    assert!(moved.contains("blobs: 24 copied"), "{moved}");
    assert!(moved.contains("all match"), "{moved}");
    assert_eq!(blob_files(&target.path().join("data")), keys);
    db.drop_now().await;
}

/// Many blobs, copied several at a time: each arrives, and each is read back and
/// checked against its row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_blobs_move_to_s3_and_every_one_is_verified() {
    let Some((endpoint, db)) = s3_and_database().await else {
        return;
    };
    let source = tempfile::tempdir().unwrap();
    let src = source.path();
    let files = numbered_files(150);
    let file = installation(src, &files).await;
    let target = tempfile::tempdir().unwrap();
    let bucket = s3::bucket_name("davgate-migrate-many");
    let config = target_config(target.path(), &db.url, Some((&endpoint, &bucket)));

    let moved = davgate_ok(
        src,
        &["--config", &file, "migrate", "--to-config", &config],
        "",
    );
    assert!(moved.contains("blobs: 150 copied"), "{moved}");
    assert!(moved.contains("verified 150 blobs"), "{moved}");
    assert!(moved.contains("all match"), "{moved}");
    assert_eq!(object_keys(&endpoint, &bucket).await, blob_files(src));

    let target_data = target.path().join("data");
    let server = ServerProcess::start(&target_data, &["--config", &config]);
    let alice = Dav::new(server.addr, Some(("alice".into(), PASSWORD.into())));
    for (path, body) in files.iter().step_by(37) {
        assert!(alice.get(path).await.status(200).body == *body, "{path}");
    }
    drop(server);
    s3::remove_bucket(&s3::bucket(&endpoint, &bucket)).await;
    db.drop_now().await;
}
