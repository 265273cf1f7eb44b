//! Writes of the API from many threads at once; on SQLite they commit in groups.

use std::collections::BTreeSet;

use dynex_core::{AuditFilter, CoreError, Dynex, Method, Options, WriteRequest};
use dynex_test_support::{TestDb, all_rows, backend_tests, open_demo_with};
use serde_json::{Value, json};

backend_tests!(concurrent_one_row_writes_are_answered_as_committed);

const THREADS: usize = 8;
const WRITES: usize = 15;

fn post(dx: &Dynex, iso2: &str) -> Result<Value, CoreError> {
    let body = json!({"data": [{"iso2_code": iso2, "name": format!("Land {iso2}")}]});
    let body = serde_json::to_vec(&body).unwrap();
    let outcome = dx.write(&WriteRequest {
        alias: "countries",
        method: Method::Create,
        id: None,
        body: &body,
        transactional: true,
        principal: None,
    })?;
    Ok(outcome.data.into_iter().next().expect("the saved row"))
}

/// Threads create countries one by one, every fifth with a code that exists (refused) and
/// every third followed by a PATCH of the row just created. Each answer is what was committed:
/// the rows read back are the created ones with their last names, nothing refused is there,
/// and the audit log names each created row once.
fn concurrent_one_row_writes_are_answered_as_committed(db: TestDb) {
    let dx = open_demo_with(
        &db,
        Options {
            audit_data_writes: true,
            ..Options::default()
        },
    );
    let answers: Vec<(String, Value)> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let dx = dx.clone();
                s.spawn(move || {
                    let mut created = Vec::new();
                    for n in 0..WRITES {
                        if n % 5 == 4 {
                            let refused = post(&dx, "AT").unwrap_err();
                            assert!(matches!(refused, CoreError::Rows(_)), "{refused:?}");
                            continue;
                        }
                        let iso2 = format!("{t}{}", char::from(b'A' + u8::try_from(n).unwrap()));
                        let mut row = post(&dx, &iso2).unwrap();
                        if n % 3 == 0 {
                            let id = row["id_country"].to_string();
                            let body = json!({"data": {"name": format!("Renamed {iso2}")}});
                            let body = serde_json::to_vec(&body).unwrap();
                            let outcome = dx
                                .write(&WriteRequest {
                                    alias: "countries",
                                    method: Method::Update,
                                    id: Some(&id),
                                    body: &body,
                                    transactional: true,
                                    principal: None,
                                })
                                .unwrap();
                            row = outcome.data.into_iter().next().unwrap();
                        }
                        created.push((iso2, row));
                    }
                    created
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    });
    assert_eq!(answers.len(), THREADS * (WRITES - WRITES / 5));
    for (iso2, answered) in &answers {
        let id = answered["id_country"].to_string();
        let stored = dx.read_one("countries", &id, &[], None).unwrap();
        assert_eq!(&stored, answered, "{iso2}");
        assert_eq!(stored["iso2_code"], json!(iso2));
    }
    let created = all_rows(&dx, "countries")
        .iter()
        .filter(|r| {
            r["iso2_code"]
                .as_str()
                .unwrap()
                .starts_with(|c: char| c.is_ascii_digit())
        })
        .count();
    assert_eq!(created, answers.len(), "no row committed without an answer");
    let audited: BTreeSet<String> = dx
        .audit_log(&AuditFilter {
            limit: 1000,
            action: Some("data.create".into()),
            ..AuditFilter::default()
        })
        .unwrap()
        .into_iter()
        .map(|e| e.detail["identifiers"][0].to_string())
        .collect();
    let ids: BTreeSet<String> = answers
        .iter()
        .map(|(_, row)| row["id_country"].to_string())
        .collect();
    assert_eq!(audited, ids);
}
