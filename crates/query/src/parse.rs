//! Parsing query-string pairs into a [`ReadQuery`].

use std::sync::Arc;

use dynex_schema::{ColumnKind, Entity, FieldType, Value};

use crate::sort::{Keyset, Sort};

/// A query parameter problem, each mapped to a Spryker (or dynex) error code by the server.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// A filter names a field that is not configured (Spryker 1315).
    #[error("Filter field `{field}` for table alias `{alias}` not found.")]
    UnknownFilterField {
        /// The field as written in the request.
        field: String,
        /// The entity's alias.
        alias: String,
    },
    /// An `include` or a filter names a relation that does not exist at that level (Spryker
    /// 1313).
    #[error("Relation `{0}` not found. Please check the requested relation name and try again.")]
    UnknownRelation(String),
    /// A filter value does not parse as the field's type (dynex 1319).
    #[error("Invalid filter value for field `{field}`: {reason}.")]
    InvalidFilterValue {
        /// The field's visible name.
        field: String,
        /// Why the value was refused.
        reason: String,
    },
    /// A filter operator that does not exist, or does not apply to the field's type (dynex
    /// 1325).
    #[error("Invalid filter operator `{operator}` for field `{field}`: {reason}.")]
    InvalidOperator {
        /// The field's visible name.
        field: String,
        /// The operator as written.
        operator: String,
        /// Why it was refused.
        reason: String,
    },
    /// A sort names a field that is not configured.
    #[error("Sort field `{field}` for table alias `{alias}` not found.")]
    UnknownSortField {
        /// The field as written.
        field: String,
        /// The entity's alias.
        alias: String,
    },
    /// A query parameter is malformed (dynex 1320).
    #[error("Invalid query parameter `{name}`: {reason}.")]
    InvalidParameter {
        /// The parameter as written in the request.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `page[after]` cursor that this server did not issue for this read (dynex 1326).
    #[error("Invalid cursor in `page[after]`: {0}.")]
    InvalidCursor(String),
}

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

/// The most conditions (operators, `or` groups and relation filters together) one request may
/// hold, so that no request can make a statement of unbounded size.
pub const MAX_CONDITIONS: usize = 100;
/// How deep `or` groups and relation filters may nest.
const MAX_DEPTH: usize = 4;

/// The operators of the JSON filter form.
pub const OPERATORS: [&str; 11] = [
    "eq", "neq", "gt", "gte", "lt", "lte", "in", "nin", "like", "ilike", "isNull",
];

