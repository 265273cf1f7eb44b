//! Change events and outgoing webhooks: writes through the API record events in their own
//! transaction, and `dynex-server` runs a pipeline with a `changes` source and an `http`
//! target within a second, signing each request. The receiver is a real HTTP server on a port
//! of the test's own.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dynex_core::Dynex;
use dynex_pipeline::definition::Definition;
use dynex_test_support::{TestDb, backend_tests, open_demo};
use hmac::Mac;
use serde_json::{Value, json};

use crate::support::LiveServer;

backend_tests!(
    a_change_through_the_api_reaches_a_signed_webhook,
    a_refused_write_records_no_event_and_sends_nothing,
    updates_deletes_and_imports_record_their_events,
    the_documented_receiver_checks_the_signature,
    a_failing_webhook_backs_off,
);

/// The secret the webhooks of these tests are signed with.
const SECRET: &str = "whsec-0123456789abcdef";

/// A request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Headers by lowercase name.
    pub headers: HashMap<String, String>,
    /// The body's exact bytes.
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
}

/// An HTTP server that keeps what it is sent and answers the statuses it is given, then 200.
pub struct Receiver {
    /// Its port on 127.0.0.1.
    pub port: u16,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// Starts a receiver answering `statuses` in turn, then 200.
    pub fn start(statuses: &[u16]) -> Receiver {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let port = listener.local_addr().expect("an address").port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let statuses = Arc::new(Mutex::new(
            statuses.iter().copied().collect::<VecDeque<_>>(),
        ));
        let kept = Arc::clone(&got);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let kept = Arc::clone(&kept);
                let statuses = Arc::clone(&statuses);
                std::thread::spawn(move || serve(stream, &kept, &statuses));
            }
        });
        Receiver { port, got }
    }

    /// What it got so far.
    pub fn got(&self) -> Vec<Received> {
        self.got.lock().expect("the list").clone()
    }

    /// Waits until it got `n` requests, at most `within`; what it got.
    pub fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let start = Instant::now();
        while start.elapsed() < within {
            let got = self.got();
            if got.len() >= n {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.got()
    }
}

/// Serves the requests of one kept-alive connection.
fn serve(
    stream: std::net::TcpStream,
    kept: &Mutex<Vec<Received>>,
    statuses: &Mutex<VecDeque<u16>>,
) {
    let mut writer = stream.try_clone().expect("a second handle");
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = HashMap::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
            }
        }
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        kept.lock().expect("the list").push(Received {
            headers,
            body,
            at: Instant::now(),
        });
        let status = statuses
            .lock()
            .expect("the statuses")
            .pop_front()
            .unwrap_or(200);
        let answer = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}"
        );
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// `sha256=` and the hex HMAC-SHA256 of `TIMESTAMP.BODY`, as a receiver computes it.
pub fn expected_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("a key");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// Saves the webhook pipeline of `countries` to the receiver on `port`.
fn save_webhook(dynex: &Dynex, port: u16) {
    dynex
        .set_variable("WEBHOOK_SECRET", SECRET, None)
        .expect("the variable");
    let text = format!(
        r#"
name: countries-webhook
source:
  changes: {{ entities: [countries] }}
map:
  fields:
    event: $.id
    operation: $.operation
    id: $.identifier
    fields: $.fields
    row: $.row
target:
  http:
    url: http://127.0.0.1:{port}/hooks/countries
    retry: {{ attempts: 3, backoff: 50 }}
    on_failure: dead_letter
    sign: {{ secret: '${{WEBHOOK_SECRET}}' }}
"#
    );
    let definition = Definition::parse(&text).expect("the definition parses");
    definition
        .check(&dynex.snapshot().catalog)
        .expect("the definition holds");
    dynex
        .save_pipeline("countries-webhook", &text)
        .expect("saved");
}

