//! Reminders end to end: an event with a VALARM PUT over CalDAV reaches a webhook
//! receiver inside the test (a loopback HTTP server recording bodies), once, in the
//! destination's format; edits move it, deletes cancel it, a failing receiver gets it
//! retried, a server down at due time sends it late, and private addresses are refused
//! unless the operator allows them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use davgate_storage::{AccountId, CollectionKind, WebhookFormat};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::common::server::{TestServer, settings};

const CAL: &str = "/dav/calendars/alice/default/";
const ALLOW: &str = "reminders_allow_private = true";

/// A webhook receiver: records each request body and answers with the next status of
/// its script (200 once the script is used up), `answer_after` the body arrived.
#[derive(Clone)]
pub(crate) struct Receiver {
    pub(crate) url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
    script: Arc<Mutex<Vec<u16>>>,
    answer_after: Duration,
}

impl Receiver {
    pub(crate) async fn start(script: &[u16]) -> Self {
        Self::answering_after(script, Duration::ZERO).await
    }

    /// A receiver as slow to answer as a busy chat service.
    pub(crate) async fn answering_after(script: &[u16], answer_after: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Receiver {
            url: format!("http://{}/hook", listener.local_addr().unwrap()),
            bodies: Arc::default(),
            script: Arc::new(Mutex::new(script.iter().rev().copied().collect())),
            answer_after,
        };
        let r = receiver.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let r = r.clone();
                tokio::spawn(async move {
                    let mut data = Vec::new();
                    let mut buf = [0u8; 4096];
                    // Bounded: a head and a body of at most 64 KiB.
                    while data.len() < 65_536 {
                        let Ok(n) = stream.read(&mut buf).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        data.extend_from_slice(&buf[..n]);
                        let text = String::from_utf8_lossy(&data).to_string();
                        let Some(end) = text.find("\r\n\r\n") else {
                            continue;
                        };
                        let length = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (name, value) = l.split_once(':')?;
                                name.eq_ignore_ascii_case("content-length")
                                    .then(|| value.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if data.len() >= end + 4 + length {
                            let body = &data[end + 4..end + 4 + length];
                            let status = r.script.lock().unwrap().pop().unwrap_or(200);
                            if status == 200 {
                                let value = serde_json::from_slice(body).unwrap_or(Value::Null);
                                r.bodies.lock().unwrap().push(value);
                            }
                            tokio::time::sleep(r.answer_after).await;
                            let answer = format!(
                                "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            );
                            let _ = stream.write_all(answer.as_bytes()).await;
                            return;
                        }
                    }
                });
            }
        });
        receiver
    }

    pub(crate) fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }

    /// Waits until `n` bodies arrived (at most `secs` seconds).
    pub(crate) async fn wait_for(&self, n: usize, secs: u64) -> Vec<Value> {
        for _ in 0..secs * 10 {
            if self.bodies().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.bodies()
    }
}

/// An event starting `start_in` seconds from now whose alarm fires `lead` seconds
/// before it.
pub(crate) fn event(uid: &str, summary: &str, start_in: i64, lead: i64) -> String {
    let start = chrono::Utc::now() + chrono::TimeDelta::seconds(start_in);
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
DTSTAMP:20260101T000000Z\r\nDTSTART:{}\r\nDURATION:PT1H\r\nSUMMARY:{summary}\r\nLOCATION:Room 1\r\n\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:x\r\nTRIGGER:-PT{lead}S\r\nEND:VALARM\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n",
        start.format("%Y%m%dT%H%M%SZ")
    )
}

/// Routes alice's default calendar to a webhook at `url`.
async fn route(server: &TestServer, url: &str, format: WebhookFormat, template: Option<&str>) {
    // The first request creates the default calendar.
    server.alice().propfind(CAL, "0").await.status(207);
    let alice = server.account("alice").await;
    let calendar = server
        .store
        .collection(alice.id, CollectionKind::Calendar, "default")
        .await
        .unwrap()
        .unwrap();
    let destination = server
        .store
        .add_destination(alice.id, "chat", url, format, template)
        .await
        .unwrap();
    server
        .store
        .set_route(calendar.id, destination.id)
        .await
        .unwrap();
}

