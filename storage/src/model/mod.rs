//! The rows the store keeps between commits, as types: accounts, file-tree nodes and
//! locks. A leaf under the store and the modules that read and write those rows
//! (`accounts`, `tree`, `locks`), so the store's row cache can name them without
//! depending on the operations.

pub(crate) mod account;
pub(crate) mod lock;
pub(crate) mod node;
