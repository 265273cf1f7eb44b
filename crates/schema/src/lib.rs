//! The dynex entity model: entities, fields, types, validation rules and relations.
//!
//! The serialised form is Spryker's: an entity's `definition` JSON and the installer
//! `configuration.json` (an array of [`EntityConfig`]) read and write unchanged, so existing
//! Spryker configurations import as they are. [`check`] validates a configuration against what
//! introspection found in the live database ([`TableInfo`]).

mod check;
pub mod json;
mod model;
mod table;
mod value;

pub use check::{ConfigError, check, derive_alias, is_reserved_table, nul_errors, suggest_config};
pub use model::{
    Catalog, Constraint, Definition, Entity, EntityConfig, Field, FieldMapping, FieldType,
    Relation, RelationTarget, Rules, UnknownIdentifier,
};
pub use table::{ColumnInfo, ColumnKind, ForeignKey, TableInfo};
pub use value::{
    Value, ValueError, canonical_decimal, format_decimal, normalize_datetime, plain_decimal,
};
