//! Jobs in the admin API: CSV imports that run in the background (progress, summary, rejected
//! lines as a CSV report, dry runs, atomic files, failures), exports recorded as they are
//! downloaded, and the history of both.

use std::time::Duration;

use actix_web::http::Method;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::test::TestRequest;
use dynex_test_support::{TestDb, async_backend_tests};
use serde_json::{Value, json};

use crate::admin::{Cred, call};
use crate::support::{Reply, TestApp, enc, scoped_key};

async_backend_tests!(
    an_import_job_keeps_the_good_rows_and_reports_the_rejected_ones,
    dry_runs_and_atomic_jobs_write_nothing_when_a_row_is_refused,
    upsert_jobs_count_unchanged_rows_and_use_a_mapping,
    bad_job_requests_are_refused_and_failed_jobs_say_why,
    export_jobs_answer_the_file_and_are_listed,
    uploads_over_the_limit_are_1322_and_start_nothing,
    a_job_whose_server_stopped_is_shown_interrupted,
    an_interrupted_import_job_resumes_after_its_last_batch,
);

/// The admin setup of the admin API tests, with the second credential an API key that may also
/// read and write entities (an import or export job needs both).
async fn setup(db: &TestDb) -> (dynex_core::Dynex, TestApp, [Cred; 2]) {
    let (dx, app, [token, _]) = crate::admin::setup(db).await;
    let key = scoped_key(
        &dx,
        "jobs-ops",
        "admin dynamic-entity:read dynamic-entity:write",
    );
    (dx, app, [token, Cred::Key(key)])
}

/// The tax sets the demo starts with.
const DEMO_TAX_SETS: usize = 2;

/// `POST /admin/api/jobs/import?{query}` with `csv` as the body.
async fn start_import(app: &TestApp, cred: &Cred, query: &str, csv: &str) -> Reply {
    let req = cred.apply(
        TestRequest::post()
            .uri(&format!("/admin/api/jobs/import?{query}"))
            .insert_header((CONTENT_TYPE, "text/csv"))
            .set_payload(csv.to_string()),
    );
    app.send(req).await
}

/// Starts an import job and waits for its end; returns the finished job.
async fn import_job(app: &TestApp, cred: &Cred, query: &str, csv: &str) -> Value {
    let r = start_import(app, cred, query, csv).await;
    assert_eq!(r.status.as_u16(), 202, "unexpected reply: {r:?}");
    let job = &r.body["data"];
    assert_eq!(job["state"], "running", "{job}");
    assert_eq!(job["kind"], "import");
    assert_eq!(job["bytes_total"], json!(csv.len()));
    let id = job["id"].as_str().expect("an id").to_string();
    assert_eq!(r.header("location"), Some(format!("jobs/{id}")));
    wait(app, cred, &id).await
}

