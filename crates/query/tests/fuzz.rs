//! Property tests of the query parser and renderer: arbitrary query strings never panic, and
//! what parses renders to statements in which no request text is ever SQL text or an
//! identifier, only bound values.
//!
//! The inputs are the grammar's own forms (seeded from the unit and integration tests) with
//! random fields, operators, values and junk. Every value carries the marker `zq`, and no
//! configured name holds it, so any `zq` outside a bound value is request text reaching SQL.

use std::sync::Arc;

use dynex_query::{
    Dialect, Keyset, PageLimits, Piece, Select, Sql, Value, count, order_keys, parse,
    select_ordered,
};
use dynex_schema::{Entity, EntityConfig};
use proptest::prelude::*;

fn catalog() -> Vec<Arc<Entity>> {
    let json = r#"[
      {"tableName":"spy_country","tableAlias":"countries","isActive":true,
       "definition":{"identifier":"id_country","fields":[
         {"fieldName":"id_country","fieldVisibleName":"id_country","type":"integer"},
         {"fieldName":"iso2_code","fieldVisibleName":"iso2_code","type":"string"},
         {"fieldName":"rate","fieldVisibleName":"rate","type":"decimal"},
         {"fieldName":"active","fieldVisibleName":"active","type":"boolean"},
         {"fieldName":"born","fieldVisibleName":"born","type":"date"},
         {"fieldName":"seen","fieldVisibleName":"seen","type":"datetime"},
         {"fieldName":"score","fieldVisibleName":"score","type":"float"},
         {"fieldName":"attrs","fieldVisibleName":"attrs","type":"json"}]},
       "childRelations":[{"name":"rates","childDynamicEntityConfiguration":{"tableAlias":"tax-rates"},
         "relationFieldMappings":[{"childFieldName":"fk_country","parentFieldName":"id_country"}]}]},
      {"tableName":"spy_tax_rate","tableAlias":"tax-rates","isActive":true,
       "definition":{"identifier":"id_tax_rate","fields":[
         {"fieldName":"id_tax_rate","fieldVisibleName":"id_tax_rate","type":"integer"},
         {"fieldName":"fk_country","fieldVisibleName":"fk_country","type":"integer"},
         {"fieldName":"name","fieldVisibleName":"name","type":"string"}]},
       "childRelations":[{"name":"self","childDynamicEntityConfiguration":{"tableAlias":"tax-rates"},
         "relationFieldMappings":[{"childFieldName":"id_tax_rate","parentFieldName":"id_tax_rate"}]}]}]"#;
    EntityConfig::parse_many(json)
        .unwrap()
        .into_iter()
        .map(|c| Arc::new(Entity::new(c).unwrap()))
        .collect()
}

const FIELDS: &[&str] = &[
    "id_country",
    "iso2_code",
    "rate",
    "active",
    "born",
    "seen",
    "score",
    "attrs",
    "identifier",
    "rates.name",
    "rates.fk_country",
    "countries.rates.self.name",
    "rates.nope",
    "nope",
];
const OPERATORS: &[&str] = &[
    "eq", "neq", "gt", "gte", "lt", "lte", "in", "nin", "like", "ilike", "isNull", "ISNULL", "x",
];

/// A JSON value, strings marked with `zq`.
fn json_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| serde_json::json!(f).to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        Just("null".to_string()),
        "[0-9]{1,4}(\\.[0-9]{1,3})?".prop_map(|d| format!("\"{d}\"")),
        "20[0-9]{2}-[01][0-9]-[0-3][0-9]( [0-2][0-9]:[0-5][0-9]:[0-5][0-9])?"
            .prop_map(|d| format!("\"{d}\"")),
        "\\PC{0,10}".prop_map(|s| serde_json::json!(format!("zq{s}")).to_string()),
        "[%_\\\\!'\";*?\\[\\]()-]{0,6}"
            .prop_map(|s| serde_json::json!(format!("zq{s}")).to_string()),
    ]
}

fn operator_object() -> impl Strategy<Value = String> {
    let member = (
        prop::sample::select(OPERATORS),
        prop_oneof![
            3 => json_value(),
            1 => prop::collection::vec(json_value(), 0..3).prop_map(|v| format!("[{}]", v.join(","))),
        ],
    );
    prop::collection::vec(member, 0..3).prop_map(|members| {
        let members: Vec<String> = members
            .into_iter()
            .map(|(op, v)| format!("\"{op}\": {v}"))
            .collect();
        format!("{{{}}}", members.join(", "))
    })
}

