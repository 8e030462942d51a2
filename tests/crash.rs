//! Crash consistency: the real binary, on SQLite and a local blob directory, is killed
//! with SIGKILL at a random moment of a mixed workload — small and large uploads (some
//! mid-stream, chunked or with a Content-Length), replaces, MKCOL, MOVE and COPY of files
//! and folders, DELETE into the trash and purges out of it — from several concurrent
//! clients, then restarted on the same data directory. After every restart:
//!
//! - the database passes `PRAGMA integrity_check` and `PRAGMA foreign_key_check`;
//! - every visible file, live or trashed, is one version the workload wrote, whole:
//!   each version's bytes start with its id and length and the rest derives from the id;
//! - each client's folder holds exactly the tree from before its request in flight or
//!   the tree after it — so a replaced file holds the old or the new content, and a
//!   MOVE or a folder COPY happened entirely or not at all;
//! - the quota used (`quota-used-bytes` of `/files/`) is the bytes of the files kept,
//!   live and trashed, as `davgate-storage` counts them.
//!
//! Each client works in its own folder, so its tree is known but for the one request
//! the kill interrupted. The seed is printed; `DAVGATE_CRASH_SEED=N` replays a run's
//! choices (not its timing).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;

use crate::common::bin::{ServerProcess, davgate_ok};
use crate::common::server::PASSWORD;

/// Kills and restarts; each is a full round of workload and checks.
const ROUNDS: u64 = 30;
/// Concurrent clients, each in its own folder `/files/cN`: one uploads, the others
/// shuffle (see [`Role`]).
const CLIENTS: usize = 4;
/// Past this many entries a client only deletes and replaces, so a run stays small.
const MAX_ENTRIES: usize = 24;
/// Every version starts with `crash v{id:010} len{len:010}\n`.
const HEADER_LEN: usize = 32;

/// What a path in a client's folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    Folder,
    /// A file holding the version with this id.
    File(u64),
}

/// A client's folder: paths relative to it (`n3`, `n4/n7`), without trailing slashes.
type Tree = BTreeMap<String, Entry>;

/// How an upload's body travels.
#[derive(Debug, Clone, Copy)]
enum Body {
    /// One buffer, with Content-Length.
    Whole,
    /// Slowly streamed, chunked: no length announced.
    Chunked,
    /// Slowly streamed with a Content-Length header.
    Sized,
}

