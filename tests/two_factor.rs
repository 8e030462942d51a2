//! Two-factor accounts: the account password is refused for sync with a message that says
//! what to do, codes cannot be replayed, backup codes work once.

use crate::common::TestServer;
use crate::common::bin::{davgate, davgate_ok};
use crate::common::server::PASSWORD;

fn now_secs() -> i64 {
    davgate_storage::now_ms() / 1000
}

/// The current time, at least 3 s before the next 30-second step, so the codes a test
/// derives from it are still the current ones when the server checks them.
async fn early_in_a_step() -> i64 {
    let now = now_secs();
    if now % 30 < 27 {
        return now;
    }
    tokio::time::sleep(std::time::Duration::from_secs((30 - now % 30) as u64)).await;
    now_secs()
}

/// Runs `2fa enable` and returns the secret it printed.
fn enroll(srv: &TestServer) -> Vec<u8> {
    let out = davgate_ok(srv.data_dir(), &["2fa", "enable", "alice"], "");
    assert!(
        out.contains("otpauth://totp/davgate%3Aalice?secret="),
        "{out}"
    );
    assert!(out.contains('█'), "a QR code is drawn");
    let secret = out
        .split("enter the secret ")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    base32_decode(secret)
}

fn base32_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base32: {s}"),
        };
        buffer = (buffer << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            out.push((buffer >> (bits - 8)) as u8);
            bits -= 8;
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_second_factor_the_account_password_is_refused_for_sync() {
    let srv = TestServer::start().await;
    let (_, app) = crate::app_passwords::create(&srv, &[]);
    srv.alice().get("/files/").await.status(200); // cached before 2FA
    let secret = enroll(&srv);
    srv.alice().get("/files/").await.status(200); // pending: not on yet

    let wrong = davgate(srv.data_dir(), &["2fa", "confirm", "alice", "000000"], "");
    assert_eq!(wrong.status.code(), Some(2));
    // The step is fixed here: the replay below must send this very code even if a
    // 30-second boundary passes in between (one step of skew keeps it acceptable).
    let confirmed = davgate::auth::totp::code(&secret, early_in_a_step().await / 30);
    let out = davgate_ok(srv.data_dir(), &["2fa", "confirm", "alice", &confirmed], "");
    let backup: Vec<String> = out
        .lines()
        .map(str::trim)
        .filter(|l| l.len() == 11 && l.as_bytes()[5] == b'-')
        .map(str::to_owned)
        .collect();
    assert_eq!(backup.len(), 10, "{out}");

    let resp = srv.alice().get("/files/").await.status(401);
    assert!(
        resp.text().contains("two-factor authentication is on"),
        "{}",
        resp.text()
    );
    assert!(
        resp.text().contains("app-password create"),
        "{}",
        resp.text()
    );
    srv.alice()
        .as_user("alice", &app)
        .get("/files/")
        .await
        .status(200);
    srv.alice()
        .as_user("alice", "not the password")
        .get("/files/")
        .await
        .status(401)
        .says("wrong user name or password");

    // The code that confirmed cannot be used again; the next step's can, once.
    let replay = davgate(srv.data_dir(), &["2fa", "disable", "alice", &confirmed], "");
    assert_eq!(replay.status.code(), Some(2), "a used code is refused");
    assert!(String::from_utf8_lossy(&replay.stderr).contains("already used"));

    // A backup code works once.
    davgate_ok(srv.data_dir(), &["2fa", "disable", "alice", &backup[0]], "");
    srv.alice().get("/files/").await.status(200);
    enroll(&srv);
    let audit = davgate_ok(srv.data_dir(), &["audit", "alice"], "");
    for event in ["2fa-enabled", "2fa-disabled", "backup-code-used"] {
        assert!(audit.contains(event), "{event}: {audit}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_codes_and_totp_codes_each_work_once() {
    let srv = TestServer::start().await;
    let secret = enroll(&srv);
    let now = early_in_a_step().await;
    let step = now / 30;
    let code = |offset| davgate::auth::totp::code(&secret, step + offset);
    let out = davgate_ok(srv.data_dir(), &["2fa", "confirm", "alice", &code(-1)], "");
    let backup: Vec<String> = out
        .lines()
        .map(str::trim)
        .filter(|l| l.len() == 11 && l.as_bytes()[5] == b'-')
        .map(str::to_owned)
        .collect();
    let store = &srv.store;
    let account = srv.account("alice").await;
    let key = davgate::auth::cache::load_or_create_server_key(srv.data_dir()).unwrap();
    let two = davgate::auth::two_factor::TwoFactor::new(store.clone(), &key);
    two.verify(&account, &code(0), now)
        .await
        .expect("a fresh code works");
    assert!(
        two.verify(&account, &code(0), now).await.is_err(),
        "the same code is a replay"
    );
    assert!(
        two.verify(&account, &code(-1), now).await.is_err(),
        "an older step is a replay"
    );
    two.verify(&account, &backup[3], now)
        .await
        .expect("a backup code works");
    assert!(
        two.verify(&account, &backup[3], now).await.is_err(),
        "a backup code works once"
    );
    two.verify(&account, &backup[4].to_uppercase().replace('-', " "), now)
        .await
        .expect("typed loosely");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_app_passwords_refuses_account_passwords_everywhere() {
    let srv = TestServer::start_with("require_app_passwords = true").await;
    let (_, app) = crate::app_passwords::create(&srv, &[]);
    srv.alice()
        .get("/files/")
        .await
        .status(401)
        .says("accepts only app passwords");
    srv.alice()
        .as_user("alice", &app)
        .get("/files/")
        .await
        .status(200);
    let _ = PASSWORD;
}
