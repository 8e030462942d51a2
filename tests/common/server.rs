//! A davgate server in this process, on 127.0.0.1:0, with its own data directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use davgate::config::{ConfigFile, Settings};
use davgate::server::Running;
use davgate_storage::{Account, Store};

use super::client::Dav;

/// Configuration of a server whose files host is `localhost` while tests reach the
/// main host as `127.0.0.1`: a real client reaches the files host by the name it dials.
pub const FILES_HOST_CONFIG: &str = "files_host = \"localhost\"";

/// The password every test account gets.
pub const PASSWORD: &str = "correct horse battery";

/// A running server plus what tests need to look behind it.
pub struct TestServer {
    pub running: Option<Running>,
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub user: String,
}

impl TestServer {
    /// A server with one account, `alice`.
    pub async fn start() -> Self {
        Self::start_with("").await
    }

    /// A server configured by extra TOML lines, with one account, `alice`.
    pub async fn start_with(toml: &str) -> Self {
        Self::start_in(tempfile::tempdir().expect("temp dir"), toml).await
    }

    /// [`Self::start_with`] with its data in `dir` (e.g. on a small filesystem).
    pub async fn start_in(dir: tempfile::TempDir, toml: &str) -> Self {
        let settings = settings(dir.path(), toml);
        let store = davgate::server::open_store(&settings)
            .await
            .expect("store opens");
        let hash = davgate::auth::password::hash_now(PASSWORD);
        store.create_account("alice", &hash).await.expect("account");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let running = davgate::server::start_on(settings, listener)
            .await
            .expect("server starts");
        TestServer {
            running: Some(running),
            dir,
            store,
            user: "alice".into(),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.running.as_ref().expect("running").addr()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    /// A URL on the files host of a server started with [`FILES_HOST_CONFIG`]: the same
    /// listener, dialled as `localhost`.
    pub fn files_host_url(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.addr().port())
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn blob_dir(&self) -> PathBuf {
        self.dir.path().join("blobs")
    }

    pub fn blob_files(&self) -> usize {
        super::count_files(&self.blob_dir())
    }

    /// A client signed in as alice.
    pub fn alice(&self) -> Dav {
        Dav::new(self.addr(), Some(("alice".into(), PASSWORD.into())))
    }

    /// A client without credentials.
    pub fn anonymous(&self) -> Dav {
        Dav::new(self.addr(), None)
    }

    pub async fn account(&self, name: &str) -> Account {
        self.store
            .account_by_name(name)
            .await
            .unwrap()
            .expect("account exists")
    }

    /// Adds another account with the standard password.
    pub async fn add_account(&self, name: &str) {
        let hash = davgate::auth::password::hash_now(PASSWORD);
        self.store.create_account(name, &hash).await.unwrap();
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }
}

/// Settings for a data directory plus extra TOML lines.
pub fn settings(dir: &Path, extra: &str) -> Settings {
    let toml = format!("data_dir = {:?}\n{extra}", dir.display().to_string());
    let file: ConfigFile = toml::from_str(&toml).expect("test config parses");
    Settings::from_config(file).expect("test config is valid")
}
