//! Pipelines edited and looked after in the admin API (the back office's Pipelines page): a
//! definition saved as `dynex pipeline add` checks it, with each problem at its path and line;
//! removal refused while dependents exist; runs, dead letters retried and skipped; the mapping
//! tester on pasted and fetched records; variables with secrets never sent.

use std::time::Duration;

use actix_web::http::Method;
use dynex_core::{Dynex, SecretKey};
use dynex_test_support::{TestDb, all_rows, async_backend_tests};
use serde_json::{Value, json};

use crate::admin::{Cred, call, setup};
use crate::support::{TestApp, scoped_key};

async_backend_tests!(
    a_definition_is_saved_as_the_cli_checks_it_with_problems_at_their_lines,
    a_pipeline_with_dependents_is_not_removed,
    runs_are_listed_and_dead_letters_retried_or_skipped,
    the_mapping_tester_maps_pasted_and_fetched_records_and_writes_nothing,
    variables_are_listed_set_and_removed_and_secrets_never_sent,
    the_routes_need_the_admin_scope,
);

/// A CSV pipeline into the demo's countries whose `name` is required, reading `folder`.
fn countries_from(name: &str, folder: &str, name_field: &str) -> String {
    format!(
        "name: {name}\n\
         description: Country files\n\
         source:\n  csv:\n    folder: {folder}\n\
         map:\n  fields:\n    iso2_code: $.code\n    iso3_code: $.code3\n    name: {name_field}\n\
         target:\n  entity:\n    entity: countries\n    key: iso2_code\n"
    )
}

const REQUIRED_NAME: &str = "{ path: $.name, required: true }";

/// `PUT /admin/api/pipelines/{name}` with `text`.
async fn save(app: &TestApp, cred: &Cred, name: &str, text: &str) -> crate::support::Reply {
    call(
        app,
        Method::PUT,
        &format!("pipelines/{name}"),
        cred,
        Some(&json!({ "definition": text })),
    )
    .await
}

/// The `(path, line)` of each problem of a `400` answer; every one has code `1401`.
fn problems(r: &crate::support::Reply) -> Vec<(String, Option<u64>)> {
    assert_eq!(r.status.as_u16(), 400, "unexpected reply: {r:?}");
    r.body
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {r:?}"))
        .iter()
        .map(|e| {
            assert_eq!(e["code"], "1401", "{e}");
            assert_eq!(e["status"], 400, "{e}");
            (
                e["path"].as_str().expect("a path").to_string(),
                e["line"].as_u64(),
            )
        })
        .collect()
}

/// A folder with `countries-1.csv`: two good lines and two without a name.
fn inbox() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(
        dir.path().join("countries-1.csv"),
        "code,code3,name\nQA,QAA,Qaland\nQB,QBB,\nQC,QCC,Qcland\nQD,QDD,\n",
    )
    .expect("write the file");
    dir
}

fn folder(dir: &tempfile::TempDir) -> String {
    dir.path().to_str().expect("a UTF-8 path").to_string()
}

