//! The request query of the Data Exchange API and its SQL, per dialect, with every value bound.
//!
//! [`parse`] turns query-string pairs (`filter[countries.iso2_code]=AT`, `page[limit]=10`,
//! `include=countryTaxRates`) into a typed [`ReadQuery`] checked against an entity, or a coded
//! [`QueryError`]. [`select`] renders a [`Select`] into [`Sql`]: SQL text, identifiers (quoted by
//! the database driver's dialect) and bound [`Value`]s, never values spliced into text.
//! [`decode_row`] turns the one JSON column each selected row comes back as into the wire object.

mod parse;
mod render;
pub mod write;

pub use parse::{Condition, Include, Page, PageLimits, QueryError, ReadQuery, parse};
pub use render::{Dialect, Piece, Select, Sql, decode_row, select};

pub use dynex_schema::Value;
