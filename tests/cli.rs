//! The administration CLI against a data directory.

use crate::common::bin::{davgate, davgate_ok};

#[test]
fn users_are_added_listed_limited_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(
        davgate_ok(
            d,
            &["user", "add", "carol", "--password-stdin"],
            "long enough password\n"
        )
        .contains("created")
    );
    let dup = davgate(
        d,
        &["user", "add", "carol", "--password-stdin"],
        "long enough password\n",
    );
    assert_eq!(dup.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&dup.stderr).contains("exists already"));

    let short = davgate(d, &["user", "add", "dave", "--password-stdin"], "short\n");
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8 characters"));
    let bad = davgate(
        d,
        &["user", "add", "bad:name", "--password-stdin"],
        "long enough password\n",
    );
    assert!(!bad.status.success());

    davgate_ok(d, &["user", "set-quota", "carol", "10GiB"], "");
    davgate_ok(d, &["user", "set-upload-limit", "carol", "100GiB"], "");
    let too_big = davgate(d, &["user", "set-upload-limit", "carol", "101GiB"], "");
    assert_eq!(too_big.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&too_big.stderr).contains("100GiB"));
    let nonsense = davgate(d, &["user", "set-quota", "carol", "lots"], "");
    assert_eq!(nonsense.status.code(), Some(2));
    let list = davgate_ok(d, &["user", "list"], "");
    assert!(
        list.contains("carol") && list.contains("10GiB") && list.contains("100GiB"),
        "{list}"
    );
    davgate_ok(d, &["user", "set-quota", "carol", "none"], "");
    davgate_ok(d, &["user", "set-upload-limit", "carol", "default"], "");
    let list = davgate_ok(d, &["user", "list"], "");
    assert!(list.contains("50GiB (default)"), "{list}");

    davgate_ok(
        d,
        &["user", "passwd", "carol", "--password-stdin"],
        "another long password\n",
    );
    davgate_ok(d, &["user", "delete", "carol"], "");
    let gone = davgate(d, &["user", "delete", "carol"], "");
    assert_eq!(gone.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&gone.stderr).contains("no account named"));
}

