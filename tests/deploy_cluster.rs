//! `deploy/cluster/` started without a container runtime: the compose file's topology,
//! from its own files, with real binaries. Two `davgate serve` nodes read
//! `deploy/cluster/davgate.toml` through the variables compose and the image set
//! (`DAVGATE_CONFIG`, `DAVGATE_DATABASE_URL`, `AWS_*`, `DAVGATE_DATA_DIR`,
//! `DAVGATE_LISTEN`), on one PostgreSQL database and one S3 bucket, sharing the server
//! key that compose's own `server-key` script writes; Debian's caddy runs
//! `deploy/cluster/Caddyfile` in front of them. Only what the compose network provides
//! differs: the S3 endpoint and the nodes' addresses (loopback ports instead of
//! `seaweedfs:8333` and `node-a:8080 node-b:8080`), plus a global options block that keeps
//! Caddy on a loopback port of its own, with no admin endpoint and no trust-store install.
//!
//! Through Caddy over HTTPS, as a person meets it: an account made with the CLI signs
//! in, a file goes up and comes back whole and by range, PROPFIND lists it, requests land
//! on both nodes, a killed node is ridden over and then taken out by the health check,
//! and the client's own address reaches davgate through X-Forwarded-For. Needs
//! PostgreSQL (`DATABASE_URL`), S3 (`DAVGATE_S3_ENDPOINT`) and caddy: skipped without
//! them, failed when CI requires them. Not covered: the container images themselves.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cluster::{Database, cli};
use crate::common::bin::ServerProcess;
use crate::common::server::PASSWORD;
use crate::common::{Dav, require_tool, s3};