fn pair() -> impl Strategy<Value = (String, String)> {
    let field = prop::sample::select(FIELDS);
    let filter = (
        field,
        prop_oneof![
            operator_object(),
            "\\PC{0,8}".prop_map(|s| format!("zq{s}")),
            "-?[0-9]{1,3}".prop_map(|s| s.to_string()),
        ],
    )
        .prop_map(|(f, v)| (format!("filter[countries.{f}]"), v));
    let group = prop::collection::vec(
        (
            prop::sample::select(FIELDS),
            prop_oneof![operator_object(), json_value()],
        ),
        0..3,
    )
    .prop_map(|members| {
        let members: Vec<String> = members
            .into_iter()
            .map(|(f, v)| format!("\"{f}\": {v}"))
            .collect();
        format!("{{{}}}", members.join(", "))
    });
    let or = prop::collection::vec(group, 0..3)
        .prop_map(|g| ("filter[or]".to_string(), format!("[{}]", g.join(", "))));
    let sort = prop::collection::vec((any::<bool>(), prop::sample::select(FIELDS)), 0..3).prop_map(
        |keys| {
            let keys: Vec<String> = keys
                .into_iter()
                .map(|(d, f)| format!("{}{f}", if d { "-" } else { "" }))
                .collect();
            ("sort".to_string(), keys.join(","))
        },
    );
    let other = (
        prop::sample::select(
            &[
                "page[size]",
                "page[limit]",
                "page[offset]",
                "page[after]",
                "meta",
                "include",
                "fields[countries]",
                "fields[tax-rates]",
                "filter",
                "filter[]",
                "filter[or",
                "api_key",
            ][..],
        ),
        prop_oneof![
            "[0-9]{1,5}".prop_map(|s| s.to_string()),
            Just("count".to_string()),
            Just("rates".to_string()),
            Just("iso2_code,rate".to_string()),
            "\\PC{0,8}".prop_map(|s| format!("zq{s}")),
        ],
    )
        .prop_map(|(k, v)| (k.to_string(), v));
    let junk = ("\\PC{0,12}", "\\PC{0,12}").prop_map(|(k, v)| (k, format!("zq{v}")));
    prop_oneof![4 => filter, 2 => or, 2 => sort, 2 => other, 1 => junk]
}

/// Whether request text reached SQL text or an identifier.
fn leaks(sql: &Sql) -> Option<String> {
    sql.pieces.iter().find_map(|p| match p {
        Piece::Sql(s) if s.contains("zq") => Some(s.to_string()),
        Piece::Ident(s) if s.contains("zq") => Some(s.clone()),
        _ => None,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn queries_parse_or_refuse_and_bind_every_value(pairs in prop::collection::vec(pair(), 0..6)) {
        let all = catalog();
        let resolve = |a: &str| all.iter().find(|e| e.alias() == a).cloned();
        let Ok(query) = parse(&all[0], &resolve, &pairs, &PageLimits::default()) else {
            return Ok(());
        };
        let order = order_keys(&all[0], &query.sort);
        let mut conditions = query.conditions.clone();
        conditions.push(dynex_query::Condition::After(Keyset {
            keys: order.clone(),
            values: order.iter().map(|_| Value::Text("zq".into())).collect(),
        }));
        for dialect in [Dialect::Sqlite, Dialect::Postgres, Dialect::Mysql] {
            let select = Select {
                entity: &all[0],
                fields: query.fields.as_deref(),
                conditions: &conditions,
                keys: None,
                extra_columns: &[],
                page: Some(query.page),
                lock: false,
            };
            for sql in [select_ordered(dialect, &select, &order), count(dialect, &all[0], &conditions)] {
                prop_assert_eq!(leaks(&sql), None, "{:?}", pairs);
                let text = sql.debug_text();
                prop_assert_eq!(
                    text.matches('(').count(),
                    text.matches(')').count(),
                    "unbalanced: {}", text
                );
                prop_assert_eq!(text.matches('?').count(), sql.binds().count());
            }
        }
    }
}
