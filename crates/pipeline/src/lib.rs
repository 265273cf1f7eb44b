//! Pipelines: records read from a source, mapped, and delivered to a target.
//!
//! A pipeline is a named definition ([`definition`]) of one source ([`source`]), a mapping
//! ([`map`]) and one target. Records stream through in pages, so memory stays flat whatever
//! the volume. Sources are public traits, so a program that embeds dynex can add its own
//! connector.

pub mod definition;
pub mod health;
pub mod hook;
pub mod incremental;
pub mod map;
pub mod order;
pub mod problem;
pub mod redact;
pub mod run;
pub mod schedule;
pub mod source;
pub mod stored;
pub mod target;
pub mod variables;

pub use problem::{Problem, Problems};

/// A record as a source delivers it: any JSON value, usually an object.
pub type Record = serde_json::Value;