/// Polls `GET /admin/api/jobs/{id}` until the job is no longer running (at most 30 s).
async fn wait(app: &TestApp, cred: &Cred, id: &str) -> Value {
    for _ in 0..300 {
        let r = call(app, Method::GET, &format!("jobs/{id}"), cred, None).await;
        let job = r.data().clone();
        if job["state"] != "running" {
            return job;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("job {id} did not end");
}

/// `GET /admin/api/jobs/{id}/rejects`: the report as text.
async fn rejects(app: &TestApp, cred: &Cred, id: &Value) -> String {
    let r = call(
        app,
        Method::GET,
        &format!("jobs/{}/rejects", id.as_str().unwrap()),
        cred,
        None,
    )
    .await;
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
    assert_eq!(r.content_type.as_deref(), Some("text/csv; charset=utf-8"));
    r.raw
}

/// The names of the stored tax sets.
async fn tax_sets(app: &TestApp, key: &str) -> Vec<Value> {
    app.all("tax-sets", key)
        .await
        .iter()
        .map(|r| r["name"].clone())
        .collect()
}

fn summary(job: &Value) -> Value {
    let mut s = job["summary"].clone();
    let o = s.as_object_mut().expect("a summary");
    o.remove("seconds");
    o.remove("rows_per_second");
    s
}

async fn an_import_job_keeps_the_good_rows_and_reports_the_rejected_ones(db: TestDb) {
    let (dx, app, creds) = setup(&db).await;
    let key = dx.create_api_key("reader", &[], None).unwrap().key;
    for (n, cred) in creds.iter().enumerate() {
        let csv = format!(
            "id_tax_set,name\n,Job set A{n}\n,\n,Job set B{n}\n,\"two\nlines{n}\"\n,Too,many{n}\n"
        );
        let job = import_job(&app, cred, "entity=tax-sets&fileName=sets.csv", &csv).await;
        assert_eq!(job["state"], "done", "{job}");
        assert_eq!(job["file_name"], "sets.csv");
        assert_eq!(job["entity"], "tax-sets");
        assert_eq!(job["created_by"], if n == 0 { "root" } else { "jobs-ops" });
        assert_eq!(job["error"], Value::Null);
        assert_eq!(job["bytes_read"], json!(csv.len()), "{job}");
        assert!(job["finished_at"].is_string(), "{job}");
        assert_eq!(
            job["options"],
            json!({"mode": "insert", "key": null, "dryRun": false, "atomic": false,
                   "maxErrors": null, "mapping": false})
        );
        assert_eq!(
            summary(&job),
            json!({
                "entity": "tax-sets", "mode": "insert", "dry_run": false, "atomic": false,
                "committed": true, "read": 5, "inserted": 3, "updated": 0, "unchanged": 0,
                "rejected": 2, "stopped_early": false, "skipped": 0
            })
        );
        // The report has the CLI's columns: line, code, field, message, then the file's own.
        let report = rejects(&app, cred, &job["id"]).await;
        let lines: Vec<&str> = report.lines().collect();
        assert_eq!(
            lines[0], "line,code,field,message,id_tax_set,name",
            "{report}"
        );
        assert!(
            lines[1].starts_with(
                "3,1307,name,The required field must not be empty. Field: `tax-sets[3].name`,,"
            ),
            "{report}"
        );
        assert!(lines[2].starts_with("7,1301,"), "{report}");
        assert_eq!(lines.len(), 3, "{report}");
        // `limit` keeps the first lines only (the back office's preview), the header always.
        let id = job["id"].as_str().unwrap();
        let r = call(
            &app,
            Method::GET,
            &format!("jobs/{id}/rejects?limit=1"),
            cred,
            None,
        )
        .await;
        assert_eq!(r.status.as_u16(), 200, "{r:?}");
        assert_eq!(r.raw.lines().collect::<Vec<_>>(), lines[..2], "{}", r.raw);
        for bad in ["0", "-1", "many"] {
            let r = call(
                &app,
                Method::GET,
                &format!("jobs/{id}/rejects?limit={bad}"),
                cred,
                None,
            )
            .await;
            r.assert_error(400, "1401");
        }
    }
    dx.refresh().unwrap();
    let names = tax_sets(&app, &key).await;
    assert_eq!(names.len(), DEMO_TAX_SETS + 6, "{names:?}");
    for n in 0..2 {
        assert!(names.contains(&json!(format!("Job set A{n}"))));
        assert!(names.contains(&json!(format!("two\nlines{n}"))));
    }
    // Both jobs are in the history, newest first, with their summaries.
    let r = call(&app, Method::GET, "jobs", &creds[0], None).await;
    let list = r.data().as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["created_by"], "jobs-ops");
    assert_eq!(list[1]["summary"]["inserted"], 3);
}

async fn dry_runs_and_atomic_jobs_write_nothing_when_a_row_is_refused(db: TestDb) {
    let (dx, app, creds) = setup(&db).await;
    let key = dx.create_api_key("reader", &[], None).unwrap().key;
    let cred = &creds[0];
    let csv = "name\nDry one\nDry two\n";
    let job = import_job(&app, cred, "entity=tax-sets&dryRun=true", csv).await;
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["summary"]["dry_run"], true);
    assert_eq!(job["summary"]["committed"], false);
    assert_eq!(job["summary"]["inserted"], 2);
    assert_eq!(tax_sets(&app, &key).await.len(), DEMO_TAX_SETS);

    let csv = "name\nAtomic one\n\"\"\n";
    let job = import_job(&app, cred, "entity=tax-sets&atomic=true", csv).await;
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["summary"]["committed"], false);
    assert_eq!(job["summary"]["rejected"], 1);
    let report = rejects(&app, cred, &job["id"]).await;
    assert!(report.contains("\n3,1307,name,"), "{report}");
    assert_eq!(tax_sets(&app, &key).await.len(), DEMO_TAX_SETS);

    // --max-errors: the job stops after the batch that reached it.
    let batch = dynex_core::IMPORT_BATCH_ROWS;
    let mut csv = String::from("name\n");
    for i in 0..batch * 2 + 10 {
        csv.push_str(if i % 2 == 0 { "\"\"\n" } else { "ok\n" });
    }
    let job = import_job(&app, cred, "entity=tax-sets&maxErrors=10&dryRun=1", &csv).await;
    assert_eq!(job["summary"]["stopped_early"], true, "{job}");
    assert_eq!(job["summary"]["read"], json!(batch), "{job}");
}

