//! App passwords: scopes on every request, read-only, expiry, revocation by the CLI while
//! the server runs, last use, throttling that spares the owner (per address, and per
//! account against a flood from many addresses), and a saturated hash pool.

use std::time::{Duration, Instant};

use crate::common::bin::{davgate, davgate_ok};
use crate::common::client::Resp;
use crate::common::server::PASSWORD;
use crate::common::{Dav, TestServer};

/// Creates an app password with the CLI and returns (id, password).
pub fn create(srv: &TestServer, args: &[&str]) -> (String, String) {
    let mut all = vec!["app-password", "create", "alice", "--name", "test client"];
    all.extend_from_slice(args);
    let out = davgate_ok(srv.data_dir(), &all, "");
    let password = out
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 40 && l.matches('-').count() == 4)
        .unwrap_or_else(|| panic!("no password in:\n{out}"))
        .to_owned();
    (password[..8].to_owned(), password)
}

fn as_app(srv: &TestServer, password: &str) -> Dav {
    srv.alice().as_user("alice", password)
}

const WRITES: [&str; 7] = [
    "PUT",
    "DELETE",
    "MOVE",
    "COPY",
    "MKCOL",
    "PROPPATCH",
    "LOCK",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_are_enforced_for_every_method_class() {
    let srv = TestServer::start().await;
    srv.alice().put("/files/f.txt", "x").await.status(201);
    for (scope, allowed) in [
        ("files", true),
        ("calendars", false),
        ("contacts", false),
        ("calendars,contacts", false),
        ("files,contacts", true),
    ] {
        let (_, pw) = create(&srv, &["--scope", scope]);
        let dav = as_app(&srv, &pw);
        for method in ["GET", "HEAD", "PROPFIND"].into_iter().chain(WRITES) {
            // A file of its own per case, so one case's MOVE or MKCOL cannot upset the next.
            let path = format!("/files/{}-{method}.txt", scope.replace(',', "+"));
            srv.alice().put(&path, "x").await.status(201);
            let resp = dav
                .req(method, &path)
                .header("Destination", &dav.url(&format!("{path}.moved")))
                .send()
                .await;
            if allowed {
                assert_ne!(resp.status, 403, "{scope} {method}: {}", resp.text());
                assert_ne!(resp.status, 401, "{scope} {method}");
            } else {
                let resp = resp.status(403);
                if method != "HEAD" {
                    assert!(
                        resp.text().contains("lacks the files scope"),
                        "{scope} {method}: {}",
                        resp.text()
                    );
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_passwords_sync_down_but_change_nothing() {
    let srv = TestServer::start().await;
    srv.alice().mkcol("/files/dir/").await.status(201);
    srv.alice().put("/files/dir/f.txt", "x").await.status(201);
    let (_, pw) = create(&srv, &["--read-only"]);
    let dav = as_app(&srv, &pw);
    dav.get("/files/dir/f.txt").await.status(200);
    dav.req("HEAD", "/files/dir/f.txt").send().await.status(200);
    dav.propfind("/files/dir/", "1").await.status(207);
    dav.propfind("/trash/", "1").await.status(207);
    for method in WRITES {
        dav.req(method, "/files/dir/f.txt")
            .header("Destination", &dav.url("/files/dir/g.txt"))
            .body("y")
            .send()
            .await
            .status(403)
            .says("read-only");
    }
    assert_eq!(srv.alice().get("/files/dir/f.txt").await.text(), "x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_passwords_stop_working_even_when_cached() {
    let srv = TestServer::start().await;
    let (_, pw) = create(&srv, &["--expires", "2s"]);
    let dav = as_app(&srv, &pw);
    dav.get("/files/").await.status(200);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    dav.get("/files/")
        .await
        .status(401)
        .says("revoked or expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_with_the_cli_ends_the_next_request() {
    let srv = TestServer::start().await;
    let (id1, pw1) = create(&srv, &[]);
    let (_, pw2) = create(&srv, &[]);
    let (one, two) = (as_app(&srv, &pw1), as_app(&srv, &pw2));
    for dav in [&one, &two, &srv.alice()] {
        dav.get("/files/").await.status(200);
        dav.get("/files/").await.status(200);
    }
    davgate_ok(
        srv.data_dir(),
        &["app-password", "revoke", "alice", &id1],
        "",
    );
    one.get("/files/").await.status(401);
    two.get("/files/").await.status(200);
    srv.alice().get("/files/").await.status(200);
    let again = davgate(
        srv.data_dir(),
        &["app-password", "revoke", "alice", &id1],
        "",
    );
    assert_eq!(again.status.code(), Some(2));

    davgate_ok(srv.data_dir(), &["app-password", "revoke-all", "alice"], "");
    two.get("/files/").await.status(401);
    srv.alice().get("/files/").await.status(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_use_is_recorded_in_batches_and_new_addresses_are_audited() {
    let mut srv = TestServer::start().await;
    let (id, pw) = create(&srv, &[]);
    as_app(&srv, &pw)
        .req("GET", "/files/")
        .header("User-Agent", "rclone/v1.60.1")
        .send()
        .await
        .status(200);
    let listed = davgate_ok(srv.data_dir(), &["app-password", "list", "alice"], "");
    assert!(
        listed.contains("never"),
        "written in batches, not per request: {listed}"
    );
    srv.running.take().unwrap().shutdown().await;
    let listed = davgate_ok(srv.data_dir(), &["app-password", "list", "alice"], "");
    let line = listed.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(line.contains("from 127.0.0.1 (rclone/v1.60.1)"), "{line}");
    assert!(
        !listed.contains(&pw[9..]),
        "the secret is never shown again"
    );
    let audit = davgate_ok(srv.data_dir(), &["audit", "alice"], "");
    assert!(
        audit.contains("new-address") && audit.contains("127.0.0.1"),
        "{audit}"
    );
    assert!(audit.contains("app-password-created"), "{audit}");
}

#[tokio::test]
async fn last_use_follows_the_latest_client_of_an_app_password() {
    let mut srv = TestServer::start().await;
    let (id, pw) = create(&srv, &[]);
    for agent in ["DAVx5/4.3", "DAVx5/4.4", "DAVx5/4.4"] {
        as_app(&srv, &pw)
            .req("GET", "/files/")
            .header("User-Agent", agent)
            .send()
            .await
            .status(200);
    }
    srv.running.take().unwrap().shutdown().await;
    let listed = davgate_ok(srv.data_dir(), &["app-password", "list", "alice"], "");
    let line = listed.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(line.contains("from 127.0.0.1 (DAVx5/4.4)"), "{line}");
}

/// Sends `req`, returning the answer and how long it took.
async fn timed(req: crate::common::client::Req) -> (Resp, Duration) {
    let started = Instant::now();
    let resp = req.send().await;
    (resp, started.elapsed())
}

/// A throttled answer is held (by a timer) before it is sent, and says when to retry.
#[track_caller]
fn assert_held_429(resp: &Resp, took: Duration, says: &str) {
    assert_eq!(resp.status, 429, "{}", resp.text());
    assert!(
        took >= Duration::from_millis(300),
        "answered after {took:?}"
    );
    let retry: u64 = resp
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!(retry >= 1, "{retry}");
    assert!(resp.text().contains(says), "{}", resp.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_wrong_passwords_throttles_the_attacker_not_the_owner() {
    // The attacker's address comes from X-Forwarded-For, as behind a proxy.
    let srv = TestServer::start_with("client_address_header = \"X-Forwarded-For\"").await;
    let (_, pw) = create(&srv, &[]);
    let attacker = srv.alice().as_user("alice", "guessing-password");
    let guess = |i: u32| {
        attacker
            .req("GET", "/files/")
            .header("X-Forwarded-For", &format!("10.9.8.{i}, 198.51.100.7"))
    };
    for i in 0..5 {
        guess(i).send().await.status(401);
    }
    // Past the threshold the answer is a 429, held until the wait (1 s) is over.
    let (resp, took) = timed(guess(5)).await;
    assert_held_429(&resp, took, "too many failed sign-ins from this address");
    // Held that long, the wait has run out: the next guess is checked, fails, and the
    // wait doubles.
    let mut next = 6;
    while guess(next).send().await.status != 401 {
        next += 1;
        assert!(next < 10, "the wait never ran out");
    }

    // Meanwhile the owner, from another address, signs in with a fresh app password.
    let owner = as_app(&srv, &pw);
    owner
        .req("GET", "/files/")
        .header("X-Forwarded-For", "192.0.2.10")
        .send()
        .await
        .status(200);
    // And once signed in, even from the attacker's address: a cache hit skips the throttle.
    owner
        .req("GET", "/files/")
        .header("X-Forwarded-For", "198.51.100.7")
        .send()
        .await
        .status(200);
    // The attacker's correct guess would still wait: the throttle comes before the hash.
    srv.alice()
        .req("GET", "/files/")
        .header("X-Forwarded-For", "198.51.100.7")
        .send()
        .await
        .status(429);
    let audit = davgate_ok(srv.data_dir(), &["audit", "alice"], "");
    assert!(
        audit.contains("repeated-failures") && audit.contains("198.51.100.7"),
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_many_addresses_holds_new_addresses_but_not_app_passwords_or_known_devices() {
    // The cache is off so that every sign-in below meets the throttle: with it on, the
    // correct account password from a new address would be a cache hit, which skips it.
    let srv = TestServer::start_with(
        "client_address_header = \"X-Forwarded-For\"\nauth_cache_capacity = 0",
    )
    .await;
    let (_, app) = create(&srv, &[]);
    let from = |dav: &Dav, addr: &str| dav.req("GET", "/files/").header("X-Forwarded-For", addr);
    // The owner's laptop signed in from home before the flood.
    from(&srv.alice(), "192.0.2.10").send().await.status(200);

    // Each guess from a new address: no per-address score ever trips.
    let mut bots = (1..).map(|i: u32| format!("198.18.{}.{}", i / 200, i % 200 + 1));
    let mut guess = |n: u32| {
        let addr = bots.next().expect("endless");
        let dav = srv.alice().as_user("alice", &format!("guess-{n}"));
        from(&dav, &addr)
    };
    for n in 0..20 {
        guess(n).send().await.status(401);
    }
    // Past 20 failures from all addresses together, a new address waits: held, then 429.
    let (resp, took) = timed(guess(20)).await;
    assert_held_429(&resp, took, "from many addresses");
    assert!(
        resp.text()
            .contains("App passwords and devices that signed in before"),
        "{}",
        resp.text()
    );
    // When the wait runs out one guess takes its turn, fails, and the wait doubles (2 s).
    let mut n = 21;
    while guess(n).send().await.status != 401 {
        n += 1;
        assert!(n < 25, "the wait never ran out");
    }

    // During the wait, at once: the flood goes on from new addresses, the owner's fresh
    // app password and the laptop at home sign in, and the right account password from
    // a new address must wait like any guess.
    let flood: Vec<_> = (n + 1..n + 13).map(|n| timed(guess(n))).collect();
    let fresh_app = from(&as_app(&srv, &app), "203.0.113.50").send();
    let laptop = from(&srv.alice(), "192.0.2.10").send();
    let new_device = timed(from(&srv.alice(), "203.0.113.51"));
    let (flood, fresh_app, laptop, new_device) = tokio::join!(
        futures_util::future::join_all(flood),
        fresh_app,
        laptop,
        new_device
    );
    fresh_app.status(200);
    laptop.status(200);
    let (resp, took) = new_device;
    assert_held_429(&resp, took, "from many addresses");
    for (resp, took) in &flood {
        assert_held_429(resp, *took, "from many addresses");
    }

    let audit = davgate_ok(srv.data_dir(), &["audit", "alice"], "");
    assert!(
        audit.contains("repeated-failures")
            && audit.contains("throttled after repeated failures from many addresses"),
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_hash_pool_answers_503_with_retry_after() {
    let srv = TestServer::start_with("auth_hash_slots = 1\nauth_hash_wait = \"1ms\"").await;
    // Eight cold sign-ins at once against one slot that may be waited on for 1 ms: some
    // must be turned away. A loaded machine can stagger the arrivals, so up to three
    // rounds, each with fresh (uncached) passwords.
    let mut passwords = Vec::new();
    let mut responses = Vec::new();
    for _round in 0..3 {
        let fresh: Vec<String> = (0..8).map(|_| create(&srv, &[]).1).collect();
        let requests = fresh.iter().map(|pw| {
            let dav = as_app(&srv, pw);
            async move { dav.get("/files/").await }
        });
        responses = futures_util::future::join_all(requests).await;
        passwords.extend(fresh);
        if responses.iter().any(|r| r.status == 503) {
            break;
        }
    }
    let busy: Vec<_> = responses.iter().filter(|r| r.status == 503).collect();
    assert!(
        !busy.is_empty(),
        "{:?}",
        responses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(responses.iter().all(|r| r.status == 200 || r.status == 503));
    assert_eq!(busy[0].header("retry-after").as_deref(), Some("5"));
    // Once the pool is free, the same credentials work.
    for pw in &passwords {
        as_app(&srv, pw).get("/files/").await.status(200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_passwords_are_refused_for_other_accounts_and_by_default_shape() {
    let srv = TestServer::start().await;
    srv.add_account("bob").await;
    let (_, pw) = create(&srv, &[]);
    srv.alice()
        .as_user("bob", &pw)
        .get("/files/")
        .await
        .status(401);
    srv.alice()
        .as_user("alice", PASSWORD)
        .get("/files/")
        .await
        .status(200);
    let mangled = pw.to_uppercase().replace('-', "");
    as_app(&srv, &mangled).get("/files/").await.status(200);
}

/// Windows' redirector asks the server root before the folder it maps: OPTIONS needs no
/// credentials, and PROPFIND / with a files-only password lists the files tree instead
/// of refusing for want of the calendars scope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_root_answers_windows_for_any_scope() {
    let srv = TestServer::start().await;
    let options = srv.anonymous().req("OPTIONS", "/").send().await.status(200);
    assert!(options.header("dav").unwrap().starts_with("1, 2"));
    assert_eq!(options.header("ms-author-via").as_deref(), Some("DAV"));
    assert!(options.header("allow").unwrap().contains("PROPFIND"));

    let (_, files_only) = create(&srv, &["--scope", "files"]);
    let windows = as_app(&srv, &files_only);
    windows
        .propfind("/", "0")
        .await
        .status(207)
        .href_set(&["/"]);
    let listed = windows.propfind("/", "1").await.status(207);
    let listed = listed.href_set(&["/", "/files/"]);
    assert_eq!(listed.values("collection").len(), 2, "{}", listed.text());
    windows.propfind("/files/", "0").await.status(207);

    // A calendars password still gets CalDAV discovery there, as Apple's clients expect.
    let (_, calendars) = create(&srv, &["--scope", "calendars"]);
    let apple = as_app(&srv, &calendars)
        .props("/", "0", &["current-user-principal"])
        .await
        .status(207);
    assert!(
        apple.text().contains("/dav/principals/alice/"),
        "{}",
        apple.text()
    );
}