/// `davgate locks list|clear` beside a running server, on the same data directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_are_listed_and_cleared_by_path() {
    let srv = crate::common::TestServer::start().await;
    let d = srv.data_dir().to_owned();
    let dav = srv.alice();
    dav.mkcol("/files/docs").await.status(201);
    let lockinfo = r#"<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>mailto:alice@example.org</D:href></D:owner></D:lockinfo>"#;
    let mut tokens = Vec::new();
    for path in ["/files/docs/a b.txt", "/files/top.txt"] {
        let locked = dav
            .req("LOCK", &path.replace(' ', "%20"))
            .header("Timeout", "Second-600")
            .header("Depth", "0")
            .body(lockinfo)
            .send()
            .await
            .status(201);
        tokens.push(locked.header("lock-token").expect("Lock-Token"));
    }
    let run = |args: &'static [&'static str]| {
        let d = d.clone();
        tokio::task::spawn_blocking(move || davgate(&d, args, ""))
    };
    let ok = |args: &'static [&'static str]| {
        let d = d.clone();
        tokio::task::spawn_blocking(move || davgate_ok(&d, args, ""))
    };

    let list = ok(&["locks", "list", "alice"]).await.unwrap();
    for want in [
        "/docs/a b.txt",
        "/top.txt",
        "mailto:alice@example.org",
        "exclusive",
        "expires",
    ] {
        assert!(list.contains(want), "{want:?} missing from:\n{list}");
    }
    for token in &tokens {
        let bare = token.trim_start_matches('<').trim_end_matches('>');
        assert!(list.contains(bare), "{bare} missing from:\n{list}");
    }

    let cleared = ok(&["locks", "clear", "alice", "/docs/"]).await.unwrap();
    assert!(cleared.contains("removed 1 lock"), "{cleared}");
    dav.put("/files/docs/a%20b.txt", "mine now")
        .await
        .status(204);
    dav.put("/files/top.txt", "still locked").await.status(423);

    // --config is honoured like --data-dir.
    let config = d.join("cli.toml");
    std::fs::write(
        &config,
        format!("data_dir = {:?}\n", d.display().to_string()),
    )
    .unwrap();
    let by_config = tokio::task::spawn_blocking(move || {
        std::process::Command::new(crate::common::bin::BIN)
            .args(["locks", "list", "alice", "--config"])
            .arg(&config)
            .env_remove("DAVGATE_DATA_DIR")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let listed = String::from_utf8_lossy(&by_config.stdout);
    assert!(
        by_config.status.success() && listed.contains("/top.txt"),
        "{listed}"
    );
    assert!(!listed.contains("/docs/a b.txt"), "{listed}");

    let all = ok(&["locks", "clear", "alice", "/"]).await.unwrap();
    assert!(all.contains("removed 1 lock"), "{all}");
    dav.put("/files/top.txt", "free").await.status(204);
    let none = ok(&["locks", "list", "alice"]).await.unwrap();
    assert!(none.contains("no locks"), "{none}");
    let nobody = run(&["locks", "list", "nobody"]).await.unwrap();
    assert_eq!(nobody.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("no account named"));
}

#[test]
fn a_password_prompt_without_a_terminal_says_to_use_password_stdin() {
    let dir = tempfile::tempdir().unwrap();
    // setsid detaches from any controlling terminal, as under cron or in a container.
    let Ok(out) = std::process::Command::new("setsid")
        .arg(crate::common::bin::BIN)
        .args(["user", "add", "erin", "--data-dir"])
        .arg(dir.path())
        .env_remove("DAVGATE_CONFIG")
        .stdin(std::process::Stdio::null())
        .output()
    else {
        eprintln!("skipped: setsid is not installed");
        return;
    };
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--password-stdin"), "{stderr}");
    assert!(stderr.contains("no terminal"), "{stderr}");
    let retry = format!("davgate --data-dir {} user add erin", dir.path().display());
    assert!(stderr.contains(&retry), "{stderr}");
}

/// The commands a hint prints carry the --config and --data-dir the command was given,
/// quoted for the shell, so pasting them acts on the same server.
#[test]
fn hints_repeat_the_config_and_data_dir_and_work_when_pasted() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("my data");
    let config_dir = dir.path().join("it's here");
    std::fs::create_dir(&config_dir).unwrap();
    let config = config_dir.join("davgate.toml");
    std::fs::write(
        &config,
        format!("data_dir = {:?}\n", data.display().to_string()),
    )
    .unwrap();
    let config_word = format!("'{}'", config.display().to_string().replace('\'', "'\\''"));

    let added = by_config(
        &config,
        &["user", "add", "carol", "--password-stdin"],
        "long enough password\n",
    );
    let hint = format!("davgate --config {config_word} app-password create carol --name NAME");
    assert!(added.contains(&hint), "{added}");
    let created = pasted(&hint.replace("NAME", "laptop"));
    let revoke = created
        .lines()
        .map(str::trim)
        .find(|line| {
            line.starts_with("davgate --config ") && line.contains("app-password revoke carol")
        })
        .unwrap_or_else(|| panic!("no revoke hint in:\n{created}"));
    assert!(pasted(revoke).contains("revoked app password"));

    let missing = crate::common::bin::davgate(&data, &["app-password", "list", "nobody"], "");
    let stderr = String::from_utf8_lossy(&missing.stderr);
    let list = format!("davgate --data-dir '{}' user list", data.display());
    assert!(stderr.contains(&list), "{stderr}");
    assert!(pasted(&list).contains("carol"));
}

/// Runs davgate with only `--config`, as an operator with a configuration file does.
fn by_config(config: &std::path::Path, args: &[&str], stdin: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new(crate::common::bin::BIN)
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("DAVGATE_CONFIG")
        .env_remove("DAVGATE_DATA_DIR")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "davgate {args:?} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a printed command line through the shell, with davgate on PATH.
#[track_caller]
fn pasted(line: &str) -> String {
    let bin_dir = std::path::Path::new(crate::common::bin::BIN)
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", line])
        .env("PATH", path)
        .env_remove("DAVGATE_CONFIG")
        .env_remove("DAVGATE_DATA_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`{line}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `davgate health` (the container's HEALTHCHECK) finds the server from the same
/// options as `serve`, over plain HTTP and TLS, and fails when nothing answers.
#[test]
fn health_asks_the_server_named_by_the_serve_options() {
    use crate::common::bin::ServerProcess;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let plain = ServerProcess::start(&data, &[]);
    let listen = plain.addr.to_string();
    let ok = davgate_ok(&data, &["health", "--listen", &listen], "");
    assert!(ok.contains("/healthz: ok"), "{ok}");
    drop(plain);
    let down = davgate(
        &data,
        &["health", "--listen", &listen, "--timeout", "2s"],
        "",
    );
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).contains("/healthz"));

    let (cert, key) = crate::common::certs::localhost(dir.path());
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let tls = ServerProcess::start(&data, &["--tls-cert", cert, "--tls-key", key]);
    let listen = format!("0.0.0.0:{}", tls.addr.port());
    let args = [
        "health",
        "--listen",
        &listen,
        "--tls-cert",
        cert,
        "--tls-key",
        key,
    ];
    let ok = davgate_ok(&data, &args, "");
    assert!(ok.starts_with("https://127.0.0.1:"), "{ok}");
}