async fn upsert_jobs_count_unchanged_rows_and_use_a_mapping(db: TestDb) {
    let (dx, app, creds) = setup(&db).await;
    let key = dx.create_api_key("reader", &[], None).unwrap().key;
    let cred = &creds[1];
    let before = app.all("tax-sets", &key).await;
    // A third-party file: another header, spaces around the names.
    let mut csv = String::from("Label\n");
    for row in &before {
        csv.push_str(&format!("  {}\n", row["name"].as_str().unwrap()));
    }
    csv.push_str("NEW SET\n");
    let mapping = "columns:\n  Label: { field: name, trim: true }\n";
    let query = format!(
        "entity=tax-sets&mode=upsert&key=name&mapping={}",
        enc(mapping)
    );
    let job = import_job(&app, cred, &query, &csv).await;
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["options"]["mapping"], true);
    assert_eq!(job["options"]["key"], "name");
    assert_eq!(
        (
            &job["summary"]["unchanged"],
            &job["summary"]["inserted"],
            &job["summary"]["rejected"]
        ),
        (&json!(DEMO_TAX_SETS), &json!(1), &json!(0)),
        "{job}"
    );
    dx.refresh().unwrap();
    let r = app
        .api(
            &format!("tax-sets?filter[tax-sets.name]={}", enc("NEW SET")),
            &key,
        )
        .await;
    assert_eq!(r.rows().len(), 1);

    // Matched by a field instead of the identifier, without a mapping.
    let csv = "name\nNEW SET\n";
    let job = import_job(&app, cred, "entity=tax-sets&mode=update&key=name", csv).await;
    assert_eq!(job["summary"]["unchanged"], 1, "{job}");
}

