//! The account portal over HTTP, as a browser uses it: sign-in with and without a second
//! factor, the cookie, CSRF and Origin checks, session expiry and ending, app passwords
//! tried against /files/ and /dav/ after each step, and two-factor enrolment.

use std::time::Duration;

use data_encoding::BASE32_NOPAD;

use crate::common::TestServer;
use crate::common::bin::davgate_ok;
use crate::common::browser::{Browser, Page};
use crate::common::server::PASSWORD;

async fn signed_in(srv: &TestServer) -> Browser {
    let mut b = Browser::new(srv.addr());
    b.sign_in("alice", PASSWORD).await.status(303);
    b.get("/account/").await.status(200).says("Your account");
    b
}

/// The status a PROPFIND with `password` gets at /files/ and at /dav/.
async fn sync_statuses(srv: &TestServer, password: &str) -> (u16, u16) {
    let client = srv.alice().as_user("alice", password);
    let files = client.propfind("/files/", "0").await.status.as_u16();
    let dav = client.propfind("/dav/", "0").await.status.as_u16();
    (files, dav)
}

/// Creates an app password in the portal and returns it as shown.
async fn create_app_password(b: &mut Browser, name: &str, scopes: &[&str]) -> (Page, String) {
    b.get("/account/app-passwords").await.status(200);
    let mut fields = vec![("name", name), ("expires", "30d")];
    for s in scopes {
        fields.push(("scope", s));
    }
    let page = b.post("/account/app-passwords", &fields).await.status(200);
    let password = page.element("password");
    (page, password)
}

/// A form's fields as sent.
type Fields = Vec<(String, String)>;

fn now_secs() -> i64 {
    davgate_storage::now_ms() / 1000
}

/// Waits, if needed, until the current 30-second step has at least 5 s left.
async fn early_in_a_step() {
    let into = now_secs() % 30;
    if into >= 25 {
        tokio::time::sleep(Duration::from_secs((30 - into) as u64)).await;
    }
}

