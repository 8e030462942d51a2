//! Golden journeys of the clients that cannot run here: Windows Explorer's WebDAV
//! redirector mapping `/files/`, macOS Finder copying with `._` AppleDouble files, a
//! NAS backup job (Synology Cloud Sync, QNAP HBS 3), Joplin's WebDAV sync into a
//! sub-folder, and Thunderbird finding calendars and contacts at the server's address.
//! Each journey is the client's
//! documented request sequence (tests/golden/SOURCES.md says where each comes from) sent
//! to a live server, written down as a transcript and compared with
//! `tests/golden/journeys/NAME.txt`. The transcript masks what differs between runs or
//! between two correct servers (address, lock tokens, ETags, dates of "now", namespace
//! prefixes); a date a client set is shown, so a lost modification time is a diff.
//! `UPDATE_GOLDEN=1` rewrites the files; read every response as the client would.

use std::path::{Path, PathBuf};

use crate::common::golden::check_text;
use crate::common::golden::transcript::Transcript;
use crate::common::{Dav, TestServer};

const WINDOWS: &str = "Microsoft-WebDAV-MiniRedir/10.0.19045";
const FINDER: &str = "WebDAVFS/3.0.0 (03008000) Darwin/22.6.0 (x86_64)";

/// Windows' PROPFIND of a folder's entries: the DAV: basics and the Win32 properties
/// Explorer shows (times and attributes).
const WINDOWS_PROPFIND: &str = r#"<?xml version="1.0" encoding="utf-8" ?><D:propfind xmlns:D="DAV:"><D:prop xmlns:Z="urn:schemas-microsoft-com:"><D:resourcetype/><D:getcontentlength/><D:creationdate/><D:getlastmodified/><D:displayname/><Z:Win32CreationTime/><Z:Win32LastAccessTime/><Z:Win32LastModifiedTime/><Z:Win32FileAttributes/></D:prop></D:propfind>"#;

/// Windows 10's LOCK body.
const WINDOWS_LOCK: &str = "<?xml version=\"1.0\" encoding=\"utf-8\" ?><D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>DESKTOP-FRS9AO2\\ed</D:href></D:owner></D:lockinfo>";

/// Windows 10's PROPPATCH after a copy: the source file's times and attributes.
const WINDOWS_PROPPATCH: &str = r#"<?xml version="1.0" encoding="utf-8" ?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop><Z:Win32CreationTime>Thu, 20 Oct 2022 02:16:33 GMT</Z:Win32CreationTime><Z:Win32LastAccessTime>Thu, 20 Oct 2022 02:16:35 GMT</Z:Win32LastAccessTime><Z:Win32LastModifiedTime>Thu, 20 Oct 2022 02:16:33 GMT</Z:Win32LastModifiedTime><Z:Win32FileAttributes>00000020</Z:Win32FileAttributes></D:prop></D:set></D:propertyupdate>"#;

/// WebDAVFS's stat and directory listing.
const FINDER_PROPFIND: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:propfind xmlns:D=\"DAV:\">\n<D:prop>\n<D:getlastmodified/>\n<D:getcontentlength/>\n<D:creationdate/>\n<D:resourcetype/>\n</D:prop>\n</D:propfind>\n";

/// WebDAVFS's statfs: RFC 4331 quota and the older names.
const FINDER_STATFS: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:propfind xmlns:D=\"DAV:\">\n<D:prop>\n<D:quota-available-bytes/>\n<D:quota-used-bytes/>\n<D:quota/>\n<D:quotaused/>\n</D:prop>\n</D:propfind>\n";

/// WebDAVFS's LOCK body.
const FINDER_LOCK: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:lockinfo xmlns:D=\"DAV:\">\n<D:lockscope><D:exclusive/></D:lockscope>\n<D:locktype><D:write/></D:locktype>\n<D:owner>\n<D:href>http://www.apple.com/webdav_fs/</D:href>\n</D:owner>\n</D:lockinfo>\n";

/// A NAS job's listing: what it compares to decide what to upload.
const NAS_PROPFIND: &str = r#"<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/><d:getcontentlength/><d:getlastmodified/><d:getetag/></d:prop></d:propfind>"#;

/// An AppleDouble header (magic 0x00051607, version 2, one Finder-info entry).
fn apple_double() -> Vec<u8> {
    let mut bytes = vec![0x00, 0x05, 0x16, 0x07, 0x00, 0x02, 0x00, 0x00];
    bytes.extend_from_slice(&[0; 16]);
    bytes.extend_from_slice(&[0x00, 0x01, 0x00, 0x00, 0x00, 0x09]);
    bytes.extend_from_slice(&[0x00, 0x00, 0x00, 0x32, 0x00, 0x00, 0x00, 0x20]);
    bytes.resize(82, 0);
    bytes
}

