//! Sorted reads and keyset positions: the `-price,sku` grammar, the total order of a sorted read
//! and the position of a row in it, from which the next page starts (keyset paging, never
//! `OFFSET`).
//!
//! Every backend sorts `NULL` before any value in ascending order and after every value in
//! descending order (SQLite's and MariaDB's own order; PostgreSQL is told so), and the identifier
//! always ends the order, so the order is total and a position names exactly one place in it.

use dynex_schema::{ColumnKind, Entity, FieldType, Value};
use serde_json::Value as Json;

use crate::decode::value_from_json;
use crate::error::QueryError;

/// One key of a sort: a field and its direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sort {
    /// Index of the field in the entity's fields.
    pub field: usize,
    /// Largest first (`-price`); `NULL` then comes last.
    pub descending: bool,
}

impl Sort {
    /// An ascending key on `field`.
    pub fn asc(field: usize) -> Sort {
        Sort {
            field,
            descending: false,
        }
    }

    /// A descending key on `field`.
    pub fn desc(field: usize) -> Sort {
        Sort {
            field,
            descending: true,
        }
    }
}

/// Parses a sort such as `-price,sku` against `entity`: visible field names separated by commas,
/// each ascending, or descending with a leading `-`.
///
/// Blank text is no sort. An unknown field, an empty key, a field named twice or a `json` field
/// (whose values have no order on every backend) is refused.
pub fn parse_sort(entity: &Entity, text: &str) -> Result<Vec<Sort>, QueryError> {
    let invalid = |reason: String| QueryError::InvalidParameter {
        name: "sort".into(),
        reason,
    };
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut keys: Vec<Sort> = Vec::new();
    for part in text.split(',').map(str::trim) {
        let (name, descending) = match part.strip_prefix('-') {
            Some(rest) => (rest.trim(), true),
            None => (part, false),
        };
        if name.is_empty() {
            return Err(invalid(format!(
                "`{text}` has an empty key (expected fields separated by commas, such as -price,sku)"
            )));
        }
        let field = entity
            .field_index(name)
            .ok_or_else(|| QueryError::UnknownSortField {
                field: name.to_string(),
                alias: entity.alias().to_string(),
            })?;
        let f = &entity.fields()[field];
        let json_column = entity
            .column(&f.field_name)
            .is_some_and(|c| c.kind == ColumnKind::Json);
        if f.ty == FieldType::Json || json_column {
            return Err(invalid(format!(
                "field `{name}` holds JSON, which cannot be sorted"
            )));
        }
        if keys.iter().any(|k| k.field == field) {
            return Err(invalid(format!("field `{name}` is sorted twice")));
        }
        keys.push(Sort { field, descending });
    }
    Ok(keys)
}

/// The total order of a read sorted by `sort`: its keys, then the identifier ascending, so rows
/// that tie on every key still have one order.
///
/// A key that is already total (the identifier, or a column that is unique and `NOT NULL`, such
/// as a SKU) ends the order: the keys after it could never decide, and MariaDB, which cannot
/// sort the ties of an index's order by another column, would sort the whole table instead of
/// reading that index.
pub fn order_keys(entity: &Entity, sort: &[Sort]) -> Vec<Sort> {
    let id = entity.identifier_index();
    let mut keys = sort.to_vec();
    match keys
        .iter()
        .position(|k| k.field == id || unique_not_null(entity, k.field))
    {
        Some(last) => keys.truncate(last + 1),
        None => keys.push(Sort::asc(id)),
    }
    keys
}

/// Whether the column of field `index` alone is a unique key that holds no `NULL`, as
/// introspected: its values order the rows totally.
fn unique_not_null(entity: &Entity, index: usize) -> bool {
    let column = &entity.fields()[index].field_name;
    let Some(table) = entity.table_info() else {
        return false;
    };
    let alone = std::slice::from_ref(column);
    (table.primary_key == alone || table.unique_keys.iter().any(|k| k == alone))
        && table.column(column).is_some_and(|c| !c.nullable)
}

/// A position in a sorted read: the key values of a row, one per key of the order. As a
/// condition ([`crate::Condition::After`]) it selects the rows after that row.
#[derive(Debug, Clone, PartialEq)]
pub struct Keyset {
    /// The total order, from [`order_keys`].
    pub keys: Vec<Sort>,
    /// The row's value of each key, `Value::Null` for `NULL`.
    pub values: Vec<Value>,
}

impl Keyset {
    /// The position of a row read by [`crate::select_ordered`] with `keys`: `key_values` are
    /// the values the row carries after its fields and extra columns (see [`crate::decode_row`]).
    ///
    /// The values are the stored ones, not the wire forms (a decimal keeps every digit, a
    /// timestamp its stored text), so the next page starts exactly after the row.
    pub fn from_row(keys: &[Sort], key_values: &[Json]) -> Result<Keyset, KeysetError> {
        if key_values.len() < keys.len() {
            return Err(KeysetError::TooFewValues {
                values: key_values.len(),
                keys: keys.len(),
            });
        }
        let values = key_values[key_values.len() - keys.len()..]
            .iter()
            .map(value_from_json)
            .collect();
        Ok(Keyset {
            keys: keys.to_vec(),
            values,
        })
    }
}