/// Where the client connects from. Caddy reaches the nodes from 127.0.0.1, so an address
/// davgate records as 127.0.0.2 can only have come through X-Forwarded-For.
const CLIENT_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// What a client claims in its own X-Forwarded-For: never to be believed.
const SPOOFED: &str = "203.0.113.7";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_example_serves_through_caddy_from_its_own_files() {
    let Some(caddy) = require_tool("caddy") else {
        return;
    };
    let Some(endpoint) = s3::endpoint() else {
        return;
    };
    let Some(db) = Database::create().await else {
        return;
    };
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("davgate.toml");
    std::fs::write(&config, node_config(&endpoint)).unwrap();
    // The `node-key` volume every node mounts at /data, filled by compose's script.
    let volume = dir.path().join("node-key");
    std::fs::create_dir(&volume).unwrap();
    write_server_key(&volume);

    let config_path = config.to_str().unwrap();
    let volume_path = volume.to_str().unwrap();
    let key_id = s3_secret("AWS_ACCESS_KEY_ID");
    let secret = s3_secret("AWS_SECRET_ACCESS_KEY");
    let env = [
        ("DAVGATE_CONFIG", config_path),
        ("DAVGATE_DATABASE_URL", db.url.as_str()),
        ("AWS_ACCESS_KEY_ID", key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
        // The image's ENV, but on a loopback port of the kernel's choosing.
        ("DAVGATE_DATA_DIR", volume_path),
        ("DAVGATE_LISTEN", "127.0.0.1:0"),
    ];
    // `docker compose exec node-a davgate user add alice`, on the shared database.
    cli(
        &volume,
        &db.url,
        &[
            "--config",
            config_path,
            "user",
            "add",
            "alice",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    let node_a = ServerProcess::serve_with_env(&env);
    let node_b = ServerProcess::serve_with_env(&env);
    let proxy = Caddy::start(&caddy, dir.path(), [node_a.addr, node_b.addr]).await;
    let alice = proxy.client(Some(("alice".into(), PASSWORD.into())));

    // Sign in: the right password from the CLI opens the files, a wrong one does not.
    alice
        .req("PROPFIND", "/files/")
        .header("Depth", "0")
        .header("X-Forwarded-For", SPOOFED)
        .send()
        .await
        .status(207);
    alice
        .as_user("alice", "not the password")
        .propfind("/files/", "0")
        .await
        .status(401);

    // Up and back through the balancer, whole and by range, and listed.
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    alice
        .put("/files/report.bin", body.clone())
        .await
        .status(201);
    assert_eq!(alice.get("/files/report.bin").await.status(200).body, body);
    let part = alice
        .req("GET", "/files/report.bin")
        .header("Range", "bytes=1000-1999")
        .send()
        .await
        .status(206);
    assert_eq!(part.body, body[1000..2000]);
    let listing = alice.props("/files/", "1", &["getcontentlength"]).await;
    let listing = listing.status(207);
    assert!(
        listing.hrefs().iter().any(|h| h == "/files/report.bin"),
        "{}",
        listing.text()
    );
    assert!(
        listing
            .values("getcontentlength")
            .contains(&"300000".to_owned()),
        "{}",
        listing.text()
    );

    // Requests land on both nodes (least_conn picks at random among idle nodes), and
    // Caddy's health check reaches /healthz on each, without a failure.
    for _ in 0..20 {
        ranged_get(&alice, &body).await;
    }
    let on_a = log_count(&node_a, "path=/files/report.bin");
    let on_b = log_count(&node_b, "path=/files/report.bin");
    assert!(on_a > 0 && on_b > 0, "node A served {on_a}, node B {on_b}");
    for node in [&node_a, &node_b] {
        node.log_with("path=/healthz");
        assert!(
            !proxy.failed_checks(node.addr),
            "{}: {}",
            node.addr,
            proxy.log()
        );
    }

    // Node A dies (a crashed container): a request Caddy sends there meets a refused
    // connection and is retried on B, until the health check takes A out. (Caddy 2.6
    // cannot retry one with a body, an upload: see the Caddyfile.)
    let addr_a = node_a.addr;
    node_a.kill();
    let before = log_count(&node_b, "path=/files/report.bin");
    for _ in 0..6 {
        ranged_get(&alice, &body).await;
    }
    assert_eq!(
        log_count(&node_b, "path=/files/report.bin"),
        before + 6,
        "B served every GET"
    );
    let deadline = Instant::now() + Duration::from_secs(8);
    while !proxy.failed_checks(addr_a) {
        assert!(
            Instant::now() < deadline,
            "the health check never failed node A: {}",
            proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Out of the pool, A gets no upload either.
    let put = alice.put("/files/after.txt", "written on B").await;
    assert_eq!(put.status, 201, "{}", proxy.log());
    // A rename names its target by the public https:// address, as clients send it.
    alice
        .req("MOVE", "/files/after.txt")
        .header("Destination", &alice.url("/files/renamed.txt"))
        .send()
        .await
        .status(201);
    let listing = alice.propfind("/files/", "1").await.status(207);
    assert!(
        listing.hrefs().iter().any(|h| h == "/files/renamed.txt"),
        "{}",
        listing.text()
    );

    // X-Forwarded-For carried the client's address, not the proxy's or the claimed one.
    let audit = soon_audited(&volume, &db.url, config_path, &CLIENT_ADDR.to_string());
    assert!(!audit.contains(SPOOFED), "{audit}");
    // The README's `davgate check`: every file's blob is in the bucket.
    cli(&volume, &db.url, &["--config", config_path, "check"], "");

    drop(proxy);
    drop(node_b);
    db.drop_now().await;
    s3::remove_bucket(&s3::bucket(&endpoint, BUCKET)).await;
    eprintln!("cluster example: {:?}", started.elapsed());
}

/// The bucket `deploy/cluster/davgate.toml` names.
const BUCKET: &str = "davgate";

/// `deploy/cluster/davgate.toml` with the compose network's S3 address replaced by the
/// test's store: the one key the environment cannot override.
fn node_config(endpoint: &str) -> String {
    let file = cluster_file("davgate.toml");
    assert!(
        file.contains(&format!("s3_bucket = \"{BUCKET}\"")),
        "{file}"
    );
    replace_once(
        &file,
        "s3_endpoint = \"http://seaweedfs:8333\"",
        &format!("s3_endpoint = {endpoint:?}"),
    )
}

/// Runs the script of compose.yaml's `server-key` service with `volume` for /data, and
/// checks what it leaves there.
fn write_server_key(volume: &Path) {
    let compose = cluster_file("compose.yaml");
    let service = &compose[compose
        .find("\n  server-key:\n")
        .expect("a server-key service")..];
    let start = service
        .find("    command:\n      - |\n")
        .expect("its command is a script")
        + "    command:\n      - |\n".len();
    let script: Vec<&str> = service[start..]
        .lines()
        .map_while(|line| line.strip_prefix("        "))
        .collect();
    let script = script
        .join("\n")
        .replace("$$", "$")
        .replace("/data", volume.to_str().unwrap());
    let status = Command::new("sh").arg("-c").arg(&script).status().unwrap();
    assert!(status.success(), "the server-key script failed:\n{script}");
    let key = volume.join("server.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "server.key mode {mode:o}");
}

/// A range of the uploaded file through the balancer.
async fn ranged_get(dav: &Dav, body: &[u8]) {
    let part = dav
        .req("GET", "/files/report.bin")
        .header("Range", "bytes=0-99")
        .send()
        .await
        .status(206);
    assert_eq!(part.body, body[..100]);
}

/// Access log lines of `node` naming `needle`. A line is written once its response body
/// is done, a moment after the client has it: the count is read after a short settle.
fn log_count(node: &ServerProcess, needle: &str) -> usize {
    std::thread::sleep(Duration::from_millis(200));
    node.stderr()
        .lines()
        .filter(|line| line.contains("davgate::access") && line.contains(needle))
        .count()
}

/// `davgate audit alice` once it shows a sign-in from `addr` (the note is written a
/// moment after the request).
fn soon_audited(volume: &Path, url: &str, config: &str, addr: &str) -> String {
    let args = ["--config", config, "audit", "alice"];
    for _ in 0..50 {
        let audit = cli(volume, url, &args, "");
        if audit.contains(&format!("[{addr}]")) {
            return audit;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "no sign-in from {addr} in the audit log:\n{}",
        cli(volume, url, &args, "")
    );
}

/// An S3 credential `.ci/s3.sh` exports along with the endpoint.
fn s3_secret(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set (start .ci/s3.sh)"))
}

fn cluster_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/cluster")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `text` with its one `from` replaced: a deploy file that no longer says `from` fails
/// here instead of being tested with the compose network's addresses in it.
#[track_caller]
fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "{from:?} once in:\n{text}");
    text.replace(from, to)
}

/// Debian's caddy running `deploy/cluster/Caddyfile`, on a loopback port, with its
/// storage (the internal CA among it) in a directory of its own.
struct Caddy {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Caddy {
    /// Starts caddy in front of `nodes` and waits until a request reaches one. Caddy 2.6
    /// cannot adopt a listening socket, so the port is picked free and bound by caddy a
    /// moment later; a port taken in between is retried with another.
    async fn start(caddy: &Path, dir: &Path, nodes: [SocketAddr; 2]) -> Self {
        let site = replace_once(
            &cluster_file("Caddyfile"),
            "node-a:8080 node-b:8080",
            &format!("{} {}", nodes[0], nodes[1]),
        );
        let dir = dir.join("caddy");
        for _ in 0..5 {
            std::fs::create_dir_all(&dir).unwrap();
            let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), free_port());
            let file = dir.join("Caddyfile");
            std::fs::write(&file, format!("{}\n{site}", global_options(addr.port()))).unwrap();
            let child = Command::new(caddy)
                .args(["run", "--adapter", "caddyfile", "--config"])
                .arg(&file)
                .env("DAVGATE_HOST", "localhost")
                .env("HOME", &dir)
                .env("XDG_DATA_HOME", dir.join("data"))
                .env("XDG_CONFIG_HOME", dir.join("config"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(File::create(dir.join("caddy.log")).unwrap())
                .spawn()
                .expect("caddy starts");
            let mut proxy = Caddy {
                child,
                addr,
                dir: dir.clone(),
            };
            if proxy.ready().await {
                return proxy;
            }
            let log = proxy.log();
            assert!(
                log.contains("address already in use"),
                "caddy exited: {log}"
            );
            drop(proxy);
            std::fs::remove_dir_all(&dir).unwrap();
        }
        panic!("caddy found no free port in five tries");
    }

    /// Waits until `/healthz` answers 200 through caddy (its CA made, its certificate
    /// issued, a node healthy); false when caddy exits first.
    async fn ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut http = None;
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            assert!(
                Instant::now() < deadline,
                "caddy never served: {}",
                self.log()
            );
            if http.is_none() && self.root_certificate().exists() {
                http = Some(self.http());
            }
            if let Some(http) = &http {
                let probe = http.get(format!("{}/healthz", self.base())).send().await;
                if probe.is_ok_and(|answer| answer.status() == 200) {
                    return true;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The root of Caddy's internal CA, which signs its certificate for `localhost`.
    fn root_certificate(&self) -> PathBuf {
        self.dir.join("data/caddy/pki/authorities/local/root.crt")
    }

    fn base(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// An HTTP client that trusts Caddy's internal CA and connects from [`CLIENT_ADDR`].
    fn http(&self) -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let root = std::fs::read(self.root_certificate()).unwrap();
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&root).unwrap())
            .resolve("localhost", self.addr)
            .local_address(IpAddr::V4(CLIENT_ADDR))
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap()
    }

    /// A DAV client through caddy.
    fn client(&self, creds: Option<(String, String)>) -> Dav {
        Dav::over(self.http(), &self.base(), creds)
    }

    /// Whether caddy's active health check has failed on `node`.
    fn failed_checks(&self, node: SocketAddr) -> bool {
        self.log()
            .lines()
            .any(|line| line.contains("health_checker") && line.contains(&node.to_string()))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("caddy.log")).unwrap_or_default()
    }
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the compose file's Caddy gets from the container instead: its own loopback
/// ports, no admin endpoint, no root certificate installed into the system, HTTP/1.1 and
/// HTTP/2 only (HTTP/3 would want the UDP port too). `auto_https disable_redirects`
/// keeps it off the HTTP port.
fn global_options(https_port: u16) -> String {
    format!(
        "{{\n\tadmin off\n\tskip_install_trust\n\tdefault_bind 127.0.0.1\n\
         \thttp_port {}\n\thttps_port {https_port}\n\tauto_https disable_redirects\n\
         \tservers {{\n\t\tprotocols h1 h2\n\t}}\n}}\n",
        free_port()
    )
}

/// A loopback port nothing listens on right now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap().port()
}
