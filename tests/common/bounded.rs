//! Running a real client with a time limit: an interop client that hangs (waiting for a
//! password prompt, a lost mount) is killed with everything it started, and the test
//! fails with what it printed instead of hanging CI.

use std::io::{Read, Seek, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a bounded run printed, and how it ended.
pub struct Finished {
    /// The exit code; `None` when it was killed at the time limit or by a signal.
    pub code: Option<i32>,
    pub timed_out: bool,
    /// Standard output and standard error, interleaved as written.
    pub output: String,
}

/// Runs `command` in a process group of its own, feeding `stdin`; after `limit` the
/// whole group is killed (the client and whatever it started, e.g. a session bus and
/// gvfs daemons).
pub fn run(mut command: Command, stdin: &str, limit: Duration) -> Finished {
    // Output goes to a file, not a pipe: a daemon that outlived the group would hold a
    // pipe open and make reading it hang.
    let mut log = tempfile::tempfile().expect("log file");
    let mut child = command
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log.try_clone().expect("log file"))
        .spawn()
        .expect("the client starts");
    let group = child.id() as i32;
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_owned();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(stdin.as_bytes());
    });
    let deadline = Instant::now() + limit;
    let (code, timed_out) = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break (status.code(), false);
        }
        if Instant::now() > deadline {
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Whatever is left of the group (all of it after a timeout, daemons a client left
    // behind otherwise) goes; the group id is the child's own, started above.
    // SAFETY: kill(2) with a negative pid signals exactly that process group.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
    let _ = child.wait();
    let _ = feeder.join();
    let mut bytes = Vec::new();
    let _ = log.rewind();
    let _ = log.read_to_end(&mut bytes);
    let output = String::from_utf8_lossy(&bytes).into_owned();
    Finished {
        code,
        timed_out,
        output,
    }
}