/// One journey being recorded.
struct Journey {
    dav: Dav,
    anonymous: Dav,
    /// Headers the client sends with every request (User-Agent, Windows' `translate`).
    always: Vec<(&'static str, String)>,
    transcript: Transcript,
    locks_taken: usize,
}

/// A request of a journey.
struct Step<'a> {
    what: &'a str,
    method: &'a str,
    path: &'a str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    signed_in: bool,
}

fn step<'a>(what: &'a str, method: &'a str, path: &'a str) -> Step<'a> {
    Step {
        what,
        method,
        path,
        headers: Vec::new(),
        body: Vec::new(),
        signed_in: true,
    }
}

impl<'a> Step<'a> {
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn depth(self, depth: &str) -> Self {
        self.header("Depth", depth)
    }

    fn xml(self, body: &str) -> Self {
        let mut with = self.header("Content-Type", "text/xml; charset=\"utf-8\"");
        with.body = body.as_bytes().to_vec();
        with
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    fn anonymous(mut self) -> Self {
        self.signed_in = false;
        self
    }
}

/// What a journey step answered.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: bytes::Bytes,
}

impl Answer {
    /// The token of a LOCK answer, without its angle brackets.
    #[track_caller]
    fn lock_token(&self) -> String {
        let value = self
            .headers
            .get("lock-token")
            .unwrap_or_else(|| panic!("no Lock-Token (status {})", self.status))
            .to_str()
            .expect("ASCII token");
        value
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_owned()
    }

