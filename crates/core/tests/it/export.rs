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
            pool_size: 2,
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
        let plan = dx.plan_export("product-abstracts", &request).unwrap();
        let mut rows = Vec::new();
        let summary = dx
            .export_cells(&plan, |cells| {
                rows.push(cells.to_vec());
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
        let all = dx.read_collection("product-abstracts", &[]).unwrap().rows;
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
        .plan_export("product-abstracts", &ExportRequest::default())
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
    let page = dx.read_collection("product-abstracts", &[]).unwrap();
    assert!(!page.rows.is_empty());
}
