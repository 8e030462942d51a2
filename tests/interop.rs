//! Real clients against a real server: litmus (the WebDAV conformance suite), rclone,
//! cadaver (the neon command-line client) and GNOME's gvfs through `gio`. A missing
//! client skips the test here and fails it in CI (DAVGATE_REQUIRE_INTEROP=1). Clients
//! that could wait forever (a prompt, a mount) run with a time limit.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::bounded;
use crate::common::server::{FILES_HOST_CONFIG, PASSWORD};
use crate::common::{TestServer, require_tool};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn litmus_passes_every_test() {
    let srv = TestServer::start().await;
    litmus_passes_at(srv.url("/files/")).await;
}

/// The files host serves the tree at `/`: litmus, given the bare address, passes too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn litmus_passes_every_test_on_the_files_host() {
    let srv = TestServer::start_with(FILES_HOST_CONFIG).await;
    litmus_passes_at(srv.files_host_url("/")).await;
}

/// Runs litmus's five suites against `url` as alice; each must report 0 failed.
async fn litmus_passes_at(url: String) {
    let Some(litmus) = require_tool("litmus") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(litmus)
            .args([&url, "alice", PASSWORD])
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
    assert!(output.status.success(), "{text}");
}

struct Rclone {
    bin: std::path::PathBuf,
    env: Vec<(String, String)>,
}

