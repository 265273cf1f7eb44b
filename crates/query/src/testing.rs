//! Fixtures shared by the unit tests of several modules: a small catalog and the parser run
//! on it, entities of any width, and the keyset conditions they render.

use std::sync::Arc;

use dynex_schema::{Entity, EntityConfig, Value};

use crate::ast::{Condition, PageLimits, ReadQuery};
use crate::condition::condition;
use crate::error::QueryError;
use crate::parse::parse;
use crate::select::Select;
use crate::sort::{Keyset, Sort};
use crate::sql::{Dialect, Sql};

/// Countries with tax rates, and tax rates related to themselves (`self`).
pub(crate) fn catalog() -> Vec<Arc<Entity>> {
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

/// [`parse`] of `pairs` against the countries of [`catalog`], with the default page limits.
pub(crate) fn run(pairs: &[(&str, &str)]) -> Result<ReadQuery, QueryError> {
    let all = catalog();
    let resolve = |a: &str| all.iter().find(|e| e.alias() == a).cloned();
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    parse(&all[0], &resolve, &pairs, &PageLimits::default())
}

/// An entity `t` of `n` fields: `id`, a decimal `taxRate` of scale 2, `active`, then strings.
pub(crate) fn entity(n: usize) -> Entity {
    let mut fields = vec![
        r#"{"fieldName":"id","fieldVisibleName":"id","type":"integer"}"#.to_string(),
        r#"{"fieldName":"rate","fieldVisibleName":"taxRate","type":"decimal","validation":{"scale":2}}"#.to_string(),
        r#"{"fieldName":"active","fieldVisibleName":"active","type":"boolean"}"#.to_string(),
    ];
    for i in 3..n {
        fields.push(format!(
            r#"{{"fieldName":"c{i}","fieldVisibleName":"c{i}","type":"string"}}"#
        ));
    }
    let json = format!(
        r#"{{"tableName":"t","tableAlias":"ts","definition":{{"identifier":"id","fields":[{}]}}}}"#,
        fields.join(",")
    );
    Entity::new(EntityConfig::parse_many(&json).unwrap().remove(0)).unwrap()
}

/// An entity of the table `table` served as `alias`, identified by `id`, with `fields` as
/// (column, visible name, type).
pub(crate) fn entity_of(table: &str, alias: &str, fields: &[(&str, &str, &str)]) -> Entity {
    let fields: Vec<String> = fields
        .iter()
        .map(|(name, visible, ty)| {
            format!(r#"{{"fieldName":"{name}","fieldVisibleName":"{visible}","type":"{ty}"}}"#)
        })
        .collect();
    let json = format!(
        r#"{{"tableName":"{table}","tableAlias":"{alias}","definition":{{"identifier":"id","fields":[{}]}}}}"#,
        fields.join(",")
    );
    Entity::new(EntityConfig::parse_many(&json).unwrap().remove(0)).unwrap()
}

/// A read of every row and field of `e`, unlocked.
pub(crate) fn every_row(e: &Entity) -> Select<'_> {
    Select {
        entity: e,
        fields: None,
        conditions: &[],
        keys: None,
        extra_columns: &[],
        page: None,
        lock: false,
    }
}

/// Products with a nullable decimal price, a nullable SKU and a NOT NULL timestamp, with
/// the live table attached when `table` says so.
pub(crate) fn products(table: Option<&[(&str, &str, bool)]>) -> Entity {
    let json = r#"{"tableName":"p","tableAlias":"products","definition":{"identifier":"id","fields":[
        {"fieldName":"id","fieldVisibleName":"id","type":"integer"},
        {"fieldName":"sku","fieldVisibleName":"sku","type":"string"},
        {"fieldName":"price","fieldVisibleName":"price","type":"decimal"},
        {"fieldName":"updated_at","fieldVisibleName":"updated_at","type":"string"}]}}"#;
    let e = Entity::new(EntityConfig::parse_many(json).unwrap().remove(0)).unwrap();
    match table {
        None => e,
        Some(columns) => e.with_table(dynex_schema::TableInfo {
            name: "p".into(),
            columns: columns
                .iter()
                .map(|(n, t, null)| {
                    dynex_schema::ColumnInfo::from_declared(n, t, *null, None, false)
                })
                .collect(),
            primary_key: vec!["id".into()],
            unique_keys: vec![],
            foreign_keys: vec![],
        }),
    }
}

/// The keyset condition selecting the rows after `values` in the order `keys`, as debug text.
pub(crate) fn after(dialect: Dialect, e: &Entity, keys: &[Sort], values: Vec<Value>) -> String {
    let mut sql = Sql::default();
    let keyset = Keyset {
        keys: keys.to_vec(),
        values,
    };
    condition(&mut sql, dialect, e, &Condition::After(keyset));
    sql.debug_text()
}
