//! Database ids of accounts and file-tree nodes. A leaf: nearly every table names an
//! account or a node, so the ids live below the modules that own those rows (`accounts`,
//! `tree`) and `audit`, `props`, `locks` or the groupware tables need neither for them.

/// An account's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccountId(pub i64);

/// A node's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub i64);