/// Parses query-string pairs against `entity`; `resolve` finds child entities by alias.
///
/// Unknown parameters (such as `api_key`) are ignored, as Spryker does; malformed values of the
/// parameters this API knows are coded errors.
pub fn parse(
    entity: &Arc<Entity>,
    resolve: &dyn Fn(&str) -> Option<Arc<Entity>>,
    pairs: &[(String, String)],
    limits: &PageLimits,
) -> Result<ReadQuery, QueryError> {
    let mut conditions = Vec::new();
    let mut offset = None;
    let mut limit = None;
    let mut size = None;
    let mut after = None;
    let mut include = Vec::new();
    let mut sort = Vec::new();
    let mut fields: Vec<(&str, &str)> = Vec::new();
    let mut count = false;
    let mut budget = Budget(0);
    for (key, value) in pairs {
        if let Some(inner) = bracket(key, "filter") {
            if inner == "or" {
                conditions.push(parse_or(entity, resolve, value, &mut budget)?);
            } else {
                conditions.extend(parse_filter(entity, resolve, inner, value, &mut budget)?);
            }
        } else if let Some(inner) = bracket(key, "page") {
            let number = || {
                value
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| QueryError::InvalidParameter {
                        name: key.clone(),
                        reason: format!("`{value}` is not a non-negative integer"),
                    })
            };
            let size_in_range = |n: u64| {
                if n == 0 || n > limits.max_limit {
                    Err(QueryError::InvalidParameter {
                        name: key.clone(),
                        reason: format!("must be between 1 and {}", limits.max_limit),
                    })
                } else {
                    Ok(n)
                }
            };
            match inner {
                "offset" => offset = Some(number()?),
                "limit" => limit = Some(size_in_range(number()?)?),
                "size" => size = Some(size_in_range(number()?)?),
                "after" if value.trim().is_empty() => {
                    return Err(QueryError::InvalidCursor("the cursor is empty".into()));
                }
                "after" => after = Some(value.trim().to_string()),
                _ => {
                    return Err(QueryError::InvalidParameter {
                        name: key.clone(),
                        reason: "unknown page parameter (use page[offset] and page[limit], or \
                                 page[size] and page[after])"
                            .into(),
                    });
                }
            }
        } else if key == "include" {
            include = parse_include(entity, resolve, value)?;
        } else if key == "sort" {
            sort = crate::sort::parse_sort(entity, value)?;
        } else if let Some(alias) = bracket(key, "fields") {
            fields.push((alias, value));
        } else if key == "meta" {
            match value.trim() {
                "count" => count = true,
                _ => {
                    return Err(QueryError::InvalidParameter {
                        name: key.clone(),
                        reason: format!("`{value}` is not known (use meta=count)"),
                    });
                }
            }
        } else if key.starts_with("filter") || key.starts_with("page") || key.starts_with("fields")
        {
            return Err(QueryError::InvalidParameter {
                name: key.clone(),
                reason: "expected the form filter[alias.field], page[offset|limit|size|after] \
                         or fields[alias]"
                    .into(),
            });
        }
    }
    let cursor = match (offset.or(limit), size.or(after.as_ref().map(|_| 0))) {
        (Some(_), Some(_)) => {
            return Err(QueryError::InvalidParameter {
                name: "page".into(),
                reason: "page[offset] and page[limit] (offset paging) do not mix with \
                         page[size] and page[after] (cursor paging)"
                    .into(),
            });
        }
        (_, Some(_)) => Some(CursorPaging { after }),
        (_, None) => None,
    };
    let page = Page {
        offset: offset.unwrap_or(0),
        limit: size.or(limit).unwrap_or(limits.default_limit),
    };
    let mut root_fields = None;
    for (alias, list) in fields {
        let target = if alias == entity.alias() {
            Some(entity.clone())
        } else {
            find_included(&include, alias)
        };
        let Some(target) = target else {
            return Err(QueryError::InvalidParameter {
                name: format!("fields[{alias}]"),
                reason: format!(
                    "`{alias}` is neither `{}` nor the alias of an included relation's entity",
                    entity.alias()
                ),
            });
        };
        let indexes = parse_fields(&target, alias, list)?;
        if alias == entity.alias() {
            root_fields = Some(indexes);
        } else {
            set_included_fields(&mut include, alias, &indexes);
        }
    }
    Ok(ReadQuery {
        conditions,
        sort,
        after: None,
        page,
        cursor,
        fields: root_fields,
        count,
        include,
    })
}

/// Counts conditions against [`MAX_CONDITIONS`].
struct Budget(usize);

impl Budget {
    fn take(&mut self, name: &str) -> Result<(), QueryError> {
        self.0 += 1;
        if self.0 > MAX_CONDITIONS {
            return Err(QueryError::InvalidParameter {
                name: name.to_string(),
                reason: format!("a request may hold at most {MAX_CONDITIONS} filter conditions"),
            });
        }
        Ok(())
    }
}

/// `filter[x]` → `Some("x")` for prefix `filter`.
fn bracket<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    key.strip_prefix(prefix)?
        .strip_prefix('[')?
        .strip_suffix(']')
}

/// The entity of an included relation with `alias`, at any depth.
fn find_included(include: &[Include], alias: &str) -> Option<Arc<Entity>> {
    include.iter().find_map(|i| {
        if i.child.alias() == alias {
            Some(i.child.clone())
        } else {
            find_included(&i.children, alias)
        }
    })
}

fn set_included_fields(include: &mut [Include], alias: &str, fields: &[usize]) {
    for i in include {
        if i.child.alias() == alias {
            i.fields = Some(fields.to_vec());
        }
        set_included_fields(&mut i.children, alias, fields);
    }
}

/// `a,b` → the indexes of fields `a` and `b` of `entity`, in the entity's order.
fn parse_fields(entity: &Entity, alias: &str, list: &str) -> Result<Vec<usize>, QueryError> {
    let invalid = |reason: String| QueryError::InvalidParameter {
        name: format!("fields[{alias}]"),
        reason,
    };
    let mut indexes = Vec::new();
    for name in list.split(',').map(str::trim) {
        if name.is_empty() {
            return Err(invalid(format!(
                "`{list}` has an empty name (expected field names separated by commas)"
            )));
        }
        let index = entity
            .field_index(name)
            .ok_or_else(|| invalid(format!("`{alias}` has no field `{name}`")))?;
        if !indexes.contains(&index) {
            indexes.push(index);
        }
    }
    indexes.sort_unstable();
    Ok(indexes)
}

