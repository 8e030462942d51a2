//! Shared test helpers: a server on an ephemeral loopback port, a fluent DAV client,
//! raw HTTP for requests a polite client will not send, and the real binary.

#![allow(dead_code)]

pub mod bin;
pub mod bounded;
pub mod browser;
pub mod certs;
pub mod chrome;
pub mod client;
pub mod golden;
pub mod plist;
pub mod raw;
pub mod s3;
pub mod server;
pub mod smtp;

pub use client::Dav;
pub use server::TestServer;

/// Counts regular files below `dir` (blob checks).
pub fn count_files(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                count_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}

/// True when interop clients must be present (CI sets DAVGATE_REQUIRE_INTEROP=1).
pub fn interop_required() -> bool {
    std::env::var("DAVGATE_REQUIRE_INTEROP").is_ok_and(|v| v == "1")
}

/// Finds an interop client on PATH; a missing one skips the test, or fails it in CI.
#[track_caller]
pub fn require_tool(name: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        assert!(
            !interop_required(),
            "{name} is required (DAVGATE_REQUIRE_INTEROP=1) but not installed"
        );
        eprintln!("{name} is not installed: skipping");
    }
    found
}