async fn bad_job_requests_are_refused_and_failed_jobs_say_why(db: TestDb) {
    let (dx, app, creds) = setup(&db).await;
    let cred = &creds[0];
    start_import(&app, cred, "entity=nope", "name\nx\n")
        .await
        .assert_error(404, "007");
    for query in [
        "mode=insert",
        "entity=tax-sets&mode=merge",
        "entity=tax-sets&dryRun=maybe",
        "entity=tax-sets&maxErrors=-1",
        "entity=tax-sets&mapping=columns%3A%20%5B",
        "entity=tax-sets&rejects=x.csv",
    ] {
        start_import(&app, cred, query, "name\nx\n")
            .await
            .assert_error(400, "1401");
    }
    // A file name longer than its column was a server error on PostgreSQL and MariaDB (and
    // kept whole on SQLite): refused before the upload is stored, on every backend.
    let long = "n".repeat(dynex_core::FILE_NAME_MAX_CHARS + 1);
    let message = start_import(
        &app,
        cred,
        &format!("entity=tax-sets&fileName={long}"),
        "name\nx\n",
    )
    .await
    .assert_error(400, "1401");
    assert!(
        message.contains("`fileName` has 256 characters"),
        "{message}"
    );
    start_import(&app, cred, "entity=tax-sets&fileName=", "name\nx\n")
        .await
        .assert_error(400, "1401");
    // As long as the column holds, in characters: done.
    let longest = "ü".repeat(dynex_core::FILE_NAME_MAX_CHARS);
    let job = import_job(
        &app,
        cred,
        &format!("entity=tax-sets&fileName={}", crate::support::enc(&longest)),
        "name\nLongest\n",
    )
    .await;
    assert_eq!(
        (job["state"].as_str(), job["file_name"].as_str()),
        (Some("done"), Some(longest.as_str())),
        "{job}"
    );
    // The admin scope alone does not read or write rows.
    let admin_only = Cred::Key(scoped_key(&dx, "admin-only", "admin"));
    start_import(&app, &admin_only, "entity=tax-sets", "name\nx\n")
        .await
        .assert_error(403, "002");
    let body = json!({"entity": "tax-sets"});
    call(&app, Method::POST, "jobs/export", &admin_only, Some(&body))
        .await
        .assert_error(403, "002");
    // Without the admin scope: refused, nothing recorded.
    let reader = Cred::Key(dx.create_api_key("reader", &[], None).unwrap().key);
    start_import(&app, &reader, "entity=tax-sets", "name\nx\n")
        .await
        .assert_error(403, "002");
    call(&app, Method::GET, "jobs", &reader, None)
        .await
        .assert_error(403, "002");
    let r = call(&app, Method::GET, "jobs", cred, None).await;
    assert_eq!(
        r.data().as_array().map(Vec::len),
        Some(1),
        "only the longest name's job"
    );

    // A header the entity cannot take fails the job, with the code the API would answer.
    let job = import_job(&app, cred, "entity=tax-sets", "name,colour\nx,red\n").await;
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["error"]["code"], "1401", "{job}");
    assert!(
        job["error"]["message"].as_str().unwrap().contains("colour"),
        "{job}"
    );
    call(&app, Method::GET, "jobs/unknown", cred, None)
        .await
        .assert_error(404, "1402");
    call(&app, Method::GET, "jobs?limit=0", cred, None)
        .await
        .assert_error(400, "1401");
}

async fn export_jobs_answer_the_file_and_are_listed(db: TestDb) {
    let (_dx, app, creds) = setup(&db).await;
    let cred = &creds[0];
    let body = json!({"entity": "tax-sets", "sort": "-name", "fields": ["name"],
                      "filters": {"filter[tax-sets.id_tax_set]": {"lte": 2}}});
    let r = call(&app, Method::POST, "jobs/export", cred, Some(&body)).await;
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
    assert_eq!(
        r.header("content-disposition").as_deref(),
        Some("attachment; filename=\"tax-sets.csv\"")
    );
    let lines: Vec<&str> = r.raw.lines().collect();
    assert_eq!(lines[0], "name");
    assert_eq!(lines.len(), 3, "{}", r.raw);
    assert!(lines[1] > lines[2], "sorted by -name: {lines:?}");
    let id = r.header("x-dynex-job").expect("the job's id");
    let job = wait(&app, cred, &id).await;
    assert_eq!(job["kind"], "export");
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["summary"]["rows"], 2, "{job}");
    assert_eq!(job["options"]["sort"], "-name");

    for bad in [
        json!({"entity": "nope"}),
        json!({"entity": "tax-sets", "fields": ["colour"]}),
        json!({"entity": "tax-sets", "filters": {"page[limit]": 1}}),
        json!({"entity": "tax-sets", "what": 1}),
    ] {
        let r = call(&app, Method::POST, "jobs/export", cred, Some(&bad)).await;
        assert!(r.status.is_client_error(), "{bad}: {r:?}");
        r.assert_json();
    }
    let r = call(&app, Method::GET, "jobs", cred, None).await;
    assert_eq!(
        r.data().as_array().unwrap().len(),
        1,
        "refused exports are no jobs"
    );
}

async fn uploads_over_the_limit_are_1322_and_start_nothing(db: TestDb) {
    let (dx, app, creds) = setup(&db).await;
    let small = TestApp::with_config(
        dx.clone(),
        dynex_server::AppConfig {
            max_upload_bytes: 16,
            ..Default::default()
        },
    )
    .await;
    // Uploads have their own limit (`--max-upload-bytes`): 16 bytes pass, 18 do not.
    let fits = "name\nFits 16 By\n";
    assert_eq!(fits.len(), 16);
    let job = import_job(&small, &creds[0], "entity=tax-sets", fits).await;
    assert_eq!(job["summary"]["inserted"], 1, "{job}");
    start_import(&small, &creds[0], "entity=tax-sets", "name\nOne too many\n")
        .await
        .assert_error(413, "1322");
    let r = call(&app, Method::GET, "jobs", &creds[0], None).await;
    assert_eq!(
        r.data().as_array().unwrap().len(),
        1,
        "the refused upload is no job"
    );
}

