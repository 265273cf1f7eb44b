//! Write hooks: adjust, refuse and audit the rows dynex writes.
//!
//! Opens a fresh SQLite database, loads the demo catalog and registers [`Audit`]: its
//! before-write hook uppercases country codes and refuses countries whose name contains
//! "forbidden" (code 1324); its after-write hook records every saved row in an `audit_log` table,
//! inside the write's transaction. Then it writes through [`Dynex::write`] and [`Dynex::delete`],
//! prints what happened and checks it. Run it with `cargo run -p dynex-example-hooks`;
//! `docs/hooks.md` walks through it.

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use dynex_core::db::{AnyConnection, execute, load_json, run_script};
use dynex_core::{
    Batch, CoreError, Dynex, HookError, Method, Operation, Options, PendingRow, WriteHooks,
    WriteOutcome, WriteRequest,
};
use dynex_query::{Sql, Value};
use serde_json::{Map, Value as Json, json};

/// The application's hooks.
#[derive(Debug, Default)]
struct Audit {
    /// How often `after_write` ran, whether its transaction was committed or not.
    after_calls: AtomicUsize,
}

impl WriteHooks for Audit {
    /// Country codes in capitals; no country named "…forbidden…".
    fn before_write(&self, batch: Batch<'_, PendingRow>) -> Vec<HookError> {
        // Hooks see the rows of every table, parents and nested rows alike.
        if batch.table != "spy_country" {
            return Vec::new();
        }
        let mut refused = Vec::new();
        for (i, row) in batch.rows.iter_mut().enumerate() {
            // Rows hold physical column names and the values about to be written; an update
            // holds only the columns it changes.
            for column in ["iso2_code", "iso3_code"] {
                if let Some(Value::Text(code)) = row.get(column) {
                    let upper = code.to_uppercase();
                    row.set(column, Value::Text(upper));
                }
            }
            if let Some(Value::Text(name)) = row.get("name")
                && name.to_lowercase().contains("forbidden")
            {
                refused.push(HookError::row(
                    i,
                    format!("the name `{name}` is not allowed"),
                ));
            }
        }
        refused
    }

    /// One audit row per saved row, written on the request's connection: it commits or rolls
    /// back with the rows it describes.
    fn after_write(
        &self,
        conn: &mut AnyConnection,
        batch: Batch<'_, Map<String, Json>>,
    ) -> Result<(), HookError> {
        self.after_calls.fetch_add(1, Ordering::Relaxed);
        let operation = match batch.operation {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
        };
        for row in batch.rows.iter() {
            let mut sql = Sql::default();
            sql.push("INSERT INTO audit_log (operation, table_name, row_json) VALUES (")
                .bind(Value::Text(operation.to_string()))
                .push(", ")
                .bind(Value::Text(batch.table.to_string()))
                .push(", ")
                .bind(Value::Text(Json::Object(row.clone()).to_string()))
                .push(")");
            // An error here refuses every row of the call, and rolls back the transaction.
            execute(conn, &sql).map_err(|e| HookError::all(format!("audit failed: {e}")))?;
        }
        Ok(())
    }
}

/// A write to `countries`, as `POST`/`PATCH /dynamic-entity/countries` would send it.
fn countries(
    dynex: &Dynex,
    method: Method,
    body: Json,
    transactional: bool,
) -> Result<WriteOutcome, CoreError> {
    let body = body.to_string();
    dynex.write(&WriteRequest {
        alias: "countries",
        method,
        id: None,
        body: body.as_bytes(),
        transactional,
        principal: None,
    })
}

