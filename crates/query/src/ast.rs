//! The typed request query: what a read asks for once its query string is parsed (conditions,
//! includes, page, sort), before any SQL dialect is involved.

use std::sync::Arc;

use dynex_schema::{Entity, Value};

use crate::sort::{Keyset, Sort};

/// A comparison of a field with one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparison {
    /// `neq`: not equal; a `NULL` never matches.
    Ne,
    /// `gt`: greater than.
    Gt,
    /// `gte`: greater than or equal.
    Ge,
    /// `lt`: less than.
    Lt,
    /// `lte`: less than or equal.
    Le,
}

impl Comparison {
    /// The SQL operator.
    pub fn sql(self) -> &'static str {
        match self {
            Comparison::Ne => "<>",
            Comparison::Gt => ">",
            Comparison::Ge => ">=",
            Comparison::Lt => "<",
            Comparison::Le => "<=",
        }
    }
}

/// One element of a `like` pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatternPart {
    /// A character that matches itself.
    Literal(char),
    /// `%`: any run of characters, also none.
    AnyRun,
    /// `_`: exactly one character.
    AnyOne,
}

/// One condition on an entity, ANDed with the others.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `field = value`; `NULL` matches `NULL`.
    Eq(usize, Value),
    /// `field IN (values)`; a `NULL` among the values matches `NULL`.
    In(usize, Vec<Value>),
    /// `field NOT IN (values)`; a `NULL` never matches.
    NotIn(usize, Vec<Value>),
    /// `field <op> value`; a `NULL` never matches.
    Compare(usize, Comparison, Value),
    /// `field LIKE pattern`, case-sensitive on every backend unless `case_insensitive`.
    Like {
        /// The field's index.
        field: usize,
        /// The pattern.
        pattern: Vec<PatternPart>,
        /// `ilike`: letters match either case.
        case_insensitive: bool,
    },
    /// `field IS NULL` (`true`) or `field IS NOT NULL` (`false`).
    IsNull(usize, bool),
    /// Any of the groups holds: each group's conditions ANDed, the groups ORed.
    Any(Vec<Vec<Condition>>),
    /// At least one child row of a relation matches all of the conditions.
    Related(Box<Related>),
    /// The rows after a position in a sorted read: keyset paging, the rows after the last one
    /// read.
    After(Keyset),
    /// `field >= value`, compared in the column's own type (a timestamp column as a timestamp,
    /// whatever the field's type); a `NULL` never matches. Delta reads use it.
    AtLeast(usize, Value),
}

/// A condition on the children of a relation: the parent rows having a matching child.
#[derive(Debug, Clone, PartialEq)]
pub struct Related {
    /// The relation's name on the parent entity.
    pub relation: String,
    /// The child entity.
    pub child: Arc<Entity>,
    /// Conditions on the child's fields, ANDed.
    pub conditions: Vec<Condition>,
}

/// An `include` chain node: a relation and the relations to include below it.
#[derive(Debug, Clone, PartialEq)]
pub struct Include {
    /// The relation name.
    pub relation: String,
    /// The child entity the relation leads to.
    pub child: Arc<Entity>,
    /// Relations to include on the children.
    pub children: Vec<Include>,
    /// The child fields to return (`fields[child-alias]=a,b`); `None` returns every field.
    pub fields: Option<Vec<usize>>,
}

/// Offset paging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return at most.
    pub limit: u64,
}

/// The default and maximum page size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimits {
    /// Rows per page when `page[limit]` is absent.
    pub default_limit: u64,
    /// The largest `page[limit]` accepted.
    pub max_limit: u64,
}

impl Default for PageLimits {
    fn default() -> Self {
        PageLimits {
            default_limit: 20,
            max_limit: 1000,
        }
    }
}

/// Keyset paging as asked for with `page[size]` and `page[after]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorPaging {
    /// The opaque cursor of `page[after]`, from a previous page's `links.next`; `None` is the
    /// first page.
    pub after: Option<String>,
}

/// A parsed read request.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadQuery {
    /// Conditions on the root entity.
    pub conditions: Vec<Condition>,
    /// The order of the rows, before the identifier that always breaks ties; empty is
    /// identifier order.
    pub sort: Vec<Sort>,
    /// Only the rows after this position in the order of `sort` (keyset paging).
    pub after: Option<Keyset>,
    /// The page to return (with keyset paging, `offset` is 0 and `limit` the page size).
    pub page: Page,
    /// Keyset paging (`page[size]`, `page[after]`) instead of offset paging.
    pub cursor: Option<CursorPaging>,
    /// The fields to return (`fields[alias]=a,b`); `None` returns every field.
    pub fields: Option<Vec<usize>>,
    /// Count the matching rows (`meta=count`).
    pub count: bool,
    /// Relations to load with the rows.
    pub include: Vec<Include>,
}