async fn a_definition_is_saved_as_the_cli_checks_it_with_problems_at_their_lines(db: TestDb) {
    let (dx, app, [cred, _]) = setup(&db).await;
    let dir = inbox();
    let good = countries_from("country-files", &folder(&dir), REQUIRED_NAME);

    // An unknown target field and an unknown entity field: both, each at its line.
    let bad = good.replace("iso3_code: $.code3", "colour: $.code3");
    let r = save(&app, &cred, "country-files", &bad).await;
    let found = problems(&r);
    assert!(
        found.contains(&("map.fields.colour".into(), Some(9))),
        "{found:?}"
    );
    // A structural problem is named by its line and column.
    let r = save(
        &app,
        &cred,
        "country-files",
        &good.replace("map:", "map: ["),
    )
    .await;
    let found = problems(&r);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].0.starts_with("line "), "{found:?}");
    assert!(found[0].1.is_some(), "{found:?}");
    // A variable that is not set, at the string that names it.
    let r = save(
        &app,
        &cred,
        "country-files",
        &good.replace(&folder(&dir), "${INBOX}"),
    )
    .await;
    assert_eq!(problems(&r), [("source.csv.folder".into(), Some(5))]);
    // The path's name is the definition's.
    let r = save(&app, &cred, "other-name", &good).await;
    assert_eq!(problems(&r), [("name".into(), Some(1))]);
    assert!(dx.pipelines().expect("pipelines").is_empty());

    // Saved with a variable: 201, then 200 unchanged, then 200 updated.
    dx.set_variable("INBOX", &folder(&dir), None)
        .expect("set a variable");
    let with_var = good.replace(&folder(&dir), "${INBOX}");
    let r = save(&app, &cred, "country-files", &with_var).await;
    assert_eq!(r.status.as_u16(), 201, "{r:?}");
    assert_eq!(
        r.body["data"],
        json!({"name": "country-files", "saved": "created"})
    );
    assert_eq!(
        dx.pipeline("country-files").expect("stored").definition,
        with_var
    );
    let r = save(&app, &cred, "country-files", &with_var).await;
    assert_eq!(r.data()["saved"], "unchanged");
    let described = with_var.replace("Country files", "Country files from the ERP");
    let r = save(&app, &cred, "country-files", &described).await;
    assert_eq!(r.data()["saved"], "updated");
    assert_eq!(
        dx.pipeline("country-files").expect("stored").definition,
        described
    );

    // Read back as stored, `${INBOX}` and all, with its health.
    let r = call(&app, Method::GET, "pipelines/country-files", &cred, None).await;
    let shown = r.data();
    assert_eq!(shown["definition"], described);
    assert_eq!(shown["variables"], json!(["INBOX"]));
    assert_eq!(shown["health"]["healthy"], true);
    assert_eq!(shown["health"]["description"], "Country files from the ERP");
    assert_eq!(shown["health"]["lastRun"], Value::Null);

    let r = call(&app, Method::GET, "pipelines/nothing-here", &cred, None).await;
    r.assert_error(404, "1402");
    // Malformed bodies are refused before anything is read.
    let r = call(
        &app,
        Method::PUT,
        "pipelines/country-files",
        &cred,
        Some(&json!({"text": "x"})),
    )
    .await;
    r.assert_error(400, "1401");
}

async fn a_pipeline_with_dependents_is_not_removed(db: TestDb) {
    let (dx, app, [cred, _]) = setup(&db).await;
    let dir = inbox();
    let first = countries_from("first", &folder(&dir), REQUIRED_NAME);
    assert_eq!(
        save(&app, &cred, "first", &first).await.status.as_u16(),
        201
    );
    // A dependency on a pipeline that does not exist is refused at `after`.
    let second = format!(
        "{}after: [nowhere]\n",
        countries_from("second", &folder(&dir), REQUIRED_NAME)
    );
    let found = problems(&save(&app, &cred, "second", &second).await);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].0.starts_with("after"), "{found:?}");
    let second = second.replace("nowhere", "first");
    assert_eq!(
        save(&app, &cred, "second", &second).await.status.as_u16(),
        201
    );

    let r = call(&app, Method::DELETE, "pipelines/first", &cred, None).await;
    let message = r.body[0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(problems(&r), [("after".into(), None)]);
    assert!(message.contains("`second`"), "{message}");
    assert!(dx.pipeline("first").is_ok());

    let r = call(&app, Method::DELETE, "pipelines/second", &cred, None).await;
    assert_eq!(r.status.as_u16(), 204, "{r:?}");
    let r = call(&app, Method::DELETE, "pipelines/first", &cred, None).await;
    assert_eq!(r.status.as_u16(), 204, "{r:?}");
    assert!(dx.pipelines().expect("pipelines").is_empty());
    let r = call(&app, Method::DELETE, "pipelines/first", &cred, None).await;
    r.assert_error(404, "1402");
}

