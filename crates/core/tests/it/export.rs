use dynex_core::{Dynex, ExportRequest, Options};
use dynex_test_support::{TestDb, backend_tests};

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
