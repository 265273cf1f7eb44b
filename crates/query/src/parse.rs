//! Parsing query-string pairs into a [`ReadQuery`].

use std::sync::Arc;

use dynex_schema::{Entity, Value};

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
    /// An `include` names a relation that does not exist at that level (Spryker 1313).
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
}

/// One condition on the root entity, ANDed with the others.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `field = value`.
    Eq(usize, Value),
    /// `field IN (values)`.
    In(usize, Vec<Value>),
    /// The rows after a position in a sorted read: keyset paging, the rows after the last one
    /// read.
    After(Keyset),
    /// `field >= value`, compared in the column's own type (a timestamp column as a timestamp,
    /// whatever the field's type); a `NULL` never matches. Delta reads use it.
    AtLeast(usize, Value),
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
    /// The page to return.
    pub page: Page,
    /// Relations to load with the rows.
    pub include: Vec<Include>,
}

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
    let mut offset = 0;
    let mut limit = limits.default_limit;
    let mut include = Vec::new();
    for (key, value) in pairs {
        if let Some(inner) = bracket(key, "filter") {
            conditions.push(parse_filter(entity, inner, value)?);
        } else if let Some(inner) = bracket(key, "page") {
            let n = value
                .trim()
                .parse::<u64>()
                .map_err(|_| QueryError::InvalidParameter {
                    name: key.clone(),
                    reason: format!("`{value}` is not a non-negative integer"),
                })?;
            match inner {
                "offset" => offset = n,
                "limit" if n == 0 || n > limits.max_limit => {
                    return Err(QueryError::InvalidParameter {
                        name: key.clone(),
                        reason: format!("must be between 1 and {}", limits.max_limit),
                    });
                }
                "limit" => limit = n,
                _ => {
                    return Err(QueryError::InvalidParameter {
                        name: key.clone(),
                        reason: "unknown page parameter (use page[offset] and page[limit])".into(),
                    });
                }
            }
        } else if key == "include" {
            include = parse_include(entity, resolve, value)?;
        } else if key.starts_with("filter") || key.starts_with("page") {
            return Err(QueryError::InvalidParameter {
                name: key.clone(),
                reason: "expected the form filter[alias.field] or page[offset|limit]".into(),
            });
        }
    }
    Ok(ReadQuery {
        conditions,
        sort: Vec::new(),
        after: None,
        page: Page { offset, limit },
        include,
    })
}

/// `filter[x]` → `Some("x")` for prefix `filter`.
fn bracket<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    key.strip_prefix(prefix)?
        .strip_prefix('[')?
        .strip_suffix(']')
}

fn parse_filter(entity: &Entity, inner: &str, value: &str) -> Result<Condition, QueryError> {
    // Spryker ignores the part before the dot (`country.` and `countries.` both work); a key
    // without a dot names the field directly instead of failing.
    let name = inner.split_once('.').map_or(inner, |(_, f)| f);
    let index = entity
        .field_index(name)
        .ok_or_else(|| QueryError::UnknownFilterField {
            field: name.to_string(),
            alias: entity.alias().to_string(),
        })?;
    let field = &entity.fields()[index];
    let invalid = |reason: String| QueryError::InvalidFilterValue {
        field: field.field_visible_name.clone(),
        reason,
    };
    let trimmed = value.trim_start();
    if trimmed.starts_with('{')
        && let Ok(serde_json::Value::Object(map)) = serde_json::from_str(trimmed)
    {
        let mut ops = map.iter();
        return match (ops.next(), ops.next()) {
            (Some((op, serde_json::Value::Array(items))), None)
                if op.eq_ignore_ascii_case("in") =>
            {
                let values = items
                    .iter()
                    .map(|v| field.ty.parse_json(v).and_then(no_nul))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(invalid)?;
                Ok(Condition::In(index, values))
            }
            (Some((op, _)), None) if op.eq_ignore_ascii_case("in") => {
                Err(invalid("`in` expects a JSON array".into()))
            }
            _ => Err(invalid(
                "a JSON object filter must be {\"in\": [...]}".into(),
            )),
        };
    }
    let v = field
        .ty
        .parse_text(value)
        .and_then(no_nul)
        .map_err(invalid)?;
    Ok(Condition::Eq(index, v))
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
            run(&[("filter[countries.id_country]", r#"{"gt": 1}"#)]),
            Err(QueryError::InvalidFilterValue { .. })
        ));
        for (k, v) in [
            ("page[limit]", "0"),
            ("page[limit]", "1001"),
            ("page[offset]", "-1"),
            ("page[size]", "1"),
            ("filter", "x"),
        ] {
            assert!(
                matches!(run(&[(k, v)]), Err(QueryError::InvalidParameter { .. })),
                "{k}={v}"
            );
        }
        assert!(run(&[("api_key", "x"), ("unknown", "y")]).is_ok());
    }
}
