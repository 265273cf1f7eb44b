//! Incoming webhooks: `POST /hooks/{pipeline}` runs the pipeline with the posted records, once
//! the caller showed the secret or signed the body; the curl commands of docs/pipelines.md run
//! as printed against a real server.

use std::time::{Duration, Instant};

use dynex_core::Dynex;
use dynex_pipeline::definition::Definition;
use dynex_test_support::{TestDb, all_rows, backend_tests, open_demo};
use serde_json::{Value, json};

use crate::changes::docs_block;
use crate::support::{LiveServer, paste};

backend_tests!(
    the_documented_hooks_run_as_printed,
    refused_callers_change_nothing,
);

const SECRET: &str = "pim-0123456789abcdef";

fn doc() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/pipelines.md"
    ))
    .expect("the docs")
}

/// Saves the documented `pim-countries`, with `hmac` instead of `secret` when asked.
fn save_hook(dynex: &Dynex, hmac: bool) {
    dynex
        .set_variable("PIM_HOOK_SECRET", SECRET, None)
        .expect("the variable");
    let mut text = docs_block(&doc(), "pipelines:hook");
    if hmac {
        text = text.replace(
            "  secret: '${PIM_HOOK_SECRET}'",
            "  hmac: '${PIM_HOOK_SECRET}'",
        );
    }
    let definition = Definition::parse(&text).expect("the documented definition parses");
    definition
        .check(&dynex.snapshot().catalog)
        .expect("the documented definition holds");
    dynex.save_pipeline("pim-countries", &text).expect("saved");
}

