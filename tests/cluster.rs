//! Two nodes, one service: two `davgate serve` processes on one PostgreSQL database and
//! one shared data directory (its blobs and server key), as behind a load balancer.
//! What one node or the CLI changes, the other serves on its next request, though each
//! node keeps account rows, path walks and small files between commits (a cached GET
//! costs no database round trip, counted in the access log), also while and after the
//! connection that hears the other node's commits is lost. PostgreSQL only (but for the
//! SQLite half of the round-trip count): skipped without `DATABASE_URL` unless
//! `DAVGATE_REQUIRE_POSTGRES` is set.

use std::path::Path;

use sqlx::{Connection, Executor};

use crate::caldav::{CAL, event, put};
use crate::common::Dav;
use crate::common::bin::{ServerProcess, davgate_ok};
use crate::common::browser::Browser;
use crate::common::client::Resp;
use crate::common::server::PASSWORD;

const LOCKINFO: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>mailto:alice@example.org</D:href></D:owner></D:lockinfo>"#;

/// Waits (bounded) until `holds`: a node hears another's commit a moment after it
/// returns (well under a millisecond on an idle machine, longer on a loaded one), and
/// drops what it kept then. What a node keeps is read again after a second whatever it
/// hears, so a change seen within half of that was ended by the notice.
pub(crate) async fn soon<F, Fut>(what: &str, mut holds: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(500);
    while !holds().await {
        assert!(
            std::time::Instant::now() < deadline,
            "not within 500 ms: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The status `dav` gets for a GET of `path`.
async fn status_of(dav: &Dav, path: &str) -> u16 {
    dav.get(path).await.status.as_u16()
}

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
    soon("the revoked app password refused on B", || async {
        status_of(&phone_b, "/files/").await == 401
    })
    .await;

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
        soon("the old password refused", || async {
            status_of(node, "/files/").await == 401
        })
        .await;
        node.as_user("alice", "another long password")
            .get("/files/")
            .await
            .status(200);
    }

    // An account disabled by the CLI: refused on both at once; enabled: back on both.
    let alice_now = |node: &Dav| node.as_user("alice", "another long password");
    cli(data, &db.url, &["user", "disable", "alice"], "");
    for node in [&a, &b] {
        soon("the disabled account refused", || async {
            status_of(&alice_now(node), "/files/").await == 401
        })
        .await;
    }
    cli(data, &db.url, &["user", "enable", "alice"], "");
    for node in [&a, &b] {
        soon("the enabled account taken", || async {
            status_of(&alice_now(node), "/files/").await == 200
        })
        .await;
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

/// Two nodes on one fresh database holding `alice`, both taking the client's address
/// from `X-Forwarded-For` (as behind a load balancer), so one test can play many
/// addresses, and both reading a config file; `a` and `b` are alice on each.
struct ProxiedNodes {
    db: Database,
    _dir: tempfile::TempDir,
    node_a: ServerProcess,
    node_b: ServerProcess,
    a: Dav,
    b: Dav,
}

impl ProxiedNodes {
    /// `None` (skip) without PostgreSQL.
    async fn start(config: &str) -> Option<Self> {
        let (db, dir) = database_with_alice().await?;
        let file = dir.path().join("davgate.toml");
        std::fs::write(&file, config).unwrap();
        let proxied = [
            "--config",
            file.to_str().unwrap(),
            "--database-url",
            &db.url,
            "--client-address-header",
            "X-Forwarded-For",
        ];
        let node_a = ServerProcess::start(dir.path(), &proxied);
        let node_b = ServerProcess::start(dir.path(), &proxied);
        let alice = Some(("alice".to_owned(), PASSWORD.to_owned()));
        Some(ProxiedNodes {
            a: Dav::new(node_a.addr, alice.clone()),
            b: Dav::new(node_b.addr, alice),
            db,
            _dir: dir,
            node_a,
            node_b,
        })
    }

    async fn stop(self) {
        drop(self.node_a);
        drop(self.node_b);
        self.db.drop_now().await;
    }
}

/// `GET /files/` as `dav`'s user from `addr`.
async fn get_from(dav: &Dav, addr: &str) -> u16 {
    dav.req("GET", "/files/")
        .header("X-Forwarded-For", addr)
        .send()
        .await
        .status
        .as_u16()
}

/// A flood on alice's password, one wrong guess per address, spread over both nodes:
/// `guesses` of them, each refused (401, or 429 once the account-wide score holds new
/// addresses).
async fn flood(a: &Dav, b: &Dav, guesses: u32) {
    for i in 0..guesses {
        let node = if i % 2 == 0 { a } else { b };
        let addr = format!("198.18.0.{}", i + 1);
        let status = get_from(&node.as_user("alice", "a wrong guess"), &addr).await;
        assert!(status == 401 || status == 429, "guess {i}: {status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_many_addresses_over_two_nodes_spares_the_owners_address() {
    let Some(nodes) = ProxiedNodes::start("").await else {
        return;
    };
    let (a, b) = (&nodes.a, &nodes.b);
    // The owner signs in from home through A only.
    let home = "203.0.113.1";
    assert_eq!(get_from(a, home).await, 200);

    // Past the account-wide threshold (20), counted together.
    flood(a, b, 22).await;
    // A new address with the right password waits on B as on one node...
    let stranger = b
        .req("GET", "/files/")
        .header("X-Forwarded-For", "198.51.100.9")
        .send()
        .await;
    assert_eq!(stranger.status.as_u16(), 429, "{}", stranger.text());
    // ...but the owner's home address, known from a sign-in on A, is let in on B too.
    assert_eq!(get_from(b, home).await, 200);

    nodes.stop().await;
}

/// The portal's sign-in makes an address known on every node, as a Basic one does: the
/// owner who signed in to the portal through A gets in through B during a flood, over
/// Basic and in the portal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_sign_in_on_one_node_makes_the_address_known_on_the_other() {
    let Some(nodes) = ProxiedNodes::start("").await else {
        return;
    };
    let (a, b) = (&nodes.a, &nodes.b);
    let home = "203.0.113.1";
    Browser::new(nodes.node_a.addr)
        .with_header("X-Forwarded-For", home)
        .sign_in("alice", PASSWORD)
        .await
        .status(303);

    flood(a, b, 22).await;
    assert_eq!(
        get_from(b, "198.51.100.9").await,
        429,
        "a new address waits"
    );
    assert_eq!(
        get_from(b, home).await,
        200,
        "the portal's address is known on B"
    );
    Browser::new(nodes.node_b.addr)
        .with_header("X-Forwarded-For", home)
        .sign_in("alice", PASSWORD)
        .await
        .status(303);

    nodes.stop().await;
}

/// While an account is throttled, new addresses get one password check per wait from
/// the whole cluster, not one per node: once the wait is over, six sign-ins from new
/// addresses with the right password, three on each node at once, let exactly one in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_account_gives_one_turn_per_wait_across_nodes() {
    let Some(nodes) = ProxiedNodes::start("").await else {
        return;
    };
    let (a, b) = (&nodes.a, &nodes.b);
    // Twenty failures reach the threshold: new addresses wait 2^0 = 1 s after the last.
    flood(a, b, 20).await;
    assert_eq!(get_from(a, "198.51.100.1").await, 429, "new addresses wait");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

    let tries = (0..6u8).map(|i| {
        let node = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move { get_from(&node, &format!("198.51.100.{}", 10 + i)).await }
    });
    let statuses = futures_util::future::join_all(tries).await;
    let let_in = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(let_in, 1, "one turn for the cluster: {statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );

    nodes.stop().await;
}

/// Checks running at once count toward the shared per-address score before they hash:
/// forty wrong passwords from one address for forty names, twenty on each node at once,
/// cost at most the per-address limit (30) in hashes, not 30 per node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_guesses_over_two_nodes_stay_within_the_per_address_limit() {
    // Forty hashes on two loaded cores can take longer than the default 5 s a check may
    // wait for a hashing slot: that 503 is not what is tested.
    let Some(nodes) = ProxiedNodes::start("auth_hash_wait = \"60s\"\n").await else {
        return;
    };
    let (a, b) = (&nodes.a, &nodes.b);
    let guesses = (0..40u32).map(|i| {
        let node = if i % 2 == 0 { a } else { b };
        let guesser = node.as_user(&format!("user{i}"), &format!("guess {i}"));
        async move { get_from(&guesser, "198.51.100.66").await }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    assert!(
        checked <= 30,
        "{checked} guesses were checked, past the per-address limit: {statuses:?}"
    );
    assert!(checked >= 29, "the limit is 30: {statuses:?}");

    nodes.stop().await;
}

/// What a node logs once it hears the other nodes' commits.
const FOLLOWING: &str = "following changes made by other nodes";

/// A node on the shared database and data directory that hears the other nodes'
/// commits (until then it keeps nothing, which is correct but not what is tested).
fn node(data: &Path, db: &Database) -> ServerProcess {
    let node = ServerProcess::start(data, &["--database-url", &db.url]);
    node.log_with(FOLLOWING);
    node
}

/// How many statements the request answered by `resp` sent to the database, from its
/// access log line.
#[track_caller]
fn queries_of(node: &ServerProcess, resp: &Resp) -> u64 {
    let id = resp.header("x-request-id").expect("x-request-id");
    let needle = format!("id={id}");
    let log = node.log_with(&needle);
    let line = log
        .lines()
        .find(|l| l.contains(&needle) && l.contains("davgate::access"))
        .unwrap_or_else(|| panic!("no access log line for {id}:\n{log}"));
    let count = line
        .split_whitespace()
        .find_map(|field| field.strip_prefix("queries="))
        .unwrap_or_else(|| panic!("no query count in {line}"));
    count.parse().expect("a number")
}

/// GETs of a small file, once its account, path and bytes are kept, cost no database
/// round trip. Kept rows are read again after a second, so on a busy machine one GET
/// may pay for that; the first of five that does not is the proof.
async fn assert_a_cached_get_is_free(node: &ServerProcess) {
    let alice = Dav::new(node.addr, Some(("alice".into(), PASSWORD.into())));
    alice
        .put("/files/free.txt", "a small note")
        .await
        .status(201);
    // The first GET after the upload's commit reads what the commit changed: the count
    // counts.
    let first = alice.get("/files/free.txt").await.status(200);
    assert!(queries_of(node, &first) > 0, "the first GET read nothing?");
    let mut counts = Vec::new();
    for _ in 0..5 {
        let resp = alice.get("/files/free.txt").await.status(200);
        assert_eq!(resp.text(), "a small note");
        counts.push(queries_of(node, &resp));
        if counts.last() == Some(&0) {
            return;
        }
    }
    panic!("every cached GET went to the database: {counts:?} statements");
}

/// A server on SQLite in a data directory of its own, with the account alice.
fn sqlite_server_with_alice() -> (tempfile::TempDir, ServerProcess) {
    let dir = tempfile::tempdir().unwrap();
    davgate_ok(
        dir.path(),
        &["user", "add", "alice", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    let server = ServerProcess::start(dir.path(), &[]);
    (dir, server)
}

/// A sync job's uploads into one folder, on SQLite: once the account, its locks and
/// where the uploads go are kept, an upload sends its commit and nothing else. Kept rows
/// are read again after a second, so the first of five uploads that costs one
/// statement is the proof.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_amid_others_costs_its_commit_alone() {
    let (_dir, node) = sqlite_server_with_alice();
    let alice = Dav::new(node.addr, Some(("alice".into(), PASSWORD.into())));
    alice.req("MKCOL", "/files/sync").send().await.status(201);
    alice.put("/files/sync/0.txt", "first").await.status(201);
    let mut counts = Vec::new();
    for i in 1..=5 {
        let resp = alice
            .put(&format!("/files/sync/{i}.txt"), "a small note")
            .await
            .status(201);
        counts.push(queries_of(&node, &resp));
        if counts.last() == Some(&1) {
            // And an overwrite, guessed free from the kept walk, still says 204.
            let again = alice.put(&format!("/files/sync/{i}.txt"), "changed").await;
            again.status(204);
            return;
        }
    }
    panic!("no upload went with its commit alone: {counts:?} statements");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_get_costs_no_database_round_trip_on_either_database() {
    let (_dir, sqlite) = sqlite_server_with_alice();
    assert_a_cached_get_is_free(&sqlite).await;
    drop(sqlite);

    let Some((db, dir)) = database_with_alice().await else {
        return;
    };
    let postgres = node(dir.path(), &db);
    assert_a_cached_get_is_free(&postgres).await;
    drop(postgres);
    db.drop_now().await;
}

/// What B keeps (the account, the path walk, the bytes, the credential check) ends with
/// A's commits: each change is seen on B as soon as B hears of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_node_keeps_ends_with_the_other_nodes_commits() {
    let Some((db, dir)) = database_with_alice().await else {
        return;
    };
    let data = dir.path();
    let node_a = node(data, &db);
    let node_b = node(data, &db);
    let a = Dav::new(node_a.addr, Some(("alice".into(), PASSWORD.into())));
    let b = Dav::new(node_b.addr, Some(("alice".into(), PASSWORD.into())));
    let read_on_b = |path: &'static str| {
        let b = b.clone();
        async move { b.get(path).await.status(200).text() }
    };

    // A new version written on A is what B serves next.
    a.put("/files/note.txt", "first").await.status(201);
    for _ in 0..3 {
        assert_eq!(read_on_b("/files/note.txt").await, "first");
    }
    a.put("/files/note.txt", "second, longer").await.status(204);
    soon("the new version served by B", || async {
        read_on_b("/files/note.txt").await == "second, longer"
    })
    .await;

    // MOVE on A: the old path is gone on B at once, the new one there.
    a.req("MOVE", "/files/note.txt")
        .header("Destination", &a.url("/files/moved.txt"))
        .send()
        .await
        .status(201);
    soon("the old path gone on B", || async {
        status_of(&b, "/files/note.txt").await == 404
    })
    .await;
    assert_eq!(read_on_b("/files/moved.txt").await, "second, longer");

    // LOCK on A: PUT on B refused; UNLOCK on A: PUT on B taken.
    let locked = a
        .req("LOCK", "/files/moved.txt")
        .header("Timeout", "Second-600")
        .body(LOCKINFO)
        .send()
        .await
        .status(200);
    let token = locked.header("lock-token").expect("Lock-Token");
    b.put("/files/moved.txt", "from B").await.status(423);
    a.req("UNLOCK", "/files/moved.txt")
        .header("Lock-Token", &token)
        .send()
        .await
        .status(204);
    b.put("/files/moved.txt", "from B").await.status(204);
    a.get("/files/moved.txt").await.status(200);
    assert_eq!(a.get("/files/moved.txt").await.text(), "from B");

    // An app password revoked in A's portal: refused by B on its next request, though B
    // had it cached.
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
    for _ in 0..3 {
        phone_b.get("/files/").await.status(200);
    }
    let mut portal = Browser::new(node_a.addr);
    portal.sign_in("alice", PASSWORD).await.status(303);
    portal.get("/account/app-passwords").await.status(200);
    portal
        .post(
            "/account/app-passwords/revoke",
            &[("id", &app_password[..8])],
        )
        .await
        .status(303);
    soon("the app password revoked on A refused on B", || async {
        status_of(&phone_b, "/files/").await == 401
    })
    .await;

    // Disabled by the CLI: refused by both, though both had it cached.
    for node in [&a, &b] {
        node.get("/files/").await.status(200);
    }
    cli(data, &db.url, &["user", "disable", "alice"], "");
    for node in [&a, &b] {
        soon("the disabled account refused", || async {
            status_of(node, "/files/").await == 401
        })
        .await;
    }

    drop(node_a);
    drop(node_b);
    db.drop_now().await;
}

/// The connection that hears A's commits is cut under B: B reads from the database
/// until it listens again (so nothing kept before the cut is served), then keeps rows
/// again and hears A again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_stops_hearing_commits_reads_them_from_the_database() {
    let Some((db, dir)) = database_with_alice().await else {
        return;
    };
    let data = dir.path();
    let node_a = node(data, &db);
    let node_b = node(data, &db);
    let a = Dav::new(node_a.addr, Some(("alice".into(), PASSWORD.into())));
    let b = Dav::new(node_b.addr, Some(("alice".into(), PASSWORD.into())));
    a.put("/files/note.txt", "before the cut").await.status(201);
    for _ in 0..3 {
        assert_eq!(
            b.get("/files/note.txt").await.status(200).text(),
            "before the cut"
        );
    }

    // Cut B's listening connection, as a failover or an idle-connection reaper would.
    let listener = format!("davgate-changes-{}", node_b.child.id());
    let mut admin = sqlx::AnyConnection::connect(&db.url)
        .await
        .expect("admin connection");
    // The function runs on the selected rows only: no other connection is touched.
    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(listener.as_str())
    .fetch_all(&mut admin)
    .await
    .expect("terminate");
    assert_eq!(cut, [true], "B listens on one connection named {listener}");
    node_b.log_with("lost the connection that hears other nodes' changes");

    // A change on A while B is deaf (or just back): B serves it on its next request.
    a.put("/files/note.txt", "while B was deaf")
        .await
        .status(204);
    assert_eq!(
        b.get("/files/note.txt").await.status(200).text(),
        "while B was deaf"
    );

    // B listens again: it hears A once more, and a cached GET is free once more.
    for _ in 0..100 {
        if node_b.stderr().matches(FOLLOWING).count() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        node_b.stderr().matches(FOLLOWING).count() >= 2,
        "B never listened again:\n{}",
        node_b.stderr()
    );
    for _ in 0..3 {
        assert_eq!(
            b.get("/files/note.txt").await.status(200).text(),
            "while B was deaf"
        );
    }
    a.put("/files/note.txt", "after B is back")
        .await
        .status(204);
    soon("B hears A again", || async {
        b.get("/files/note.txt").await.status(200).text() == "after B is back"
    })
    .await;
    assert_a_cached_get_is_free(&node_b).await;

    drop(admin);
    drop(node_a);
    drop(node_b);
    db.drop_now().await;
}