fn api(server: &LiveServer, method: &str, path: &str, key: &str, body: &Value) -> (u16, Value) {
    let request = ureq::request(method, &format!("{}/dynamic-entity/{path}", server.url()))
        .set("X-Api-Key", key)
        .set("Content-Type", "application/json");
    let response = match request.send_string(&body.to_string()) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn key(dynex: &Dynex) -> String {
    dynex
        .create_api_key("shop", &[], None)
        .expect("an API key")
        .key
}

fn events(dynex: &Dynex) -> Vec<dynex_core::changes::ChangeEvent> {
    dynex.change_events(&[], 0, 1000).expect("events").events
}

fn a_change_through_the_api_reaches_a_signed_webhook(db: TestDb) {
    let dynex = open_demo(&db);
    let key = key(&dynex);
    // Two failures, then the request goes through on the third try.
    let receiver = Receiver::start(&[500, 500]);
    save_webhook(&dynex, receiver.port);
    let server = LiveServer::start(&dynex);
    let _runner =
        dynex_server::pipelines::changes::spawn(dynex.clone(), dynex_server::Metrics::default())
            .expect("the runner");
    let sent = Instant::now();
    let (status, _) = api(
        &server,
        "POST",
        "countries",
        &key,
        &json!({"data": [{"iso2_code": "QA", "iso3_code": "QAT", "name": "Qatar"}]}),
    );
    assert_eq!(status, 201);
    let got = receiver.wait_for(3, Duration::from_secs(5));
    assert_eq!(got.len(), 3, "two refusals and a success: {got:?}");
    let last = &got[2];
    assert!(
        last.at.duration_since(sent) < Duration::from_secs(2),
        "delivered after {:?}",
        last.at.duration_since(sent)
    );
    for request in &got {
        let timestamp = &request.headers["x-dynex-timestamp"];
        assert_eq!(
            request.headers["x-dynex-signature"],
            expected_signature(SECRET, timestamp, &request.body),
            "each try is signed"
        );
        assert_ne!(
            request.headers["x-dynex-signature"],
            expected_signature("another secret", timestamp, &request.body)
        );
    }
    let body: Value = serde_json::from_slice(&last.body).expect("JSON");
    assert_eq!(body["operation"], "insert");
    assert_eq!(body["row"]["iso2_code"], "QA");
    assert_eq!(body["row"]["name"], "Qatar");
    assert_eq!(body["id"], body["row"]["id_country"]);
    let mut fields: Vec<String> = serde_json::from_value(body["fields"].clone()).expect("names");
    fields.sort();
    assert_eq!(fields, ["iso2_code", "iso3_code", "name"]);
    // The delivery is listed with its tries; the event is the record it carried.
    let mut listed = Vec::new();
    let start = Instant::now();
    while listed.is_empty() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
        listed = dynex
            .deliveries("countries-webhook", 10)
            .expect("deliveries");
    }
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].attempts, 3);
    assert_eq!(listed[0].status, Some(200));
    assert!(listed[0].ok);
    assert_eq!(listed[0].record["operation"], "insert");
    assert_eq!(listed[0].record["id"], body["event"]);
    // Nothing more is sent: the cursor passed the event.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(receiver.got().len(), 3);
    let cursor = dynex
        .pipeline_cursor("countries-webhook")
        .expect("a cursor");
    assert_eq!(cursor, Some(json!(body["event"].to_string())));
}

fn a_refused_write_records_no_event_and_sends_nothing(db: TestDb) {
    let dynex = open_demo(&db);
    let key = key(&dynex);
    let receiver = Receiver::start(&[]);
    save_webhook(&dynex, receiver.port);
    let server = LiveServer::start(&dynex);
    let _runner =
        dynex_server::pipelines::changes::spawn(dynex.clone(), dynex_server::Metrics::default())
            .expect("the runner");
    // A transactional batch whose second row the database refuses (AT exists): nothing is
    // written, so no event either.
    let (status, _) = api(
        &server,
        "POST",
        "countries",
        &key,
        &json!({"data": [
            {"iso2_code": "QB", "iso3_code": "QBB", "name": "Qb"},
            {"iso2_code": "AT", "iso3_code": "QCC", "name": "Duplicate"},
        ]}),
    );
    assert_eq!(status, 400);
    // One refused before the database: a value of the wrong type.
    let (status, _) = api(
        &server,
        "POST",
        "countries",
        &key,
        &json!({"data": [
            {"iso2_code": "QD", "iso3_code": "QDD", "name": "Qd"},
            {"iso2_code": 7, "iso3_code": "QEE", "name": "Qe"},
        ]}),
    );
    assert_eq!(status, 400);
    assert!(events(&dynex).is_empty(), "{:?}", events(&dynex));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(receiver.got().is_empty(), "{:?}", receiver.got());
    // A write that commits is sent: the test above could fail.
    let (status, _) = api(
        &server,
        "POST",
        "countries",
        &key,
        &json!({"data": [{"iso2_code": "QF", "iso3_code": "QFF", "name": "Qf"}]}),
    );
    assert_eq!(status, 201);
    assert_eq!(events(&dynex).len(), 1);
    assert_eq!(receiver.wait_for(1, Duration::from_secs(3)).len(), 1);
}

