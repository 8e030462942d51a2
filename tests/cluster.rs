//! Two nodes, one service: two `davgate serve` processes on one PostgreSQL database and
//! one shared data directory (its blobs and server key), as behind a load balancer.
//! What one node or the CLI changes, the other serves on its next request. PostgreSQL
//! only: skipped without `DATABASE_URL` unless `DAVGATE_REQUIRE_POSTGRES` is set.

use std::path::Path;

use sqlx::{Connection, Executor};

use crate::caldav::{CAL, event, put};
use crate::common::Dav;
use crate::common::bin::{ServerProcess, davgate_ok};
use crate::common::server::PASSWORD;

const LOCKINFO: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>mailto:alice@example.org</D:href></D:owner></D:lockinfo>"#;

/// A fresh PostgreSQL database of its own, dropped at the end.
pub(crate) struct Database {
    /// Its URL.
    pub(crate) url: String,
    admin_url: String,
    name: String,
}

impl Database {
    /// `None` (skip) without `DATABASE_URL`.
    pub(crate) async fn create() -> Option<Self> {
        let Ok(admin_url) = std::env::var("DATABASE_URL") else {
            assert!(
                std::env::var("DAVGATE_REQUIRE_POSTGRES").is_err(),
                "DAVGATE_REQUIRE_POSTGRES is set but DATABASE_URL is not"
            );
            eprintln!("DATABASE_URL is not set: two-node test skipped");
            return None;
        };
        sqlx::any::install_default_drivers();
        let name = format!("davgate_cluster_{:016x}", rand::random::<u64>());
        let mut admin = sqlx::AnyConnection::connect(&admin_url)
            .await
            .expect("admin connection");
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("create database");
        let (path, query) = admin_url.split_once('?').unwrap_or((&admin_url, ""));
        let (base, _) = path
            .rsplit_once('/')
            .expect("DATABASE_URL names a database");
        let url = format!("{base}/{name}?{query}");
        Some(Database {
            admin_url,
            name,
            url,
        })
    }

    pub(crate) async fn drop_now(self) {
        let mut admin = sqlx::AnyConnection::connect(&self.admin_url)
            .await
            .expect("admin connection");
        let _ = admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .await;
    }
}

/// The CLI on the shared data directory and database (as run on any node).
pub(crate) fn cli(data: &Path, url: &str, args: &[&str], stdin: &str) -> String {
    let mut all = vec!["--database-url", url];
    all.extend_from_slice(args);
    davgate_ok(data, &all, stdin)
}

