//! The portal in a real browser (headless chromium through chromedriver), as a person uses
//! it: sign in, turn on two-factor sign-in by reading the secret off the page, sign out and
//! back in with password and code, create an app password for rclone, use it for WebDAV,
//! revoke it, and download an Apple profile for a Mac, whose password syncs calendars and
//! contacts and not files. Every step leaves a screenshot in the test's temporary folder, which is kept
//! (and named on stderr) when the journey fails.

use std::time::Duration;

use data_encoding::BASE32_NOPAD;

use crate::common::chrome::Chrome;
use crate::common::plist::{payload, plist_json};
use crate::common::server::PASSWORD;
use crate::common::{TestServer, require_tool};

const CLIENT_NAME: &str = "rclone on the VPS";
const DEVICE_NAME: &str = "Annas MacBook";

/// The artefacts folder: deleted after a passing run, kept after a failing one.
struct Artefacts(Option<tempfile::TempDir>);

impl Artefacts {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("davgate-browser-")
            .tempdir()
            .unwrap();
        Artefacts(Some(dir))
    }

    fn path(&self) -> &std::path::Path {
        self.0.as_ref().expect("present until drop").path()
    }
}

impl Drop for Artefacts {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(dir) = self.0.take()
        {
            eprintln!(
                "browser journey failed; screenshots kept in {}",
                dir.keep().display()
            );
        }
    }
}

fn now_step() -> i64 {
    davgate_storage::now_ms() / 1000 / 30
}

/// Waits, if needed, until the current 30-second step has at least 5 s left, so a code
/// typed now is still current when it arrives.
async fn early_in_a_step() {
    let into = davgate_storage::now_ms() / 1000 % 30;
    if into >= 25 {
        tokio::time::sleep(Duration::from_secs((30 - into) as u64)).await;
    }
}

