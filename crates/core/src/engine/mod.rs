//! The entity engine: reads, writes and deletes of configured entities, with their
//! transactions and hooks.

pub(crate) mod cursor;
pub(crate) mod delete;
pub mod hooks;
pub(crate) mod read;
pub(crate) mod tx;
pub(crate) mod write;