/// Where a filter key points: the relations to follow from the root, then a field.
struct Target {
    /// Relations from the root to the entity holding the field (name, child entity).
    path: Vec<(String, Arc<Entity>)>,
    /// The entity holding the field.
    entity: Arc<Entity>,
    /// The field's index.
    index: usize,
}

/// Resolves a filter key such as `countries.iso2_code`, `countryTaxRates.rate` or
/// `countries.countryTaxRates.rate`.
///
/// Spryker ignores the part before the first dot (`country.` and `countries.` both work), so a
/// first segment that is neither the alias nor a relation is skipped; later segments must be
/// relations.
fn target(
    entity: &Arc<Entity>,
    resolve: &dyn Fn(&str) -> Option<Arc<Entity>>,
    key: &str,
) -> Result<Target, QueryError> {
    let mut segments: Vec<&str> = key.split('.').collect();
    let name = segments.pop().unwrap_or_default();
    if let Some(first) = segments.first()
        && (*first == entity.alias() || (entity.relation(first).is_none() && segments.len() == 1))
    {
        segments.remove(0);
    }
    let mut current = entity.clone();
    let mut path = Vec::new();
    for relation in segments {
        if path.len() >= MAX_DEPTH {
            return Err(QueryError::InvalidParameter {
                name: format!("filter[{key}]"),
                reason: format!("relation filters may nest at most {MAX_DEPTH} deep"),
            });
        }
        let child = current
            .relation(relation)
            .and_then(|r| resolve(r.child_alias()))
            .ok_or_else(|| QueryError::UnknownRelation(relation.to_string()))?;
        path.push((relation.to_string(), child.clone()));
        current = child;
    }
    let index = current
        .field_index(name)
        .ok_or_else(|| QueryError::UnknownFilterField {
            field: name.to_string(),
            alias: current.alias().to_string(),
        })?;
    Ok(Target {
        path,
        entity: current,
        index,
    })
}

/// Wraps conditions on a relation's entity into the conditions on the root that select the
/// parents having such children.
fn wrap(path: Vec<(String, Arc<Entity>)>, conditions: Vec<Condition>) -> Vec<Condition> {
    path.into_iter()
        .rev()
        .fold(conditions, |conditions, (relation, child)| {
            vec![Condition::Related(Box::new(Related {
                relation,
                child,
                conditions,
            }))]
        })
}

/// One `filter[key]=value` pair: equality for plain text, the operators of a JSON object.
fn parse_filter(
    entity: &Arc<Entity>,
    resolve: &dyn Fn(&str) -> Option<Arc<Entity>>,
    key: &str,
    value: &str,
    budget: &mut Budget,
) -> Result<Vec<Condition>, QueryError> {
    let target = target(entity, resolve, key)?;
    let field = &target.entity.fields()[target.index];
    let trimmed = value.trim_start();
    let conditions = if trimmed.starts_with('{')
        && let Ok(serde_json::Value::Object(map)) = serde_json::from_str(trimmed)
        && (field.ty != FieldType::Json || is_ops(&map))
    {
        operators(&target.entity, target.index, &map, budget)?
    } else {
        budget.take("filter")?;
        let v = field
            .ty
            .parse_text(value)
            .and_then(no_nul)
            .map_err(|reason| QueryError::InvalidFilterValue {
                field: field.field_visible_name.clone(),
                reason,
            })?;
        vec![Condition::Eq(target.index, v)]
    };
    Ok(wrap(target.path, conditions))
}