/// What a PROPFIND on /files/ with this app password gets.
async fn propfind_status(srv: &TestServer, app_password: &str) -> u16 {
    let client = srv.alice().as_user("alice", app_password);
    client.propfind("/files/", "0").await.status.as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_turns_on_two_factor_manages_an_app_password_and_sets_up_a_mac() {
    let artefacts = Artefacts::new();
    let Some(python) = require_tool("python3") else {
        return;
    };
    let Some(mut chrome) = Chrome::start(artefacts.path()).await else {
        return;
    };
    let srv = TestServer::start().await;
    let base = srv.url("");

    // Sign in with the account password.
    chrome.goto(&format!("{base}/account/")).await;
    chrome.wait_for_title("Sign in").await;
    chrome.type_into("#user", "alice").await;
    chrome.type_into("#password", PASSWORD).await;
    chrome.screenshot("sign-in").await;
    chrome
        .click("form[action='/account/sign-in'] button[type=submit]")
        .await;
    chrome.wait_for_title("Your account").await;
    chrome.screenshot("overview").await;

    // Two-factor sign-in: the secret is read off the page, as it would be typed into an app.
    chrome.click("nav a[href='/account/two-factor']").await;
    chrome.wait_for_title("Two-factor sign-in").await;
    chrome
        .click("form[action='/account/two-factor/enable'] button[type=submit]")
        .await;
    chrome.wait_for_title("Set up two-factor sign-in").await;
    let secret_text = chrome.text("#secret").await;
    let secret = BASE32_NOPAD
        .decode(secret_text.as_bytes())
        .unwrap_or_else(|e| panic!("the page shows a base32 secret, not {secret_text:?}: {e}"));
    assert!(
        chrome
            .wait_for(".qr svg")
            .await
            .is_displayed()
            .await
            .unwrap()
    );
    chrome.screenshot("two-factor-setup").await;
    early_in_a_step().await;
    let confirmed_step = now_step();
    let code = davgate::auth::totp::code(&secret, confirmed_step);
    chrome.type_into("#code", &code).await;
    chrome
        .click("form[action='/account/two-factor/confirm'] button[type=submit]")
        .await;
    chrome.wait_for_title("Two-factor sign-in is on").await;
    chrome.screenshot("backup-codes").await;

    // Sign out, then in again: password, then a code (a later step: a code works once).
    chrome
        .click("header form[action='/account/sign-out'] button[type=submit]")
        .await;
    chrome.wait_for_title("Sign in").await;
    chrome.screenshot("signed-out").await;
    chrome.type_into("#user", "alice").await;
    chrome.type_into("#password", PASSWORD).await;
    chrome
        .click("form[action='/account/sign-in'] button[type=submit]")
        .await;
    chrome.wait_for_title("Second step").await;
    early_in_a_step().await;
    let step = now_step().max(confirmed_step + 1);
    assert!(step <= now_step() + 1, "the journey took over a minute");
    chrome
        .type_into("#code", &davgate::auth::totp::code(&secret, step))
        .await;
    chrome.screenshot("second-step").await;
    chrome
        .click("form[action='/account/sign-in/code'] button[type=submit]")
        .await;
    chrome.wait_for_title("Your account").await;

    // An app password for rclone, read off the page it is shown on once.
    chrome.click("nav a[href='/account/app-passwords']").await;
    chrome.wait_for_title("App passwords").await;
    chrome.type_into("#name", CLIENT_NAME).await;
    chrome
        .click("form[action='/account/app-passwords'] button[type=submit]")
        .await;
    chrome.wait_for_title("New app password").await;
    let app_password = chrome.text("#password").await;
    let rclone = chrome.text("#rclone").await;
    assert!(rclone.contains(&format!("url={base}/files/")), "{rclone}");
    chrome.screenshot("app-password-created").await;
    assert_eq!(propfind_status(&srv, &app_password).await, 207);

    // It is in the list (its last use shows once the server writes uses, every 30 s);
    // revoking it in the browser shuts rclone out.
    chrome.click("a[href='/account/app-passwords']").await;
    chrome.wait_for_title("App passwords").await;
    let listed = chrome.body_text().await;
    assert!(listed.contains(CLIENT_NAME), "{listed}");
    chrome.screenshot("app-password-listed").await;
    chrome
        .click(&format!("button[aria-label='Revoke {CLIENT_NAME}']"))
        .await;
    chrome
        .wait_for_xpath("//td[starts-with(normalize-space(), 'revoked')]")
        .await;
    let listed = chrome.body_text().await;
    assert!(listed.contains("revoked"), "{listed}");
    chrome.screenshot("app-password-revoked").await;
    assert_eq!(propfind_status(&srv, &app_password).await, 401);

    // A Mac is set up from a profile: the download lands in the browser's download folder.
    chrome.click("nav a[href='/account/devices']").await;
    chrome.wait_for_title("Connect a device").await;
    chrome.type_into("#device", DEVICE_NAME).await;
    chrome
        .click("form[action='/account/devices'] button[type=submit]")
        .await;
    let profile = chrome.downloaded(".mobileconfig").await;
    chrome.screenshot("device-profile").await;
    assert_eq!(
        profile.file_name().unwrap(),
        "davgate-Annas-MacBook.mobileconfig"
    );
    let device_password = check_profile(&python, &srv, &profile).await;
    chrome.click("nav a[href='/account/app-passwords']").await;
    chrome.wait_for_title("App passwords").await;
    let listed = chrome.body_text().await;
    assert!(listed.contains(DEVICE_NAME), "{listed}");
    chrome.screenshot("device-password-listed").await;
    chrome
        .click(&format!("button[aria-label='Revoke {DEVICE_NAME}']"))
        .await;
    chrome
        .wait_for_xpath(&format!(
            "//tr[td[contains(., '{DEVICE_NAME}')]]/td[starts-with(normalize-space(), 'revoked')]"
        ))
        .await;
    let device = srv.alice().as_user("alice", &device_password);
    device.propfind("/dav/", "0").await.status(401);

    let shots = std::fs::read_dir(artefacts.path().join("screenshots"))
        .unwrap()
        .count();
    assert_eq!(shots, 11, "one screenshot per step");
    chrome.close().await;
    srv.stop().await;
}

/// Reads the downloaded profile as a Mac would: an unsigned plist here (the test server
/// has no certificate, as the page says) with a CalDAV and a CardDAV account on this
/// server, sharing one app password that syncs calendars and contacts but not files.
/// Returns that password.
async fn check_profile(
    python: &std::path::Path,
    srv: &TestServer,
    file: &std::path::Path,
) -> String {
    let bytes = std::fs::read(file).unwrap();
    assert!(
        bytes.starts_with(b"<?xml"),
        "an unsigned plist, as the devices page says; got {} bytes starting {:?}",
        bytes.len(),
        String::from_utf8_lossy(&bytes[..bytes.len().min(16)])
    );
    let profile = plist_json(python, file);
    assert_eq!(profile["PayloadType"], "Configuration");
    let principal = format!("{}/dav/principals/alice/", srv.url(""));
    let mut password = None;
    for (kind, prefix) in [
        ("com.apple.caldav.account", "CalDAV"),
        ("com.apple.carddav.account", "CardDAV"),
    ] {
        let p = payload(&profile, kind);
        assert_eq!(p[format!("{prefix}HostName")], "127.0.0.1", "{p}");
        assert_eq!(p[format!("{prefix}Port")], srv.addr().port(), "{p}");
        assert_eq!(p[format!("{prefix}UseSSL")], false, "{p}");
        assert_eq!(
            p[format!("{prefix}PrincipalURL")],
            principal.as_str(),
            "{p}"
        );
        assert_eq!(p[format!("{prefix}Username")], "alice", "{p}");
        let pw = p[format!("{prefix}Password")].as_str().unwrap().to_owned();
        assert_eq!(
            *password.get_or_insert(pw.clone()),
            pw,
            "one password for both"
        );
    }
    let password = password.unwrap();
    let device = srv.alice().as_user("alice", &password);
    device.propfind("/dav/", "0").await.status(207);
    device
        .propfind("/dav/principals/alice/", "0")
        .await
        .status(207);
    let files = device.propfind("/files/", "0").await;
    assert!(
        matches!(files.status.as_u16(), 401 | 403),
        "files must be refused, got {}",
        files.status
    );
    password
}
