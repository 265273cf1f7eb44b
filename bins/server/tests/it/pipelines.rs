//! Pipelines between two real dynex servers, each on its own test database: the `dx` source
//! reads one server's Data Exchange API (keyset pages, OAuth 2.0 client credentials against its
//! `/token`), the `dx` target writes to the other's (batches with `X-Is-Transactional: false`,
//! an API key). Both servers run `dynex_server::create_app` on a real port; the pipeline runs
//! in the test's thread, as `dynex pipeline run` would.

use dynex_core::Dynex;
use dynex_pipeline::definition::Definition;
use dynex_pipeline::run::{RunError, RunOptions, RunSummary, run};
use dynex_test_support::{
    TestDb, all_rows, backend_tests, config_field, open_demo, reconfigure, run_sql,
};
use serde_json::{Value, json};

use crate::support::LiveServer;

backend_tests!(
    a_dx_source_reads_another_dynex_with_oauth2,
    a_dx_target_writes_to_another_dynex_with_an_api_key,
);

/// A second database on the backend of `db`.
fn other_db(db: &TestDb) -> TestDb {
    TestDb::new(db.backend).expect("the backend of the first database")
}

/// Adds `n` countries `{letter}0`… (codes not in the demo); the one at `long` gets a name of 40
/// characters.
fn add_countries(dynex: &Dynex, letter: char, n: usize, long: usize) {
    let rows: Vec<String> = (0..n)
        .map(|i| {
            let code = format!("{letter}{}", char::from(b'0' + (i % 10) as u8));
            let code = if i < 10 {
                code
            } else {
                format!(
                    "{}{}",
                    char::from(letter as u8 + (i / 10) as u8),
                    &code[1..]
                )
            };
            let name = if i == long {
                format!("Country {code} {}", "x".repeat(29))
            } else {
                format!("Country {code}")
            };
            format!("('{code}', '{code}X', '{name}')")
        })
        .collect();
    run_sql(
        dynex,
        &format!(
            "INSERT INTO spy_country (iso2_code, iso3_code, name) VALUES {}",
            rows.join(", ")
        ),
    );
}

/// Names of countries at most 25 characters long, so that a 40-character one is refused.
fn shorten_names(dynex: &Dynex) {
    reconfigure(dynex, "countries", |config| {
        config_field(config, "name")["validation"]["maxLength"] = json!(25);
    });
}

fn codes(dynex: &Dynex) -> Vec<String> {
    all_rows(dynex, "countries")
        .iter()
        .map(|r| r["iso2_code"].as_str().expect("a code").to_owned())
        .collect()
}

fn run_ok(dynex: &Dynex, definition: &Definition) -> RunSummary {
    match run(dynex, definition, &RunOptions::default(), &mut ()) {
        Ok(summary) => summary,
        Err(e) => panic!("the run failed: {e}"),
    }
}

fn a_dx_source_reads_another_dynex_with_oauth2(db: TestDb) {
    let a = open_demo(&db);
    // 12 demo countries and 30 more: 5 pages of 10; the 16th new one's name is too long for B.
    add_countries(&a, 'Q', 30, 15);
    let client = a
        .add_client(
            "b-sync",
            &dynex_auth::parse_scopes("dynamic-entity:countries:read").expect("scopes"),
        )
        .expect("a client");
    let db_b = other_db(&db);
    let b = open_demo(&db_b);
    shorten_names(&b);
    let server = LiveServer::start(&a);
    let url = server.url();
    let definition = Definition::parse(&format!(
        r#"
name: a-to-b
source:
  dx:
    url: {url}
    entity: countries
    page_size: 10
    auth:
      oauth2:
        grant: client_credentials
        token_url: {url}/token
        client_id: b-sync
        client_secret: '{secret}'
incremental:
  cursor: $.id_country
  ordered: true
map:
  fields:
    iso2_code: $.iso2_code
    iso3_code: $.iso3_code
    name: $.name
target:
  entity:
    entity: countries
    mode: upsert
    key: iso2_code
"#,
        secret = client.client_secret
    ))
    .expect("the definition");
    definition
        .check(&b.snapshot().catalog)
        .expect("a valid definition");

    let first = run_ok(&b, &definition);
    assert_eq!(
        (first.pages, first.read, first.inserted, first.updated),
        (5, 42, 29, 0),
        "{first:?}"
    );
    assert_eq!((first.unchanged, first.dead_letters), (12, 1), "{first:?}");
    let last_id = all_rows(&a, "countries")
        .iter()
        .map(|r| r["id_country"].as_i64().expect("an id"))
        .max();
    assert_eq!(first.cursor_after, last_id.map(Value::from));
    let letters = b.dead_letters("a-to-b", 10).expect("dead letters");
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].stage, "write");
    assert_eq!(letters[0].code, "1306");
    assert_eq!(letters[0].field.as_deref(), Some("name"));
    assert_eq!(letters[0].record["iso2_code"], json!("R5"));
    assert!(
        !letters[0].message.contains(&client.client_secret),
        "{}",
        letters[0].message
    );
    // The refused row's neighbours arrived; the refused one did not.
    let in_b = codes(&b);
    assert_eq!(in_b.len(), 41);
    for code in ["R4", "R6", "Q0", "S9"] {
        assert!(in_b.iter().any(|c| c == code), "{code} is missing");
    }
    assert!(!in_b.iter().any(|c| c == "R5"));

    // The cursor is sent as `gte`: the last row is read again and found unchanged.
    let second = run_ok(&b, &definition);
    assert_eq!(
        (
            second.read,
            second.inserted,
            second.updated,
            second.unchanged
        ),
        (1, 0, 0, 1),
        "{second:?}"
    );
    assert_eq!(second.dead_letters, 0);
    assert_eq!(codes(&b).len(), 41);
}