fn updates_deletes_and_imports_record_their_events(db: TestDb) {
    let dynex = open_demo(&db);
    let key = key(&dynex);
    let server = LiveServer::start(&dynex);
    // Nothing follows `countries` yet: writes record nothing.
    let (status, _) = api(
        &server,
        "PATCH",
        "countries/2",
        &key,
        &json!({"data": {"name": "Österreich"}}),
    );
    assert_eq!(status, 200);
    assert!(events(&dynex).is_empty());
    dynex_test_support::reconfigure(&dynex, "countries", |config| {
        config["definition"]["isDeletable"] = json!(true);
    });
    save_webhook(&dynex, 9);
    assert_eq!(dynex.followed_entities(), ["countries"]);
    let (status, _) = api(
        &server,
        "PATCH",
        "countries/2",
        &key,
        &json!({"data": {"name": "Austria", "iso3_code": "AUT"}}),
    );
    assert_eq!(status, 200);
    let (status, _) = api(
        &server,
        "POST",
        "countries",
        &key,
        &json!({"data": [{"iso2_code": "QG", "iso3_code": "QGG", "name": "Qg"}]}),
    );
    assert_eq!(status, 201);
    let created = events(&dynex)[1].identifier.clone();
    let (status, _) = api(
        &server,
        "DELETE",
        &format!("countries/{created}"),
        &key,
        &Value::Null,
    );
    assert_eq!(status, 204);
    // An import (upsert by iso2_code): one row changed, one created, one unchanged.
    let csv = "iso2_code,iso3_code,name\nBE,BEL,Belgique\nQH,QHH,Qh\nDE,DEU,Germany\n";
    let mut options = dynex_core::ImportOptions {
        mode: dynex_core::ImportMode::Upsert,
        key: Some("iso2_code".into()),
        ..dynex_core::ImportOptions::default()
    };
    options.batch_rows = 100;
    dynex
        .import("countries", csv.as_bytes(), &options, &mut Quiet)
        .expect("the import");
    // A pipeline's entity target.
    let into = Definition::parse(
        "name: countries-in\nsource: { connector: { name: test } }\nmap: { fields: { iso2_code: $.code, \
         iso3_code: $.code3, name: $.name } }\ntarget: { entity: { entity: countries, key: iso2_code } }\n",
    )
    .expect("the definition");
    dynex_pipeline::run::run_with(
        &dynex,
        &into,
        &dynex_pipeline::run::RunOptions::default(),
        &mut (),
        |_| {
            Ok(Box::new(dynex_pipeline::hook::Posted::new(vec![
                json!({"code": "QK", "code3": "QKK", "name": "Qk"}),
            ])) as Box<dyn dynex_pipeline::source::Source>)
        },
    )
    .expect("the run");
    let seen: Vec<(String, String, Vec<String>, String)> = events(&dynex)
        .into_iter()
        .map(|e| {
            (
                e.operation,
                e.identifier,
                serde_json::from_str(&e.fields).expect("names"),
                e.principal,
            )
        })
        .collect();
    let id_of = |code: &str| {
        dynex_test_support::all_rows(&dynex, "countries")
            .iter()
            .find(|r| r["iso2_code"] == code)
            .map(|r| r["id_country"].to_string())
            .expect("the row")
    };
    assert_eq!(
        seen,
        [
            // Only the field whose value changed.
            (
                "update".into(),
                "2".into(),
                vec!["name".into()],
                "shop".into()
            ),
            (
                "insert".into(),
                created.clone(),
                vec!["iso2_code".into(), "iso3_code".into(), "name".into()],
                "shop".into()
            ),
            ("delete".into(), created, vec![], "shop".into()),
            (
                "update".into(),
                "3".into(),
                vec!["name".into()],
                "import".into()
            ),
            (
                "insert".into(),
                id_of("QH"),
                vec!["iso2_code".into(), "iso3_code".into(), "name".into()],
                "import".into()
            ),
            (
                "insert".into(),
                id_of("QK"),
                vec!["iso2_code".into(), "iso3_code".into(), "name".into()],
                "pipeline:countries-in".into()
            ),
        ]
    );
    // Removing the pipeline stops the events.
    dynex.remove_pipeline("countries-webhook").expect("removed");
    assert!(dynex.followed_entities().is_empty());
    let (status, _) = api(
        &server,
        "PATCH",
        "countries/2",
        &key,
        &json!({"data": {"name": "Autriche"}}),
    );
    assert_eq!(status, 200);
    assert_eq!(events(&dynex).len(), 6);
}

/// An import observer that wants nothing.
struct Quiet;