impl Rclone {
    /// rclone with the remote `dg:` at `url`, signing in as alice with `password`.
    fn new(bin: std::path::PathBuf, url: String, config_dir: &Path, password: &str) -> Self {
        let obscured = Command::new(&bin)
            .args(["obscure", password])
            .output()
            .expect("rclone obscure");
        let pass = String::from_utf8(obscured.stdout)
            .unwrap()
            .trim()
            .to_owned();
        let env = vec![
            (
                "RCLONE_CONFIG".into(),
                config_dir.join("rclone.conf").display().to_string(),
            ),
            ("RCLONE_CONFIG_DG_TYPE".into(), "webdav".into()),
            ("RCLONE_CONFIG_DG_URL".into(), url),
            ("RCLONE_CONFIG_DG_VENDOR".into(), "owncloud".into()),
            ("RCLONE_CONFIG_DG_USER".into(), "alice".into()),
            ("RCLONE_CONFIG_DG_PASS".into(), pass),
        ];
        Rclone { bin, env }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .args(["--retries", "1", "--low-level-retries", "1"]);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    #[track_caller]
    fn run(&self, args: &[&str]) -> String {
        let out = self.command(args).output().expect("rclone runs");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "rclone {args:?} failed:\n{all}");
        all
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rclone_copies_checks_streams_reports_moves_and_purges() {
    let Some(bin) = require_tool("rclone") else {
        return;
    };
    let srv = TestServer::start().await;
    let alice = srv.account("alice").await;
    srv.store.set_quota(alice.id, Some(1 << 30)).await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    for (path, content, mtime) in [
        ("a/one.txt", &b"one"[..], "2020-01-02 03:04:05"),
        ("sub dir/two words.txt", b"two", "2019-06-07 08:09:10"),
        (
            "sub dir/Ünïcødé café/ça va.bin",
            &[42u8; 300_000][..],
            "2018-12-31 23:59:59",
        ),
        (
            "deep/er/and/deeper/leaf.txt",
            b"leaf",
            "2021-03-04 05:06:07",
        ),
    ] {
        let file = src.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, content).unwrap();
        let status = Command::new("touch")
            .args(["-d", mtime])
            .arg(&file)
            .status()
            .unwrap();
        assert!(status.success());
    }
    // rclone signs in with an app password limited to files, as a user would set it up.
    let (_, app_password) = crate::app_passwords::create(&srv, &["--scope", "files"]);
    let rclone = Rclone::new(bin, srv.url("/files/"), work.path(), &app_password);
    let src_arg = src.display().to_string();
    let rclone = std::sync::Arc::new(rclone);

    let r = rclone.clone();
    let src2 = src_arg.clone();
    tokio::task::spawn_blocking(move || {
        r.run(&["copy", &src2, "dg:tree"]);
        let check = r.run(&["check", &src2, "dg:tree"]);
        assert!(check.contains("0 differences found"), "{check}");
        assert!(
            !check.contains("could not be checked"),
            "hashes are compared: {check}"
        );
        // Modification times survive the trip (X-OC-Mtime).
        let listed = r.run(&["lsl", "dg:tree"]);
        for stamp in [
            "2020-01-02 03:04:05",
            "2019-06-07 08:09:10",
            "2018-12-31 23:59:59",
            "2021-03-04 05:06:07",
        ] {
            assert!(listed.contains(stamp), "{stamp} missing:\n{listed}");
        }
    })
    .await
    .unwrap();

    // rcat streams 100 MiB from a pipe: no length is known in advance.
    let r = rclone.clone();
    let expected = tokio::task::spawn_blocking(move || {
        let mut child = r
            .command(&["rcat", "dg:streamed.bin"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut all = Vec::with_capacity(100 << 20);
        for _ in 0..100 {
            let block: Vec<u8> = (0..1 << 20)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            stdin.write_all(&block).unwrap();
            all.extend_from_slice(&block);
        }
        drop(stdin);
        assert!(child.wait().unwrap().success());
        all
    })
    .await
    .unwrap();
    let got = srv.alice().get("/files/streamed.bin").await.status(200);
    assert_eq!(got.body.len(), 100 << 20);
    assert!(
        got.body.as_ref() == expected.as_slice(),
        "the streamed content arrived intact"
    );

    let r = rclone.clone();
    tokio::task::spawn_blocking(move || {
        let about = r.run(&["about", "dg:", "--json"]);
        let json: serde_json::Value = serde_json::from_str(
            about
                .trim()
                .lines()
                .filter(|l| !l.contains("NOTICE"))
                .collect::<Vec<_>>()
                .join("\n")
                .as_str(),
        )
        .unwrap_or_default();
        assert_eq!(json["total"].as_u64(), Some(1 << 30), "{about}");
        let used = json["used"].as_u64().unwrap();
        assert!(used >= 100 << 20, "{about}");
        assert_eq!(json["free"].as_u64(), Some((1u64 << 30) - used), "{about}");

        r.run(&["moveto", "dg:tree", "dg:moved tree"]);
        let listed = r.run(&["lsf", "-R", "dg:moved tree"]);
        assert!(
            listed.contains("sub dir/Ünïcødé café/ça va.bin"),
            "{listed}"
        );
        let dirs = r.run(&["lsf", "dg:"]);
        assert!(!dirs.lines().any(|l| l == "tree/"), "{dirs}");

        r.run(&["purge", "dg:moved tree"]);
        let dirs = r.run(&["lsf", "dg:"]);
        assert!(!dirs.contains("moved tree"), "{dirs}");
    })
    .await
    .unwrap();
    let trash = srv.alice().propfind("/trash/", "1").await.status(207);
    assert!(
        trash
            .hrefs()
            .iter()
            .any(|h| h.starts_with("/trash/moved%20tree.d")),
        "purge moved the folder to the trash: {:?}",
        trash.hrefs()
    );
}

/// rclone given the files host's bare address, as the guides for VPS mounts and NAS
/// jobs set it up: copy, check with hashes, mtimes, streaming, quota, rename, purge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rclone_syncs_against_the_files_host() {
    let Some(bin) = require_tool("rclone") else {
        return;
    };
    let srv = TestServer::start_with(FILES_HOST_CONFIG).await;
    let alice = srv.account("alice").await;
    srv.store.set_quota(alice.id, Some(1 << 30)).await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    for (path, content, mtime) in [
        ("a/one.txt", &b"one"[..], "2020-01-02 03:04:05"),
        (
            "sub dir/Ünïcødé café/ça va.bin",
            &[42u8; 300_000][..],
            "2018-12-31 23:59:59",
        ),
    ] {
        let file = src.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, content).unwrap();
        let status = Command::new("touch")
            .args(["-d", mtime])
            .arg(&file)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let (_, app_password) = crate::app_passwords::create(&srv, &["--scope", "files"]);
    let rclone = Rclone::new(bin, srv.files_host_url("/"), work.path(), &app_password);
    let src_arg = src.display().to_string();
    tokio::task::spawn_blocking(move || {
        rclone.run(&["copy", &src_arg, "dg:tree"]);
        let check = rclone.run(&["check", &src_arg, "dg:tree"]);
        assert!(check.contains("0 differences found"), "{check}");
        assert!(
            !check.contains("could not be checked"),
            "hashes are compared: {check}"
        );
        let listed = rclone.run(&["lsl", "dg:tree"]);
        for stamp in ["2020-01-02 03:04:05", "2018-12-31 23:59:59"] {
            assert!(listed.contains(stamp), "{stamp} missing:\n{listed}");
        }
        let mut child = rclone
            .command(&["rcat", "dg:streamed.bin"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(&[7u8; 1 << 20])
            .unwrap();
        assert!(child.wait().unwrap().success());

        let about = rclone.run(&["about", "dg:", "--json"]);
        assert!(
            about.contains(&format!("\"total\": {}", 1u64 << 30)),
            "{about}"
        );

        rclone.run(&["moveto", "dg:tree", "dg:moved tree"]);
        let top = rclone.run(&["lsf", "dg:"]);
        let mut top: Vec<&str> = top.lines().filter(|l| !l.contains("NOTICE")).collect();
        top.sort();
        assert_eq!(
            top,
            ["moved tree/", "streamed.bin"],
            "the trash is not listed"
        );
        rclone.run(&["purge", "dg:moved tree"]);
    })
    .await
    .unwrap();
    let files = srv.alice().on_host("localhost");
    assert_eq!(
        files.get("/streamed.bin").await.status(200).body.len(),
        1 << 20
    );
    let trash = files.propfind("/.trash/", "1").await.status(207);
    assert!(
        trash
            .hrefs()
            .iter()
            .any(|h| h.starts_with("/.trash/moved%20tree.d")),
        "purge moved the folder to the trash: {:?}",
        trash.hrefs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_caldav_library_syncs_calendars_and_contacts() {
    let Some(python) = require_tool("python3") else {
        return;
    };
    let has_caldav = Command::new(&python)
        .args(["-c", "import caldav"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_caldav {
        assert!(
            !crate::common::interop_required(),
            "the Python caldav library is required (DAVGATE_REQUIRE_INTEROP=1): pip install caldav"
        );
        eprintln!("the Python caldav library is not installed: skipping");
        return;
    }
    let srv = TestServer::start().await;
    // A calendar client gets an app password for calendars and contacts, as users set it up.
    let (_, app_password) = crate::app_passwords::create(&srv, &["--scope", "calendars,contacts"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/caldav_client.py");
    let url = srv.url("/");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .args([&url, "alice", &app_password])
            .output()
            .expect("python runs")
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "the caldav scenario failed:\n{text}"
    );
    assert!(text.contains("caldav interop: all steps passed"), "{text}");
}

/// How long a whole cadaver or gio session may take before it is killed.
const CLIENT_LIMIT: Duration = Duration::from_secs(120);

/// Asserts a bounded client run finished well, showing what it printed otherwise.
#[track_caller]
fn assert_finished(client: &str, run: &bounded::Finished) {
    assert!(
        !run.timed_out,
        "{client} was killed after {CLIENT_LIMIT:?}:\n{}",
        run.output
    );
    assert_eq!(run.code, Some(0), "{client} failed:\n{}", run.output);
}

/// What the server holds after a client's session: the renamed file with its content,
/// neither the old name nor the deleted copy, and the copy in the trash.
async fn assert_session_result(srv: &TestServer, content: &[u8], trashed_prefix: &str) {
    let dav = srv.alice();
    let got = dav.get("/files/docs/renamed%20file.txt").await.status(200);
    assert_eq!(
        got.body.as_ref(),
        content,
        "the renamed file kept its content"
    );
    dav.get("/files/docs/in.txt").await.status(404);
    dav.get("/files/docs/copy.txt").await.status(404);
    let trash = dav.propfind("/trash/", "1").await.status(207).hrefs();
    assert!(
        trash.iter().any(|h| h.starts_with(trashed_prefix)),
        "the deleted copy is in the trash: {trash:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cadaver_lists_copies_in_and_out_renames_locks_and_deletes() {
    let Some(cadaver) = require_tool("cadaver") else {
        return;
    };
    let srv = TestServer::start().await;
    let (_, app_password) = crate::app_passwords::create(&srv, &["--scope", "files"]);
    let work = tempfile::tempdir().unwrap();
    // cadaver reads credentials from ~/.netrc (it would prompt on a terminal otherwise).
    let home = work.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::write(
        home.join(".netrc"),
        format!("machine 127.0.0.1\nlogin alice\npassword {app_password}\n"),
    )
    .unwrap();
    let content = "copied in by cadaver\n".repeat(100);
    std::fs::write(work.path().join("local.txt"), &content).unwrap();
    // Commands come on stdin, one a line, as a person types them.
    let script = "ls\n\
        mkcol docs\n\
        cd docs\n\
        put local.txt in.txt\n\
        move in.txt \"renamed file.txt\"\n\
        lock \"renamed file.txt\"\n\
        unlock \"renamed file.txt\"\n\
        copy \"renamed file.txt\" copy.txt\n\
        get \"renamed file.txt\" back.txt\n\
        delete copy.txt\n\
        ls\n\
        quit\n";
    let mut command = Command::new(cadaver);
    command
        .arg(srv.url("/files/"))
        .env("HOME", &home)
        .current_dir(work.path());
    let run = tokio::task::spawn_blocking(move || bounded::run(command, script, CLIENT_LIMIT))
        .await
        .unwrap();
    assert_finished("cadaver", &run);
    // cadaver exits 0 whatever its commands did; each says "succeeded" or "failed".
    assert!(!run.output.contains("failed"), "{}", run.output);
    // Every command but `cd` and the first `ls` (of an empty folder) says it.
    assert_eq!(
        run.output.matches("succeeded").count(),
        9,
        "every command succeeded:\n{}",
        run.output
    );
    assert!(run.output.contains("renamed file.txt"), "{}", run.output);
    let back = std::fs::read_to_string(work.path().join("back.txt")).unwrap();
    assert_eq!(back, content, "the file came back out unchanged");
    assert_session_result(&srv, content.as_bytes(), "/trash/copy.txt").await;
}

/// The gvfs WebDAV backend, wherever the distribution puts it.
fn gvfs_dav_backend() -> Option<std::path::PathBuf> {
    ["/usr/libexec/gvfsd-dav", "/usr/lib/gvfs/gvfsd-dav"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file())
}

/// One gio session, run under its own session bus. Each step names itself first, so a
/// failure shows where; each has its own time limit because a stuck mount never ends.
const GIO_SESSION: &str = r#"set -eu
step() { echo "== $*"; }
step mount
timeout 30 gio mount "$DAV" < "$WORK/password"
step list
timeout 30 gio list "$DAV" > "$WORK/listed"
step mkdir
timeout 30 gio mkdir "$DAV/docs"
step copy in
timeout 30 gio copy "$WORK/local.txt" "$DAV/docs/in.txt"
step rename
timeout 30 gio rename "$DAV/docs/in.txt" "renamed file.txt"
step copy on the server
timeout 30 gio copy "$DAV/docs/renamed file.txt" "$DAV/docs/copy.txt"
step list the folder
timeout 30 gio list -l "$DAV/docs/" > "$WORK/listed-docs"
step copy out
timeout 30 gio copy "$DAV/docs/renamed file.txt" "$WORK/back.txt"
step remove
timeout 30 gio remove "$DAV/docs/copy.txt"
step unmount
timeout 30 gio mount -u "$DAV"
step done
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gnome_gvfs_mounts_lists_copies_in_and_out_renames_and_deletes() {
    let (Some(_gio), Some(dbus_run_session)) =
        (require_tool("gio"), require_tool("dbus-run-session"))
    else {
        return;
    };
    if gvfs_dav_backend().is_none() {
        assert!(
            !crate::common::interop_required(),
            "gvfs's WebDAV backend is required (DAVGATE_REQUIRE_INTEROP=1): apt-get install gvfs-backends"
        );
        eprintln!("gvfs-backends is not installed: skipping");
        return;
    }
    let srv = TestServer::start().await;
    let (_, app_password) = crate::app_passwords::create(&srv, &["--scope", "files"]);
    let work = tempfile::tempdir().unwrap();
    let content = "copied in by gio\n".repeat(100);
    std::fs::write(work.path().join("local.txt"), &content).unwrap();
    // `gio mount` asks for the password on stdin when it is not a terminal; the user
    // is in the address, so it asks for nothing else.
    std::fs::write(work.path().join("password"), format!("{app_password}\n")).unwrap();
    let home = work.path().join("home");
    let runtime = work.path().join("runtime");
    for dir in [&home, &runtime] {
        std::fs::create_dir(dir).unwrap();
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    }
    let dav_url = format!("dav://alice@{}/files", srv.addr());
    let mut command = Command::new(dbus_run_session);
    // gvfs runs headless as root like this:
    // - dbus-run-session gives gio and the gvfs daemons a session bus of their own (there
    //   is no desktop session; gio finds gvfsd through D-Bus activation on that bus);
    // - GVFS_DISABLE_FUSE=1 keeps gvfsd from starting gvfsd-fuse, which needs /dev/fuse
    //   and a mount point that containers and CI runners do not give;
    // - GIO_USE_VFS is removed because `local` would bypass gvfs, and
    //   GIO_USE_VOLUME_MONITOR=unix skips the udisks/MTP monitors that only log warnings;
    // - HOME and XDG_RUNTIME_DIR are the test's own, so the keyring and gvfs metadata
    //   that gio may write stay out of the real home, and the run is the same every time.
    command
        .args(["--", "sh", "-c", GIO_SESSION])
        .env_remove("GIO_USE_VFS")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("GVFS_DISABLE_FUSE", "1")
        .env("GIO_USE_VOLUME_MONITOR", "unix")
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("DAV", &dav_url)
        .env("WORK", work.path());
    let run = tokio::task::spawn_blocking(move || bounded::run(command, "", CLIENT_LIMIT))
        .await
        .unwrap();
    assert_finished("gio", &run);
    assert!(run.output.contains("== done"), "{}", run.output);
    let read = |name: &str| std::fs::read_to_string(work.path().join(name)).unwrap();
    assert!(
        read("listed").is_empty(),
        "the new account's folder is empty"
    );
    let listed = read("listed-docs");
    let size = content.len();
    assert!(
        listed.contains(&format!("renamed file.txt\t{size}\t(regular)"))
            && listed.contains(&format!("copy.txt\t{size}\t(regular)")),
        "gio lists both files with their sizes:\n{listed}"
    );
    assert_eq!(
        read("back.txt"),
        content,
        "the file came back out unchanged"
    );
    assert_session_result(&srv, content.as_bytes(), "/trash/copy.txt").await;
}