async fn statuses(server: &TestServer, account: AccountId) -> Vec<String> {
    let mut log = server.store.delivery_log(account, 50).await.unwrap();
    log.reverse();
    log.into_iter().map(|l| l.status).collect()
}

#[tokio::test]
async fn an_alarm_a_few_seconds_ahead_arrives_once_with_the_template() {
    let receiver = Receiver::start(&[]).await;
    let server = TestServer::start_with(ALLOW).await;
    route(
        &server,
        &receiver.url,
        WebhookFormat::Slack,
        Some("%subject% @ %location% (%calendar%)"),
    )
    .await;
    let dav = server.alice();
    dav.put(&format!("{CAL}standup.ics"), event("s1", "Standup", 62, 60))
        .await
        .status(201);
    let bodies = receiver.wait_for(1, 15).await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let calendar = bodies[0]["text"].as_str().unwrap().to_owned();
    assert!(calendar.starts_with("Standup @ Room 1 ("), "{calendar}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.bodies().len(), 1, "sent exactly once");
    let alice = server.account("alice").await;
    assert_eq!(statuses(&server, alice.id).await, ["sent"]);
    server.stop().await;
}

#[tokio::test]
async fn edits_move_the_alarm_and_deletes_cancel_it() {
    let receiver = Receiver::start(&[]).await;
    let server = TestServer::start_with(ALLOW).await;
    route(
        &server,
        &receiver.url,
        WebhookFormat::Discord,
        Some("%subject%"),
    )
    .await;
    let dav = server.alice();
    // Far ahead, then moved to a few seconds ahead.
    dav.put(&format!("{CAL}moved.ics"), event("m1", "Before", 3600, 60))
        .await
        .status(201);
    dav.put(&format!("{CAL}moved.ics"), event("m1", "After", 63, 60))
        .await
        .status(204);
    // Deleted before its alarm.
    dav.put(&format!("{CAL}gone.ics"), event("g1", "Gone", 64, 60))
        .await
        .status(201);
    dav.delete(&format!("{CAL}gone.ics")).await.status(204);
    let bodies = receiver.wait_for(1, 15).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        receiver.bodies(),
        [serde_json::json!({"content": "After"})],
        "{bodies:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_failing_receiver_gets_the_alarm_retried_and_delivered_once() {
    let receiver = Receiver::start(&[503, 429]).await;
    let server = TestServer::start_with(ALLOW).await;
    route(&server, &receiver.url, WebhookFormat::Json, None).await;
    server
        .alice()
        .put(&format!("{CAL}retry.ics"), event("r1", "Retry", 61, 60))
        .await
        .status(201);
    let bodies = receiver.wait_for(1, 20).await;
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["subject"], "Retry");
    assert_eq!(bodies[0]["late"], false);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.bodies().len(), 1);
    let alice = server.account("alice").await;
    assert_eq!(
        statuses(&server, alice.id).await,
        ["retry", "retry", "sent"]
    );
    server.stop().await;
}

#[tokio::test]
async fn loopback_and_metadata_webhooks_are_refused_by_default() {
    let receiver = Receiver::start(&[]).await;
    let server = TestServer::start().await;
    let https_loopback = receiver.url.replace("http://", "https://");
    route(&server, &https_loopback, WebhookFormat::Slack, None).await;
    server
        .alice()
        .put(&format!("{CAL}ssrf.ics"), event("x1", "Probe", 61, 60))
        .await
        .status(201);
    let alice = server.account("alice").await;
    let mut log = Vec::new();
    for _ in 0..100 {
        log = server.store.delivery_log(alice.id, 10).await.unwrap();
        if !log.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].status, "skipped");
    assert!(log[0].detail.contains("refused"), "{}", log[0].detail);
    assert!(receiver.bodies().is_empty());
    let metadata =
        davgate::reminders::deliver::Sender::new(davgate::reminders::deliver::Reach::PublicHttps)
            .post("https://169.254.169.254/latest/meta-data", b"{}".to_vec())
            .await;
    assert!(
        matches!(
            metadata,
            Err(davgate::reminders::deliver::DeliveryError::Refused(_))
        ),
        "{metadata:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn an_alarm_due_while_the_server_was_down_is_sent_once_late() {
    let receiver = Receiver::start(&[]).await;
    let mut server = TestServer::start_with(ALLOW).await;
    route(
        &server,
        &receiver.url,
        WebhookFormat::Json,
        Some("%subject%"),
    )
    .await;
    server
        .alice()
        .put(&format!("{CAL}late.ics"), event("l1", "Late", 63, 60))
        .await
        .status(201);
    // Let the worker schedule it, then stop before it is due.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.running.take().unwrap().shutdown().await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(receiver.bodies().is_empty(), "nothing sent while down");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = davgate::server::start_on(settings(server.data_dir(), ALLOW), listener)
        .await
        .unwrap();
    server.running = Some(running);
    let bodies = receiver.wait_for(1, 10).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.bodies().len(), 1, "{bodies:?}");
    assert_eq!(
        (bodies[0]["text"].as_str(), bodies[0]["late"].as_bool()),
        (Some("Late"), Some(true))
    );
    let alice = server.account("alice").await;
    assert_eq!(statuses(&server, alice.id).await, ["sent-late"]);
    server.stop().await;
}