impl dynex_core::ImportObserver for Quiet {
    fn reject(&mut self, reject: &dynex_core::Reject) -> Result<(), dynex_core::CoreError> {
        panic!("an unexpected reject: {reject:?}");
    }
}

/// The fenced block after the marker `<!-- NAME -->` of `doc`.
pub fn docs_block(doc: &str, name: &str) -> String {
    let marker = format!("<!-- {name} -->");
    let after = &doc[doc.find(&marker).unwrap_or_else(|| panic!("no {marker}")) + marker.len()..];
    let open = after.find("```").expect("a block");
    let body = &after[open..];
    let start = body.find('\n').expect("a fence line") + 1;
    let end = body[start..].find("```").expect("a closing fence") + start;
    // Blocks inside a list item are indented.
    let indent = body[start..]
        .lines()
        .next()
        .map_or(0, |l| l.len() - l.trim_start().len());
    body[start..end]
        .lines()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The receiver's check printed in docs/pipelines.md, run with Python on a real delivery.
fn the_documented_receiver_checks_the_signature(db: TestDb) {
    if db.backend != dynex_test_support::Backend::Sqlite {
        // The check does not depend on the backend.
        return;
    }
    let dynex = open_demo(&db);
    let key = key(&dynex);
    let receiver = Receiver::start(&[]);
    save_webhook(&dynex, receiver.port);
    let server = LiveServer::start(&dynex);
    let _runner =
        dynex_server::pipelines::changes::spawn(dynex.clone(), dynex_server::Metrics::default())
            .expect("the runner");
    let (status, _) = api(
        &server,
        "POST",
        "countries",
        &key,
        &json!({"data": [{"iso2_code": "QJ", "iso3_code": "QJJ", "name": "Qj"}]}),
    );
    assert_eq!(status, 201);
    let got = receiver.wait_for(1, Duration::from_secs(3));
    let request = got.first().expect("a delivery");
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/pipelines.md"
    ))
    .expect("the docs");
    let check = docs_block(&doc, "pipelines:receiver");
    let dir = tempfile::tempdir().expect("a folder");
    std::fs::write(dir.path().join("body"), &request.body).expect("the body");
    let script = format!(
        "{check}\n\nimport os\nheaders = {{\"X-Dynex-Timestamp\": os.environ[\"TS\"], \
         \"X-Dynex-Signature\": os.environ[\"SIG\"]}}\nbody = open(\"body\", \"rb\").read()\n\
         print(verify(os.environ[\"SECRET\"].encode(), headers, body))\n\
         print(verify(b\"wrong\", headers, body))\n"
    );
    std::fs::write(dir.path().join("check.py"), script).expect("the script");
    let out = crate::support::paste(
        "python3 check.py",
        Some(dir.path()),
        &[
            ("TS", &request.headers["x-dynex-timestamp"]),
            ("SIG", &request.headers["x-dynex-signature"]),
            ("SECRET", SECRET),
        ],
    );
    assert_eq!(String::from_utf8_lossy(&out), "True\nFalse\n");
}

/// A receiver that cannot be reached fails every run; the runs of the `changes` pipeline then
/// come a second, two, four seconds apart, not four a second.
fn a_failing_webhook_backs_off(db: TestDb) {
    let dynex = open_demo(&db);
    let key = key(&dynex);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    save_webhook(&dynex, closed);
    // Failing fast: one try, and the run fails rather than keeping dead letters.
    let text = dynex
        .pipeline("countries-webhook")
        .expect("the pipeline")
        .definition
        .replace(
            "retry: { attempts: 3, backoff: 50 }",
            "retry: { attempts: 1 }",
        )
        .replace("    on_failure: dead_letter\n", "");
    dynex
        .save_pipeline("countries-webhook", &text)
        .expect("saved");
    let server = LiveServer::start(&dynex);
    let _runner =
        dynex_server::pipelines::changes::spawn(dynex.clone(), dynex_server::Metrics::default())
            .expect("the runner");
    let (status, _) = api(
        &server,
        "POST",
        "countries",
        &key,
        &json!({"data": [{"iso2_code": "QB", "iso3_code": "QBB", "name": "Nowhere"}]}),
    );
    assert_eq!(status, 201);
    std::thread::sleep(Duration::from_secs(5));
    let runs = dynex
        .pipeline_runs("countries-webhook", 100)
        .expect("the runs");
    assert!(
        (2..=4).contains(&runs.len()),
        "{} runs in 5 s: {runs:#?}",
        runs.len()
    );
    assert!(runs.iter().all(|r| r.state == "failed"), "{runs:#?}");
}