/// One request of the workload.
#[derive(Debug, Clone)]
enum Op {
    Put {
        path: String,
        id: u64,
        len: usize,
        body: Body,
    },
    Mkcol {
        path: String,
    },
    Move {
        from: String,
        to: String,
    },
    Copy {
        from: String,
        to: String,
    },
    Delete {
        path: String,
    },
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_at_random_points_loses_nothing_and_leaves_nothing_partial() {
    let seed = std::env::var("DAVGATE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random::<u64>());
    eprintln!("crash test seed {seed} (DAVGATE_CRASH_SEED={seed} replays its choices)");
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    davgate_ok(
        dir.path(),
        &["user", "add", "alice", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    let mut server = start(dir.path()).await;
    for client in 0..CLIENTS {
        let status = Client::new(&server, client).mkcol_root().await;
        assert_eq!(status, StatusCode::CREATED, "MKCOL /files/c{client}/");
    }

    let ids = Arc::new(AtomicU64::new(1));
    let mut trees = vec![Tree::new(); CLIENTS];
    let mut names = [0u32; CLIENTS];
    let mut rng = StdRng::seed_from_u64(seed);
    let mut interrupted = 0;
    for round in 0..ROUNDS {
        let mut tasks = Vec::new();
        for (client, tree) in trees.iter().enumerate() {
            let worker = Worker {
                role: Role::of(client),
                client: Client::new(&server, client),
                tree: tree.clone(),
                names: names[client],
                rng: StdRng::seed_from_u64(seed ^ ((round << 8) | client as u64)),
                ids: ids.clone(),
            };
            tasks.push(tokio::spawn(worker.run()));
        }
        let janitor = tokio::spawn(purge_trash(
            Client::new(&server, 0),
            StdRng::seed_from_u64(seed ^ ((round << 8) | 0xff)),
        ));

        tokio::time::sleep(Duration::from_millis(rng.random_range(40..400))).await;
        let pid = server.child.id();
        server.kill();

        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.expect("client task"));
        }
        if let Err(why) = janitor.await.expect("janitor task") {
            panic!("round {round} (seed {seed}): {why}");
        }
        server = start(dir.path()).await;
        let context = format!("round {round} (seed {seed}, killed pid {pid})");

        integrity_check(&dir.path().join("davgate.db"))
            .await
            .unwrap_or_else(|why| panic!("{context}: {why}"));
        let mut live_bytes = 0;
        for (client, outcome) in outcomes.into_iter().enumerate() {
            if let Some(failure) = outcome.failure {
                panic!("{context}: client {client}: {failure}");
            }
            let (seen, bytes) = Client::new(&server, client)
                .observe()
                .await
                .unwrap_or_else(|why| panic!("{context}: client {client}: {why}"));
            live_bytes += bytes;
            let matches = seen == outcome.before
                || outcome
                    .in_flight
                    .as_ref()
                    .is_some_and(|(_, after)| seen == *after);
            assert!(
                matches,
                "{context}: client {client}'s folder is neither before nor after its \
                 request in flight {:?}\nbefore: {:?}\nafter: {:?}\nseen: {seen:?}",
                outcome.in_flight.as_ref().map(|(op, _)| op),
                outcome.before,
                outcome.in_flight.as_ref().map(|(_, after)| after),
            );
            interrupted += usize::from(outcome.in_flight.is_some() && seen != outcome.before);
            trees[client] = seen;
            names[client] = outcome.names;
        }
        let checker = Client::new(&server, 0);
        let trash_bytes = checker
            .trash_bytes()
            .await
            .unwrap_or_else(|why| panic!("{context}: trash: {why}"));
        let used = checker.quota_used().await;
        assert_eq!(
            used,
            live_bytes + trash_bytes,
            "{context}: quota-used-bytes is not the bytes kept ({live_bytes} live + \
             {trash_bytes} trashed)"
        );
    }
    eprintln!(
        "crash test: {ROUNDS} kills, {interrupted} requests completed by the kill, {} versions \
         written, {:?}",
        ids.load(Ordering::Relaxed) - 1,
        started.elapsed()
    );
}

/// Starts the binary on `dir` without blocking the runtime.
async fn start(dir: &Path) -> ServerProcess {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || ServerProcess::start(&dir, &[]))
        .await
        .expect("server start")
}

/// The tree and the possible trees of a client when the server died.
struct Outcome {
    before: Tree,
    /// The request the kill interrupted and the tree had it completed.
    in_flight: Option<(Op, Tree)>,
    /// The next free name number.
    names: u32,
    /// A request answered with an error: a defect.
    failure: Option<String>,
}

/// What a client mostly does. Slow uploads are in flight most of the time, so the
/// clients that move, copy and delete send none: their requests are the ones a kill
/// interrupts inside the server.
#[derive(Debug, Clone, Copy)]
enum Role {
    Uploader,
    Shuffler,
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Small,
    Large,
    Replace,
    Mkcol,
    Move,
    Copy,
    Delete,
}

impl Role {
    fn of(client: usize) -> Self {
        if client == 0 {
            Role::Uploader
        } else {
            Role::Shuffler
        }
    }

