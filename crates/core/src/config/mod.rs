//! The entity configuration: its store, the live schema it is checked against, the demo
//! catalog, and the in-memory snapshot every request is served from.

pub(crate) mod demo;
pub mod introspect;
pub mod store;
