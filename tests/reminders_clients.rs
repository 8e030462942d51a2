//! Reminders where people and operators stand: an event with its VALARM written by a real
//! client (the Python `caldav` library) reaches the webhook receiver; and two davgate
//! processes on one PostgreSQL database deliver each of many alarms due at once exactly
//! once (PostgreSQL only: skipped without `DATABASE_URL` unless `DAVGATE_REQUIRE_POSTGRES`).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::cluster::{Database, cli};
use crate::common::Dav;
use crate::common::bin::ServerProcess;
use crate::common::require_tool;
use crate::common::server::{PASSWORD, TestServer};
use crate::reminders::{Receiver, event};

const CAL: &str = "/dav/calendars/alice/default/";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_written_by_the_python_caldav_library_reaches_the_webhook() {
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
    let receiver = Receiver::start(&[]).await;
    let server = TestServer::start_with("reminders_allow_private = true").await;
    server.alice().propfind(CAL, "0").await.status(207);
    let alice = server.account("alice").await;
    let calendar = server
        .store
        .collection(
            alice.id,
            davgate_storage::CollectionKind::Calendar,
            "default",
        )
        .await
        .unwrap()
        .unwrap();
    let chat = server
        .store
        .add_destination(
            alice.id,
            "chat",
            &receiver.url,
            davgate_storage::WebhookFormat::Json,
            Some("%subject% @ %location%"),
        )
        .await
        .unwrap();
    server.store.set_route(calendar.id, chat.id).await.unwrap();
    let (_, app_password) = crate::app_passwords::create(&server, &["--scope", "calendars"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/caldav_reminder.py");
    let url = server.url("/");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .args([&url, "alice", &app_password, "3"])
            .output()
            .expect("python runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "the caldav client failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let uid = stdout.lines().last().unwrap_or_default().trim().to_owned();
    let bodies = receiver.wait_for(1, 20).await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0]["uid"], uid.as_str());
    assert_eq!(bodies[0]["text"], "Planning @ Room 2");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.bodies().len(), 1, "sent once");
    server.stop().await;
}

/// Alarms due within the same few seconds, written through both nodes.
const ALARMS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_database_deliver_each_alarm_once() {
    let Some(db) = Database::create().await else {
        return;
    };
    let receiver = Receiver::start(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let config = data.join("davgate.toml");
    // Both nodes may reach the loopback receiver; the rate limit is far above the test's
    // burst, so only the claim decides who sends what.
    std::fs::write(
        &config,
        "reminders_allow_private = true\nreminders_rate_limit = 10000\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    cli(
        data,
        &db.url,
        &[
            "--config",
            config,
            "user",
            "add",
            "alice",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    let extra = ["--config", config, "--database-url", &db.url];
    let node_a = ServerProcess::start(data, &extra);
    let node_b = ServerProcess::start(data, &extra);
    let a = Dav::new(node_a.addr, Some(("alice".into(), PASSWORD.into())));
    let b = Dav::new(node_b.addr, Some(("alice".into(), PASSWORD.into())));
    a.propfind(CAL, "0").await.status(207);
    cli(
        data,
        &db.url,
        &[
            "--config",
            config,
            "reminders",
            "webhook",
            "add",
            "alice",
            "chat",
            &receiver.url,
            "--format",
            "json",
        ],
        "",
    );
    cli(
        data,
        &db.url,
        &[
            "--config",
            config,
            "reminders",
            "route",
            "alice",
            "default",
            "chat",
        ],
        "",
    );
    let mut expected = BTreeSet::new();
    for i in 0..ALARMS {
        let uid = format!("burst-{i}");
        let node = if i % 2 == 0 { &a } else { &b };
        // Due 20 s on: a firing is scheduled only while it lies ahead, so the margin
        // covers forty PUTs and the scheduler's round on a loaded machine.
        node.put(&format!("{CAL}{uid}.ics"), event(&uid, "Burst", 80, 60))
            .await
            .status(201);
        expected.insert(uid);
    }
    let bodies = receiver.wait_for(ALARMS, 60).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let bodies_now = receiver.bodies();
    assert_eq!(bodies_now.len(), ALARMS, "{bodies:?}");
    let delivered: BTreeSet<String> = bodies_now
        .iter()
        .map(|b| b["uid"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(delivered, expected, "each alarm exactly once");
    let log = cli(
        data,
        &db.url,
        &[
            "--config",
            config,
            "reminders",
            "log",
            "alice",
            "--limit",
            "1000",
        ],
        "",
    );
    assert_eq!(
        log.lines().filter(|l| l.contains(" sent ")).count(),
        ALARMS,
        "{log}"
    );
    drop(node_a);
    drop(node_b);
    db.drop_now().await;
}