    /// The body as text (a client reads hrefs and tokens out of it).
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Journey {
    fn new(srv: &TestServer, dav: Dav, title: &str, always: &[(&'static str, &str)]) -> Self {
        Journey {
            dav,
            anonymous: srv.anonymous(),
            always: always.iter().map(|(n, v)| (*n, (*v).to_owned())).collect(),
            transcript: Transcript::new(title, &srv.addr().to_string()),
            locks_taken: 0,
        }
    }

    async fn send(&mut self, step: Step<'_>) -> Answer {
        let mut headers = self.always.clone();
        headers.extend(step.headers.iter().cloned());
        let what = if step.signed_in {
            step.what.to_owned()
        } else {
            format!("{} (no credentials)", step.what)
        };
        self.transcript
            .request(&what, step.method, step.path, &headers, &step.body);
        let client = if step.signed_in {
            &self.dav
        } else {
            &self.anonymous
        };
        let mut req = client.req(step.method, step.path);
        for (name, value) in &headers {
            req = req.header(name, value);
        }
        let resp = req.body(step.body).send().await;
        self.transcript
            .response(resp.status.as_u16(), &resp.headers, &resp.body);
        Answer {
            status: resp.status.as_u16(),
            headers: resp.headers,
            body: resp.body,
        }
    }

    /// Sends a step without following a redirect, as [`Journey::send`] would, so the
    /// transcript shows the redirect itself (reqwest turns a followed PROPFIND into a GET,
    /// which the client does not).
    async fn send_unfollowed(&mut self, step: Step<'_>, url: String) -> Answer {
        assert!(!step.signed_in, "only anonymous steps are sent unfollowed");
        let mut headers = self.always.clone();
        headers.extend(step.headers.iter().cloned());
        let what = format!("{} (no credentials)", step.what);
        self.transcript
            .request(&what, step.method, step.path, &headers, &step.body);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let method = reqwest::Method::from_bytes(step.method.as_bytes()).expect("method");
        let mut req = client.request(method, url);
        for (name, value) in &headers {
            req = req.header(*name, value);
        }
        let resp = req.body(step.body).send().await.expect("answered");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.expect("body");
        self.transcript.response(status, &headers, &body);
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Takes a lock and masks its token in the transcript.
    async fn lock(&mut self, step: Step<'_>) -> String {
        let answer = self.send(step).await;
        let token = answer.lock_token();
        // Numbered, so the transcript shows which lock an If header names.
        self.locks_taken += 1;
        let placeholder = format!("(lock token {})", self.locks_taken);
        self.transcript.mask(&token, &placeholder);
        token
    }

    /// Compares the transcript with its golden file.
    fn check(self, name: &str) {
        assert!(JOURNEYS.contains(&name), "{name} is listed in JOURNEYS");
        let path = golden_dir().join(format!("{name}.txt"));
        let mut failures = Vec::new();
        check_text(&path, &self.transcript.finish(), &mut failures);
        assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
    }
}

/// The journeys with a golden transcript, each checked by one test below.
const JOURNEYS: [&str; 5] = ["windows", "finder", "nas", "joplin", "thunderbird"];

/// A golden without its journey would never be compared again.
#[test]
fn every_golden_transcript_has_its_journey() {
    for entry in std::fs::read_dir(golden_dir()).expect("tests/golden/journeys") {
        let name = entry.expect("entry").file_name();
        let name = name.to_string_lossy();
        assert!(
            JOURNEYS.iter().any(|j| format!("{j}.txt") == name),
            "journeys/{name} has no journey in tests/file_journeys.rs"
        );
    }
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/journeys")
}

/// A client signed in with a files-only app password, as the README tells file users.
fn files_only(srv: &TestServer) -> Dav {
    let (_, password) = crate::app_passwords::create(srv, &["--scope", "files"]);
    srv.alice().as_user("alice", &password)
}

/// What the trash holds, as hrefs below `/trash/`.
async fn trashed(srv: &TestServer) -> Vec<String> {
    let listing = srv.alice().propfind("/trash/", "1").await.status(207);
    listing
        .hrefs()
        .into_iter()
        .filter(|h| h != "/trash/")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_maps_the_files_folder_copies_in_renames_and_deletes() {
    let srv = TestServer::start().await;
    let mut j = Journey::new(
        &srv,
        files_only(&srv),
        "Windows Explorer maps http://HOST/files/ with a files-only app password",
        &[("User-Agent", WINDOWS), ("translate", "f")],
    );
    // Mapping: the redirector asks the server root before the folder, and gives up
    // (error 0x80070043) unless the root answers as a DAV collection.
    j.send(step("Is the server root a DAV server?", "OPTIONS", "/").anonymous())
        .await;
    j.send(step("Is the mapped folder?", "OPTIONS", "/files/").anonymous())
        .await;
    for (what, path, depth) in [
        ("The server root (no body: allprop)", "/", "0"),
        ("The server root's entries", "/", "1"),
        ("The mapped folder", "/files/", "0"),
    ] {
        let answer = j.send(step(what, "PROPFIND", path).depth(depth)).await;
        assert_eq!(answer.status, 207, "{what}");
    }
    srv.alice()
        .put("/files/notes.txt", "already there")
        .await
        .status(201);
    srv.alice().mkcol("/files/Projects/").await.status(201);
    j.send(
        step(
            "The mapped folder's entries, as Explorer shows them",
            "PROPFIND",
            "/files/",
        )
        .depth("1")
        .xml(WINDOWS_PROPFIND),
    )
    .await;
    // Explorer writes folders without the trailing slash; a redirect to the slashed
    // name would leave the folder looking empty (it does not follow it).
    for path in ["/files", "/files/Projects"] {
        let answer = j
            .send(
                step("A folder named without its slash", "PROPFIND", path)
                    .depth("1")
                    .xml(WINDOWS_PROPFIND),
            )
            .await;
        assert_eq!(answer.status, 207, "{path}");
    }

    // Copying report.docx in: look, lock the name, create it empty, write it, set the
    // source's times, unlock.
    let answer = j
        .send(
            step(
                "Copy in: is the name free?",
                "PROPFIND",
                "/files/report.docx",
            )
            .depth("0")
            .xml(WINDOWS_PROPFIND),
        )
        .await;
    assert_eq!(answer.status, 404);
    let token = j
        .lock(
            step(
                "Lock the new name for as long as possible",
                "LOCK",
                "/files/report.docx",
            )
            .header("Timeout", "Infinite, Second-4100000000")
            .xml(WINDOWS_LOCK),
        )
        .await;
    let submitted = format!("(<{token}>)");
    j.send(
        step("Create the file empty", "PUT", "/files/report.docx")
            .header("If", &submitted)
            .body(Vec::new()),
    )
    .await;
    let content = b"PK\x03\x04 a quarterly report".to_vec();
    j.send(
        step("Write the content", "PUT", "/files/report.docx")
            .header("If", &submitted)
            .body(content.clone()),
    )
    .await;
    j.send(
        step(
            "Keep the source file's times and attributes",
            "PROPPATCH",
            "/files/report.docx",
        )
        .header("If", &submitted)
        .xml(WINDOWS_PROPPATCH),
    )
    .await;
    j.send(
        step("Unlock", "UNLOCK", "/files/report.docx").header("Lock-Token", format!("<{token}>")),
    )
    .await;
    j.send(
        step(
            "Explorer refreshes the file's details",
            "PROPFIND",
            "/files/report.docx",
        )
        .depth("0")
        .xml(WINDOWS_PROPFIND),
    )
    .await;
    let stored = srv.alice().get("/files/report.docx").await.status(200);
    assert_eq!(stored.body.as_ref(), content.as_slice());
    let modified = srv
        .alice()
        .props("/files/report.docx", "0", &["getlastmodified"])
        .await
        .prop("getlastmodified");
    assert_eq!(
        modified, "Thu, 20 Oct 2022 02:16:33 GMT",
        "the source's time"
    );

    // Rename, then delete.
    j.send(
        step("Rename", "MOVE", "/files/report.docx")
            .header("Destination", srv.url("/files/Q3%20report.docx"))
            .header("Overwrite", "F"),
    )
    .await;
    j.send(
        step("The renamed file", "PROPFIND", "/files/Q3%20report.docx")
            .depth("0")
            .xml(WINDOWS_PROPFIND),
    )
    .await;
    j.send(step("Delete", "DELETE", "/files/Q3%20report.docx"))
        .await;
    let answer = j
        .send(
            step("Gone", "PROPFIND", "/files/Q3%20report.docx")
                .depth("0")
                .xml(WINDOWS_PROPFIND),
        )
        .await;
    assert_eq!(answer.status, 404);
    let trash = trashed(&srv).await;
    assert!(
        trash.len() == 1 && trash[0].starts_with("/trash/Q3%20report.docx"),
        "the deleted file waits in the trash: {trash:?}"
    );
    j.check("windows");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_mounts_and_copies_with_apple_double_files() {
    let srv = TestServer::start().await;
    let alice = srv.account("alice").await;
    srv.store.set_quota(alice.id, Some(1 << 30)).await.unwrap();
    let mut j = Journey::new(
        &srv,
        srv.alice(),
        "macOS Finder mounts http://HOST/files/ and copies photo.jpg in",
        &[("User-Agent", FINDER)],
    );
    j.send(step("Mount: does the folder speak DAV?", "OPTIONS", "/files/").anonymous())
        .await;
    j.send(
        step("Mount: the volume's size (statfs)", "PROPFIND", "/files/")
            .depth("0")
            .xml(FINDER_STATFS),
    )
    .await;
    j.send(
        step("Open the volume's window", "PROPFIND", "/files/")
            .depth("1")
            .xml(FINDER_PROPFIND),
    )
    .await;
    for path in ["/files/._photo.jpg", "/files/._."] {
        let answer = j
            .send(
                step("Finder looks for AppleDouble metadata", "PROPFIND", path)
                    .depth("0")
                    .xml(FINDER_PROPFIND),
            )
            .await;
        assert_eq!(answer.status, 404, "{path}");
    }

    // Each file is created empty, locked, written under the lock and unlocked; the
    // AppleDouble file `._photo.jpg` first, then the file itself.
    let photo = vec![
        0xFFu8, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00,
    ];
    for (path, content) in [
        ("/files/._photo.jpg", apple_double()),
        ("/files/photo.jpg", photo.clone()),
    ] {
        j.send(step("Create the file empty", "PUT", path).body(Vec::new()))
            .await;
        let token = j
            .lock(
                step("Lock it", "LOCK", path)
                    .depth("0")
                    .header("Timeout", "Second-600")
                    .xml(FINDER_LOCK),
            )
            .await;
        j.send(
            step("Write it under the lock", "PUT", path)
                .header("If", format!("(<{token}>)"))
                .body(content.clone()),
        )
        .await;
        j.send(step("Unlock", "UNLOCK", path).header("Lock-Token", format!("<{token}>")))
            .await;
        let stored = srv.alice().get(path).await.status(200);
        assert_eq!(stored.body.as_ref(), content.as_slice(), "{path}");
    }
    j.send(
        step("Finder refreshes the window", "PROPFIND", "/files/")
            .depth("1")
            .xml(FINDER_PROPFIND),
    )
    .await;

    // Finder writes its window state and removes it again: noise, purged not trashed.
    j.send(step("Finder saves the window's state", "PUT", "/files/.DS_Store").body(vec![0u8; 64]))
        .await;
    j.send(step("... and removes it", "DELETE", "/files/.DS_Store"))
        .await;
    j.send(step(
        "Deleting the copy: AppleDouble first",
        "DELETE",
        "/files/._photo.jpg",
    ))
    .await;
    j.send(step("Then the photo", "DELETE", "/files/photo.jpg"))
        .await;
    j.send(
        step("The window after the delete", "PROPFIND", "/files/")
            .depth("1")
            .xml(FINDER_PROPFIND),
    )
    .await;
    // The purged noise no longer counts: what is used is the photo, now in the trash.
    j.send(
        step("The volume's size again", "PROPFIND", "/files/")
            .depth("0")
            .xml(FINDER_STATFS),
    )
    .await;
    let trash = trashed(&srv).await;
    assert!(
        trash.len() == 1 && trash[0].starts_with("/trash/photo.jpg"),
        "only the photo is in the trash, .DS_Store and ._photo.jpg are purged: {trash:?}"
    );
    j.check("finder");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nas_backup_job_lists_creates_folders_and_keeps_modification_times() {
    let srv = TestServer::start().await;
    let mut j = Journey::new(
        &srv,
        files_only(&srv),
        "A NAS backup job (Synology Cloud Sync, QNAP HBS 3) into http://HOST/files/",
        &[],
    );
    j.send(
        step("List the destination", "PROPFIND", "/files/")
            .depth("1")
            .xml(NAS_PROPFIND),
    )
    .await;
    let answer = j
        .send(step(
            "A folder whose parent is missing",
            "MKCOL",
            "/files/Backup/2026/",
        ))
        .await;
    assert_eq!(
        answer.status, 409,
        "MKCOL does not create parents (RFC 4918 9.3.1)"
    );
    // Without and with the trailing slash, as different jobs write it.
    for path in [
        "/files/Backup",
        "/files/Backup/2026/",
        "/files/Backup/2026/12/",
    ] {
        let answer = j
            .send(step("Create the folders, parents first", "MKCOL", path))
            .await;
        assert_eq!(answer.status, 201, "{path}");
    }
    // 1577934245 is 2020-01-02 03:04:05 UTC.
    j.send(
        step(
            "Upload with the source's modification time",
            "PUT",
            "/files/Backup/2026/12/kept.txt",
        )
        .header("X-OC-Mtime", "1577934245")
        .body("kept"),
    )
    .await;
    j.send(step("Upload without one", "PUT", "/files/Backup/2026/12/now.txt").body("now"))
        .await;
    j.send(
        step("Read the times back", "PROPFIND", "/files/Backup/2026/12/")
            .depth("1")
            .xml(NAS_PROPFIND),
    )
    .await;
    j.send(
        step("One file", "PROPFIND", "/files/Backup/2026/12/kept.txt")
            .depth("0")
            .xml(NAS_PROPFIND),
    )
    .await;
    let modified = srv
        .alice()
        .props("/files/Backup/2026/12/kept.txt", "0", &["getlastmodified"])
        .await
        .prop("getlastmodified");
    assert_eq!(modified, "Thu, 02 Jan 2020 03:04:05 GMT");
    j.check("nas");
    srv.stop().await;
}

/// What Explorer sets with PROPPATCH, and is told was set (200), is what it reads back:
/// a copied file keeps its source's creation time, and a file Explorer hides stays
/// hidden. dav-server answered 200 for every Win32 property and kept none of them (only
/// `Win32LastModifiedTime` was applied, by us).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_reads_back_the_times_and_attributes_it_sets() {
    let srv = TestServer::start().await;
    let dav = files_only(&srv);
    dav.put("/files/plans.txt", "secret").await.status(201);
    dav.req("PROPPATCH", "/files/plans.txt")
        .header("User-Agent", WINDOWS)
        .body(
            r#"<?xml version="1.0" encoding="utf-8" ?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop><Z:Win32CreationTime>Thu, 20 Oct 2022 02:16:33 GMT</Z:Win32CreationTime><Z:Win32FileAttributes>00000022</Z:Win32FileAttributes></D:prop></D:set></D:propertyupdate>"#,
        )
        .send()
        .await
        .status(207);
    let file = dav
        .req("PROPFIND", "/files/plans.txt")
        .header("Depth", "0")
        .body(WINDOWS_PROPFIND)
        .send()
        .await
        .status(207);
    assert_eq!(
        file.prop("Win32CreationTime"),
        "Thu, 20 Oct 2022 02:16:33 GMT"
    );
    for depth in ["0", "1"] {
        let path = if depth == "0" {
            "/files/plans.txt"
        } else {
            "/files/"
        };
        let listing = dav
            .req("PROPFIND", path)
            .header("Depth", depth)
            .body(WINDOWS_PROPFIND)
            .send()
            .await
            .status(207);
        assert!(
            listing
                .values("Win32FileAttributes")
                .contains(&"00000022".to_owned()),
            "Depth {depth}: {}",
            listing.text()
        );
    }
    srv.stop().await;
}

/// RFC 4918 §14.4 writes a lock's depth `infinity`, as our PROPFIND's lockdiscovery
/// does; dav-server's LOCK answer wrote `Infinity`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_answer_writes_depth_infinity_in_lower_case() {
    let srv = TestServer::start().await;
    let resp = srv
        .alice()
        .req("LOCK", "/files/deep.txt")
        .header("Content-Type", "text/xml")
        .body(WINDOWS_LOCK)
        .send()
        .await
        .status(201);
    assert_eq!(resp.prop("depth"), "infinity");
    srv.stop().await;
}

/// Joplin's WebDAV sync: node-fetch's default agent (Joplin sets none of its own).
const JOPLIN: &str = "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)";

/// Joplin's `stat` and `list`: a PROPFIND of the modification time and the type.
const JOPLIN_PROPFIND: &str = r#"<?xml version="1.0" encoding="UTF-8"?><d:propfind xmlns:d="DAV:"><d:prop><d:getlastmodified/><d:resourcetype/></d:prop></d:propfind>"#;

/// Joplin's `info.json` of a sync target at version 3.
const JOPLIN_INFO: &str = r#"{"version":3,"e2ee":{"value":false,"updatedTime":0},"activeMasterKeyId":{"value":"","updatedTime":0},"masterKeys":[],"ppk":{"value":null,"updatedTime":0}}"#;

/// Joplin desktop's lock: `<type>_<client type>_<client id>.json` (sync lock, desktop).
const JOPLIN_LOCK: &str = "/files/Joplin/locks/1_1_8e2bfa3fbb5f4a7d9cf1c0d6ab4e21f5.json";

fn joplin_note(id: &str, title: &str) -> String {
    format!(
        "{title}\n\nA note.\n\nid: {id}\nparent_id: 6f2a4b2c9e8d4f1aa0b1c2d3e4f50617\ncreated_time: 2026-12-01T10:00:00.000Z\nupdated_time: 2026-12-01T10:00:00.000Z\nis_conflict: 0\nsource_application: net.cozic.joplin-desktop\ntype_: 1"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joplin_syncs_into_a_sub_folder_and_its_locks_skip_the_trash() {
    let srv = TestServer::start().await;
    let mut j = Journey::new(
        &srv,
        files_only(&srv),
        "Joplin syncs into http://HOST/files/Joplin/ with a files-only app password",
        &[("User-Agent", JOPLIN)],
    );
    // Joplin checks the target and creates it when it is missing.
    let answer = j
        .send(
            step("Does the sync target exist?", "PROPFIND", "/files/Joplin/")
                .depth("0")
                .xml(JOPLIN_PROPFIND),
        )
        .await;
    assert_eq!(answer.status, 404);
    let answer = j
        .send(step("Create the sync target", "MKCOL", "/files/Joplin/"))
        .await;
    assert_eq!(answer.status, 201);
    for dir in [".resource", ".sync", ".lock", "locks", "temp"] {
        let path = format!("/files/Joplin/{dir}/");
        let answer = j
            .send(step("Create the sync folders", "MKCOL", &path))
            .await;
        assert_eq!(answer.status, 201, "{path}");
    }
    let answer = j
        .send(
            step(
                "Is there a sync target version?",
                "GET",
                "/files/Joplin/info.json",
            )
            .header("Accept", "*/*"),
        )
        .await;
    assert_eq!(answer.status, 404);
    j.send(
        step(
            "Write the sync target version",
            "PUT",
            "/files/Joplin/info.json",
        )
        .header("Content-Type", "application/octet-stream")
        .body(JOPLIN_INFO),
    )
    .await;

    // Each sync runs under a lock file: listed, written, deleted.
    j.send(
        step("Other clients' locks", "PROPFIND", "/files/Joplin/locks/")
            .depth("1")
            .xml(JOPLIN_PROPFIND),
    )
    .await;
    j.send(
        step("Take the sync lock", "PUT", JOPLIN_LOCK)
            .header("Content-Type", "application/octet-stream")
            .body(r#"{"type":1,"clientType":1,"clientId":"8e2bfa3fbb5f4a7d9cf1c0d6ab4e21f5","updatedTime":1796119200000}"#),
    )
    .await;

    let kept = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
    let gone = "f9e8d7c6b5a40392817f6e5d4c3b2a10";
    for (id, title) in [(kept, "Shopping"), (gone, "Old idea")] {
        let path = format!("/files/Joplin/{id}.md");
        let answer = j
            .send(
                step("Upload an item", "PUT", &path)
                    .header("Content-Type", "application/octet-stream")
                    .body(joplin_note(id, title)),
            )
            .await;
        assert_eq!(answer.status, 201, "{path}");
    }
    let answer = j
        .send(step("Release the sync lock", "DELETE", JOPLIN_LOCK))
        .await;
    assert_eq!(answer.status, 204);

    // The next sync: its folders again (Joplin takes 405 as "exists" and nothing else),
    // what changed since the last one, then the items themselves.
    let answer = j
        .send(step(
            "Create the sync folders again",
            "MKCOL",
            "/files/Joplin/.resource/",
        ))
        .await;
    assert_eq!(answer.status, 405, "an existing folder");
    let answer = j
        .send(
            step("List the sync target (delta)", "PROPFIND", "/files/Joplin/")
                .depth("1")
                .xml(JOPLIN_PROPFIND),
        )
        .await;
    assert_eq!(answer.status, 207);
    let answer = j
        .send(step(
            "Download an item",
            "GET",
            &format!("/files/Joplin/{kept}.md"),
        ))
        .await;
    assert_eq!(answer.text(), joplin_note(kept, "Shopping"));
    let answer = j
        .send(step(
            "Delete an item deleted in the app",
            "DELETE",
            &format!("/files/Joplin/{gone}.md"),
        ))
        .await;
    assert_eq!(answer.status, 204);
    j.send(
        step("List the sync target again", "PROPFIND", "/files/Joplin/")
            .depth("1")
            .xml(JOPLIN_PROPFIND),
    )
    .await;

    let listing = srv
        .alice()
        .propfind("/files/Joplin/", "1")
        .await
        .status(207);
    let mut hrefs = listing.hrefs();
    hrefs.sort();
    assert_eq!(
        hrefs,
        [
            "/files/Joplin/",
            "/files/Joplin/.lock/",
            "/files/Joplin/.resource/",
            "/files/Joplin/.sync/",
            &format!("/files/Joplin/{kept}.md"),
            "/files/Joplin/info.json",
            "/files/Joplin/locks/",
            "/files/Joplin/temp/",
        ]
    );
    srv.alice()
        .propfind("/files/Joplin/locks/", "1")
        .await
        .status(207)
        .href_set(&["/files/Joplin/locks/"]);
    let trash = trashed(&srv).await;
    assert!(
        trash.len() == 1 && trash[0].starts_with(&format!("/trash/{gone}.md")),
        "the deleted note waits in the trash, the lock file does not: {trash:?}"
    );
    j.check("joplin");
    srv.stop().await;
}

const THUNDERBIRD: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.0";

/// Thunderbird's CalDavDetector: what it asks of the address it was given.
const THUNDERBIRD_DETECT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<D:propfind xmlns:D="DAV:" xmlns:A="http://apple.com/ns/ical/" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:resourcetype/><D:owner/><D:displayname/><D:current-user-principal/><D:current-user-privilege-set/><A:calendar-color/><C:calendar-home-set/></D:prop></D:propfind>"#;

/// Thunderbird's principal request.
const THUNDERBIRD_PRINCIPAL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-home-set/></D:prop></D:propfind>"#;

/// Thunderbird's listing of the calendar home: a calendar per entry it can show.
const THUNDERBIRD_HOME: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<D:propfind xmlns:D="DAV:" xmlns:A="http://apple.com/ns/ical/" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/"><D:prop><D:resourcetype/><D:displayname/><A:calendar-color/><C:supported-calendar-component-set/><CS:getctag/><D:sync-token/><D:current-user-privilege-set/></D:prop></D:propfind>"#;

/// Thunderbird's check before a refresh: has anything changed?
const THUNDERBIRD_CTAG: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/"><D:prop><D:resourcetype/><CS:getctag/><D:sync-token/></D:prop></D:propfind>"#;

/// Thunderbird's CardDAV discovery (CardDAVUtils.detectAddressBooks).
const THUNDERBIRD_CARD_PRINCIPAL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:displayname/><D:current-user-principal/><D:current-user-privilege-set/></D:prop></D:propfind>"#;
const THUNDERBIRD_CARD_HOME_SET: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<D:propfind xmlns:D="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><D:prop><card:addressbook-home-set/></D:prop></D:propfind>"#;
const THUNDERBIRD_CARD_HOME: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:displayname/><D:current-user-privilege-set/></D:prop></D:propfind>"#;

/// Thunderbird's sync-collection (calDavCalendar.js `doWebDAVSync`, CardDAVDirectory).
fn sync_collection(token: &str) -> String {
    let token = if token.is_empty() {
        "<sync-token/>".to_owned()
    } else {
        format!("<sync-token>{token}</sync-token>")
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<sync-collection xmlns="DAV:">{token}<sync-level>1</sync-level><prop><getcontenttype/><getetag/></prop></sync-collection>"#
    )
}

const THUNDERBIRD_EVENT: &str = "BEGIN:VCALENDAR\r\nPRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN\r\n\
VERSION:2.0\r\nBEGIN:VEVENT\r\nCREATED:20261201T100000Z\r\nLAST-MODIFIED:20261201T100000Z\r\n\
DTSTAMP:20261201T100000Z\r\nUID:5d9c8a5e-3f0b-4b0e-9c35-0e6a7b1f2c44\r\nSUMMARY:Dentist\r\n\
DTSTART:20261210T080000Z\r\nDTEND:20261210T090000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

const THUNDERBIRD_CARD: &str = "BEGIN:VCARD\r\nVERSION:4.0\r\nPRODID:-//Thunderbird//128.0\r\n\
UID:9a1f6c1e-7f1d-4f7e-8c33-2b6d0f8b5e10\r\nFN:Grace Hopper\r\nN:Hopper;Grace;;;\r\n\
EMAIL;PREF=1:grace@example.org\r\nEND:VCARD\r\n";

/// The first `<D:sync-token>` of a multistatus.
#[track_caller]
fn sync_token_of(answer: &Answer) -> String {
    crate::common::client::elements(&answer.text(), "sync-token")
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no sync-token in {}", answer.text()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thunderbird_finds_calendars_and_contacts_at_the_server_address() {
    let srv = TestServer::start().await;
    let mut j = Journey::new(
        &srv,
        srv.alice(),
        "Thunderbird 128 adds a calendar and an address book at http://HOST/",
        &[("User-Agent", THUNDERBIRD)],
    );
    // Calendar: New Calendar → On the Network, location http://HOST/. The detector asks
    // the address itself, then the well-known address, and follows the principal.
    let answer = j
        .send(
            step("Is the address a calendar?", "PROPFIND", "/")
                .depth("0")
                .xml(THUNDERBIRD_DETECT),
        )
        .await;
    assert_eq!(answer.status, 207);
    let answer = j
        .send_unfollowed(
            step("The well-known address", "PROPFIND", "/.well-known/caldav")
                .depth("0")
                .xml(THUNDERBIRD_DETECT)
                .anonymous(),
            srv.url("/.well-known/caldav"),
        )
        .await;
    assert_eq!(answer.status, 301);
    let location = answer
        .headers
        .get("location")
        .expect("Location")
        .to_str()
        .expect("ASCII");
    assert_eq!(location, "/dav/");
    let answer = j
        .send(
            step("The redirect, followed", "PROPFIND", location)
                .depth("0")
                .xml(THUNDERBIRD_DETECT),
        )
        .await;
    let principal = crate::common::client::elements(&answer.text(), "href")
        .into_iter()
        .find(|h| h.contains("principals"))
        .expect("a current-user-principal");
    let answer = j
        .send(
            step("The principal's calendar home", "PROPFIND", &principal)
                .depth("0")
                .xml(THUNDERBIRD_PRINCIPAL),
        )
        .await;
    let home = crate::common::client::elements(&answer.text(), "href")
        .into_iter()
        .find(|h| h.contains("/calendars/"))
        .expect("a calendar-home-set");
    assert_eq!(home, "/dav/calendars/alice/");
    let answer = j
        .send(
            step("The calendars to offer", "PROPFIND", &home)
                .depth("1")
                .xml(THUNDERBIRD_HOME),
        )
        .await;
    assert_eq!(answer.status, 207);
    let calendar = "/dav/calendars/alice/default/";
    assert!(answer.text().contains(calendar), "{}", answer.text());

    // The first refresh: has it changed, then everything there is.
    j.send(
        step("Has the calendar changed?", "PROPFIND", calendar)
            .depth("0")
            .xml(THUNDERBIRD_CTAG),
    )
    .await;
    let answer = j
        .send(
            step("Initial sync", "REPORT", calendar)
                .depth("1")
                .xml(&sync_collection("")),
        )
        .await;
    assert_eq!(answer.status, 207);
    let token = sync_token_of(&answer);

    // A new event, then the next refresh: only what changed since the token.
    let event = format!("{calendar}5d9c8a5e-3f0b-4b0e-9c35-0e6a7b1f2c44.ics");
    let answer = j
        .send(
            step("A new event", "PUT", &event)
                .header("If-None-Match", "*")
                .header("Content-Type", "text/calendar; charset=utf-8")
                .body(THUNDERBIRD_EVENT),
        )
        .await;
    assert_eq!(answer.status, 201);
    let answer = j
        .send(
            step("Sync since the token", "REPORT", calendar)
                .depth("1")
                .xml(&sync_collection(&token)),
        )
        .await;
    assert_eq!(answer.status, 207);
    assert!(answer.text().contains(&event), "{}", answer.text());
    assert_ne!(sync_token_of(&answer), token, "a new token after a change");
    let multiget = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop><D:href>{event}</D:href></C:calendar-multiget>"#
    );
    let answer = j
        .send(
            step("Fetch what changed", "REPORT", calendar)
                .depth("1")
                .xml(&multiget),
        )
        .await;
    assert!(
        answer.text().contains("SUMMARY:Dentist"),
        "{}",
        answer.text()
    );
    let answer = j
        .send(
            step("The same event again (another Thunderbird)", "PUT", &event)
                .header("If-None-Match", "*")
                .header("Content-Type", "text/calendar; charset=utf-8")
                .body(THUNDERBIRD_EVENT),
        )
        .await;
    assert_eq!(answer.status, 412, "If-None-Match: * keeps the first");

    // Contacts: New Address Book → Add CardDAV Address Book, location http://HOST/.
    let answer = j
        .send_unfollowed(
            step("The well-known address", "PROPFIND", "/.well-known/carddav")
                .depth("0")
                .xml(THUNDERBIRD_CARD_PRINCIPAL)
                .anonymous(),
            srv.url("/.well-known/carddav"),
        )
        .await;
    assert_eq!(answer.status, 301);
    j.send(
        step("The redirect, followed", "PROPFIND", "/dav/")
            .depth("0")
            .xml(THUNDERBIRD_CARD_PRINCIPAL),
    )
    .await;
    let answer = j
        .send(
            step("The principal's address book home", "PROPFIND", &principal)
                .depth("0")
                .xml(THUNDERBIRD_CARD_HOME_SET),
        )
        .await;
    let card_home = crate::common::client::elements(&answer.text(), "href")
        .into_iter()
        .find(|h| h.contains("/addressbooks/"))
        .expect("an addressbook-home-set");
    let answer = j
        .send(
            step("The address books to offer", "PROPFIND", &card_home)
                .depth("1")
                .xml(THUNDERBIRD_CARD_HOME),
        )
        .await;
    let book = "/dav/addressbooks/alice/default/";
    assert!(answer.text().contains(book), "{}", answer.text());
    let answer = j
        .send(
            step("Initial sync", "REPORT", book)
                .depth("1")
                .xml(&sync_collection("")),
        )
        .await;
    let token = sync_token_of(&answer);
    let card = format!("{book}9a1f6c1e-7f1d-4f7e-8c33-2b6d0f8b5e10.vcf");
    let answer = j
        .send(
            step("A new contact", "PUT", &card)
                .header("Content-Type", "text/vcard; charset=utf-8")
                .body(THUNDERBIRD_CARD),
        )
        .await;
    assert_eq!(answer.status, 201);
    let answer = j
        .send(
            step("Sync since the token", "REPORT", book)
                .depth("1")
                .xml(&sync_collection(&token)),
        )
        .await;
    assert!(answer.text().contains(&card), "{}", answer.text());
    j.check("thunderbird");
    srv.stop().await;
}