/// The conditions of an operator object such as `{"gte": 10, "lt": 20}`, ANDed.
fn operators(
    entity: &Entity,
    index: usize,
    map: &serde_json::Map<String, serde_json::Value>,
    budget: &mut Budget,
) -> Result<Vec<Condition>, QueryError> {
    let field = &entity.fields()[index];
    let name = || field.field_visible_name.clone();
    let invalid = |reason: String| QueryError::InvalidFilterValue {
        field: name(),
        reason,
    };
    if map.is_empty() {
        return Err(QueryError::InvalidOperator {
            field: name(),
            operator: "{}".into(),
            reason: format!(
                "the object names no operator (use {})",
                OPERATORS.join(", ")
            ),
        });
    }
    let json_field = field.ty == FieldType::Json
        || entity
            .column(&field.field_name)
            .is_some_and(|c| c.kind == ColumnKind::Json);
    let mut out = Vec::with_capacity(map.len());
    for (op, v) in map {
        budget.take("filter")?;
        let refuse = |reason: &str| QueryError::InvalidOperator {
            field: name(),
            operator: op.clone(),
            reason: reason.to_string(),
        };
        let scalar = |v: &serde_json::Value| -> Result<Value, QueryError> {
            if v.is_array() || (v.is_object() && field.ty != FieldType::Json) {
                return Err(invalid(format!("`{op}` expects one value, not {v}")));
            }
            field.ty.parse_json(v).and_then(no_nul).map_err(invalid)
        };
        let list = |v: &serde_json::Value| -> Result<Vec<Value>, QueryError> {
            let serde_json::Value::Array(items) = v else {
                return Err(invalid(format!("`{op}` expects a JSON array")));
            };
            items.iter().map(scalar).collect()
        };
        let ordered = || {
            if json_field {
                Err(refuse("a JSON field has no order"))
            } else {
                Ok(())
            }
        };
        let condition = match op.to_ascii_lowercase().as_str() {
            "eq" => Condition::Eq(index, scalar(v)?),
            "neq" => match scalar(v)? {
                Value::Null => Condition::IsNull(index, false),
                v => Condition::Compare(index, Comparison::Ne, v),
            },
            cmp @ ("gt" | "gte" | "lt" | "lte") => {
                ordered()?;
                let c = match cmp {
                    "gt" => Comparison::Gt,
                    "gte" => Comparison::Ge,
                    "lt" => Comparison::Lt,
                    _ => Comparison::Le,
                };
                match scalar(v)? {
                    Value::Null => return Err(invalid(format!("`{op}` cannot compare with null"))),
                    v => Condition::Compare(index, c, v),
                }
            }
            "in" => Condition::In(index, list(v)?),
            "nin" => Condition::NotIn(index, list(v)?),
            like @ ("like" | "ilike") => {
                if field.ty != FieldType::String || json_field {
                    return Err(refuse("`like` and `ilike` apply to string fields"));
                }
                let serde_json::Value::String(text) = v else {
                    return Err(invalid(format!("`{op}` expects a string pattern")));
                };
                if text.contains('\0') {
                    return Err(invalid(
                        "a filter value may not contain a NUL character".into(),
                    ));
                }
                Condition::Like {
                    field: index,
                    pattern: parse_pattern(text).map_err(invalid)?,
                    case_insensitive: like == "ilike",
                }
            }
            "isnull" => match v {
                serde_json::Value::Bool(b) => Condition::IsNull(index, *b),
                _ => return Err(invalid(format!("`{op}` expects true or false"))),
            },
            _ => {
                return Err(refuse(&format!(
                    "unknown operator (use {})",
                    OPERATORS.join(", ")
                )));
            }
        };
        out.push(condition);
    }
    Ok(out)
}

/// Parses a `like` pattern: `%` any run, `_` one character, `\` makes the next character
/// literal.
fn parse_pattern(text: &str) -> Result<Vec<PatternPart>, String> {
    let mut parts = Vec::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        parts.push(match c {
            '%' => PatternPart::AnyRun,
            '_' => PatternPart::AnyOne,
            '\\' => PatternPart::Literal(
                chars
                    .next()
                    .ok_or("the pattern ends with a lone `\\` (write `\\\\` for a backslash)")?,
            ),
            c => PatternPart::Literal(c),
        });
    }
    Ok(parts)
}

/// `filter[or]=[{…}, {…}]`: the groups ORed, each group's members ANDed.
fn parse_or(
    entity: &Arc<Entity>,
    resolve: &dyn Fn(&str) -> Option<Arc<Entity>>,
    value: &str,
    budget: &mut Budget,
) -> Result<Condition, QueryError> {
    let json: serde_json::Value =
        serde_json::from_str(value).map_err(|e| QueryError::InvalidParameter {
            name: "filter[or]".into(),
            reason: format!("not JSON ({e}); expected [{{\"field\": value}}, …]"),
        })?;
    or_groups(entity, resolve, &json, budget, 1)
}