/// A job left `running` by a server that stopped stops being shown as running once it has not
/// moved for a minute.
async fn a_job_whose_server_stopped_is_shown_interrupted(db: TestDb) {
    let (dx, app, creds) = setup(&db).await;
    let job = dx
        .create_job(dynex_core::NewJob {
            kind: dynex_core::JobKind::Import,
            entity: "tax-sets".into(),
            file_name: "sets.csv".into(),
            options: json!({}),
            created_by: "root".into(),
            bytes_total: Some(100),
            resume: None,
        })
        .unwrap();
    let path = format!("jobs/{}", job.id);
    let r = call(&app, Method::GET, &path, &creds[0], None).await;
    assert_eq!(r.data()["state"], "running");
    // As its server last recorded it, a little over the limit ago.
    let mut sql = dynex_query::Sql::default();
    sql.push("UPDATE dynex_job SET updated_ms = updated_ms - ")
        .bind(dynex_query::Value::Int(dynex_core::STALE_AFTER_MS + 1000))
        .push(" WHERE id = ")
        .bind(dynex_query::Value::Text(job.id.clone()));
    dynex_core::db::execute(&mut dx.db().conn().unwrap(), &sql).unwrap();
    let r = call(&app, Method::GET, &path, &creds[0], None).await;
    assert_eq!(r.data()["state"], "interrupted");
    assert_eq!(r.data()["finished_at"], Value::Null);
    // Recorded so, not only shown: it stays interrupted whatever reads it.
    assert_eq!(stored_state(&dx, &job.id), "interrupted");
    // It kept nothing to resume from.
    assert_eq!(r.data()["resumable"], false);
    let r = call(
        &app,
        Method::POST,
        &format!("{path}/resume"),
        &creds[0],
        None,
    )
    .await;
    let message = r.assert_error(400, "1401");
    assert!(message.contains("all or nothing or a dry run"), "{message}");
}

/// The state column of job `id` as stored.
fn stored_state(dx: &dynex_core::Dynex, id: &str) -> String {
    let mut sql = dynex_query::Sql::default();
    sql.push("SELECT state FROM dynex_job WHERE id = ")
        .bind(dynex_query::Value::Text(id.to_string()));
    dynex_core::db::load_cells(&mut dx.db().conn().unwrap(), &sql).unwrap()[0][0]
        .clone()
        .unwrap()
}

/// `SELECT {what} FROM spy_tax_set` (a count).
fn count(dx: &dynex_core::Dynex, what: &str) -> usize {
    let mut sql = dynex_query::Sql::default();
    sql.push(&format!("SELECT {what} AS n FROM spy_tax_set"));
    let n = dynex_core::db::load_count(&mut dx.db().conn().unwrap(), &sql).unwrap();
    usize::try_from(n).unwrap()
}

/// Reads `text` until `fail_at` bytes, then fails as a server that stops would leave it.
struct Cut {
    text: std::io::Cursor<Vec<u8>>,
    fail_at: u64,
}

impl std::io::Read for Cut {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.text.position() >= self.fail_at {
            return Err(std::io::Error::other("the server stopped"));
        }
        let room = usize::try_from(self.fail_at - self.text.position()).unwrap();
        let n = buf.len().min(room);
        self.text.read(&mut buf[..n])
    }
}