/// Why key values are no position in an order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeysetError {
    /// The row carries fewer key values than the order has keys.
    #[error("the row carries {values} key values, the order has {keys} keys")]
    TooFewValues {
        /// The key values the row carries.
        values: usize,
        /// The keys of the order.
        keys: usize,
    },
}

/// Whether the column of field `index` may hold `NULL`: the identifier never does, other columns
/// as introspected (and may, when the table was not introspected).
pub(crate) fn nullable(entity: &Entity, index: usize) -> bool {
    if index == entity.identifier_index() {
        return false;
    }
    entity
        .column(&entity.fields()[index].field_name)
        .is_none_or(|c| c.nullable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::entity_of;

    fn products() -> Entity {
        let fields = [
            ("id", "id", "integer"),
            ("sku", "sku", "string"),
            ("price", "price", "decimal"),
            ("attrs", "attributes", "json"),
        ];
        entity_of("p", "products", &fields)
    }

    #[test]
    fn the_sort_grammar_names_visible_fields() {
        let e = products();
        assert_eq!(
            parse_sort(&e, "-price,sku"),
            Ok(vec![Sort::desc(2), Sort::asc(1)])
        );
        assert_eq!(
            parse_sort(&e, " sku , - price "),
            Ok(vec![Sort::asc(1), Sort::desc(2)])
        );
        assert_eq!(parse_sort(&e, "identifier"), Ok(vec![Sort::asc(0)]));
        assert_eq!(parse_sort(&e, "  "), Ok(vec![]));
    }

    #[test]
    fn bad_sorts_say_why() {
        let e = products();
        assert_eq!(
            parse_sort(&e, "-prize"),
            Err(QueryError::UnknownSortField {
                field: "prize".into(),
                alias: "products".into()
            })
        );
        assert_eq!(
            parse_sort(&e, "-prize").unwrap_err().to_string(),
            "Sort field `prize` for table alias `products` not found."
        );
        for (text, says) in [
            ("sku,,price", "empty key"),
            ("-", "empty key"),
            ("sku,-sku", "sorted twice"),
            ("attributes", "holds JSON"),
        ] {
            let e = parse_sort(&e, text).unwrap_err();
            assert!(
                matches!(&e, QueryError::InvalidParameter { name, .. } if name == "sort"),
                "{text}: {e:?}"
            );
            assert!(e.to_string().contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn the_identifier_ends_every_order() {
        let e = products();
        assert_eq!(order_keys(&e, &[]), vec![Sort::asc(0)]);
        assert_eq!(
            order_keys(&e, &[Sort::desc(2)]),
            vec![Sort::desc(2), Sort::asc(0)]
        );
        // Keys after the identifier could never decide.
        assert_eq!(
            order_keys(&e, &[Sort::desc(0), Sort::asc(1)]),
            vec![Sort::desc(0)]
        );
    }

    #[test]
    fn a_unique_not_null_key_ends_the_order() {
        let columns = [
            ("id", false),
            ("sku", false),
            ("price", true),
            ("attrs", true),
        ];
        let e = products().with_table(dynex_schema::TableInfo {
            name: "p".into(),
            columns: columns
                .iter()
                .map(|(n, null)| {
                    dynex_schema::ColumnInfo::from_declared(n, "text", *null, None, false)
                })
                .collect(),
            primary_key: vec!["id".into()],
            unique_keys: vec![vec!["sku".into()], vec!["price".into()]],
            foreign_keys: vec![],
        });
        assert_eq!(
            order_keys(&e, &[Sort::desc(1), Sort::asc(2)]),
            vec![Sort::desc(1)]
        );
        // A unique key that may hold NULL (several of them) is not total.
        assert_eq!(
            order_keys(&e, &[Sort::desc(2)]),
            vec![Sort::desc(2), Sort::asc(0)]
        );
        assert_eq!(
            order_keys(&e, &[Sort::asc(2), Sort::desc(0), Sort::asc(1)]),
            vec![Sort::asc(2), Sort::desc(0)]
        );
    }

    #[test]
    fn positions_keep_the_stored_values() {
        let keys = [Sort::desc(2), Sort::asc(0)];
        let k = Keyset::from_row(
            &keys,
            &[
                serde_json::json!("extra"),
                serde_json::json!("20.000000000000004"),
                serde_json::json!(7),
            ],
        )
        .unwrap();
        assert_eq!(
            k.values,
            vec![Value::Text("20.000000000000004".into()), Value::Int(7)]
        );
        let k = Keyset::from_row(&keys, &[Json::Null, serde_json::json!(1.5)]).unwrap();
        assert_eq!(k.values, vec![Value::Null, Value::Float(1.5)]);
        assert!(Keyset::from_row(&keys, &[Json::Null]).is_err());
        let short = Keyset::from_row(&keys, &[Json::Null]).unwrap_err();
        assert_eq!(short, KeysetError::TooFewValues { values: 1, keys: 2 });
        assert_eq!(
            short.to_string(),
            "the row carries 1 key values, the order has 2 keys"
        );
    }
}