fn a_dx_target_writes_to_another_dynex_with_an_api_key(db: TestDb) {
    let a = open_demo(&db);
    shorten_names(&a);
    let key_a = a
        .create_api_key(
            "from-b",
            &dynex_auth::parse_scopes("dynamic-entity:countries:write").expect("scopes"),
            None,
        )
        .expect("a key")
        .key;
    let db_b = other_db(&db);
    let b = open_demo(&db_b);
    // 20 new countries in B (ids 13 to 32); the 8th has a name too long for A.
    add_countries(&b, 'Q', 20, 7);
    let key_b = b
        .create_api_key(
            "to-a",
            &dynex_auth::parse_scopes("dynamic-entity:countries:read").expect("scopes"),
            None,
        )
        .expect("a key")
        .key;
    let (server_a, server_b) = (LiveServer::start(&a), LiveServer::start(&b));
    let definition = |name: &str, key: &str| {
        Definition::parse(&format!(
            r#"
name: {name}
source:
  dx:
    url: {b}
    entity: countries
    filter: {{ id_country: {{ gte: 13 }} }}
    page_size: 8
    cursor_operator: gt
    auth: {{ api_key: {{ header: X-Api-Key, value: '{key_b}' }} }}
incremental:
  cursor: $.id_country
  ordered: true
map:
  fields:
    iso2_code: $.iso2_code
    iso3_code: $.iso3_code
    name: $.name
target:
  dx:
    url: {a}
    entity: countries
    mode: create
    batch: 5
    auth: {{ api_key: {{ header: X-Api-Key, value: '{key}' }} }}
"#,
            a = server_a.url(),
            b = server_b.url(),
        ))
        .expect("the definition")
    };
    let good = definition("b-to-a", &key_a);
    good.check(&b.snapshot().catalog)
        .expect("a valid definition");

    let first = run_ok(&b, &good);
    assert_eq!(
        (first.pages, first.read, first.inserted, first.dead_letters),
        (3, 20, 19, 1),
        "{first:?}"
    );
    assert_eq!(first.cursor_after, Some(json!(32)));
    let letters = b.dead_letters("b-to-a", 10).expect("dead letters");
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].stage, "write");
    assert_eq!(letters[0].code, "1306");
    assert_eq!(letters[0].field.as_deref(), Some("name"));
    assert_eq!(letters[0].record["iso2_code"], json!("Q7"));
    let in_a = codes(&a);
    assert_eq!(in_a.len(), 12 + 19);
    for code in ["Q6", "Q8", "Q0", "R9"] {
        assert!(in_a.iter().any(|c| c == code), "{code} is missing");
    }
    assert!(!in_a.iter().any(|c| c == "Q7"));

    // From the cursor on (`gt`), nothing is new: nothing is read or written.
    let second = run_ok(&b, &good);
    assert_eq!(
        (second.read, second.inserted, second.dead_letters),
        (0, 0, 0),
        "{second:?}"
    );
    assert_eq!(codes(&a).len(), 31);

    // A key A does not know: the first batch is refused as a whole and the run fails.
    let wrong = "dnx_0000000000000000000000000000000000000000";
    let bad = definition("b-to-a-bad", wrong);
    let error = match run(&b, &bad, &RunOptions::default(), &mut ()) {
        Err(RunError::Failed(summary)) => summary.error.unwrap_or_default(),
        other => panic!("the run did not fail: {other:?}"),
    };
    assert!(
        error.contains("refused the batch as a whole (40"),
        "{error}"
    );
    assert!(!error.contains(wrong), "{error}");
    assert_eq!(codes(&a).len(), 31);
}