    fn pick(self, rng: &mut StdRng) -> Action {
        let weights: &[(Action, u32)] = match self {
            Role::Uploader => &[
                (Action::Small, 20),
                (Action::Large, 40),
                (Action::Replace, 15),
                (Action::Mkcol, 10),
                (Action::Delete, 15),
            ],
            Role::Shuffler => &[
                (Action::Small, 20),
                (Action::Replace, 15),
                (Action::Mkcol, 10),
                (Action::Move, 20),
                (Action::Copy, 17),
                (Action::Delete, 18),
            ],
        };
        let mut roll = rng.random_range(0..weights.iter().map(|(_, w)| w).sum::<u32>());
        for (action, weight) in weights {
            if roll < *weight {
                return *action;
            }
            roll -= weight;
        }
        unreachable!("the roll is below the sum of the weights")
    }
}

/// One client's workload: random requests until the server dies.
struct Worker {
    role: Role,
    client: Client,
    tree: Tree,
    names: u32,
    rng: StdRng,
    ids: Arc<AtomicU64>,
}

impl Worker {
    async fn run(mut self) -> Outcome {
        // Bounded even if the kill never came.
        for _ in 0..10_000 {
            let op = self.choose();
            let after = apply(&self.tree, &op);
            match self.client.send(&op, &self.tree).await {
                Ok((status, _)) if status.is_success() => self.tree = after,
                Ok((status, body)) => {
                    return Outcome {
                        before: self.tree,
                        in_flight: None,
                        names: self.names,
                        failure: Some(format!("{op:?} was answered {status}: {body}")),
                    };
                }
                Err(_) => {
                    return Outcome {
                        before: self.tree,
                        in_flight: Some((op, after)),
                        names: self.names,
                        failure: None,
                    };
                }
            }
        }
        panic!("the server was never killed");
    }

    fn choose(&mut self) -> Op {
        let files: Vec<String> = self
            .tree
            .iter()
            .filter(|(_, e)| matches!(e, Entry::File(_)))
            .map(|(p, _)| p.clone())
            .collect();
        let all: Vec<String> = self.tree.keys().cloned().collect();
        let action = if self.tree.len() >= MAX_ENTRIES {
            match (self.role, self.rng.random_range(0..3)) {
                (_, 0 | 1) => Action::Delete,
                (Role::Uploader, _) => Action::Large,
                (Role::Shuffler, _) => Action::Replace,
            }
        } else {
            self.role.pick(&mut self.rng)
        };
        let any = |rng: &mut StdRng, of: &[String]| of[rng.random_range(0..of.len())].clone();
        match action {
            Action::Large => {
                let body = if self.rng.random_bool(0.5) {
                    Body::Chunked
                } else {
                    Body::Sized
                };
                let replace = (!files.is_empty() && self.rng.random_bool(0.5))
                    .then(|| any(&mut self.rng, &files));
                self.put(replace, body, 128 * 1024..768 * 1024)
            }
            Action::Replace if !files.is_empty() => {
                let path = any(&mut self.rng, &files);
                self.put(Some(path), Body::Whole, 32..8192)
            }
            Action::Mkcol => Op::Mkcol {
                path: self.fresh(None),
            },
            Action::Move if !all.is_empty() => {
                let from = any(&mut self.rng, &all);
                let to = self.fresh(Some(&from));
                Op::Move { from, to }
            }
            Action::Copy if !all.is_empty() => {
                let from = any(&mut self.rng, &all);
                let to = self.fresh(Some(&from));
                Op::Copy { from, to }
            }
            Action::Delete if !all.is_empty() => Op::Delete {
                path: any(&mut self.rng, &all),
            },
            _ => self.put(None, Body::Whole, 32..8192),
        }
    }

    /// An upload of a new version to `path`, or to a fresh name.
    fn put(&mut self, path: Option<String>, body: Body, sizes: std::ops::Range<usize>) -> Op {
        Op::Put {
            path: path.unwrap_or_else(|| self.fresh(None)),
            id: self.ids.fetch_add(1, Ordering::Relaxed),
            len: self.rng.random_range(sizes),
            body,
        }
    }