fn or_groups(
    entity: &Arc<Entity>,
    resolve: &dyn Fn(&str) -> Option<Arc<Entity>>,
    json: &serde_json::Value,
    budget: &mut Budget,
    depth: usize,
) -> Result<Condition, QueryError> {
    let invalid = |reason: String| QueryError::InvalidParameter {
        name: "filter[or]".into(),
        reason,
    };
    if depth > MAX_DEPTH {
        return Err(invalid(format!(
            "`or` groups may nest at most {MAX_DEPTH} deep"
        )));
    }
    let serde_json::Value::Array(groups) = json else {
        return Err(invalid(
            "expected a JSON array of groups, such as [{\"sku\": \"a\"}, {\"price\": {\"lt\": 10}}]"
                .into(),
        ));
    };
    if groups.is_empty() {
        return Err(invalid("the array holds no group".into()));
    }
    let mut out = Vec::with_capacity(groups.len());
    for group in groups {
        let serde_json::Value::Object(members) = group else {
            return Err(invalid(format!(
                "a group must be a JSON object, not {group}"
            )));
        };
        if members.is_empty() {
            return Err(invalid("a group holds no condition".into()));
        }
        let mut conditions = Vec::new();
        for (key, v) in members {
            budget.take("filter[or]")?;
            if key == "or" {
                conditions.push(or_groups(entity, resolve, v, budget, depth + 1)?);
                continue;
            }
            let target = target(entity, resolve, key)?;
            let field = &target.entity.fields()[target.index];
            let member = match v {
                serde_json::Value::Object(map) if field.ty != FieldType::Json || is_ops(map) => {
                    operators(&target.entity, target.index, map, budget)?
                }
                serde_json::Value::Array(_) => {
                    return Err(QueryError::InvalidFilterValue {
                        field: field.field_visible_name.clone(),
                        reason: "use {\"in\": [...]} for a list".into(),
                    });
                }
                v => vec![Condition::Eq(
                    target.index,
                    field.ty.parse_json(v).and_then(no_nul).map_err(|reason| {
                        QueryError::InvalidFilterValue {
                            field: field.field_visible_name.clone(),
                            reason,
                        }
                    })?,
                )],
            };
            conditions.extend(wrap(target.path, member));
        }
        out.push(conditions);
    }
    Ok(Condition::Any(out))
}

/// Whether every key of `map` is an operator name.
fn is_ops(map: &serde_json::Map<String, serde_json::Value>) -> bool {
    map.keys()
        .all(|k| OPERATORS.iter().any(|o| o.eq_ignore_ascii_case(k)))
}

/// Refuses a value with a NUL character: no stored text holds one (PostgreSQL refuses it in any
/// text), so the filter could match nothing, and the database would answer it with an error.
fn no_nul(v: Value) -> Result<Value, String> {
    match &v {
        Value::Text(s) | Value::Json(s) if s.contains('\0') => {
            Err("a filter value may not contain a NUL character".into())
        }
        _ => Ok(v),
    }
}

