use dynex_core::{CoreError, Dynex, ExportRequest, Options};
use dynex_test_support::{Backend, TestDb, backend_tests};

backend_tests!(exports_bind_every_value_and_leave_the_pool_usable);

/// Every kind of bound value an export has (an integer, texts, a time), through a pool smaller
/// than the number of exports: on PostgreSQL each export is a `COPY` whose values are bound to
/// settings, and whose connection must not be handed out again.
fn exports_bind_every_value_and_leave_the_pool_usable(db: TestDb) {
    let dx = Dynex::open_with(
        &db.url,
        Options {
            db: dynex_core::DbOptions {
                pool_size: 2,
                ..Default::default()
            },
            watch_interval: None,
            ..Options::default()
        },
    )
    .expect("open");
    assert!(dx.load_demo().expect("demo"));
    let request = ExportRequest {
        filters: vec![
            ("filter[product-abstracts.fk_tax_set]".into(), "1".into()),
            (
                "filter[product-abstracts.sku]".into(),
                r#"{"in": ["002", "003", "004", "006", "x'y\\"]}"#.into(),
            ),
        ],
        fields: vec!["sku".into(), "updated_at".into()],
        changed_since: Some("2024-02-01 09:10:00".into()),
        ..ExportRequest::default()
    };
    for _ in 0..4 {
        let plan = dx.plan_export("product-abstracts", &request, None).unwrap();
        let mut rows = Vec::new();
        let summary = dx
            .export_cells(&plan, |cells| {
                rows.push(cells.iter().map(|c| c.to_string()).collect::<Vec<_>>());
                Ok(())
            })
            .unwrap();
        assert_eq!(
            rows,
            [
                ["004", "2024-02-01 09:15:00"],
                ["006", "2024-02-01 09:25:00"]
            ]
        );
        assert_eq!(summary.rows, 2);
        assert_eq!(
            summary.max_changed_at.as_deref(),
            Some("2024-02-01 09:25:00")
        );
        // The pool's other uses still get working connections.
        let all = dx
            .read_collection("product-abstracts", &[], None)
            .unwrap()
            .rows;
        assert_eq!(all.len(), 8);
    }
}

/// An export whose `COPY` the server ends early (here: its backend is terminated after the
/// first row is written) fails instead of handing over a shorter file as complete.
#[test]
fn a_copy_cut_short_is_an_error_not_a_short_export() {
    let Some(db) = TestDb::new(Backend::Postgres) else {
        return;
    };
    let dx = crate::demo(&db);
    let run_sql = |script: &str| {
        dynex_core::db::run_script(&mut dx.db().conn().unwrap(), script).unwrap();
    };
    // Several megabytes of rows: more than the export reads ahead of the rows written.
    run_sql(
        "INSERT INTO spy_product_abstract (sku, fk_tax_set, attributes) \
         SELECT 'T' || g, 1, repeat('x', 200) FROM generate_series(1, 40000) AS g",
    );
    let plan = dx
        .plan_export("product-abstracts", &ExportRequest::default(), None)
        .unwrap();
    let mut rows = 0;
    let result = dx.export_cells(&plan, |_| {
        rows += 1;
        if rows == 1 {
            run_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND query LIKE 'COPY%' \
                 AND pid <> pg_backend_pid()",
            );
        }
        Ok(())
    });
    let e = result.expect_err("the export was cut short");
    assert!(rows < 40008, "{rows} rows were handed over");
    // The stream ends without its trailer, or libpq reports the lost connection first.
    assert!(matches!(e, CoreError::Unavailable(_)), "{e:?}");
    // The pool still serves.
    let page = dx.read_collection("product-abstracts", &[], None).unwrap();
    assert!(!page.rows.is_empty());
}

/// PostgreSQL sends integer, boolean, date and timestamp columns of an export in binary, and
/// dynex spells them: every value must come out as the server's own `CAST(… AS TEXT)`, the
/// edges of each type included (BC dates, infinities, years past 9999, microseconds).
#[test]
fn binary_copy_values_read_as_the_servers_own_text() {
    let Some(db) = TestDb::new(Backend::Postgres) else {
        return;
    };
    let dx = crate::demo(&db);
    let mut conn = dx.db().conn().unwrap();
    dynex_core::db::run_script(
        &mut conn,
        "CREATE TABLE typed (id bigint PRIMARY KEY, i2 smallint, i4 integer, b boolean, \
             d date, ts timestamp, tz timestamptz, n numeric(12,3), t text);
         INSERT INTO typed VALUES
           (-9223372036854775808, -32768, -2147483648, true, '0044-03-15 BC',
            '0001-01-01 00:00:00 BC', '4713-01-01 00:00:00+00 BC', -1.5, 'a,\"b\"'),
           (9223372036854775807, 32767, 2147483647, false, 'infinity', 'infinity',
            '-infinity', 0, ''),
           (0, 0, 0, NULL, '-infinity', '-infinity', 'infinity', NULL, NULL),
           (1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
           (2, 1, -1, true, '10000-01-01', '294276-12-31 23:59:59.999999',
            '2026-12-06 10:11:12.000001+05:30', 123456789.123, 'ü');
         INSERT INTO typed (id, i4, d, ts, tz)
           SELECT 100 + g, g * 7919 - 4000000, DATE '1582-10-01' + g * 173,
                  TIMESTAMP '1899-12-31 23:00:00' + g * INTERVAL '37 days 1 hour 1.234567 second',
                  TIMESTAMPTZ '1970-01-01 00:00:00+00' + g * INTERVAL '11 days 59.9 second'
           FROM generate_series(1, 2000) AS g;",
    )
    .unwrap();
    drop(conn);
    // Every field typed as text, so the values are written as read, with nothing normalized.
    let mut config = dx.add_entity("typed", None, true).unwrap();
    for field in &mut config.definition.fields {
        field.ty = dynex_schema::FieldType::String;
        (field.validation.precision, field.validation.scale) = (None, None);
    }
    dx.save_entities(&[config]).unwrap();
    let plan = dx
        .plan_export("typeds", &ExportRequest::default(), None)
        .unwrap();
    let mut exported: Vec<Vec<String>> = Vec::new();
    dx.export_cells(&plan, |cells| {
        exported.push(cells.iter().map(|c| c.to_string()).collect());
        Ok(())
    })
    .unwrap();
    let mut sql = dynex_query::Sql::default();
    sql.push(
        "SELECT CAST(id AS TEXT), CAST(i2 AS TEXT), CAST(i4 AS TEXT), CAST(b AS TEXT), \
         CAST(d AS TEXT), CAST(ts AS TEXT), CAST(tz AS TEXT), CAST(n AS TEXT), t \
         FROM typed ORDER BY typed.id",
    );
    let expected: Vec<Vec<String>> = dynex_core::db::load_cells(&mut dx.db().conn().unwrap(), &sql)
        .unwrap()
        .into_iter()
        .map(|row| row.into_iter().map(Option::unwrap_or_default).collect())
        .collect();
    assert_eq!(exported.len(), 2005);
    for (got, want) in exported.iter().zip(&expected) {
        assert_eq!(got, want);
    }
    // The casts themselves, for the record: what the binary values were spelled as.
    assert_eq!(
        expected[0][1..7],
        [
            "-32768",
            "-2147483648",
            "true",
            "0044-03-15 BC",
            "0001-01-01 00:00:00 BC",
            "4713-01-01 00:00:00+00 BC"
        ]
    );
}
