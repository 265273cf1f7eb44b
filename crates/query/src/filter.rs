//! Parsing `filter[…]` parameters into [`Condition`]s: keys through relations, the operators
//! of the JSON form, `or` groups and `like` patterns, within a bound on their number.

use std::sync::Arc;

use dynex_schema::{ColumnKind, Entity, Field, FieldType, Value, ValueError};

use crate::ast::{Comparison, Condition, PatternPart, Related};
use crate::error::QueryError;

/// The most conditions (operators, `or` groups and relation filters together) one request may
/// hold, so that no request can make a statement of unbounded size.
pub const MAX_CONDITIONS: usize = 100;
/// The most values the `in` and `nin` lists of one request may hold together: each is a bound
/// value (MariaDB takes at most 65,535 per statement) and costs the database a lookup.
pub const MAX_LIST_VALUES: usize = 1000;
/// How deep `or` groups and relation filters may nest.
const MAX_DEPTH: usize = 4;

/// The operators of the JSON filter form.
pub const OPERATORS: [&str; 11] = [
    "eq", "neq", "gt", "gte", "lt", "lte", "in", "nin", "like", "ilike", "isNull",
];

/// Counts conditions against [`MAX_CONDITIONS`] and list values against [`MAX_LIST_VALUES`].
#[derive(Default)]
pub(crate) struct Budget {
    conditions: usize,
    values: usize,
}

impl Budget {
    fn take(&mut self, name: &str) -> Result<(), QueryError> {
        self.conditions += 1;
        if self.conditions > MAX_CONDITIONS {
            return Err(QueryError::InvalidParameter {
                name: name.to_string(),
                reason: format!("a request may hold at most {MAX_CONDITIONS} filter conditions"),
            });
        }
        Ok(())
    }

    /// Counts the `n` values of an `in` or `nin` list of the parameter `name`.
    fn take_values(&mut self, n: usize, name: &str) -> Result<(), QueryError> {
        self.values += n;
        if self.values > MAX_LIST_VALUES {
            return Err(QueryError::InvalidParameter {
                name: name.to_string(),
                reason: format!(
                    "the `in` and `nin` lists of a request may hold at most {MAX_LIST_VALUES} \
                     values in all"
                ),
            });
        }
        Ok(())
    }
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
pub(crate) fn parse_filter(
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
        operators(
            &target.entity,
            target.index,
            &map,
            &format!("filter[{key}]"),
            budget,
        )?
    } else {
        budget.take("filter")?;
        let v = filter_value(field, field.ty.parse_text(value))?;
        vec![Condition::Eq(target.index, v)]
    };
    Ok(wrap(target.path, conditions))
}

/// The conditions of an operator object such as `{"gte": 10, "lt": 20}` of the query
/// parameter `param`, ANDed.
fn operators(
    entity: &Entity,
    index: usize,
    map: &serde_json::Map<String, serde_json::Value>,
    param: &str,
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
            no_nul(field.ty.parse_json(v)).map_err(invalid)
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
            "in" => {
                let values = list(v)?;
                budget.take_values(values.len(), param)?;
                Condition::In(index, values)
            }
            "nin" => {
                let values = list(v)?;
                budget.take_values(values.len(), param)?;
                Condition::NotIn(index, values)
            }
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
pub(crate) fn parse_or(
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
                    operators(&target.entity, target.index, map, "filter[or]", budget)?
                }
                serde_json::Value::Array(_) => {
                    return Err(QueryError::InvalidFilterValue {
                        field: field.field_visible_name.clone(),
                        reason: "use {\"in\": [...]} for a list".into(),
                    });
                }
                v => vec![Condition::Eq(
                    target.index,
                    filter_value(field, field.ty.parse_json(v))?,
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

/// The value of an equality filter on `field`, or why it cannot be one (1319).
fn filter_value(field: &Field, parsed: Result<Value, ValueError>) -> Result<Value, QueryError> {
    no_nul(parsed).map_err(|reason| QueryError::InvalidFilterValue {
        field: field.field_visible_name.clone(),
        reason,
    })
}

/// A parsed filter value, refused when it holds a NUL character: no stored text holds one
/// (PostgreSQL refuses it in any text), so the filter could match nothing, and the database
/// would answer it with an error.
fn no_nul(parsed: Result<Value, ValueError>) -> Result<Value, String> {
    let v = parsed.map_err(|e| e.to_string())?;
    match &v {
        Value::Text(s) | Value::Json(s) if s.contains('\0') => {
            Err("a filter value may not contain a NUL character".into())
        }
        _ => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{catalog, run};

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
    fn list_values_are_bounded_per_request() {
        let list = |n: usize| {
            let values: Vec<String> = (0..n).map(|i| i.to_string()).collect();
            format!("{{\"in\": [{}]}}", values.join(","))
        };
        let all = list(MAX_LIST_VALUES);
        assert!(run(&[("filter[countries.id_country]", &all as &str)]).is_ok());
        // The lists of a request count together, `or` groups included.
        let half = list(MAX_LIST_VALUES / 2);
        let or = format!("[{{\"id_country\": {half}}}]");
        assert!(run(&[("filter[id_country]", &half as &str), ("filter[or]", &or)]).is_ok());
        let one = r#"{"nin": [1]}"#;
        assert_eq!(
            run(&[
                ("filter[id_country]", &half as &str),
                ("filter[or]", &or),
                ("filter[iso2_code]", one)
            ]),
            Err(QueryError::InvalidParameter {
                name: "filter[iso2_code]".into(),
                reason: format!(
                    "the `in` and `nin` lists of a request may hold at most {MAX_LIST_VALUES} \
                     values in all"
                ),
            })
        );
        let over = list(MAX_LIST_VALUES + 1);
        let or = format!("[{{\"id_country\": {over}}}]");
        assert!(matches!(
            run(&[("filter[or]", &or as &str)]),
            Err(QueryError::InvalidParameter { name, .. }) if name == "filter[or]"
        ));
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
