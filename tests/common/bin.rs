//! The real `davgate` binary: for the CLI, and for servers that must be killed or signalled.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_davgate");

/// Runs `davgate ARGS --data-dir DIR`, feeding `stdin`.
pub fn davgate(data_dir: &Path, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("DAVGATE_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("davgate runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin write");
    child.wait_with_output().expect("davgate finishes")
}

/// Runs a CLI command that must succeed; returns its stdout.
#[track_caller]
pub fn davgate_ok(data_dir: &Path, args: &[&str], stdin: &str) -> String {
    let out = davgate(data_dir, args, stdin);
    assert!(
        out.status.success(),
        "davgate {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `davgate serve` in its own process.
pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
    pub stderr: Arc<Mutex<String>>,
}

impl ServerProcess {
    /// Starts `davgate serve --listen 127.0.0.1:0` on `data_dir` and waits until it listens.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Self {
        Self::spawn(Command::new(BIN), data_dir, extra)
    }

    /// [`Self::start`] with these environment variables set.
    pub fn start_with_env(data_dir: &Path, env: &[(&str, &Path)], extra: &[&str]) -> Self {
        let mut command = Command::new(BIN);
        for (name, value) in env {
            command.env(name, value);
        }
        Self::spawn(command, data_dir, extra)
    }

    /// [`Self::start`] with the open-file limit at `soft` and `hard` handles.
    pub fn start_with_file_limit(data_dir: &Path, soft: u32, hard: u32, extra: &[&str]) -> Self {
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(format!(
                "ulimit -Sn {soft} && ulimit -Hn {hard} && exec \"$0\" \"$@\""
            ))
            .arg(BIN);
        Self::spawn(shell, data_dir, extra)
    }

    /// `davgate serve` with no flags, configured by these environment variables alone
    /// (as a container is), and waits until it listens.
    pub fn serve_with_env(env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(BIN);
        command.arg("serve").envs(env.iter().copied());
        Self::launch(command)
    }

    fn spawn(mut command: Command, data_dir: &Path, extra: &[&str]) -> Self {
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra);
        Self::launch(command)
    }

    /// Starts `command` (a `serve`) and reads the address it announces.
    fn launch(mut command: Command) -> Self {
        let mut child = command
            .env("DAVGATE_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("server starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = loop {
            line.clear();
            assert!(
                Instant::now() < deadline,
                "server did not report its address"
            );
            if out.read_line(&mut line).expect("stdout") == 0 {
                panic!("server exited: {}", stderr.lock().unwrap());
            }
            let announced = line.trim().strip_prefix("davgate listening on ");
            if let Some(rest) = announced.and_then(|url| {
                url.strip_prefix("http://")
                    .or_else(|| url.strip_prefix("https://"))
            }) {
                break rest.parse().expect("address");
            }
        };
        ServerProcess {
            child,
            addr,
            stderr,
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The log so far, once it contains `needle` (waits a bounded time for the reader).
    #[track_caller]
    pub fn log_with(&self, needle: &str) -> String {
        for _ in 0..100 {
            let log = self.stderr();
            if log.contains(needle) {
                return log;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the log never said {needle:?}:\n{}", self.stderr());
    }

    /// Sends SIGKILL: the process gets no chance to clean up.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends a signal (`HUP`, `TERM`, …) and returns at once.
    pub fn send(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal} failed");
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends a signal and waits (bounded) for the exit status.
    pub fn signal(mut self, signal: &str) -> Option<std::process::ExitStatus> {
        Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        None
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