#[tokio::test]
async fn an_alarm_older_than_the_grace_is_skipped_and_audited() {
    let receiver = Receiver::start(&[]).await;
    let config = format!("{ALLOW}\nreminders_grace = \"1s\"");
    let mut server = TestServer::start_with(&config).await;
    route(&server, &receiver.url, WebhookFormat::Slack, None).await;
    server
        .alice()
        .put(&format!("{CAL}old.ics"), event("o1", "Old", 62, 60))
        .await
        .status(201);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.running.take().unwrap().shutdown().await;
    // Down past the due time plus the one-second grace.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = davgate::server::start_on(settings(server.data_dir(), &config), listener)
        .await
        .unwrap();
    server.running = Some(running);
    let alice = server.account("alice").await;
    for _ in 0..100 {
        if !statuses(&server, alice.id).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(statuses(&server, alice.id).await, ["skipped"]);
    assert!(receiver.bodies().is_empty());
    let audit = server.store.audit_log(alice.id, 10).await.unwrap();
    assert!(
        audit.iter().any(|e| e.event_name == "reminder-skipped"),
        "{audit:?}"
    );
    server.stop().await;
}

/// `davgate reminders …`: a URL to loopback, the metadata address or plain HTTP is
/// refused when entered, and the list does not print a webhook's secret path.
#[test]
fn the_cli_refuses_private_webhooks_and_hides_the_secret_path() {
    use crate::common::bin::{davgate, davgate_ok};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    davgate_ok(
        d,
        &["user", "add", "carol", "--password-stdin"],
        "long enough password\n",
    );
    for url in [
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest",
        "http://hooks.example.com/x",
    ] {
        let refused = davgate(d, &["reminders", "webhook", "add", "carol", "bad", url], "");
        assert_eq!(refused.status.code(), Some(2), "{url}");
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("not usable"),
            "{url}"
        );
    }
    let unknown_format = davgate(
        d,
        &[
            "reminders",
            "webhook",
            "add",
            "carol",
            "chat",
            "https://hooks.example.com/services/SECRET",
            "--format",
            "fax",
        ],
        "",
    );
    assert_eq!(unknown_format.status.code(), Some(2));
    davgate_ok(
        d,
        &[
            "reminders",
            "webhook",
            "add",
            "carol",
            "chat",
            "https://hooks.example.com/services/SECRET",
            "--format",
            "discord",
        ],
        "",
    );
    let list = davgate_ok(d, &["reminders", "webhook", "list", "carol"], "");
    assert!(
        list.contains("chat  discord  https://hooks.example.com/…"),
        "{list}"
    );
    assert!(!list.contains("SECRET"), "{list}");
    let no_calendar = davgate(d, &["reminders", "route", "carol", "nope", "chat"], "");
    assert_eq!(no_calendar.status.code(), Some(2));
    davgate_ok(d, &["reminders", "webhook", "remove", "carol", "chat"], "");
    let gone = davgate(d, &["reminders", "webhook", "remove", "carol", "chat"], "");
    assert_eq!(gone.status.code(), Some(2));
    assert_eq!(davgate_ok(d, &["reminders", "log", "carol"], ""), "");
}

