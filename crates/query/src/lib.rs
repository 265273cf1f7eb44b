//! The request query of the Data Exchange API and its SQL, per dialect, with every value bound.
//!
//! [`parse`] turns query-string pairs (`filter[countries.iso2_code]=AT`, `page[limit]=10`,
//! `include=countryTaxRates`) into a typed [`ReadQuery`] checked against an entity, or a coded
//! [`QueryError`]. [`select`] renders a [`Select`] into [`Sql`]: SQL text, identifiers (quoted by
//! the database driver's dialect) and bound [`Value`]s, never values spliced into text.
//! [`decode_row`] turns the one JSON column each selected row comes back as into the wire object.
//! Filters take operators (`{"gte": 10}`), `or` groups and conditions on related rows; reads take
//! a sort, sparse fields, keyset pages and a count ([`count`]).
//! [`parse_sort`], [`order_keys`] and [`Keyset`] sort reads and page through them by position
//! ([`select_ordered`], [`Condition::After`]), never by `OFFSET`. The [`write`](mod@write)
//! module renders inserts, updates and deletes.
//!
//! The modules, each depending only on those listed before it:
//!
//! - `error`: [`QueryError`].
//! - `sql`: the statement builder ([`Sql`], [`Piece`], [`Dialect`]) that dynex-core also builds
//!   its own statements with.
//! - `sort`: the sort grammar, the total order of a read and keyset positions ([`Keyset`]).
//! - `ast`: the typed query ([`ReadQuery`], [`Condition`], [`Include`], [`Page`]…).
//! - `filter` and `parse`: the query string into the typed query.
//! - `cast`: how each dialect spells a column or a value in the type it needs.
//! - `condition`: conditions into SQL.
//! - `select`: reads into SQL ([`select`], [`select_ordered`], [`select_columns`], [`count`]).
//! - `decode`: what reads return into wire values ([`decode_row`], [`decode_cell`],
//!   [`cell_text`]).
//! - [`write`](mod@write): inserts, updates and deletes.

mod ast;
mod cast;
mod condition;
mod decode;
mod error;
mod filter;
mod parse;
mod select;
mod sort;
mod sql;
#[cfg(test)]
mod testing;
mod typed;
pub mod write;

pub use ast::{
    Comparison, Condition, CursorPaging, Include, Page, PageLimits, PatternPart, ReadQuery, Related,
};
pub use decode::{
    RowWriter, cell_text, decode_cell, decode_fields, decode_row, decode_values, json_from,
    value_from_json, write_fields,
};
pub use error::QueryError;
pub use filter::{MAX_CONDITIONS, MAX_LIST_VALUES, OPERATORS};
pub use parse::parse;
pub use select::{
    Select, count, count_capped, select, select_cells, select_columns, select_ordered,
    select_ordered_few, select_values, select_values_of_keys,
};
pub use sort::{Keyset, KeysetError, Sort, order_keys, parse_sort};
pub use sql::{Dialect, Piece, Sql, quote_ident};
pub use typed::{Stored, StoredRow, TypedRow};

pub use dynex_schema::Value;
