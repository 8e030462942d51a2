//! The `davgate` binary: parse the command line, set up logging, run, map errors to exit codes.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use davgate::cli::Cli;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    return_large_frees_to_the_system();
    let filter = EnvFilter::try_from_env("DAVGATE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(davgate::memory::check_own_heap_top)
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("davgate: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(cli.run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("davgate: {e}");
            e.exit_code()
        }
    }
}

/// glibc raises its mmap threshold after the first large free, so the 19 MiB of every
/// argon2 hash would then come from a thread's heap and stay resident after the hash
/// (tens of MiB per hashing thread). A fixed threshold keeps large blocks in mmap,
/// returned to the system when freed: an upload's two write buffers (4 MiB and their
/// alignment, `blob::hand_off` in davgate-storage) are among them. Smaller ones (request
/// body chunks, read buffers) stay in the heap.
fn return_large_frees_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const LARGE: libc::c_int = 4 << 20;
        // SAFETY: mallopt only adjusts allocator tuning; called before any thread starts.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, LARGE);
        }
    }
}