/// An import job whose server stopped midway (emulated: on another instance, its import fails
/// after two batches of 2,500 lines and nothing ends the job) stayed `running` with the summary of its last progress
/// and could not be continued. It is now recorded `interrupted`, says it can be resumed, and
/// `POST /jobs/{id}/resume` continues after its last committed batch: every row exactly once,
/// the committed lines counted `skipped`, the kept upload removed at the end.
async fn an_interrupted_import_job_resumes_after_its_last_batch(db: TestDb) {
    let (dx, app, creds) = setup(&db).await;
    const LINES: usize = 6_000;
    let mut csv = String::from("name\n");
    for i in 0..LINES {
        csv.push_str(&format!("Resumed set {i:05}\n"));
    }
    let dir = tempfile::tempdir().unwrap();
    let upload = dir.path().join("sets.csv");
    std::fs::write(&upload, &csv).unwrap();
    let resume = dynex_core::JobResume {
        mode: "insert".into(),
        key: None,
        max_errors: None,
        mapping: None,
        upload: upload.to_string_lossy().into_owned(),
    };
    let job = dx
        .create_job(dynex_core::NewJob {
            kind: dynex_core::JobKind::Import,
            entity: "tax-sets".into(),
            file_name: "sets.csv".into(),
            options: json!({"mode": "insert"}),
            created_by: "root".into(),
            bytes_total: Some(csv.len() as u64),
            resume: Some(resume.clone()),
        })
        .unwrap();
    let id = job.id.clone();
    // Two batches of 2,500 lines commit; the third is cut off.
    let cut = Cut {
        text: std::io::Cursor::new(csv.clone().into_bytes()),
        fail_at: (csv.len() * 11) as u64 / 12,
    };
    let options = resume.options(&id, false).unwrap();
    // On another instance, which then goes away (as its process would).
    let other = dynex_core::Dynex::open_with(
        &db.url,
        dynex_core::Options {
            watch_interval: None,
            ..dynex_core::Options::default()
        },
    )
    .unwrap();
    assert!(other.run_import_job(&id, cut, &options).is_err());
    drop(other);
    assert_eq!(count(&dx, "COUNT(*)"), DEMO_TAX_SETS + 5_000);
    let mut sql = dynex_query::Sql::default();
    sql.push("UPDATE dynex_job SET updated_ms = updated_ms - ")
        .bind(dynex_query::Value::Int(dynex_core::STALE_AFTER_MS + 1000))
        .push(" WHERE id = ")
        .bind(dynex_query::Value::Text(id.clone()));
    dynex_core::db::execute(&mut dx.db().conn().unwrap(), &sql).unwrap();

    let cred = &creds[1];
    let path = format!("jobs/{id}");
    let r = call(&app, Method::GET, &path, cred, None).await;
    assert_eq!(r.data()["state"], "interrupted", "{r:?}");
    assert_eq!(r.data()["resumable"], true, "{r:?}");
    assert_eq!(stored_state(&dx, &id), "interrupted");

    // The admin scope alone does not write rows.
    let admin_only = Cred::Key(scoped_key(&dx, "admin-only", "admin"));
    call(
        &app,
        Method::POST,
        &format!("{path}/resume"),
        &admin_only,
        None,
    )
    .await
    .assert_error(403, "002");
    let r = call(&app, Method::POST, &format!("{path}/resume"), cred, None).await;
    assert_eq!(r.status.as_u16(), 202, "{r:?}");
    assert_eq!(r.body["data"]["state"], "running", "{r:?}");
    assert_eq!(r.header("location"), Some(format!("/admin/api/jobs/{id}")));
    let done = wait(&app, cred, &id).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["resumable"], false, "{done}");
    let summary = summary(&done);
    assert_eq!(
        (
            summary["skipped"].clone(),
            summary["read"].clone(),
            summary["inserted"].clone(),
            summary["rejected"].clone()
        ),
        (json!(5_000), json!(1_000), json!(1_000), json!(0)),
        "{summary}"
    );
    assert_eq!(count(&dx, "COUNT(*)"), DEMO_TAX_SETS + LINES, "every line");
    assert_eq!(
        count(&dx, "COUNT(DISTINCT name)"),
        DEMO_TAX_SETS + LINES,
        "no line twice"
    );
    assert!(
        !upload.exists(),
        "the kept upload is removed when the job ends"
    );
    // Once done, there is nothing to resume.
    let r = call(&app, Method::POST, &format!("{path}/resume"), cred, None).await;
    let message = r.assert_error(400, "1401");
    assert!(message.contains("it is done, not interrupted"), "{message}");
}
