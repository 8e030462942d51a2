//! What every SQLite connection is set to when it opens, whether sqlx's pool or
//! `readers` opened it.

use sqlx::Executor;

/// SQLite reads pages with pread, never through a memory map. With a map, every
/// connection that saw another's commit unmapped the whole file before its next read
/// (SQLite's pager does so whenever the log changed) and faulted each page back in, and
/// each unmap interrupted every core running a thread of ours to flush its TLB: under
/// small uploads, nearly one munmap and one mmap per file uploaded. Without the map,
/// uploads of 4 KiB from 8 clients ran 1.11 to 1.16 times as fast, from 32 clients 0.95
/// to 1.2 times, and PROPFIND of 10,000 entries was no slower (bench/RESULTS.md). Set
/// rather than left to the build's default, so a SQLite compiled with a map does not
/// bring it back.
const SQLITE_NO_MMAP: &str = "PRAGMA mmap_size = 0";

/// Sets a connection that just opened. WAL lets readers run beside
/// the writer; a COMMIT does not fsync, WalFlusher does when asked to (see
/// SqliteSynchronous); busy_timeout covers other processes (the CLI) holding the write
/// lock for a moment. Sorts stay in memory, and each connection caches 16 MiB of pages,
/// read with pread (see SQLITE_NO_MMAP).
pub(super) async fn apply(conn: &mut sqlx::AnyConnection) -> sqlx::Result<()> {
    for pragma in [
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = NORMAL",
        "PRAGMA foreign_keys = ON",
        "PRAGMA busy_timeout = 10000",
        "PRAGMA temp_store = MEMORY",
        "PRAGMA cache_size = -16384",
        SQLITE_NO_MMAP,
    ] {
        conn.execute(pragma).await?;
    }
    Ok(())
}
