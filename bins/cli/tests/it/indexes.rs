//! `dynex entity show` warns when dynex filters or sorts an entity's column by configuration
//! (its identifier, the child columns of relations to it, its `updatedAtField`) and no index of
//! the table leads with that column: as `warning: …` lines after the relations in the text form,
//! on stderr with `--json` (stdout stays the configuration). Every test runs on each backend.

use dynex_test_support::{Backend, TestDb, backend_tests, open_demo, run_sql};
use serde_json::{Value, json};

use crate::dynex;

/// The warnings `entity show ALIAS` prints; checks the text form prints them after the relations
/// and before the configuration, and that `--json` prints the same on stderr only.
fn warnings(db: &TestDb, alias: &str) -> Vec<String> {
    let text = dynex(db, &["entity", "show", alias]).ok().stdout;
    let lines: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .map(String::from)
        .collect();
    if let Some(first) = text.find("warning: ") {
        let json = text.find("\n{").expect("the configuration is shown");
        assert!(first < json, "{text}");
        if let Some(relations) = text.find("Relations:") {
            assert!(relations < first, "{text}");
        }
    }
    let run = dynex(db, &["entity", "show", alias, "--json"]).ok();
    assert_eq!(
        run.json()["tableAlias"],
        alias,
        "stdout is the configuration"
    );
    assert!(!run.stdout.contains("warning"), "{}", run.stdout);
    let on_stderr: Vec<String> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .map(String::from)
        .collect();
    assert_eq!(on_stderr, lines, "{alias}");
    lines
}

const UPDATED_AT: &str = "delta exports (--changed-since) filter and sort by it";

/// The demo schema indexes every foreign key on every backend, and no `updated_at`: only the
/// two entities with an `updatedAtField` warn. Without the index on `spy_tax_rate.fk_country`,
/// reading the countries' tax rates would scan the table, and `tax-rates` says so.
fn demo_catalog_warns_of_unindexed_columns(db: TestDb) {
    let dx = open_demo(&db);
    let list = dynex(&db, &["entity", "list", "--json"]).ok().json();
    let aliases: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["alias"].as_str().unwrap())
        .collect();
    assert!(aliases.len() >= 12, "{list}");
    for alias in aliases {
        let expected = match alias {
            "product-abstracts" => vec![format!(
                "warning: no index on spy_product_abstract(updated_at): {UPDATED_AT}"
            )],
            "product-concretes" => vec![format!(
                "warning: no index on spy_product(updated_at): {UPDATED_AT}"
            )],
            _ => Vec::new(),
        };
        assert_eq!(warnings(&db, alias), expected, "{alias}");
    }

    // InnoDB refuses to drop the index a foreign key uses; drop the key first there.
    let script = match db.backend {
        Backend::Sqlite | Backend::Postgres => "DROP INDEX idx_spy_tax_rate_fk_country;\n",
        Backend::Mysql => {
            "ALTER TABLE spy_tax_rate DROP FOREIGN KEY fk_spy_tax_rate_country;\n\
             DROP INDEX idx_spy_tax_rate_fk_country ON spy_tax_rate;\n"
        }
    };
    run_sql(&dx, script);
    assert_eq!(
        warnings(&db, "tax-rates"),
        ["warning: no index on spy_tax_rate(fk_country): \
          children of countries.countryTaxRates are read by it"]
    );
    assert_eq!(warnings(&db, "countries"), Vec::<String>::new());
}

