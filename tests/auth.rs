//! Basic auth with cached checks: changes made by the CLI take effect on the next request.

use crate::common::TestServer;
use crate::common::bin::davgate_ok;
use crate::common::raw;
use crate::common::server::PASSWORD;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_changed_by_the_cli_ends_cached_sign_ins_at_once() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.get("/files/").await.status(200);
    dav.get("/files/").await.status(200); // now cached
    davgate_ok(
        srv.data_dir(),
        &["user", "passwd", "alice", "--password-stdin"],
        "a brand new password\n",
    );
    dav.get("/files/").await.status(401);
    dav.as_user("alice", "a brand new password")
        .get("/files/")
        .await
        .status(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_is_refused_at_once() {
    let srv = TestServer::start().await;
    srv.add_account("bob").await;
    let bob = srv.alice().as_user("bob", PASSWORD);
    bob.put("/files/b.txt", "b").await.status(201);
    davgate_ok(srv.data_dir(), &["user", "delete", "bob"], "");
    bob.get("/files/b.txt").await.status(401);
    srv.alice().get("/files/b.txt").await.status(404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_account_is_refused_at_once_and_comes_back_when_enabled() {
    let srv = TestServer::start().await;
    let (_, app) = crate::app_passwords::create(&srv, &[]);
    let app = srv.alice().as_user("alice", &app);
    srv.alice().get("/files/").await.status(200);
    app.get("/files/").await.status(200);
    davgate_ok(srv.data_dir(), &["user", "disable", "alice"], "");
    srv.alice().get("/files/").await.status(401);
    app.get("/files/").await.status(401);
    assert!(davgate_ok(srv.data_dir(), &["user", "list"], "").contains("disabled"));
    davgate_ok(srv.data_dir(), &["user", "enable", "alice"], "");
    srv.alice().get("/files/").await.status(200);
    app.get("/files/").await.status(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_see_only_their_own_files() {
    let srv = TestServer::start().await;
    srv.add_account("bob").await;
    srv.alice()
        .put("/files/secret.txt", "alice's")
        .await
        .status(201);
    let bob = srv.alice().as_user("bob", PASSWORD);
    bob.get("/files/secret.txt").await.status(404);
    bob.propfind("/files/", "1")
        .await
        .status(207)
        .href_set(&["/files/"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_credentials_get_a_clear_401_and_huge_headers_431() {
    let srv = TestServer::start().await;
    for value in [
        "Basic",
        "Basic %%%",
        "Basic bm9jb2xvbg==",
        "Basic OnBhc3N3b3Jk",
        "Basic YWxpY2U6",
    ] {
        let request = format!(
            "GET /files/ HTTP/1.1\r\nHost: x\r\nAuthorization: {value}\r\nConnection: close\r\n\r\n"
        );
        let resp = raw::send(srv.addr(), request.as_bytes()).await;
        assert_eq!(resp.status, 401, "{value}: {resp:?}");
        assert!(
            resp.body.contains("authentication failed"),
            "{value}: {}",
            resp.body
        );
    }
    let huge = "A".repeat(10 * 1024 * 1024);
    let request = format!(
        "GET /files/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {huge}\r\nConnection: close\r\n\r\n"
    );
    let resp = raw::send(srv.addr(), request.as_bytes()).await;
    assert!(resp.status == 431 || resp.status == 400, "{}", resp.head);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_address_gets_429_for_the_right_password_even_when_cached() {
    let srv = TestServer::start_with("client_address_header = \"X-Forwarded-For\"").await;
    let from = |dav: &crate::common::client::Dav| {
        dav.req("PROPFIND", "/files/")
            .header("Depth", "0")
            .header("X-Forwarded-For", "198.51.100.40")
    };
    // The right account password is cached from this address.
    from(&srv.alice()).send().await.status(207);
    let guesser = srv.alice().as_user("alice", "wrong guess");
    for _ in 0..5 {
        from(&guesser).send().await.status(401);
    }
    // While the address waits, the right password gets the same answer as a wrong one:
    // no oracle. (A throttled answer is held until the wait is over, so both go at once.)
    let (wrong, right) = tokio::join!(from(&guesser).send(), from(&srv.alice()).send());
    wrong.status(429);
    right.status(429);
    // Elsewhere the owner is not affected.
    srv.alice()
        .req("PROPFIND", "/files/")
        .header("Depth", "0")
        .header("X-Forwarded-For", "192.0.2.44")
        .send()
        .await
        .status(207);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_wrong_passwords_do_not_pass_the_per_address_limit() {
    let srv = TestServer::start_with("client_address_header = \"X-Forwarded-For\"").await;
    let guesses = (0..40).map(|i| {
        srv.alice()
            .as_user("alice", &format!("guess {i}"))
            .req("GET", "/files/")
            .header("X-Forwarded-For", "198.51.100.41")
            .send()
    });
    let answers = futures_util::future::join_all(guesses).await;
    let checked = answers.iter().filter(|r| r.status == 401).count();
    let throttled = answers.iter().filter(|r| r.status == 429).count();
    assert_eq!(checked + throttled, 40);
    assert!(
        checked <= 5,
        "{checked} passwords were checked against a limit of 5"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_names_people_have_sign_in_in_any_case() {
    let srv = TestServer::start().await;
    // An e-mail address with a sub-address is a valid account name.
    davgate_ok(
        srv.data_dir(),
        &["user", "add", "a.b+sync@example.org", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    let mail = srv.alice().as_user("A.B+Sync@Example.org", PASSWORD);
    mail.propfind("/files/", "0").await.status(207);
    // Raw and encoded '@' name the same principal.
    for path in [
        "/dav/principals/a.b+sync@example.org/",
        "/dav/principals/a.b+sync%40example.org/",
    ] {
        mail.propfind(path, "0").await.status(207);
    }
    srv.alice()
        .as_user("ALICE", PASSWORD)
        .get("/files/")
        .await
        .status(200);
    // Names that differ only by case cannot both exist.
    let twin = crate::common::bin::davgate(
        srv.data_dir(),
        &["user", "add", "Alice", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert!(!twin.status.success());
    assert!(String::from_utf8_lossy(&twin.stderr).contains("exists already"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_password_pasted_with_spaces_or_in_upper_case_works() {
    let srv = TestServer::start().await;
    let out = davgate_ok(
        srv.data_dir(),
        &["app-password", "create", "alice", "--name", "phone"],
        "",
    );
    let password = out
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 40 && l.matches('-').count() == 4)
        .expect("a password")
        .to_owned();
    for pasted in [
        format!("  {password} "),
        password.to_uppercase(),
        password.replace('-', " "),
    ] {
        srv.alice()
            .as_user("alice", &pasted)
            .get("/files/")
            .await
            .status(200);
    }
}