/// `reminders_max_destinations` and `reminders_max_routes`: one more is refused with a
/// message naming the key; re-routing a routed calendar is not one more.
#[tokio::test]
async fn destinations_and_routes_per_account_are_limited() {
    let config = format!("{ALLOW}\nreminders_max_destinations = 1\nreminders_max_routes = 1");
    let server = TestServer::start_with(&config).await;
    let dav = server.alice();
    dav.propfind(CAL, "0").await.status(207);
    dav.req("MKCALENDAR", "/dav/calendars/alice/work/")
        .send()
        .await
        .status(201);
    let data = server.data_dir().to_owned();
    let config_file = data.join("limits.toml");
    std::fs::write(&config_file, &config).unwrap();
    let config_file = config_file.to_str().unwrap().to_owned();
    let run = move |args: &[&str]| {
        let mut all = vec!["--config", config_file.as_str()];
        all.extend_from_slice(args);
        crate::common::bin::davgate(&data, &all, "")
    };
    let url = "http://127.0.0.1:9/hook";
    let first = run(&["reminders", "webhook", "add", "alice", "one", url]);
    assert!(first.status.success(), "{first:?}");
    let second = run(&["reminders", "webhook", "add", "alice", "two", url]);
    assert_eq!(second.status.code(), Some(2));
    let said = String::from_utf8_lossy(&second.stderr).to_string();
    assert!(said.contains("reminders_max_destinations"), "{said}");
    assert!(
        run(&["reminders", "route", "alice", "default", "one"])
            .status
            .success()
    );
    assert!(
        run(&["reminders", "route", "alice", "default", "one"])
            .status
            .success()
    );
    let over = run(&["reminders", "route", "alice", "work", "one"]);
    assert_eq!(over.status.code(), Some(2));
    let said = String::from_utf8_lossy(&over.stderr).to_string();
    assert!(said.contains("reminders_max_routes"), "{said}");
    server.stop().await;
}

/// `/account/reminders`: a webhook added in the portal (its secret path never shown),
/// a calendar routed to it, the alarm delivered and logged on the page, the webhook
/// removed; bad input answers 400 with the reason; each change is in the security log.
#[tokio::test]
async fn the_portal_adds_routes_lists_and_removes_webhooks() {
    use crate::common::browser::Browser;
    // Slow to answer, so the page is read before the delivery is logged, every time.
    let receiver = Receiver::answering_after(&[], Duration::from_millis(500)).await;
    let server = TestServer::start_with(ALLOW).await;
    server.alice().propfind(CAL, "0").await.status(207);
    let mut b = Browser::new(server.addr());
    b.sign_in("alice", crate::common::server::PASSWORD)
        .await
        .status(303);
    b.get("/account/reminders")
        .await
        .status(200)
        .says("No destinations yet");
    b.post(
        "/account/reminders",
        &[("name", "chat"), ("url", "ftp://x/"), ("format", "slack")],
    )
    .await
    .status(400)
    .says("not usable");
    b.post(
        "/account/reminders",
        &[
            ("name", "chat"),
            ("url", &receiver.url),
            ("format", "discord"),
            ("template", "%subject%"),
        ],
    )
    .await
    .status(303);
    let page = b.get("/account/reminders").await.status(200).says("chat");
    let shown = receiver.url.trim_end_matches("hook");
    page.says(&format!("{shown}…"));
    b.post(
        "/account/reminders/route",
        &[("calendar", "default"), ("destination", "chat")],
    )
    .await
    .status(303);
    server
        .alice()
        .put(
            &format!("{CAL}portal.ics"),
            event("p1", "From the portal", 62, 60),
        )
        .await
        .status(201);
    let bodies = receiver.wait_for(1, 15).await;
    assert_eq!(bodies, [serde_json::json!({"content": "From the portal"})]);
    // The worker logs a delivery once the receiver has answered, a moment after the
    // receiver holds the body: the page may not list it yet.
    let mut page = b.get("/account/reminders").await;
    for _ in 0..100 {
        if page.body.contains("portal.ics") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        page = b.get("/account/reminders").await;
    }
    page.says("portal.ics").says("sent");
    b.post("/account/reminders/remove", &[("name", "chat")])
        .await
        .status(303);
    b.get("/account/reminders")
        .await
        .says("No destinations yet");
    b.get("/account/security-log")
        .await
        .says("reminders-changed")
        .says("calendar default routed to chat");
    server.stop().await;
}
