//! nginx in front of davgate with the README's server block, unchanged but for the
//! addresses and certificate paths: uploads stream through, PROPFIND and MOVE (with the
//! public https:// Destination a client sends) work, and davgate sees the client's
//! address from X-Forwarded-For. Loopback only, bounded in time.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::server::PASSWORD;
use crate::common::{TestServer, require_tool};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_with_the_readme_config_passes_uploads_propfind_and_move() {
    let Some(nginx) = require_tool("nginx") else {
        return;
    };
    let srv = TestServer::start_with("client_address_header = \"X-Forwarded-For\"").await;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = crate::common::certs::localhost(dir.path());
    let proxy = Nginx::start(&nginx, dir.path(), srv.addr(), &cert, &key);

    let _ = rustls::crypto::ring::default_provider().install_default();
    let root = reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(root)
        .resolve("localhost", proxy.addr)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let base = format!("https://localhost:{}", proxy.addr.port());
    let send = |method: &str, path: &str| {
        client
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .basic_auth("alice", Some(PASSWORD))
    };

    // A streamed body of unknown length (chunked), larger than nginx's buffers.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..64u8).map(|i| Ok(vec![i; 64 * 1024])).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let put = send("PUT", "/files/big%20file.bin")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201, "{}", proxy.log());

    let listing = send("PROPFIND", "/files/")
        .header("Depth", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(listing.status(), 207);
    let xml = listing.text().await.unwrap();
    assert!(xml.contains("/files/big%20file.bin"), "{xml}");
    assert!(xml.contains("4194304"), "{xml}");

    let moved = send("MOVE", "/files/big%20file.bin")
        .header("Destination", format!("{base}/files/moved%20file.bin"))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 201, "{}", proxy.log());
    let got = send("GET", "/files/moved%20file.bin").send().await.unwrap();
    assert_eq!(got.status(), 200);
    let bytes = got.bytes().await.unwrap();
    assert_eq!(bytes.len(), 64 * 64 * 1024);
    assert!(
        bytes
            .chunks(64 * 1024)
            .enumerate()
            .all(|(i, c)| c[0] == i as u8)
    );

    let gone = send("GET", "/files/big%20file.bin").send().await.unwrap();
    assert_eq!(gone.status(), 404);
}

/// nginx on a listener this test bound: no port picked and bound later.
struct Nginx {
    child: Child,
    addr: SocketAddr,
    error_log: std::path::PathBuf,
}

impl Nginx {
    fn start(nginx: &Path, dir: &Path, upstream: SocketAddr, cert: &Path, key: &Path) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server_block = readme_server_block()
            .lines()
            .filter(|line| !line.contains("[::]"))
            .collect::<Vec<_>>()
            .join("\n")
            .replace("listen 443 ssl;", &format!("listen {addr} ssl;"))
            .replace(
                "/etc/letsencrypt/live/dav.example.org/fullchain.pem",
                cert.to_str().unwrap(),
            )
            .replace(
                "/etc/letsencrypt/live/dav.example.org/privkey.pem",
                key.to_str().unwrap(),
            )
            .replace("http://127.0.0.1:8080", &format!("http://{upstream}"));
        let temp = dir.join("nginx-temp");
        std::fs::create_dir_all(&temp).unwrap();
        let error_log = dir.join("nginx-error.log");
        let conf = format!(
            "daemon off;\npid {pid};\nerror_log {log} info;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {t}/body;\n  \
             proxy_temp_path {t}/proxy;\n  fastcgi_temp_path {t}/fastcgi;\n  \
             uwsgi_temp_path {t}/uwsgi;\n  scgi_temp_path {t}/scgi;\n{server_block}\n}}\n",
            pid = dir.join("nginx.pid").display(),
            log = error_log.display(),
            t = temp.display(),
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        // nginx adopts listening sockets named in $NGINX (its binary-upgrade handover)
        // when a `listen` directive has the same address.
        let fd = listener.as_raw_fd();
        let mut command = Command::new(nginx);
        command
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(&error_log)
            .env("NGINX", format!("{fd};"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: fcntl on a descriptor we own, between fork and exec; no allocation.
        unsafe {
            command.pre_exec(move || {
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command.spawn().expect("nginx starts");
        drop(listener);
        std::thread::sleep(Duration::from_millis(300));
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "nginx exited ({status}): {}",
                std::fs::read_to_string(&error_log).unwrap_or_default()
            );
        }
        Nginx {
            child,
            addr,
            error_log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.error_log).unwrap_or_default()
    }
}

impl Drop for Nginx {
    /// SIGTERM to the master, which stops its worker too (SIGKILL would orphan it).
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first ```nginx block of README.md, as an operator would copy it.
fn readme_server_block() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("```nginx\n")
        .expect("README has an nginx block")
        + 9;
    let end = start + readme[start..].find("```").expect("the block ends");
    readme[start..end].to_owned()
}
