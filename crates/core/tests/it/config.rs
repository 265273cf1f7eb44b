use std::time::{Duration, Instant};

use dynex_core::{CoreError, Dynex, Options};
use dynex_schema::{ColumnKind, FieldType};
use dynex_test_support::{TestDb, backend_tests};

use crate::demo;

backend_tests!(
    introspection_sees_columns_keys_and_foreign_keys,
    entities_are_added_from_the_live_schema,
    invalid_configurations_change_nothing,
    changes_reach_another_handle_within_a_second,
);

fn introspection_sees_columns_keys_and_foreign_keys(db: TestDb) {
    let dx = demo(&db);
    let tables = dx.tables().unwrap();
    assert!(tables.contains(&"spy_tax_rate".to_string()));
    assert!(tables.contains(&"dynex_entity".to_string()));
    let t = dx.table("spy_tax_rate").unwrap();
    assert_eq!(t.primary_key, vec!["id_tax_rate"]);
    let id = t.column("id_tax_rate").unwrap();
    assert!(id.auto_increment, "{id:?}");
    let rate = t.column("rate").unwrap();
    assert_eq!(
        (rate.kind, rate.precision, rate.scale, rate.nullable),
        (ColumnKind::Decimal, Some(8), Some(2), false)
    );
    let name = t.column("name").unwrap();
    assert_eq!(
        (name.kind, name.max_length),
        (ColumnKind::String, Some(255))
    );
    assert_eq!(t.foreign_keys.len(), 1);
    assert_eq!(t.foreign_keys[0].referenced_table, "spy_country");
    assert_eq!(t.foreign_keys[0].columns, vec!["fk_country"]);
    let c = dx.table("spy_country").unwrap();
    assert!(
        c.unique_keys.contains(&vec!["iso2_code".to_string()]),
        "{:?}",
        c.unique_keys
    );
    assert_eq!(
        c.column("postal_code_mandatory").unwrap().kind,
        ColumnKind::Boolean
    );
    assert!(matches!(
        dx.table("spy_nothing"),
        Err(CoreError::NotFound { .. })
    ));
}

fn entities_are_added_from_the_live_schema(db: TestDb) {
    let dx = demo(&db);
    dx.remove_entity("tax-rates").unwrap();
    let c = dx.add_entity("spy_tax_rate", None, true).unwrap();
    assert_eq!(c.table_alias, "tax-rates");
    assert_eq!(c.definition.identifier, "id_tax_rate");
    let rate = c
        .definition
        .fields
        .iter()
        .find(|f| f.field_name == "rate")
        .unwrap();
    assert_eq!(
        (rate.ty, rate.validation.precision, rate.validation.scale),
        (FieldType::Decimal, Some(8), Some(2))
    );
    assert!(rate.validation.is_required);
    let rows = dx.read_collection("tax-rates", &[], None).unwrap().rows;
    assert!(!rows.is_empty());
    assert!(matches!(
        dx.add_entity("spy_tax_rate", None, true),
        Err(CoreError::AlreadyExists { .. })
    ));
    dx.set_entity_active("tax-rates", false).unwrap();
    assert!(matches!(
        dx.read_collection("tax-rates", &[], None),
        Err(CoreError::UnknownEntity(_))
    ));
    let exported = dx.export_configuration(&["tax-rates".to_string()]).unwrap();
    assert!(!exported[0].is_active);
    assert!(matches!(
        dx.add_entity("dynex_api_key", None, true),
        Err(CoreError::Config(_))
    ));
}

fn invalid_configurations_change_nothing(db: TestDb) {
    let dx = demo(&db);
    let before = dx.entities().unwrap();
    let mut configs = dx.export_configuration(&[]).unwrap();
    configs[0].table_alias = "bad alias".into();
    configs[1].definition.fields[0].field_name = "no_such_column".into();
    let json = serde_json::to_string(&configs).unwrap();
    let Err(CoreError::Config(errors)) = dx.import_configuration(&json) else {
        panic!("expected configuration errors");
    };
    assert!(
        errors.iter().any(|e| e.message.contains("bad alias")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.message.contains("no_such_column")),
        "{errors:?}"
    );
    assert_eq!(dx.entities().unwrap(), before);
    assert!(matches!(
        dx.import_configuration("[{\"tableName\": 1}]"),
        Err(CoreError::ConfigFormat(_))
    ));
}

fn changes_reach_another_handle_within_a_second(db: TestDb) {
    let admin = demo(&db);
    let server = Dynex::open_with(&db.url, Options::default()).unwrap();
    assert!(server.read_collection("countries", &[], None).is_ok());
    admin.set_entity_active("countries", false).unwrap();
    let start = Instant::now();
    while server.read_collection("countries", &[], None).is_ok() {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "change not seen within a second"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