    /// A name not used yet, at the top or in a folder outside `not_under`'s subtree.
    fn fresh(&mut self, not_under: Option<&str>) -> String {
        let folders: Vec<&String> = self
            .tree
            .iter()
            .filter(|(p, e)| {
                **e == Entry::Folder && !not_under.is_some_and(|root| in_subtree(p, root))
            })
            .map(|(p, _)| p)
            .collect();
        self.names += 1;
        let name = format!("n{}", self.names);
        if folders.is_empty() || self.rng.random_bool(0.4) {
            name
        } else {
            format!(
                "{}/{name}",
                folders[self.rng.random_range(0..folders.len())]
            )
        }
    }
}

fn in_subtree(path: &str, root: &str) -> bool {
    path == root || path.strip_prefix(root).is_some_and(|r| r.starts_with('/'))
}

/// The tree after `op` succeeds.
fn apply(tree: &Tree, op: &Op) -> Tree {
    let mut next = tree.clone();
    let moved = |from: &str, to: &str| -> Vec<(String, Entry)> {
        tree.iter()
            .filter(|(p, _)| in_subtree(p, from))
            .map(|(p, e)| (format!("{to}{}", &p[from.len()..]), *e))
            .collect()
    };
    match op {
        Op::Put { path, id, .. } => {
            next.insert(path.clone(), Entry::File(*id));
        }
        Op::Mkcol { path } => {
            next.insert(path.clone(), Entry::Folder);
        }
        Op::Move { from, to } => {
            next.retain(|p, _| !in_subtree(p, from));
            next.extend(moved(from, to));
        }
        Op::Copy { from, to } => next.extend(moved(from, to)),
        Op::Delete { path } => next.retain(|p, _| !in_subtree(p, path)),
    }
    next
}

/// A version's bytes: a header with its id and length, then bytes derived from the id.
fn content(id: u64, len: usize) -> Vec<u8> {
    let mut out = format!("crash v{id:010} len{len:010}\n").into_bytes();
    let mut x = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len.max(HEADER_LEN));
    out
}

#[test]
fn versions_describe_themselves_and_a_partial_one_is_caught() {
    let whole = content(42, 5000);
    assert_eq!(identify(&whole), Ok(42));
    assert!(identify(&whole[..4096]).unwrap_err().contains("partial"));
    let mut other = whole.clone();
    other[4000] ^= 1;
    assert!(identify(&other).unwrap_err().contains("other bytes"));
    assert!(identify(b"").is_err());
}

/// The id of the whole version these bytes are, or what is wrong with them.
fn identify(bytes: &[u8]) -> Result<u64, String> {
    let header = std::str::from_utf8(bytes.get(..HEADER_LEN).unwrap_or(bytes))
        .map_err(|_| format!("{} bytes without a version header", bytes.len()))?;
    let number = |range: std::ops::Range<usize>| header.get(range).and_then(|s| s.parse().ok());
    let (Some(id), Some(len)) = (number(7..17), number(21..31)) else {
        return Err(format!("{} bytes without a version header", bytes.len()));
    };
    if bytes.len() != len as usize {
        return Err(format!(
            "version {id} is partial: {} of its {len} bytes",
            bytes.len()
        ));
    }
    if bytes != content(id, len as usize) {
        return Err(format!("version {id} holds other bytes than were written"));
    }
    Ok(id)
}

/// A body that arrives in 16 KiB pieces, 2 ms apart, so a kill lands mid-stream.
fn slow_stream(bytes: Vec<u8>) -> reqwest::Body {
    let chunks: Vec<Bytes> = bytes
        .chunks(16 * 1024)
        .map(Bytes::copy_from_slice)
        .collect();
    let stream = futures_util::stream::iter(chunks).then(|chunk| async move {
        tokio::time::sleep(Duration::from_millis(2)).await;
        Ok::<_, std::io::Error>(chunk)
    });
    reqwest::Body::wrap_stream(stream)
}

/// HTTP as one client, in its folder `/files/cN`.
struct Client {
    http: reqwest::Client,
    base: String,
    root: String,
}