/// A fresh database and data directory holding the account `alice`; `None` (the test
/// is skipped) when no PostgreSQL is at hand.
async fn database_with_alice() -> Option<(Database, tempfile::TempDir)> {
    let db = Database::create().await?;
    let dir = tempfile::tempdir().unwrap();
    cli(
        dir.path(),
        &db.url,
        &["user", "add", "alice", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    Some((db, dir))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_database_serve_as_one() {
    let Some((db, dir)) = database_with_alice().await else {
        return;
    };
    let data = dir.path();
    let node_a = ServerProcess::start(data, &["--database-url", &db.url]);
    let node_b = ServerProcess::start(data, &["--database-url", &db.url]);
    let a = Dav::new(node_a.addr, Some(("alice".into(), PASSWORD.into())));
    let b = Dav::new(node_b.addr, Some(("alice".into(), PASSWORD.into())));

    // Upload on A, read whole and by range on B.
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    a.put("/files/doc.bin", body.clone()).await.status(201);
    let whole = b.get("/files/doc.bin").await.status(200);
    assert_eq!(whole.body, body);
    let part = b
        .req("GET", "/files/doc.bin")
        .header("Range", "bytes=1000-1999")
        .send()
        .await
        .status(206);
    assert_eq!(part.body, body[1000..2000]);

    // MOVE on B, PROPFIND on A.
    b.req("MOVE", "/files/doc.bin")
        .header("Destination", &b.url("/files/moved.bin"))
        .send()
        .await
        .status(201);
    let listing = a.propfind("/files/", "1").await.status(207).hrefs();
    assert!(
        listing.iter().any(|h| h.ends_with("/files/moved.bin")),
        "{listing:?}"
    );
    assert!(
        !listing.iter().any(|h| h.ends_with("/files/doc.bin")),
        "{listing:?}"
    );

    // LOCK on A, PUT on B: locked.
    a.req("LOCK", "/files/moved.bin")
        .header("Timeout", "Second-600")
        .body(LOCKINFO)
        .send()
        .await
        .status(200);
    b.put("/files/moved.bin", "other").await.status(423);

    // A sync token from A used on B.
    put(
        &a,
        &format!("{CAL}one.ics"),
        &event("one", "20261201T100000Z", "20261201T110000Z", ""),
    )
    .await
    .status(201);
    let sync = |dav: Dav, token: String| async move {
        dav.req("REPORT", CAL)
            .header("Depth", "1")
            .body(format!(
                r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"#
            ))
            .send()
            .await
            .status(207)
    };
    let token = sync(a.clone(), String::new()).await.prop("sync-token");
    put(
        &b,
        &format!("{CAL}two.ics"),
        &event("two", "20261202T100000Z", "20261202T110000Z", ""),
    )
    .await
    .status(201);
    let delta = sync(b.clone(), token).await;
    let hrefs = delta.hrefs();
    assert_eq!(
        hrefs.len(),
        1,
        "only what changed since A's token: {hrefs:?}"
    );
    assert!(hrefs[0].ends_with("two.ics"), "{hrefs:?}");

    // An app password revoked through the CLI: refused by B on its next request, though
    // B had it cached.
    let created = cli(
        data,
        &db.url,
        &["app-password", "create", "alice", "--name", "phone"],
        "",
    );
    let app_password = created
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 40 && l.matches('-').count() == 4)
        .unwrap_or_else(|| panic!("no password in:\n{created}"))
        .to_owned();
    let phone_b = b.as_user("alice", &app_password);
    phone_b.get("/files/").await.status(200);
    phone_b.get("/files/").await.status(200);
    cli(
        data,
        &db.url,
        &["app-password", "revoke", "alice", &app_password[..8]],
        "",
    );
    phone_b.get("/files/").await.status(401);

    // The password changed by the CLI: the old one refused on both, the new one taken.
    for node in [&a, &b] {
        node.get("/files/").await.status(200);
    }
    cli(
        data,
        &db.url,
        &["user", "passwd", "alice", "--password-stdin"],
        "another long password\n",
    );
    for node in [&a, &b] {
        node.get("/files/").await.status(401);
        node.as_user("alice", "another long password")
            .get("/files/")
            .await
            .status(200);
    }

    // An account disabled by the CLI: refused on both at once; enabled: back on both.
    let alice_now = |node: &Dav| node.as_user("alice", "another long password");
    cli(data, &db.url, &["user", "disable", "alice"], "");
    for node in [&a, &b] {
        alice_now(node).get("/files/").await.status(401);
    }
    cli(data, &db.url, &["user", "enable", "alice"], "");
    for node in [&a, &b] {
        alice_now(node).get("/files/").await.status(200);
    }

    drop(node_a);
    drop(node_b);
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guessing_flood_split_over_two_nodes_is_throttled_like_one() {
    let Some((db, dir)) = database_with_alice().await else {
        return;
    };
    let data = dir.path();
    let created = cli(
        data,
        &db.url,
        &["app-password", "create", "alice", "--name", "phone"],
        "",
    );
    let app_password = created
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 40 && l.matches('-').count() == 4)
        .unwrap_or_else(|| panic!("no password in:\n{created}"))
        .to_owned();
    let node_a = ServerProcess::start(data, &["--database-url", &db.url]);
    let node_b = ServerProcess::start(data, &["--database-url", &db.url]);
    let a = Dav::new(node_a.addr, Some(("alice".into(), PASSWORD.into())));
    let b = Dav::new(node_b.addr, Some(("alice".into(), PASSWORD.into())));
    // The owner's phone signed in on both nodes before the flood.
    let phones = [
        a.as_user("alice", &app_password),
        b.as_user("alice", &app_password),
    ];
    for phone in &phones {
        phone.get("/files/").await.status(200);
    }

    // One node lets one address fail five times against one account, then holds it (429).
    // Split A, B, A, B, A, the five failures are three on A and two on B; the sixth, on B,
    // must be held as on one node (B alone has seen two).
    let guess = |node: &Dav| node.as_user("alice", "a wrong guess");
    for (i, node) in [&a, &b, &a, &b, &a].into_iter().enumerate() {
        let refused = guess(node).get("/files/").await;
        assert_eq!(refused.status.as_u16(), 401, "guess {}", i + 1);
    }
    let held = guess(&b).get("/files/").await;
    assert_eq!(
        held.status.as_u16(),
        429,
        "the sixth guess, on B, is throttled by failures counted on A: {}",
        held.text()
    );
    // The owner's known clients keep working on both nodes.
    for phone in &phones {
        phone.get("/files/").await.status(200);
    }

    drop(node_a);
    drop(node_b);
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_many_addresses_over_two_nodes_spares_the_owners_address() {
    let Some((db, dir)) = database_with_alice().await else {
        return;
    };
    let data = dir.path();
    let proxied = [
        "--database-url",
        &db.url,
        "--client-address-header",
        "X-Forwarded-For",
    ];
    let node_a = ServerProcess::start(data, &proxied);
    let node_b = ServerProcess::start(data, &proxied);
    let a = Dav::new(node_a.addr, Some(("alice".into(), PASSWORD.into())));
    let b = Dav::new(node_b.addr, Some(("alice".into(), PASSWORD.into())));
    let from = |node: &Dav, addr: &str| node.req("GET", "/files/").header("X-Forwarded-For", addr);
    // The owner signs in from home through A only.
    let home = "203.0.113.1";
    from(&a, home).send().await.status(200);

    // A flood on alice's password, one guess per address, spread over both nodes: past
    // the account-wide threshold (20) counted together.
    for i in 0..22u32 {
        let node = if i % 2 == 0 { &a } else { &b };
        let addr = format!("198.18.0.{}", i + 1);
        let status = node
            .as_user("alice", "a wrong guess")
            .req("GET", "/files/")
            .header("X-Forwarded-For", &addr)
            .send()
            .await
            .status
            .as_u16();
        assert!(status == 401 || status == 429, "guess {i}: {status}");
    }
    // A new address with the right password waits on B as on one node...
    let stranger = from(&b, "198.51.100.9").send().await;
    assert_eq!(stranger.status.as_u16(), 429, "{}", stranger.text());
    // ...but the owner's home address, known from a sign-in on A, is let in on B too.
    from(&b, home).send().await.status(200);

    drop(node_a);
    drop(node_b);
    db.drop_now().await;
}