fn code(secret: &[u8], steps_from_now: i64) -> String {
    davgate::auth::totp::code(secret, now_secs() / 30 + steps_from_now)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_sets_a_strict_cookie_and_every_page_has_the_security_headers() {
    let srv = TestServer::start().await;
    let mut b = Browser::new(srv.addr());
    let page = b.get("/account/").await.status(200).says("Account name");
    assert_eq!(
        page.header("content-security-policy").unwrap(),
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    assert_eq!(page.header("referrer-policy").unwrap(), "no-referrer");
    assert_eq!(page.header("x-content-type-options").unwrap(), "nosniff");
    assert_eq!(page.header("cache-control").unwrap(), "no-store");
    assert!(page.header("www-authenticate").is_none(), "no Basic prompt");
    b.get("/account/assets/portal.css")
        .await
        .status(200)
        .says("prefers-color-scheme: dark");

    b.sign_in("alice", "wrong password")
        .await
        .status(401)
        .says("wrong account name or password");
    assert!(b.cookie.is_none());
    let ok = b.sign_in("Alice", PASSWORD).await.status(303);
    let cookie = ok.header("set-cookie").unwrap();
    // Plain HTTP: browsers refuse a __Host- cookie without Secure, so it has its plain name.
    assert!(cookie.starts_with("davgate="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");
    let first_id = b.cookie.clone().unwrap().1;
    assert_eq!(first_id.len(), 43, "256 bits in base64");
    let home = b.get("/account/").await.status(200).says("Your account");
    assert_eq!(home.header("cache-control").unwrap(), "no-store");

    // A new id at every sign-in; the old one is over.
    let old = b.cookie.clone();
    b.sign_in("alice", PASSWORD).await.status(303);
    assert_ne!(b.cookie, old);
    let mut stale = Browser::new(srv.addr());
    stale.cookie = old;
    stale
        .get("/account/")
        .await
        .status(200)
        .says("Account name");

    // The database keeps only a hash of the id.
    let sessions = srv
        .store
        .sessions(srv.account("alice").await.id, limits())
        .await
        .unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].agent, "PortalTest/1.0 (like Firefox)");

    let out = b.post("/account/sign-out", &[]).await.status(303);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert!(b.cookie.is_none());
    b.get("/account/app-passwords")
        .await
        .status(403)
        .says("sign in");

    let log = srv
        .store
        .audit_log(srv.account("alice").await.id, 10)
        .await
        .unwrap();
    let names: Vec<&str> = log.iter().map(|e| e.event_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "portal-sign-out",
            "portal-sign-in",
            "portal-sign-in",
            "portal-sign-in-failed"
        ]
    );
    assert_eq!(log[1].addr.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        log[1].agent.as_deref(),
        Some("PortalTest/1.0 (like Firefox)")
    );
    srv.stop().await;
}

fn limits() -> davgate_storage::SessionLimits {
    davgate_storage::SessionLimits {
        idle_ms: 30 * 60_000,
        lifetime_ms: 12 * 3_600_000,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cookie_is_secure_over_tls_and_behind_a_trusted_proxy_only() {
    let srv = TestServer::start_with("trusted_proxy = true").await;
    // The browser reached the proxy over https: that is its origin too.
    let mut proxied = Browser::new(srv.addr()).with_header("x-forwarded-proto", "https");
    let fields = [
        ("user".to_owned(), "alice".to_owned()),
        ("password".to_owned(), PASSWORD.to_owned()),
    ];
    let https_origin = format!("https://{}", srv.addr());
    let page = proxied
        .post_raw("/account/sign-in", &fields, Some(&https_origin))
        .await
        .status(303);
    let cookie = page.header("set-cookie").unwrap();
    assert!(cookie.starts_with("__Host-davgate="), "{cookie}");
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    proxied
        .get("/account/")
        .await
        .status(200)
        .says("Your account");
    srv.stop().await;

    // Without trusted_proxy, the header is not believed.
    let srv = TestServer::start().await;
    let mut untrusted = Browser::new(srv.addr()).with_header("x-forwarded-proto", "https");
    let page = untrusted.sign_in("alice", PASSWORD).await.status(303);
    assert!(page.header("set-cookie").unwrap().starts_with("davgate="));
    srv.stop().await;

    // Over TLS directly.
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = crate::common::certs::localhost(dir.path());
    let srv = TestServer::start_with(&format!("tls_cert = {cert:?}\ntls_key = {key:?}")).await;
    let pem = std::fs::read(&cert).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("https://localhost:{}", srv.addr().port());
    let resp = client
        .post(format!("{base}/account/sign-in"))
        .header("origin", &base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "user=alice&password={}",
            PASSWORD.replace(' ', "+")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("__Host-davgate=") && cookie.contains("; Secure"),
        "{cookie}"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_passwords_and_disabled_accounts_do_not_open_the_portal() {
    let srv = TestServer::start().await;
    let alice = srv.account("alice").await;
    let request = davgate::auth::app_password::Request {
        name: "rclone".into(),
        scopes: davgate::auth::scope::Scopes::ALL,
        read_only: false,
        expires_in: None,
    };
    let (generated, _) = davgate::auth::app_password::create(
        &srv.store,
        alice.id,
        request,
        &davgate_storage::AuditSource::cli(),
    )
    .await
    .unwrap();
    let mut b = Browser::new(srv.addr());
    b.sign_in("alice", &generated.display).await.status(401);
    assert!(b.cookie.is_none());

    srv.store.set_disabled(alice.id, true).await.unwrap();
    b.sign_in("alice", PASSWORD).await.status(401);
    assert!(b.cookie.is_none());
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_are_throttled_like_basic_ones() {
    let srv = TestServer::start().await;
    let mut b = Browser::new(srv.addr());
    for _ in 0..5 {
        b.sign_in("alice", "not the password").await.status(401);
    }
    // The right password waits now, in the portal and over Basic alike: one throttle.
    // (Both go at once: a throttled answer is held for up to the wait.)
    let basic = srv.alice();
    let (page, basic) = tokio::join!(b.sign_in("alice", PASSWORD), basic.get("/files/"));
    let page = page.status(429).says("too many failed sign-ins");
    assert!(page.header("retry-after").is_some());
    assert!(page.header("www-authenticate").is_none());
    assert!(b.cookie.is_none());
    basic.status(429);
    // Once the wait is over, the right password signs in.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    b.sign_in("alice", PASSWORD).await.status(303);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_without_the_sessions_token_or_from_another_origin_change_nothing() {
    let srv = TestServer::start().await;
    let mut b = signed_in(&srv).await;
    b.get("/account/app-passwords").await.status(200);
    let token = b.csrf.clone().unwrap();
    let alice = srv.account("alice").await;
    let field = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    let origin = b.origin();
    let tries: [(Fields, Option<&str>); 4] = [
        (
            vec![field("name", "no token"), field("scope", "files")],
            Some(&origin),
        ),
        (
            vec![
                field("name", "wrong token"),
                field("scope", "files"),
                field("csrf", "x"),
            ],
            Some(&origin),
        ),
        (
            vec![
                field("name", "no origin"),
                field("scope", "files"),
                field("csrf", &token),
            ],
            None,
        ),
        (
            vec![
                field("name", "evil"),
                field("scope", "files"),
                field("csrf", &token),
            ],
            Some("https://evil.example"),
        ),
    ];
    for (fields, origin) in tries {
        b.post_raw("/account/app-passwords", &fields, origin)
            .await
            .status(403)
            .says("nothing was changed");
    }
    assert!(srv.store.app_passwords(alice.id).await.unwrap().is_empty());
    // Another session's token does not work either.
    let other = signed_in(&srv).await;
    let fields = vec![
        field("name", "x"),
        field("scope", "files"),
        field("csrf", other.csrf.as_ref().unwrap()),
    ];
    b.post_raw("/account/app-passwords", &fields, Some(&origin))
        .await
        .status(403);
    b.post_raw(
        "/account/sessions/end-others",
        &[field("csrf", "nope")],
        Some(&origin),
    )
    .await
    .status(403);
    assert_eq!(
        srv.store.sessions(alice.id, limits()).await.unwrap().len(),
        2
    );
    assert!(srv.store.app_passwords(alice.id).await.unwrap().is_empty());
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_when_idle_and_at_their_lifetime() {
    let srv =
        TestServer::start_with("session_idle_timeout = \"1s\"\nsession_lifetime = \"3s\"").await;
    let mut b = signed_in(&srv).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    b.get("/account/").await.status(200).says("Account name");

    let mut busy = signed_in(&srv).await;
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let page = busy.get("/account/").await.status(200);
        if page.body.contains("Account name") {
            break;
        }
    }
    // 3.2 s after sign-in, however busy.
    busy.get("/account/").await.status(200).says("Account name");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_listed_and_ended_one_or_all_and_by_a_password_change() {
    let srv = TestServer::start().await;
    let mut phone = signed_in(&srv).await;
    let mut laptop = signed_in(&srv).await;
    let mut tablet = signed_in(&srv).await;
    let list = laptop
        .get("/account/sessions")
        .await
        .status(200)
        .says("this session");
    assert_eq!(list.body.matches("PortalTest/1.0").count(), 3);

    // End one: the phone's.
    let alice = srv.account("alice").await;
    let sessions = srv.store.sessions(alice.id, limits()).await.unwrap();
    let phone_id = sessions.iter().map(|s| s.id).min().unwrap().to_string();
    laptop
        .post("/account/sessions/end", &[("id", &phone_id)])
        .await
        .status(303);
    phone.get("/account/").await.says("Account name");
    tablet.get("/account/").await.says("Your account");

    // End all others.
    laptop
        .post("/account/sessions/end-others", &[])
        .await
        .status(303);
    tablet.get("/account/").await.says("Account name");
    laptop.get("/account/").await.says("Your account");

    // A password change in the portal keeps this session and ends the others, and the
    // old password stops signing in sync clients.
    let mut other = signed_in(&srv).await;
    srv.alice().get("/files/").await.status(200);
    laptop.get("/account/").await;
    let new = "a much longer new password";
    laptop
        .post(
            "/account/password",
            &[("current", "wrong"), ("new", new), ("repeat", new)],
        )
        .await
        .status(401);
    laptop
        .post(
            "/account/password",
            &[("current", PASSWORD), ("new", new), ("repeat", new)],
        )
        .await
        .status(303);
    laptop.get("/account/").await.says("Your account");
    other.get("/account/").await.says("Account name");
    srv.alice().get("/files/").await.status(401);
    srv.alice()
        .as_user("alice", new)
        .get("/files/")
        .await
        .status(200);

    // The CLI's password change ends every session.
    davgate_ok(
        srv.data_dir(),
        &["user", "passwd", "alice", "--password-stdin"],
        "another long password\n",
    );
    laptop.get("/account/").await.says("Account name");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_passwords_are_created_listed_and_revoked_in_the_portal() {
    let srv = TestServer::start().await;
    let mut b = signed_in(&srv).await;
    let (page, password) =
        create_app_password(&mut b, "rclone on the VPS", &["files", "calendars"]).await;
    assert_eq!(page.header("cache-control").unwrap(), "no-store");
    let base = format!("http://{}", srv.addr());
    page.says(&format!(
        "rclone config create davgate webdav url={base}/files/ vendor=owncloud user=alice pass={password} --obscure"
    ))
    .says(&format!("{base}/dav/principals/alice/"))
    .says("<svg");
    assert_eq!(sync_statuses(&srv, &password).await, (207, 207));

    let list = b
        .get("/account/app-passwords")
        .await
        .status(200)
        .says("rclone on the VPS");
    assert!(!list.body.contains(&password), "shown once only");
    let public_id = &password[..8];
    list.says(public_id).says("files, calendars");

    // Names are escaped.
    let (_, files_only) =
        create_app_password(&mut b, "<script>alert(1)</script>", &["files"]).await;
    b.get("/account/app-passwords")
        .await
        .says("&lt;script&gt;alert(1)&lt;/script&gt;");
    assert_eq!(sync_statuses(&srv, &files_only).await, (207, 403));

    // Revoke one: it stops on the next request; the other keeps working.
    b.post("/account/app-passwords/revoke", &[("id", public_id)])
        .await
        .status(303);
    assert_eq!(sync_statuses(&srv, &password).await, (401, 401));
    assert_eq!(sync_statuses(&srv, &files_only).await, (207, 403));
    b.get("/account/app-passwords").await.says("revoked");

    // Revoke all: needs the password.
    let (_, third) = create_app_password(&mut b, "DAVx5", &["calendars", "contacts"]).await;
    assert_eq!(sync_statuses(&srv, &third).await, (403, 207));
    b.post(
        "/account/app-passwords/revoke-all",
        &[("password", "wrong")],
    )
    .await
    .status(401);
    assert_eq!(sync_statuses(&srv, &third).await, (403, 207));
    b.post(
        "/account/app-passwords/revoke-all",
        &[("password", PASSWORD)],
    )
    .await
    .status(303);
    assert_eq!(sync_statuses(&srv, &third).await, (401, 401));
    assert_eq!(sync_statuses(&srv, &files_only).await, (401, 401));

    // The device guides name this server.
    b.get("/account/devices")
        .await
        .status(200)
        .says(&format!("dav://127.0.0.1:{}/files/", srv.addr().port()))
        .says(&format!("{base}/dav/principals/alice/"))
        .says("vendor=owncloud user=alice pass=APP-PASSWORD");

    let log = b.get("/account/security-log").await.status(200);
    log.says("app-passwords-revoked-all")
        .says("app-password-created")
        .says("127.0.0.1");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_factor_is_enrolled_confirmed_used_regenerated_and_disabled() {
    let srv = TestServer::start().await;
    let mut b = signed_in(&srv).await;
    b.get("/account/two-factor").await.status(200).says("off");
    let page = b
        .post("/account/two-factor/enable", &[])
        .await
        .status(200)
        .says("<svg");
    let secret = BASE32_NOPAD
        .decode(page.element("secret").as_bytes())
        .unwrap();
    b.post("/account/two-factor/confirm", &[("code", "000000")])
        .await
        .status(401);
    early_in_a_step().await;
    let page = b
        .post(
            "/account/two-factor/confirm",
            &[("code", &code(&secret, 0))],
        )
        .await
        .status(200)
        .says("davgate-backup-codes.txt");
    let codes: Vec<String> = page
        .body
        .split("<li>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_owned())
        .filter(|s| s.len() == 11 && s.as_bytes()[5] == b'-')
        .collect();
    assert_eq!(codes.len(), 10, "{}", page.body);
    // The password alone no longer signs in sync clients.
    srv.alice().get("/files/").await.status(401);

    // Sign in again: password, then the code.
    b.post("/account/sign-out", &[]).await.status(303);
    b.sign_in("alice", PASSWORD).await.status(303);
    b.get("/account/")
        .await
        .status(200)
        .says("authenticator app");
    b.get("/account/app-passwords").await.status(403);
    b.post("/account/sign-in/code", &[("code", "123456")])
        .await
        .status(401);
    let pending = b.cookie.clone();
    b.post("/account/sign-in/code", &[("code", &code(&secret, 1))])
        .await
        .status(303);
    assert_ne!(b.cookie, pending, "a new id once the second factor is in");
    b.get("/account/").await.says("Your account");

    // With a backup code, in another browser; each works once.
    let mut other = Browser::new(srv.addr());
    other.sign_in("alice", PASSWORD).await.status(303);
    other
        .post("/account/sign-in/code", &[("code", &codes[0])])
        .await
        .status(303);
    other.get("/account/").await.says("Your account");
    let mut third = Browser::new(srv.addr());
    third.sign_in("alice", PASSWORD).await.status(303);
    third
        .post("/account/sign-in/code", &[("code", &codes[0])])
        .await
        .status(401);

    // New backup codes need a code; the old ones stop working.
    b.get("/account/two-factor").await.says("on");
    let page = b
        .post("/account/two-factor/backup-codes", &[("code", &codes[1])])
        .await
        .status(200)
        .says("New backup codes");
    assert!(!page.body.contains(&codes[2]));
    let fresh: Vec<String> = page
        .body
        .split("<li>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_owned())
        .filter(|s| s.len() == 11)
        .collect();
    third
        .post("/account/sign-in/code", &[("code", &codes[2])])
        .await
        .status(401);

    // Revoke-all asks for a code too now.
    b.get("/account/app-passwords").await;
    b.post(
        "/account/app-passwords/revoke-all",
        &[("password", PASSWORD), ("code", "000000")],
    )
    .await
    .status(401);

    // Disable: password and a code.
    b.get("/account/two-factor").await;
    b.post(
        "/account/two-factor/disable",
        &[("password", PASSWORD), ("code", "000000")],
    )
    .await
    .status(401);
    b.post(
        "/account/two-factor/disable",
        &[("password", PASSWORD), ("code", &fresh[0])],
    )
    .await
    .status(303);
    b.get("/account/two-factor").await.says("off");
    srv.alice().get("/files/").await.status(200);

    let log = b.get("/account/security-log").await.body;
    for event in [
        "2fa-enrolling",
        "2fa-enabled",
        "backup-code-used",
        "backup-codes-regenerated",
        "2fa-disabled",
    ] {
        assert!(log.contains(event), "{event} missing");
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_resets_a_lost_second_factor() {
    let srv = TestServer::start().await;
    let mut b = signed_in(&srv).await;
    let page = b.post("/account/two-factor/enable", &[]).await.status(200);
    let secret = BASE32_NOPAD
        .decode(page.element("secret").as_bytes())
        .unwrap();
    early_in_a_step().await;
    b.post(
        "/account/two-factor/confirm",
        &[("code", &code(&secret, 0))],
    )
    .await
    .status(200);

    let out = davgate_ok(srv.data_dir(), &["2fa", "reset", "alice"], "");
    assert!(out.contains("reset"), "{out}");
    let mut fresh = Browser::new(srv.addr());
    fresh.sign_in("alice", PASSWORD).await.status(303);
    fresh.get("/account/").await.says("Your account");
    let log = srv
        .store
        .audit_log(srv.account("alice").await.id, 5)
        .await
        .unwrap();
    assert!(log.iter().any(|e| e.event_name == "2fa-reset"));
    srv.stop().await;
}

/// Every portal page says `Referrer-Policy: no-referrer`, so a real browser sends its form
/// POSTs with `Origin: null` (Fetch: the referrer policy decides whether a POST's origin
/// is told). Chromium's sign-in failed this way. What tells its own page's form from a
/// forged one then is `Sec-Fetch-Site`, which only the browser can set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_form_with_a_null_origin_counts_as_same_origin_only_by_fetch_metadata() {
    let srv = TestServer::start().await;
    let fields = [
        ("user".to_owned(), "alice".to_owned()),
        ("password".to_owned(), PASSWORD.to_owned()),
    ];
    for site in [None, Some("cross-site"), Some("same-site"), Some("none")] {
        let mut b = Browser::new(srv.addr());
        if let Some(site) = site {
            b = b.with_header("sec-fetch-site", site);
        }
        b.post_raw("/account/sign-in", &fields, Some("null"))
            .await
            .status(403)
            .says("nothing was changed");
        assert!(b.cookie.is_none(), "{site:?}");
    }
    let mut b = Browser::new(srv.addr()).with_header("sec-fetch-site", "same-origin");
    b.post_raw("/account/sign-in", &fields, Some("null"))
        .await
        .status(303);
    b.get("/account/").await.status(200).says("Your account");
    // Fetch metadata never overrules an Origin that names another site.
    let token = b.csrf.clone().unwrap();
    let forged = [
        ("name".to_owned(), "evil".to_owned()),
        ("csrf".to_owned(), token),
    ];
    b.post_raw(
        "/account/app-passwords",
        &forged,
        Some("https://evil.example"),
    )
    .await
    .status(403);
    let alice = srv.account("alice").await;
    assert!(srv.store.app_passwords(alice.id).await.unwrap().is_empty());
    srv.stop().await;
}

/// Portal pages take turns so sync clients keep a core: many views at once queue, and
/// every one gets its page while a sync client is answered as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_page_views_at_once_queue_and_each_gets_its_page() {
    let srv = TestServer::start().await;
    let b = signed_in(&srv).await;
    let (name, value) = b.cookie.clone().expect("a session cookie");
    let http = reqwest::Client::new();
    let mut views = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let req = http
            .get(srv.url("/account/app-passwords"))
            .header("cookie", format!("{name}={value}"));
        views.spawn(async move { req.send().await.expect("portal answers").status() });
    }
    srv.alice().propfind("/files/", "0").await.status(207);
    while let Some(status) = views.join_next().await {
        assert_eq!(status.unwrap().as_u16(), 200);
    }
}