impl Client {
    fn new(server: &ServerProcess, client: usize) -> Self {
        // reqwest is built without a default TLS provider, even for plain HTTP.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Client {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            base: format!("http://{}", server.addr),
            root: format!("/files/c{client}"),
        }
    }

    fn request(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        self.http
            .request(method, format!("{}{path}", self.base))
            .basic_auth("alice", Some(PASSWORD))
    }

    /// The path of an entry, with a trailing slash for folders.
    fn path(&self, tree: &Tree, rel: &str) -> String {
        let slash = if tree.get(rel) == Some(&Entry::Folder) {
            "/"
        } else {
            ""
        };
        format!("{}/{rel}{slash}", self.root)
    }

    async fn mkcol_root(&self) -> StatusCode {
        let path = format!("{}/", self.root);
        let resp = self.request("MKCOL", &path).send().await.expect("MKCOL");
        resp.status()
    }

    /// Sends `op`; an error means no complete answer (the server died).
    async fn send(&self, op: &Op, tree: &Tree) -> reqwest::Result<(StatusCode, String)> {
        let request = match op {
            Op::Put {
                path,
                id,
                len,
                body,
            } => {
                let bytes = content(*id, *len);
                let request = self.request("PUT", &self.path(tree, path));
                match body {
                    Body::Whole => request.body(bytes),
                    Body::Chunked => request.body(slow_stream(bytes)),
                    Body::Sized => request
                        .header("Content-Length", bytes.len())
                        .body(slow_stream(bytes)),
                }
            }
            Op::Mkcol { path } => self.request("MKCOL", &format!("{}/{path}/", self.root)),
            Op::Move { from, to } | Op::Copy { from, to } => {
                let method = if matches!(op, Op::Move { .. }) {
                    "MOVE"
                } else {
                    "COPY"
                };
                let slash = if tree.get(from) == Some(&Entry::Folder) {
                    "/"
                } else {
                    ""
                };
                self.request(method, &self.path(tree, from))
                    .header(
                        "Destination",
                        format!("{}{}/{to}{slash}", self.base, self.root),
                    )
                    .header("Overwrite", "F")
                    .header("Depth", "infinity")
            }
            Op::Delete { path } => self.request("DELETE", &self.path(tree, path)),
        };
        let response = request.send().await?;
        let status = response.status();
        let body = response.text().await?;
        Ok((status, body))
    }

    /// The client's folder as the server shows it, with the bytes of its files; every
    /// file must be a whole version.
    async fn observe(&self) -> Result<(Tree, u64), String> {
        let mut tree = Tree::new();
        let mut bytes = 0;
        for (href, entry) in self.walk(&format!("{}/", self.root)).await? {
            let rel = href
                .strip_prefix(&format!("{}/", self.root))
                .ok_or_else(|| format!("{href} is outside {}", self.root))?
                .trim_end_matches('/')
                .to_owned();
            let entry = match entry {
                Some(len) => {
                    bytes += len;
                    Entry::File(self.version(&href).await?)
                }
                None => Entry::Folder,
            };
            tree.insert(rel, entry);
        }
        Ok((tree, bytes))
    }

    /// The bytes of every file in the trash, each checked to be a whole version.
    async fn trash_bytes(&self) -> Result<u64, String> {
        let mut bytes = 0;
        for (href, entry) in self.walk("/trash/").await? {
            if let Some(len) = entry {
                self.version(&href).await?;
                bytes += len;
            }
        }
        Ok(bytes)
    }

    /// Every entry below the folder `top`: its href, and `Some(length)` for a file.
    async fn walk(&self, top: &str) -> Result<Vec<(String, Option<u64>)>, String> {
        let mut found = Vec::new();
        let mut folders = vec![top.to_owned()];
        while let Some(folder) = folders.pop() {
            let xml = self
                .propfind(&folder, "1", "<D:resourcetype/><D:getcontentlength/>")
                .await?;
            for (href, collection, length) in listing(&xml) {
                if href == folder {
                    continue;
                }
                if collection {
                    folders.push(href.clone());
                    found.push((href, None));
                } else {
                    let len = length.ok_or_else(|| format!("{href} has no length"))?;
                    found.push((href, Some(len)));
                }
            }
        }
        Ok(found)
    }

    /// GETs a file and checks it is a whole version; returns the version's id.
    async fn version(&self, href: &str) -> Result<u64, String> {
        let response = self
            .request("GET", href)
            .send()
            .await
            .map_err(|e| format!("GET {href}: {e}"))?;
        if response.status() != StatusCode::OK {
            return Err(format!("GET {href} answered {}", response.status()));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| format!("GET {href}: {e}"))?;
        identify(&bytes).map_err(|why| format!("{href}: {why}"))
    }

    async fn propfind(&self, path: &str, depth: &str, props: &str) -> Result<String, String> {
        let body = format!(
            r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>{props}</D:prop></D:propfind>"#
        );
        let response = self
            .request("PROPFIND", path)
            .header("Depth", depth)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("PROPFIND {path}: {e}"))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| e.to_string())?;
        if status != StatusCode::MULTI_STATUS {
            return Err(format!("PROPFIND {path} answered {status}: {text}"));
        }
        Ok(text)
    }

    async fn quota_used(&self) -> u64 {
        let xml = self
            .propfind("/files/", "0", "<D:quota-used-bytes/>")
            .await
            .expect("PROPFIND quota");
        crate::common::client::elements(&xml, "quota-used-bytes")
            .first()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no quota-used-bytes in {xml}"))
    }
}

