//! Reminders where people stand: an event with its VALARM written by a real client (the
//! Python `caldav` library) reaches the webhook receiver.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::require_tool;
use crate::common::server::TestServer;
use crate::reminders::Receiver;

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
