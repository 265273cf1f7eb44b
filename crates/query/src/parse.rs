//! Parsing query-string pairs into a [`ReadQuery`]: paging, sparse fields, includes and
//! `meta`, with `filter[…]` and `sort` handed to their own parsers.

use std::sync::Arc;

use dynex_schema::Entity;

use crate::ast::{CursorPaging, Include, Page, PageLimits, ReadQuery};
use crate::error::QueryError;
use crate::filter::{Budget, parse_filter, parse_or};

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
    let mut budget = Budget::default();
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
    use crate::ast::Condition;
    use crate::sort::Sort;
    use crate::testing::run;
    use dynex_schema::Value;

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
}