/// Waits until the pipeline's run has ended (at most 30 s); returns its health.
async fn idle(app: &TestApp, cred: &Cred, name: &str) -> Value {
    for _ in 0..300 {
        let r = call(
            app,
            Method::GET,
            &format!("pipelines/{name}/health"),
            cred,
            None,
        )
        .await;
        let health = r.data().clone();
        if health["state"] == "idle" && health["lastRun"] != Value::Null {
            return health;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the run of {name} did not end");
}

fn country(dx: &Dynex, code: &str) -> Option<Value> {
    all_rows(dx, "countries")
        .into_iter()
        .find(|r| r["iso2_code"] == code)
}

async fn runs_are_listed_and_dead_letters_retried_or_skipped(db: TestDb) {
    let (dx, app, [cred, _]) = setup(&db).await;
    let dir = inbox();
    let text = countries_from("country-files", &folder(&dir), REQUIRED_NAME);
    assert_eq!(
        save(&app, &cred, "country-files", &text)
            .await
            .status
            .as_u16(),
        201
    );
    let r = call(
        &app,
        Method::GET,
        "pipelines/country-files/runs",
        &cred,
        None,
    )
    .await;
    assert_eq!(r.data(), &json!([]));

    let r = call(
        &app,
        Method::POST,
        "pipelines/country-files/run",
        &cred,
        None,
    )
    .await;
    assert_eq!(r.status.as_u16(), 202, "{r:?}");
    let run = r.body["data"]["run"].as_i64().expect("a run id");
    let health = idle(&app, &cred, "country-files").await;
    assert_eq!(health["lastRun"]["id"], run);

    let r = call(
        &app,
        Method::GET,
        "pipelines/country-files/runs",
        &cred,
        None,
    )
    .await;
    let runs = r.rows().clone();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["id"], run);
    assert_eq!(runs[0]["state"], "succeeded");
    assert_eq!(runs[0]["options"]["trigger"], "back-office");
    assert_eq!(
        (
            &runs[0]["summary"]["read"],
            &runs[0]["summary"]["inserted"],
            &runs[0]["summary"]["deadLetters"]
        ),
        (&json!(4), &json!(2), &json!(2)),
        "{}",
        runs[0]
    );
    assert!(country(&dx, "QA").is_some() && country(&dx, "QB").is_none());

    let r = call(
        &app,
        Method::GET,
        "pipelines/country-files/dead-letters",
        &cred,
        None,
    )
    .await;
    let letters = r.rows().clone();
    assert_eq!(letters.len(), 2);
    assert_eq!(letters[0]["stage"], "map");
    assert_eq!(letters[0]["field"], "name");
    assert_eq!(letters[0]["record"]["code"], "QB");
    assert_eq!(letters[1]["record"]["code"], "QD");
    let r = call(
        &app,
        Method::GET,
        "pipelines/country-files/dead-letters?limit=1",
        &cred,
        None,
    )
    .await;
    assert_eq!(r.rows().len(), 1);
    let r = call(
        &app,
        Method::GET,
        "pipelines/country-files/dead-letters?limit=0",
        &cred,
        None,
    )
    .await;
    r.assert_error(400, "1401");

    // Skipped: QD is gone without being delivered.
    let r = call(
        &app,
        Method::POST,
        "pipelines/country-files/dead-letters/skip",
        &cred,
        Some(&json!({"ids": [letters[1]["id"], 999_999]})),
    )
    .await;
    assert_eq!(r.data(), &json!({"skipped": 1}));
    let stored = dx.dead_letters("country-files", 10).expect("dead letters");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].record["code"], "QB");
    let r = call(
        &app,
        Method::POST,
        "pipelines/country-files/dead-letters/skip",
        &cred,
        Some(&json!({"ids": []})),
    )
    .await;
    r.assert_error(400, "1401");

    // Retried through the same mapping: refused again, a new dead letter.
    let r = call(
        &app,
        Method::POST,
        "pipelines/country-files/dead-letters/retry",
        &cred,
        None,
    )
    .await;
    let summary = r.data().clone();
    assert_eq!(
        (&summary["read"], &summary["deadLetters"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(
        dx.dead_letters("country-files", 10).expect("letters").len(),
        1
    );
    // Fixed, then retried: delivered, and no dead letter is left.
    let fixed = text.replace(REQUIRED_NAME, "{ path: $.name, default: Unknown }");
    assert_eq!(
        save(&app, &cred, "country-files", &fixed)
            .await
            .status
            .as_u16(),
        200
    );
    let r = call(
        &app,
        Method::POST,
        "pipelines/country-files/dead-letters/retry",
        &cred,
        Some(&json!({"limit": 10})),
    )
    .await;
    let summary = r.data().clone();
    assert_eq!(summary["state"], "succeeded", "{summary}");
    assert_eq!(
        (&summary["inserted"], &summary["deadLetters"]),
        (&json!(1), &json!(0))
    );
    assert_eq!(country(&dx, "QB").expect("delivered")["name"], "Unknown");
    assert!(country(&dx, "QD").is_none());
    assert!(
        dx.dead_letters("country-files", 10)
            .expect("letters")
            .is_empty()
    );

    // The history, newest first, with the replays.
    let r = call(
        &app,
        Method::GET,
        "pipelines/country-files/runs?limit=2",
        &cred,
        None,
    )
    .await;
    let runs = r.rows();
    assert_eq!(runs.len(), 2);
    assert!(runs[0]["id"].as_i64() > runs[1]["id"].as_i64());
    assert_eq!(runs[0]["options"]["replay"], true, "{}", runs[0]);
    let r = call(&app, Method::GET, "pipelines/nothing/runs", &cred, None).await;
    r.assert_error(404, "1402");
}

async fn the_mapping_tester_maps_pasted_and_fetched_records_and_writes_nothing(db: TestDb) {
    let (dx, app, [cred, _]) = setup(&db).await;
    let dir = inbox();
    let text = countries_from("country-files", &folder(&dir), REQUIRED_NAME);
    assert_eq!(
        save(&app, &cred, "country-files", &text)
            .await
            .status
            .as_u16(),
        201
    );
    let before = all_rows(&dx, "countries").len();

    // Pasted records: each beside its row or its error.
    let r = call(
        &app,
        Method::POST,
        "pipelines/country-files/test",
        &cred,
        Some(&json!({"records": [
            {"code": "QZ", "code3": "QZZ", "name": "Zedland"},
            {"code": "QY", "code3": "QYY"},
            {"code": "QV", "code3": "QVVV", "name": "Vland"},
        ]})),
    )
    .await;
    let tested = r.data();
    assert_eq!(tested["from"], "pasted");
    let samples = tested["samples"].as_array().expect("samples");
    assert_eq!(
        samples[0]["rows"],
        json!([{"iso2_code": "QZ", "iso3_code": "QZZ", "name": "Zedland"}])
    );
    assert_eq!(samples[0].get("error"), None);
    assert_eq!(samples[1]["record"]["code"], "QY");
    assert_eq!(samples[1]["error"]["field"], "name");
    assert_eq!(samples[1].get("rows"), None);
    // The entity's rules on the mapped row: `iso3_code` holds at most 3 characters.
    assert_eq!(samples[0]["rowErrors"], json!([]));
    assert_eq!(samples[2]["rows"][0]["iso3_code"], "QVVV");
    let errors = samples[2]["rowErrors"].as_array().expect("row errors");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        (&errors[0]["row"], &errors[0]["code"]),
        (&json!(0), &json!("1306"))
    );
    assert!(
        errors[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("iso3_code")),
        "{errors:?}"
    );

    // The editor's text, not saved: trimmed and upper-cased.
    let edited = text.replace(
        "iso2_code: $.code",
        "iso2_code: { path: $.code, trim: true, case: upper }",
    );
    let r = call(
        &app,
        Method::POST,
        "pipelines/country-files/test",
        &cred,
        Some(&json!({"definition": edited, "records": [{"code": " qx ", "code3": "QXX", "name": "X"}]})),
    )
    .await;
    assert_eq!(r.data()["samples"][0]["rows"][0]["iso2_code"], "QX");
    // Without a stored pipeline.
    let r = call(
        &app,
        Method::POST,
        "pipelines/test",
        &cred,
        Some(&json!({"definition": edited.replace("country-files", "draft"), "records": {"code": "qw"}})),
    )
    .await;
    // A single record is an object, not an array: refused as a malformed body.
    r.assert_error(400, "1401");
    let r = call(
        &app,
        Method::POST,
        "pipelines/test",
        &cred,
        Some(&json!({"definition": edited.replace("country-files", "draft"), "records": [{"code": "qw", "code3": "QWW", "name": "W"}]})),
    )
    .await;
    assert_eq!(r.data()["samples"][0]["rows"][0]["iso2_code"], "QW");
    // A definition with problems: each at its place.
    let r = call(
        &app,
        Method::POST,
        "pipelines/country-files/test",
        &cred,
        Some(&json!({"definition": text.replace("$.code3", "$[["), "records": [{}]})),
    )
    .await;
    let found = problems(&r);
    assert!(
        found
            .iter()
            .any(|(p, l)| p.starts_with("map.fields.iso3_code") && *l == Some(9)),
        "{found:?}"
    );

    // Fetched from the source: the file's first three lines, the file left in place.
    let r = call(
        &app,
        Method::POST,
        "pipelines/country-files/test",
        &cred,
        Some(&json!({"sample": 3})),
    )
    .await;
    let tested = r.data();
    assert_eq!(tested["from"], "source");
    let samples = tested["samples"].as_array().expect("samples");
    assert_eq!(samples.len(), 3);
    assert_eq!(samples[0]["rows"][0]["name"], "Qaland");
    assert_eq!(samples[1]["error"]["field"], "name");
    assert!(dir.path().join("countries-1.csv").exists());

    // Nothing written, no run recorded.
    assert_eq!(all_rows(&dx, "countries").len(), before);
    assert!(
        dx.pipeline_runs("country-files", 10)
            .expect("runs")
            .is_empty()
    );
    let r = call(
        &app,
        Method::POST,
        "pipelines/country-files/test",
        &cred,
        Some(&json!({"sample": 0})),
    )
    .await;
    r.assert_error(400, "1401");
}

async fn variables_are_listed_set_and_removed_and_secrets_never_sent(db: TestDb) {
    let (dx, app, [cred, _]) = setup(&db).await;
    let r = call(
        &app,
        Method::PUT,
        "variables/PIM_URL",
        &cred,
        Some(&json!({"value": "http://pim.example"})),
    )
    .await;
    assert_eq!(r.data(), &json!({"name": "PIM_URL", "secret": false}));
    // A secret is stored encrypted with the operator's key (here, set beside the server).
    dx.set_variable(
        "PIM_SECRET",
        "hunter2-very-secret",
        Some(&SecretKey::parse(&SecretKey::generate()).expect("a key")),
    )
    .expect("set a secret");

    let r = call(&app, Method::GET, "variables", &cred, None).await;
    assert!(!r.raw.contains("hunter2"), "{}", r.raw);
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    let listed = r.data();
    let vars = listed["variables"].as_array().expect("variables");
    assert_eq!(vars.len(), 2);
    assert_eq!(vars[0]["name"], "PIM_SECRET");
    assert_eq!(vars[0]["secret"], true);
    assert_eq!(vars[0]["value"], Value::Null);
    assert_eq!(
        vars[1],
        json!({"name": "PIM_URL", "secret": false, "value": "http://pim.example", "updatedAt": vars[1]["updatedAt"]})
    );
    assert!(listed["secretsSettable"].is_boolean());

    // A bad name is refused; without the key on the server, so is a secret.
    let r = call(
        &app,
        Method::PUT,
        "variables/bad%20name",
        &cred,
        Some(&json!({"value": "x"})),
    )
    .await;
    r.assert_error(400, "1401");
    if listed["secretsSettable"] == false {
        let r = call(
            &app,
            Method::PUT,
            "variables/OTHER",
            &cred,
            Some(&json!({"value": "x", "secret": true})),
        )
        .await;
        assert!(r.assert_error(400, "1401").contains("DYNEX_SECRET_KEY"));
        assert_eq!(dx.list_variables().expect("list").len(), 2);
    }

    let r = call(&app, Method::DELETE, "variables/PIM_URL", &cred, None).await;
    assert_eq!(r.status.as_u16(), 204, "{r:?}");
    let names: Vec<String> = dx
        .list_variables()
        .expect("list")
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(names, ["PIM_SECRET"]);
    let r = call(&app, Method::DELETE, "variables/PIM_URL", &cred, None).await;
    r.assert_error(404, "1402");
}

async fn the_routes_need_the_admin_scope(db: TestDb) {
    let (dx, app, [cred, _]) = setup(&db).await;
    let dir = inbox();
    let text = countries_from("country-files", &folder(&dir), REQUIRED_NAME);
    assert_eq!(
        save(&app, &cred, "country-files", &text)
            .await
            .status
            .as_u16(),
        201
    );
    let reader = Cred::Key(scoped_key(&dx, "reader", "dynamic-entity:read"));
    for (method, path, body) in [
        (Method::GET, "pipelines/country-files", None),
        (
            Method::PUT,
            "pipelines/country-files",
            Some(json!({"definition": text})),
        ),
        (Method::DELETE, "pipelines/country-files", None),
        (Method::GET, "pipelines/country-files/runs", None),
        (Method::GET, "pipelines/country-files/dead-letters", None),
        (
            Method::POST,
            "pipelines/country-files/dead-letters/retry",
            None,
        ),
        (
            Method::POST,
            "pipelines/country-files/dead-letters/skip",
            Some(json!({"ids": [1]})),
        ),
        (
            Method::POST,
            "pipelines/country-files/test",
            Some(json!({"records": []})),
        ),
        (
            Method::POST,
            "pipelines/test",
            Some(json!({"definition": text})),
        ),
        (Method::GET, "variables", None),
        (Method::PUT, "variables/X", Some(json!({"value": "x"}))),
        (Method::DELETE, "variables/X", None),
    ] {
        let r = call(&app, method.clone(), path, &reader, body.as_ref()).await;
        assert_eq!(r.status.as_u16(), 403, "{method} {path}: {r:?}");
    }
    assert!(dx.pipeline("country-files").is_ok());
    assert!(dx.list_variables().expect("list").is_empty());
}
