//! `sqlx::migrate!` embeds the migration files at compile time, but Cargo only rebuilds
//! this crate when a source file changes: without this, a new migration file is silently
//! left out of the binary until something else in the crate is touched.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
