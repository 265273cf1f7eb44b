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
//! ([`select_ordered`], [`Condition::After`]), never by `OFFSET`.

mod parse;
mod render;
mod sort;
pub mod write;

pub use parse::{
    Comparison, Condition, CursorPaging, Include, MAX_CONDITIONS, OPERATORS, Page, PageLimits,
    PatternPart, QueryError, ReadQuery, Related, parse,
};
pub use render::{
    Dialect, Piece, Select, Sql, cell_text, cell_value, count, decode_fields, decode_row,
    decode_values, select, select_cells, select_columns, select_ordered,
};
pub use sort::{Keyset, Sort, order_keys, parse_sort};

pub use dynex_schema::Value;

impl QueryError {
    /// The wire code of this error.
    pub fn code(&self) -> dynex_wire::Code {
        use dynex_wire::Code;
        match self {
            QueryError::UnknownRelation(_) => Code::UnknownRelation,
            QueryError::UnknownFilterField { .. } => Code::UnknownFilterField,
            QueryError::InvalidFilterValue { .. } => Code::InvalidFilterValue,
            QueryError::InvalidParameter { .. } | QueryError::UnknownSortField { .. } => {
                Code::InvalidParameter
            }
            QueryError::InvalidOperator { .. } => Code::InvalidOperator,
            QueryError::InvalidCursor(_) => Code::InvalidCursor,
        }
    }
}

impl dynex_wire::WireError for QueryError {
    fn code(&self) -> dynex_wire::Code {
        QueryError::code(self)
    }
}