fn parse_include(
    entity: &Arc<Entity>,
    resolve: &dyn Fn(&str) -> Option<Arc<Entity>>,
    value: &str,
) -> Result<Vec<Include>, QueryError> {
    let mut roots: Vec<Include> = Vec::new();
    for chain in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let mut level = &mut roots;
        let mut current: Arc<Entity> = entity.clone();
        for name in chain.split('.') {
            let relation = current
                .relation(name)
                .ok_or_else(|| QueryError::UnknownRelation(name.to_string()))?;
            let child = resolve(relation.child_alias())
                .ok_or_else(|| QueryError::UnknownRelation(name.to_string()))?;
            let pos = match level.iter().position(|i| i.relation == name) {
                Some(p) => p,
                None => {
                    level.push(Include {
                        relation: name.to_string(),
                        child: child.clone(),
                        children: Vec::new(),
                        fields: None,
                    });
                    level.len() - 1
                }
            };
            current = child;
            level = &mut level[pos].children;
        }
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynex_schema::EntityConfig;

    fn catalog() -> Vec<Arc<Entity>> {
        let json = r#"[
          {"tableName":"spy_country","tableAlias":"countries","isActive":true,
           "definition":{"identifier":"id_country","fields":[
             {"fieldName":"id_country","fieldVisibleName":"id_country","type":"integer"},
             {"fieldName":"iso2_code","fieldVisibleName":"iso2_code","type":"string"},
             {"fieldName":"rate","fieldVisibleName":"rate","type":"decimal"}]},
           "childRelations":[{"name":"countryTaxRates","childDynamicEntityConfiguration":{"tableAlias":"tax-rates"},
             "relationFieldMappings":[{"childFieldName":"fk_country","parentFieldName":"id_country"}]}]},
          {"tableName":"spy_tax_rate","tableAlias":"tax-rates","isActive":true,
           "definition":{"identifier":"id_tax_rate","fields":[
             {"fieldName":"id_tax_rate","fieldVisibleName":"id_tax_rate","type":"integer"}]},
           "childRelations":[{"name":"self","childDynamicEntityConfiguration":{"tableAlias":"tax-rates"},
             "relationFieldMappings":[{"childFieldName":"id_tax_rate","parentFieldName":"id_tax_rate"}]}]}]"#;
        EntityConfig::parse_many(json)
            .unwrap()
            .into_iter()
            .map(|c| Arc::new(Entity::new(c).unwrap()))
            .collect()
    }

    fn run(pairs: &[(&str, &str)]) -> Result<ReadQuery, QueryError> {
        let all = catalog();
        let resolve = |a: &str| all.iter().find(|e| e.alias() == a).cloned();
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse(&all[0], &resolve, &pairs, &PageLimits::default())
    }

    #[test]
    fn spryker_filters_and_paging() {
        let q = run(&[
            ("filter[countries.iso2_code]", "AT"),
            ("filter[country.id_country]", r#"{"in": [1, "2"]}"#),
            ("page[limit]", "5"),
        ])
        .unwrap();
        assert_eq!(q.conditions[0], Condition::Eq(1, Value::Text("AT".into())));
        assert_eq!(
            q.conditions[1],
            Condition::In(0, vec![Value::Int(1), Value::Int(2)])
        );
        assert_eq!(
            q.page,
            Page {
                offset: 0,
                limit: 5
            }
        );
        let q = run(&[("page[offset]", "3")]).unwrap();
        assert_eq!(
            q.page,
            Page {
                offset: 3,
                limit: 20
            }
        );
    }

    #[test]
    fn includes_nest_and_merge() {
        let q = run(&[("include", "countryTaxRates.self,countryTaxRates")]).unwrap();
        assert_eq!(q.include.len(), 1);
        assert_eq!(q.include[0].children[0].relation, "self");
        assert_eq!(
            run(&[("include", "countryTaxRates.nope")]),
            Err(QueryError::UnknownRelation("nope".into()))
        );
    }

    #[test]
    fn bad_parameters_are_coded() {
        assert!(matches!(
            run(&[("filter[countries.nope]", "x")]),
            Err(QueryError::UnknownFilterField { .. })
        ));
        assert!(matches!(
            run(&[("filter[countries.id_country]", "abc")]),
            Err(QueryError::InvalidFilterValue { .. })
        ));
        assert!(matches!(
            run(&[("filter[countries.id_country]", r#"{"gt": "x"}"#)]),
            Err(QueryError::InvalidFilterValue { .. })
        ));
        assert!(matches!(
            run(&[("filter[countries.id_country]", r#"{"near": 1}"#)]),
            Err(QueryError::InvalidOperator { .. })
        ));
        for (k, v) in [
            ("page[limit]", "0"),
            ("page[limit]", "1001"),
            ("page[offset]", "-1"),
            ("page[size]", "0"),
            ("page[from]", "1"),
            ("filter", "x"),
            ("fields", "x"),
            ("meta", "total"),
        ] {
            assert!(
                matches!(run(&[(k, v)]), Err(QueryError::InvalidParameter { .. })),
                "{k}={v}"
            );
        }
        assert!(run(&[("api_key", "x"), ("unknown", "y")]).is_ok());
    }

    #[test]
    fn operators_become_typed_conditions() {
        let q = run(&[
            (
                "filter[countries.rate]",
                r#"{"gte": 10, "LT": "20.5", "neq": null}"#,
            ),
            (
                "filter[countries.iso2_code]",
                r#"{"nin": ["AT", null], "ilike": "a\\%_"}"#,
            ),
            (
                "filter[countries.id_country]",
                r#"{"isNull": false, "eq": null}"#,
            ),
        ])
        .unwrap();
        assert_eq!(
            q.conditions,
            vec![
                Condition::Compare(2, Comparison::Ge, Value::Decimal("10".into())),
                Condition::Compare(2, Comparison::Lt, Value::Decimal("20.5".into())),
                Condition::IsNull(2, false),
                Condition::NotIn(1, vec![Value::Text("AT".into()), Value::Null]),
                Condition::Like {
                    field: 1,
                    pattern: vec![
                        PatternPart::Literal('a'),
                        PatternPart::Literal('%'),
                        PatternPart::AnyOne
                    ],
                    case_insensitive: true,
                },
                Condition::IsNull(0, false),
                Condition::Eq(0, Value::Null),
            ]
        );
    }

    #[test]
    fn relation_keys_and_or_groups() {
        let all = catalog();
        let q = run(&[
            ("filter[countryTaxRates.id_tax_rate]", "3"),
            ("filter[or]", r#"[{"iso2_code": "AT"}, {"countries.countryTaxRates.id_tax_rate": {"gt": 1}, "or": [{"rate": 1}]}]"#),
        ])
        .unwrap();
        let related = |conditions| {
            Condition::Related(Box::new(Related {
                relation: "countryTaxRates".into(),
                child: all[1].clone(),
                conditions,
            }))
        };
        assert_eq!(
            q.conditions[0],
            related(vec![Condition::Eq(0, Value::Int(3))])
        );
        assert_eq!(
            q.conditions[1],
            Condition::Any(vec![
                vec![Condition::Eq(1, Value::Text("AT".into()))],
                vec![
                    related(vec![Condition::Compare(0, Comparison::Gt, Value::Int(1))]),
                    Condition::Any(vec![vec![Condition::Eq(2, Value::Decimal("1".into()))]]),
                ],
            ])
        );
        // A first segment that is neither the alias nor a relation is ignored (Spryker); later
        // ones must be relations.
        assert_eq!(
            run(&[("filter[country.iso2_code]", "AT")])
                .unwrap()
                .conditions,
            vec![Condition::Eq(1, Value::Text("AT".into()))]
        );
        assert_eq!(
            run(&[("filter[countries.nope.iso2_code]", "AT")]),
            Err(QueryError::UnknownRelation("nope".into()))
        );
        // Relations nest at most four deep.
        let deep = "countryTaxRates.self.self.self.self.id_tax_rate";
        assert!(run(&[(&format!("filter[{deep}]") as &str, "1")]).is_err());
        let ok = "countryTaxRates.self.self.self.id_tax_rate";
        assert!(run(&[(&format!("filter[{ok}]") as &str, "1")]).is_ok());
    }

    #[test]
    fn paging_styles_fields_and_counts() {
        let q = run(&[
            ("page[size]", "5"),
            ("page[after]", "abc"),
            ("meta", "count"),
            ("sort", "-rate"),
            ("fields[countries]", "rate,id_country"),
        ])
        .unwrap();
        assert_eq!(
            q.page,
            Page {
                offset: 0,
                limit: 5
            }
        );
        assert_eq!(
            q.cursor,
            Some(CursorPaging {
                after: Some("abc".into())
            })
        );
        assert!(q.count);
        assert_eq!(q.sort, vec![Sort::desc(2)]);
        assert_eq!(q.fields, Some(vec![0, 2]));
        let q = run(&[("page[after]", "abc")]).unwrap();
        assert_eq!(q.page.limit, 20);
        for pairs in [
            &[("page[size]", "5"), ("page[limit]", "5")][..],
            &[("page[after]", "x"), ("page[offset]", "5")],
            &[("fields[tax-rates]", "id_tax_rate")],
            &[("fields[countries]", "nope")],
        ] {
            assert!(
                matches!(run(pairs), Err(QueryError::InvalidParameter { .. })),
                "{pairs:?}"
            );
        }
        assert!(matches!(
            run(&[("page[after]", " ")]),
            Err(QueryError::InvalidCursor(_))
        ));
        let q = run(&[
            ("include", "countryTaxRates"),
            ("fields[tax-rates]", "id_tax_rate"),
        ])
        .unwrap();
        assert_eq!(q.include[0].fields, Some(vec![0]));
    }

    #[test]
    fn conditions_are_bounded() {
        let many: Vec<String> = (0..MAX_CONDITIONS)
            .map(|i| format!("{{\"id_country\": {i}}}"))
            .collect();
        let value = format!("[{}]", many.join(","));
        assert!(run(&[("filter[or]", &value as &str)]).is_ok());
        let value = format!("[{}, {{\"id_country\": 0}}]", many.join(","));
        assert!(matches!(
            run(&[("filter[or]", &value as &str)]),
            Err(QueryError::InvalidParameter { .. })
        ));
    }
}