/// Waits until `n` runs of `pim-countries` ended; their states.
fn ended_runs(dynex: &Dynex, n: usize) -> Vec<String> {
    let start = Instant::now();
    loop {
        let runs = dynex.pipeline_runs("pim-countries", 100).expect("the runs");
        let ended: Vec<String> = runs
            .iter()
            .filter(|r| r.state != "running")
            .map(|r| r.state.clone())
            .collect();
        if ended.len() >= n || start.elapsed() > Duration::from_secs(10) {
            return ended;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn names(dynex: &Dynex, codes: &[&str]) -> Vec<Value> {
    codes
        .iter()
        .map(|code| {
            all_rows(dynex, "countries")
                .into_iter()
                .find(|r| r["iso2_code"] == *code)
                .map_or(Value::Null, |r| r["name"].clone())
        })
        .collect()
}

fn the_documented_hooks_run_as_printed(db: TestDb) {
    let dynex = open_demo(&db);
    save_hook(&dynex, false);
    let server = LiveServer::start(&dynex);
    let url = server.url();
    let env = [("DYNEX_URL", url.as_str()), ("PIM_HOOK_SECRET", SECRET)];
    let doc = doc();
    let printed = paste(&docs_block(&doc, "pipelines:hook-json"), None, &env);
    assert_eq!(String::from_utf8_lossy(&printed), r#"{"data":{"run":1}}"#);
    assert_eq!(ended_runs(&dynex, 1), ["succeeded"]);
    let printed = paste(&docs_block(&doc, "pipelines:hook-csv"), None, &env);
    assert_eq!(String::from_utf8_lossy(&printed), r#"{"data":{"run":2}}"#);
    assert_eq!(ended_runs(&dynex, 2).len(), 2);
    assert_eq!(names(&dynex, &["QA", "QB", "QC"]), ["Qatar", "Qb", "Qc"]);
    // The runs are recorded as started by a hook.
    let runs = dynex.pipeline_runs("pim-countries", 10).expect("the runs");
    assert!(
        runs.iter().all(|r| r.options["trigger"] == "hook"),
        "{runs:?}"
    );
    save_hook(&dynex, true);
    let printed = paste(&docs_block(&doc, "pipelines:hook-hmac"), None, &env);
    assert_eq!(String::from_utf8_lossy(&printed), r#"{"data":{"run":3}}"#);
    assert_eq!(ended_runs(&dynex, 3).len(), 3);
    assert_eq!(names(&dynex, &["QD"]), ["Qd"]);
}

/// `POST /hooks/NAME` with `body` and `headers`; the status and the body as JSON.
fn post(server: &LiveServer, name: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Value) {
    let mut request = ureq::post(&format!("{}/hooks/{name}", server.url()));
    for (k, v) in headers {
        request = request.set(k, v);
    }
    let response = match request.send_bytes(body) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("POST /hooks/{name}: {e}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn refused_callers_change_nothing(db: TestDb) {
    let dynex = open_demo(&db);
    let before = all_rows(&dynex, "countries");
    save_hook(&dynex, false);
    // A pipeline without `hook` cannot be called.
    let plain = docs_block(&doc(), "pipelines:hook")
        .replace("name: pim-countries", "name: pim-plain")
        .replace("hook:\n  secret: '${PIM_HOOK_SECRET}'\n", "");
    assert!(!plain.contains("hook:"), "{plain}");
    dynex.save_pipeline("pim-plain", &plain).expect("saved");
    let server = LiveServer::start(&dynex);
    let good = json!([{"code": "QA", "code3": "QAT", "name": "Qatar"}]).to_string();
    let json_type = ("Content-Type", "application/json");
    let code = |reply: &Value| reply[0]["code"].as_str().unwrap_or_default().to_string();
    for (headers, body, status, wire) in [
        (vec![json_type], good.as_bytes(), 401, "1404"),
        (
            vec![json_type, ("X-Dynex-Hook-Secret", "pim-0123456789abcdeX")],
            good.as_bytes(),
            401,
            "1404",
        ),
        (
            vec![json_type, ("X-Dynex-Signature", SECRET)],
            good.as_bytes(),
            401,
            "1404",
        ),
        (
            vec![json_type, ("X-Dynex-Hook-Secret", SECRET)],
            b"[{\"code\": ".as_slice(),
            400,
            "1401",
        ),
        (
            vec![json_type, ("X-Dynex-Hook-Secret", SECRET)],
            b"\"QA\"".as_slice(),
            400,
            "1401",
        ),
        (
            vec![
                ("Content-Type", "text/csv"),
                ("X-Dynex-Hook-Secret", SECRET),
            ],
            b"code,code3,name\nQA,QAT\n".as_slice(),
            400,
            "1401",
        ),
    ] {
        let (got, reply) = post(&server, "pim-countries", &headers, body);
        assert_eq!((got, code(&reply)), (status, wire.to_string()), "{reply}");
    }
    let (got, reply) = post(
        &server,
        "pim-plain",
        &[json_type, ("X-Dynex-Hook-Secret", SECRET)],
        good.as_bytes(),
    );
    assert_eq!((got, code(&reply).as_str()), (404, "1402"), "{reply}");
    let (got, reply) = post(
        &server,
        "nope",
        &[json_type, ("X-Dynex-Hook-Secret", SECRET)],
        good.as_bytes(),
    );
    assert_eq!((got, code(&reply).as_str()), (404, "1402"), "{reply}");
    let big = format!(
        "[{}]",
        [good.trim_matches(['[', ']'])].repeat(30_000).join(",")
    );
    assert!(big.len() > 1 << 20);
    let (got, reply) = post(
        &server,
        "pim-countries",
        &[json_type, ("X-Dynex-Hook-Secret", SECRET)],
        big.as_bytes(),
    );
    assert_eq!((got, code(&reply).as_str()), (413, "1322"), "{reply}");
    // Nothing ran, nothing changed.
    assert!(
        dynex
            .pipeline_runs("pim-countries", 10)
            .expect("runs")
            .is_empty()
    );
    assert_eq!(all_rows(&dynex, "countries"), before);
    // The same call with the secret runs: the refusals above could have been accepted.
    let (got, reply) = post(
        &server,
        "pim-countries",
        &[json_type, ("X-Dynex-Hook-Secret", SECRET)],
        good.as_bytes(),
    );
    assert_eq!(got, 202, "{reply}");
    assert!(reply["data"]["run"].is_i64(), "{reply}");
    assert_eq!(ended_runs(&dynex, 1), ["succeeded"]);
    assert_eq!(names(&dynex, &["QA"]), ["Qatar"]);
}