/// The audit log, one line per row: operation, table, row.
fn audit_log(dynex: &Dynex) -> Result<Vec<String>, Box<dyn Error>> {
    let mut sql = Sql::default();
    sql.push(
        "SELECT operation || ' ' || table_name || ' ' || row_json AS row_json \
         FROM audit_log ORDER BY id",
    );
    Ok(load_json(&mut *dynex.db().conn()?, &sql)?)
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("hooks.db").display());
    let dynex = Dynex::open_with(
        &url,
        Options {
            watch_interval: None,
            ..Options::default()
        },
    )?;
    dynex.load_demo()?;
    // The audit table belongs to the application; it is not an entity, so the API never shows it.
    run_script(
        &mut *dynex.db().conn()?,
        "CREATE TABLE audit_log (id INTEGER PRIMARY KEY, operation TEXT NOT NULL, \
         table_name TEXT NOT NULL, row_json TEXT NOT NULL);",
    )?;
    let audit = Arc::new(Audit::default());
    // Every write of this handle and its clones (an actix app built with
    // `dynex_server::create_app(dynex.clone(), …)` included) now runs the hooks.
    dynex.set_hooks(audit.clone());

    // 1. Lower-case codes are stored in capitals; the country and its tax rate are audited.
    let created = countries(
        &dynex,
        Method::Create,
        json!({"data": [{"iso2_code": "wa", "iso3_code": "wak", "name": "Wakanda",
            "countryTaxRates": [{"name": "Wakanda Standard", "rate": "16.00"}]}]}),
        true,
    )?;
    let wakanda = &created.data[0];
    println!("created: {wakanda}");
    assert_eq!(wakanda["iso2_code"], "WA");
    assert_eq!(wakanda["iso3_code"], "WAK");
    assert_eq!(audit_log(&dynex)?.len(), 2, "a country and a tax rate");

    // 2. A refused row fails a transactional request: nothing is written, and the audit row the
    //    after-write hook wrote for Okland is rolled back with it.
    let refused = countries(
        &dynex,
        Method::Create,
        json!({"data": [{"iso2_code": "FL", "name": "Forbidden Land"},
                        {"iso2_code": "OK", "name": "Okland"}]}),
        true,
    );
    let Err(CoreError::Rows(errors)) = refused else {
        panic!("expected refused rows, got {refused:?}");
    };
    println!("refused: {} {}", errors[0].code(), errors[0]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].code(), "1324");
    let okland = [("filter[countries.iso2_code]".to_string(), "OK".to_string())];
    assert!(
        dynex
            .read_collection("countries", &okland, None)?
            .rows
            .is_empty()
    );
    assert_eq!(audit_log(&dynex)?.len(), 2, "nothing audited");

    // 3. Non-transactional: Okland is saved (and audited), the forbidden row is reported.
    let outcome = countries(
        &dynex,
        Method::Create,
        json!({"data": [{"iso2_code": "fm", "name": "Forbidden Marsh"},
                        {"iso2_code": "ok", "name": "Okland"}]}),
        false,
    )?;
    println!("saved {}, refused: {}", outcome.data[0], outcome.errors[0]);
    assert_eq!(outcome.data.len(), 1);
    assert_eq!(outcome.data[0]["iso2_code"], "OK");
    assert_eq!(outcome.errors[0].code(), "1324");
    assert_eq!(audit_log(&dynex)?.len(), 3);

    // 4. Updates pass through the hooks too: only the columns that change are in the row.
    let updated = countries(
        &dynex,
        Method::Update,
        json!({"data": [{"id_country": wakanda["id_country"], "iso3_code": "wkd"}]}),
        true,
    )?;
    println!("updated: {}", updated.data[0]);
    assert_eq!(updated.data[0]["iso3_code"], "WKD");
    assert_eq!(audit_log(&dynex)?.len(), 4);

    // 5. Deletes: the hooks see the rows as they were.
    let filter = [(
        "filter[price-products.fk_product]".to_string(),
        "1".to_string(),
    )];
    let deleted = dynex.delete("price-products", None, &filter, None)?;
    println!("deleted {deleted} prices");
    assert_eq!(deleted, 2);

    let log = audit_log(&dynex)?;
    println!("audit_log:");
    for line in &log {
        println!("  {line}");
    }
    assert_eq!(log.len(), 6);
    assert!(log[5].starts_with("delete spy_price_product "));
    // Attempts that were rolled back (the refused transaction, the non-transactional request's
    // tries before it set the forbidden row aside) called the after-write hook too.
    let calls = audit.after_calls.load(Ordering::Relaxed);
    println!("after_write ran {calls} times; the audit log holds the rows of the 5 runs committed");
    assert!(calls > 5);
    Ok(())
}