/// New tables without indexes: an identifier that is no key, an `updatedAtField`, and relations
/// on one and on two child columns each warn — also for an inactive child entity — until an
/// index leads with those columns (in any order). A foreign key alone is an index on MariaDB
/// (InnoDB adds one) but not on SQLite or PostgreSQL; a partial index does not count.
fn new_tables_warn_until_indexed(db: TestDb) {
    let dx = open_demo(&db);
    let id = db.id_column();
    let script = format!(
        "CREATE TABLE widgets ({id}, name VARCHAR(40) NOT NULL, shelf INT NOT NULL, \
         updated_at VARCHAR(32));\n\
         CREATE TABLE widget_parts ({id}, fk_widget INT NOT NULL, shelf INT NOT NULL, \
         name VARCHAR(40), \
         CONSTRAINT fk_widget_parts_widget FOREIGN KEY (fk_widget) REFERENCES widgets (id));\n\
         CREATE TABLE gauges (code VARCHAR(20) NOT NULL, label VARCHAR(40));\n"
    );
    run_sql(&dx, &script);
    for (table, alias) in [
        ("widgets", "widgets"),
        ("widget_parts", "widget-parts"),
        ("gauges", "gauges"),
    ] {
        dynex(&db, &["entity", "add", "--table", table, "--alias", alias]).ok();
    }

    let mut widgets = dynex(&db, &["entity", "show", "widgets", "--json"])
        .ok()
        .json();
    assert_eq!(widgets["definition"]["updatedAtField"], "updated_at");
    let relation = |name: &str, mappings: &[(&str, &str)]| {
        json!({
            "name": name,
            "isEditable": true,
            "childDynamicEntityConfiguration": {"tableAlias": "widget-parts"},
            "relationFieldMappings": mappings
                .iter()
                .map(|(child, parent)| json!({"childFieldName": child, "parentFieldName": parent}))
                .collect::<Vec<Value>>(),
        })
    };
    widgets["childRelations"] = json!([
        relation("parts", &[("fk_widget", "id")]),
        relation("partsOnShelf", &[("shelf", "shelf"), ("fk_widget", "id")]),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("widgets.json");
    std::fs::write(&file, widgets.to_string()).unwrap();
    dynex(&db, &["entity", "import", file.to_str().unwrap()]).ok();

    let parts = "warning: no index on widget_parts(fk_widget): \
                 children of widgets.parts are read by it";
    let on_shelf = "warning: no index on widget_parts(shelf, fk_widget): \
                    children of widgets.partsOnShelf are read by them";
    let updated = format!("warning: no index on widgets(updated_at): {UPDATED_AT}");
    let gauges = "warning: no index on gauges(code): it is the identifier: \
                  rows are read and paged by it";
    let expected_parts = match db.backend {
        Backend::Mysql => vec![on_shelf],
        Backend::Sqlite | Backend::Postgres => vec![parts, on_shelf],
    };
    assert_eq!(warnings(&db, "widgets"), [updated.as_str()]);
    assert_eq!(warnings(&db, "widget-parts"), expected_parts);
    assert_eq!(warnings(&db, "gauges"), [gauges]);
    let text = dynex(&db, &["entity", "show", "widgets"]).ok().stdout;
    assert!(
        text.contains(&format!("\n\n{updated}\n\n{{")),
        "a blank line around the warnings: {text}"
    );

    // Inactive entities are checked from their stored configuration.
    dynex(&db, &["entity", "disable", "widget-parts"]).ok();
    assert_eq!(warnings(&db, "widget-parts"), expected_parts);
    dynex(&db, &["entity", "enable", "widget-parts"]).ok();

    // One column: the index on it serves the relation, not the two-column one.
    run_sql(
        &dx,
        "CREATE INDEX idx_widget_parts_fk_widget ON widget_parts (fk_widget);\n",
    );
    assert_eq!(warnings(&db, "widget-parts"), [on_shelf]);
    // Two columns: any index leading with both, in either order.
    run_sql(
        &dx,
        "CREATE INDEX idx_widget_parts_fk_widget_shelf ON widget_parts (fk_widget, shelf, name);\n",
    );
    assert_eq!(warnings(&db, "widget-parts"), Vec::<String>::new());

    if db.backend != Backend::Mysql {
        run_sql(
            &dx,
            "CREATE INDEX idx_widgets_updated_at_set ON widgets (updated_at) \
             WHERE updated_at IS NOT NULL;\n",
        );
        assert_eq!(warnings(&db, "widgets"), [updated.as_str()], "partial");
    }
    run_sql(
        &dx,
        "CREATE INDEX idx_widgets_updated_at ON widgets (updated_at);\n",
    );
    assert_eq!(warnings(&db, "widgets"), Vec::<String>::new());
    run_sql(
        &dx,
        "CREATE UNIQUE INDEX uq_gauges_code ON gauges (code);\n",
    );
    assert_eq!(warnings(&db, "gauges"), Vec::<String>::new());
}

backend_tests!(
    demo_catalog_warns_of_unindexed_columns,
    new_tables_warn_until_indexed,
);
