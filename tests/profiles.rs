//! Apple device profiles from `davgate profile` and from the portal's devices page: the plist read back with Python's
//! `plistlib` as a device would read it (payload types, host, port, SSL, principal URL),
//! its embedded app password used against the running server (calendars and contacts
//! yes, files no), listed and revoked like any app password; and a signed profile
//! verified by `openssl cms -verify` against the server's certificate. The portal's form
//! is checked like every portal form: no CSRF token, no profile and no app password.

use std::path::Path;
use std::process::Command;

use crate::common::bin::{davgate, davgate_ok};
use crate::common::browser::Browser;
use crate::common::plist::{payload, plist_json};
use crate::common::server::PASSWORD;
use crate::common::{TestServer, require_tool};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_profile_sets_up_calendars_and_contacts_with_its_own_app_password() {
    let Some(python) = require_tool("python3") else {
        return;
    };
    let srv = TestServer::start().await;
    let out_file = srv.data_dir().join("anna.mobileconfig");
    let url = srv.url("");
    let device = "Anna's iPhone & <iPad>";
    let args = [
        "profile",
        "alice",
        "--device",
        device,
        "--url",
        &url,
        "--out",
        out_file.to_str().unwrap(),
    ];
    let said = davgate_ok(srv.data_dir(), &args, "");
    assert!(said.contains("UNSIGNED"), "{said}");
    assert!(said.contains("no TLS certificate"), "{said}");
    let id = said
        .split("(id ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no app password id in {said}"))
        .to_owned();
    assert!(
        said.contains(&format!("app-password revoke alice {id}")),
        "{said}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&out_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "the profile holds a password: owner-only");

    let profile = plist_json(&python, &out_file);
    assert_eq!(profile["PayloadType"], "Configuration");
    assert_eq!(profile["PayloadVersion"], 1);
    assert!(
        profile["PayloadDisplayName"]
            .as_str()
            .unwrap()
            .contains(device),
        "{profile}"
    );
    let port = srv.addr().port();
    let principal = format!("{url}/dav/principals/alice/");
    let mut password = None;
    for (kind, prefix) in [
        ("com.apple.caldav.account", "CalDAV"),
        ("com.apple.carddav.account", "CardDAV"),
    ] {
        let p = payload(&profile, kind);
        assert_eq!(p[format!("{prefix}HostName")], "127.0.0.1", "{p}");
        assert_eq!(p[format!("{prefix}Port")], port, "{p}");
        assert_eq!(p[format!("{prefix}UseSSL")], false, "{p}");
        assert_eq!(
            p[format!("{prefix}PrincipalURL")],
            principal.as_str(),
            "{p}"
        );
        assert_eq!(p[format!("{prefix}Username")], "alice", "{p}");
        let uuid = p["PayloadUUID"].as_str().unwrap();
        assert_eq!((uuid.len(), &uuid[14..15]), (36, "4"), "{uuid}");
        let pw = p[format!("{prefix}Password")].as_str().unwrap().to_owned();
        assert_eq!(
            *password.get_or_insert(pw.clone()),
            pw,
            "one password for both"
        );
    }
    let password = password.unwrap();
    assert!(password.starts_with(&id), "{password} has id {id}");

    let device_client = srv.alice().as_user("alice", &password);
    device_client.propfind("/dav/", "0").await.status(207);
    device_client
        .propfind("/dav/principals/alice/", "0")
        .await
        .status(207);
    let files = device_client.propfind("/files/", "0").await;
    assert!(
        matches!(files.status.as_u16(), 401 | 403),
        "files must be refused, got {}",
        files.status
    );

    let list = davgate_ok(srv.data_dir(), &["app-password", "list", "alice"], "");
    let line = list
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("{id} not listed:\n{list}"));
    assert!(line.contains("Anna's iPhone"), "{line}");
    assert!(line.contains("calendars,contacts"), "{line}");
    davgate_ok(
        srv.data_dir(),
        &["app-password", "revoke", "alice", &id],
        "",
    );
    device_client.propfind("/dav/", "0").await.status(401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_devices_page_downloads_a_profile_whose_password_syncs_calendars_only() {
    let Some(python) = require_tool("python3") else {
        return;
    };
    let srv = TestServer::start().await;
    let mut b = Browser::new(srv.addr());
    b.sign_in("alice", PASSWORD).await.status(303);
    b.get("/account/devices")
        .await
        .status(200)
        .says("action=\"/account/devices\"")
        .says("Profiles are unsigned")
        .says("no TLS certificate of its own");

    // A form without the session's token: refused, and nothing was created.
    let origin = b.origin();
    let forged = [("device".to_owned(), "Forged Mac".to_owned())];
    b.post_raw("/account/devices", &forged, Some(&origin))
        .await
        .status(403);
    // A blank name: the page again, saying what to give.
    b.post("/account/devices", &[("device", "  ")])
        .await
        .status(400)
        .says("give the device a name");

    let download = b
        .post("/account/devices", &[("device", "Annas Mac")])
        .await
        .status(200);
    assert_eq!(
        download.header("content-type").as_deref(),
        Some("application/x-apple-aspen-config")
    );
    assert_eq!(
        download.header("content-disposition").as_deref(),
        Some("attachment; filename=\"davgate-Annas-Mac.mobileconfig\"")
    );
    assert_eq!(
        download.header("cache-control").as_deref(),
        Some("no-store")
    );
    let file = srv.data_dir().join("portal.mobileconfig");
    std::fs::write(&file, download.body.as_bytes()).unwrap();
    let profile = plist_json(&python, &file);
    let url = srv.url("");
    let caldav = payload(&profile, "com.apple.caldav.account");
    assert_eq!(caldav["CalDAVHostName"], "127.0.0.1");
    assert_eq!(caldav["CalDAVPort"], srv.addr().port());
    assert_eq!(caldav["CalDAVUseSSL"], false);
    assert_eq!(
        caldav["CalDAVPrincipalURL"],
        format!("{url}/dav/principals/alice/").as_str()
    );
    let carddav = payload(&profile, "com.apple.carddav.account");
    assert_eq!(carddav["CardDAVPassword"], caldav["CalDAVPassword"]);
    let password = caldav["CalDAVPassword"].as_str().unwrap();

    let device = srv.alice().as_user("alice", password);
    device.propfind("/dav/", "0").await.status(207);
    let files = device.propfind("/files/", "0").await;
    assert!(
        matches!(files.status.as_u16(), 401 | 403),
        "files must be refused, got {}",
        files.status
    );

    let list = b.get("/account/app-passwords").await.status(200);
    assert!(list.body.contains("Annas Mac"), "{}", list.body);
    assert!(!list.body.contains("Forged Mac"), "{}", list.body);
    b.get("/account/security-log")
        .await
        .status(200)
        .says("device-profile-downloaded")
        .says("Annas Mac (unsigned, app password ")
        .says("127.0.0.1")
        .says("PortalTest/1.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_the_portal_signs_profiles_with_the_served_certificate() {
    let (Some(python), Some(openssl)) = (require_tool("python3"), require_tool("openssl")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = crate::common::certs::localhost(dir.path());
    let srv = TestServer::start_with(&format!("tls_cert = {cert:?}\ntls_key = {key:?}")).await;
    let port = srv.addr().port();
    let pem = std::fs::read(&cert).unwrap();
    let mut b = Browser::over_tls(format!("https://localhost:{port}"), &pem);
    b.sign_in("alice", PASSWORD).await.status(303);
    b.get("/account/devices")
        .await
        .status(200)
        .says("signed with this server");
    let download = b
        .post("/account/devices", &[("device", "Work Mac")])
        .await
        .status(200);
    let signed = dir.path().join("work.mobileconfig");
    std::fs::write(&signed, &download.bytes).unwrap();
    let plist = dir.path().join("work.plist");
    let verify = Command::new(&openssl)
        .args(["cms", "-verify", "-inform", "DER", "-CAfile"])
        .arg(&cert)
        .arg("-in")
        .arg(&signed)
        .arg("-out")
        .arg(&plist)
        .output()
        .expect("openssl runs");
    assert!(
        verify.status.success(),
        "openssl cms -verify failed: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let profile = plist_json(&python, &plist);
    let caldav = payload(&profile, "com.apple.caldav.account");
    assert_eq!(caldav["CalDAVHostName"], "localhost");
    assert_eq!(caldav["CalDAVPort"], port);
    assert_eq!(caldav["CalDAVUseSSL"], true);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_public_address_or_device_name_the_cli_says_what_to_give() {
    let srv = TestServer::start().await;
    let no_url = davgate(srv.data_dir(), &["profile", "alice", "--device", "Mac"], "");
    assert_eq!(no_url.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_url.stderr).contains("public_url"));
    let url = srv.url("");
    let blank = davgate(
        srv.data_dir(),
        &["profile", "alice", "--device", "  ", "--url", &url],
        "",
    );
    assert_eq!(blank.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&blank.stderr).contains("give the device a name"));
}

#[test]
fn a_signed_profile_verifies_against_the_server_certificate() {
    let (Some(python), Some(openssl)) = (require_tool("python3"), require_tool("openssl")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = crate::common::certs::localhost(dir.path());
    let profile = signed_profile(&openssl, dir.path(), &cert, &key);
    let profile = plist_json(&python, &profile);
    let caldav = payload(&profile, "com.apple.caldav.account");
    assert_eq!(caldav["CalDAVHostName"], "localhost");
    assert_eq!(caldav["CalDAVPort"], 8443);
    assert_eq!(caldav["CalDAVUseSSL"], true);
    assert_eq!(
        caldav["CalDAVPrincipalURL"],
        "https://localhost:8443/dav/principals/alice/"
    );
}

/// Every key form the server accepts signs: RSA (PKCS#1) and ECDSA P-384 (SEC1), made by
/// openssl as an operator would, besides the test certificate's P-256 PKCS#8 above.
#[test]
fn rsa_and_p384_keys_sign_too() {
    let Some(openssl) = require_tool("openssl") else {
        return;
    };
    for (name, keygen) in [
        ("rsa", &["genrsa", "-traditional", "2048"][..]),
        (
            "p384",
            &["ecparam", "-name", "secp384r1", "-genkey", "-noout"][..],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        let cert = dir.path().join("cert.pem");
        let run = |args: &[&str]| {
            let out = Command::new(&openssl)
                .args(args)
                .output()
                .expect("openssl runs");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        // `-out` right after the command: genrsa wants the key size last.
        let mut args = keygen.to_vec();
        args.splice(1..1, ["-out", key.to_str().unwrap()]);
        run(&args);
        run(&[
            "req",
            "-new",
            "-x509",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-key",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
        ]);
        let pem = std::fs::read_to_string(&key).unwrap();
        let expected = if name == "rsa" {
            "BEGIN RSA PRIVATE KEY"
        } else {
            "BEGIN EC PRIVATE KEY"
        };
        assert!(
            pem.contains(expected),
            "{name}: not the key form under test"
        );
        signed_profile(&openssl, dir.path(), &cert, &key);
    }
}

/// Runs `davgate profile` on a server configured with this certificate and key, checks
/// the profile is signed and verifies with `openssl cms -verify` to the plist it
/// carries; returns the verified plist's path.
fn signed_profile(openssl: &Path, dir: &Path, cert: &Path, key: &Path) -> std::path::PathBuf {
    let data = dir.join("data");
    let config = dir.join("davgate.toml");
    std::fs::write(
        &config,
        format!(
            "tls_cert = {:?}\ntls_key = {:?}\npublic_url = \"https://localhost:8443\"\n",
            cert.display().to_string(),
            key.display().to_string()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    davgate_ok(
        &data,
        &[
            "--config",
            config,
            "user",
            "add",
            "alice",
            "--password-stdin",
        ],
        "pw-of-alice-1234\n",
    );
    let signed = dir.join("mac.mobileconfig");
    let said = davgate_ok(
        &data,
        &[
            "--config",
            config,
            "profile",
            "alice",
            "--device",
            "Work Mac",
            "--out",
            signed.to_str().unwrap(),
        ],
        "",
    );
    assert!(said.contains("a signed profile"), "{said}");

    let plist = dir.join("verified.plist");
    let verify = Command::new(openssl)
        .args(["cms", "-verify", "-inform", "DER", "-CAfile"])
        .arg(cert)
        .arg("-in")
        .arg(&signed)
        .arg("-out")
        .arg(&plist)
        .output()
        .expect("openssl runs");
    assert!(
        verify.status.success(),
        "openssl cms -verify failed: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let content = std::fs::read(&plist).unwrap();
    let der = std::fs::read(&signed).unwrap();
    assert!(
        content.starts_with(b"<?xml"),
        "{}",
        String::from_utf8_lossy(&content)
    );
    assert!(
        der.windows(content.len()).any(|w| w == content.as_slice()),
        "the verified content is the plist the file carries, byte for byte"
    );
    plist
}