/// `(href, is a collection, getcontentlength)` of each response of a multistatus.
fn listing(xml: &str) -> Vec<(String, bool, Option<u64>)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::NsReader::from_str(xml);
    let mut out: Vec<(String, bool, Option<u64>)> = Vec::new();
    let mut text_of = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => match e.local_name().as_ref() {
                "response" => out.push((String::new(), false, None)),
                "href" | "getcontentlength" => {
                    text_of = Some(e.local_name().as_ref().to_owned());
                }
                "collection" => {
                    if let Some(last) = out.last_mut() {
                        last.1 = true;
                    }
                }
                _ => {}
            },
            Ok(Event::Empty(e)) if e.local_name().as_ref() == "collection" => {
                if let Some(last) = out.last_mut() {
                    last.1 = true;
                }
            }
            Ok(Event::Text(t)) => {
                if let (Some(name), Some(last)) = (&text_of, out.last_mut()) {
                    let text = t.xml10_content();
                    match name.as_str() {
                        "href" => last.0.push_str(text.trim()),
                        _ => last.2 = text.trim().parse().ok(),
                    }
                }
            }
            Ok(Event::End(_)) => text_of = None,
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    out
}

/// Purges trash items while the workload runs (keeping a few, so trash is checked too),
/// until the server dies.
async fn purge_trash(client: Client, mut rng: StdRng) -> Result<(), String> {
    loop {
        let Ok(xml) = client.propfind("/trash/", "1", "<D:resourcetype/>").await else {
            return Ok(());
        };
        let items: Vec<String> = listing(&xml)
            .into_iter()
            .map(|(href, _, _)| href)
            .filter(|href| href != "/trash/")
            .collect();
        if items.len() > 4 {
            let item = &items[rng.random_range(0..items.len())];
            match client.request("DELETE", item).send().await {
                Ok(response) if response.status() == StatusCode::NO_CONTENT => {}
                Ok(response) => {
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    if status.is_server_error() || status.is_client_error() {
                        return Err(format!("purging {item} was answered {status}: {text}"));
                    }
                }
                Err(_) => return Ok(()),
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(10..50))).await;
    }
}

/// `PRAGMA integrity_check` and `foreign_key_check` on a read-only connection.
async fn integrity_check(db: &Path) -> Result<(), String> {
    use sqlx::{ConnectOptions, Connection};
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .read_only(true)
        .connect()
        .await
        .map_err(|e| format!("opening {}: {e}", db.display()))?;
    let rows: Vec<(String,)> = sqlx::query_as("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| format!("integrity_check: {e}"))?;
    if rows.len() != 1 || rows[0].0 != "ok" {
        return Err(format!("PRAGMA integrity_check: {rows:?}"));
    }
    let broken = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| format!("foreign_key_check: {e}"))?;
    if !broken.is_empty() {
        return Err(format!(
            "PRAGMA foreign_key_check: {} rows point nowhere",
            broken.len()
        ));
    }
    conn.close().await.map_err(|e| e.to_string())
}
