//! Operations of the real `dynex-server` binary over TCP: a request body trickled after its
//! head is answered 408 (1328) at `--body-timeout` and the connection closed, and
//! `--log-format json` writes every log line as one JSON object, the access line and the cause
//! of a 500 with the request's id, never a secret; a server may hold its SQLite file alone.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use dynex_core::{DbOptions, Dynex, Options};
use dynex_test_support::{TestDb, backend_tests, open_demo};
use serde_json::{Value, json};

use crate::oauth::Server;

backend_tests!(
    trickled_bodies_are_408_at_the_body_timeout,
    json_logs_are_one_object_per_line_with_request_ids,
);

/// The answer read from `stream`: head and body, once `Content-Length` bytes of body are in.
fn read_answer(stream: &mut TcpStream) -> (String, String) {
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&bytes).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .expect("a Content-Length");
            if body.len() >= length {
                return (head.to_string(), body[..length].to_string());
            }
        }
        let n = stream.read(&mut buffer).expect("the answer");
        assert!(n > 0, "closed before a whole answer: {text}");
        bytes.extend_from_slice(&buffer[..n]);
    }
}

/// The head arrives, then the body a byte at a time, too slowly: the server answers 408 once
/// the timeout passed since the head (the trickle does not extend it), closes the connection,
/// and writes nothing.
fn trickled_bodies_are_408_at_the_body_timeout(db: TestDb) {
    let dx = open_demo(&db);
    let key = dx.create_api_key("slow", &[], None).expect("a key").key;
    let server = Server::start(&db.url, &["--body-timeout", "1"], &[]);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    let body = r#"{"data": [{"name": "Trickled"}]}"#;
    let head = format!(
        "POST /dynamic-entity/tax-sets HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: {key}\r\n\
         X-Request-Id: slow-1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("send the head");
    let sent = Instant::now();
    let mut writer = stream.try_clone().expect("a second handle");
    // A byte every 200 ms: never idle for long, but far too slow. It stops before the
    // deadline, so that no byte is left unread when the server closes.
    let trickle = std::thread::spawn(move || {
        for byte in body.bytes().take(4) {
            if writer.write_all(&[byte]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let (head, answer) = read_answer(&mut stream);
    let elapsed = sent.elapsed();
    trickle.join().expect("the trickle");
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("connection: close"), "{head}");
    assert!(lower.contains("x-request-id: slow-1"), "{head}");
    let answer: Value = serde_json::from_str(&answer).expect("a JSON answer");
    assert_eq!(
        answer,
        json!([{"code": "1328", "status": 408,
                "message": "The request body did not arrive within the body timeout (1 s)."}])
    );
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5),
        "answered after {elapsed:?}"
    );
    let mut rest = [0u8; 64];
    match stream.read(&mut rest) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("the connection stayed open: {other:?}"),
    }
    let names: Vec<String> = dx
        .read_collection("tax-sets", &[], None)
        .expect("read")
        .rows
        .iter()
        .map(|r| r["name"].to_string())
        .collect();
    assert!(!names.iter().any(|n| n.contains("Trickled")), "{names:?}");
}

/// Every line on stderr is a JSON object with `time`, `level`, `target` and `message`; the
/// access line of a request carries its id, method, path (without the query string, so without
/// the API key), status, bytes and seconds; the cause of a 500 is logged with the request id
/// the client was shown.
fn json_logs_are_one_object_per_line_with_request_ids(db: TestDb) {
    let dx = open_demo(&db);
    let key = dx.create_api_key("logs", &[], None).expect("a key").key;
    let server = Server::start(&db.url, &["--log-format", "json"], &[]);
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    let ok = agent
        .get(&format!(
            "{}/dynamic-entity/countries?api_key={key}",
            server.base
        ))
        .set("X-Request-Id", "json-log-1")
        .call()
        .expect("a read");
    assert_eq!(ok.header("x-request-id"), Some("json-log-1"));
    let mut conn = dx.db().conn().expect("a connection");
    dynex_core::db::run_script(
        &mut conn,
        "ALTER TABLE spy_country RENAME COLUMN iso3_code TO iso3_gone",
    )
    .expect("break the table");
    drop(conn);
    let failed = agent
        .get(&format!("{}/dynamic-entity/countries", server.base))
        .set("X-Api-Key", &key)
        .call();
    let Err(ureq::Error::Status(500, reply)) = failed else {
        panic!("expected a 500: {failed:?}");
    };
    let made = reply.header("x-request-id").expect("an id").to_string();

    let deadline = Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let output = server.output();
        let lines: Vec<Value> = output
            .lines()
            // The one line on stdout is the banner.
            .filter(|l| !l.starts_with("dynex-server listening on"))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
            .collect();
        // Access lines are written in batches: wait for the last request's.
        let done = lines
            .iter()
            .any(|l| l["target"] == "dynex_server::access" && l["requestId"] == made.as_str());
        if done || Instant::now() > deadline {
            assert!(!output.contains(&key), "the API key was logged:\n{output}");
            break lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    for line in &lines {
        for member in ["time", "level", "target", "message"] {
            assert!(line[member].is_string(), "{member} of {line}");
        }
    }
    let access = lines
        .iter()
        .find(|l| l["requestId"] == "json-log-1")
        .unwrap_or_else(|| panic!("no access line: {lines:?}"));
    assert_eq!(access["target"], "dynex_server::access");
    assert_eq!(access["level"], "INFO");
    assert_eq!(access["method"], "GET");
    assert_eq!(access["path"], "/dynamic-entity/countries");
    assert_eq!(access["status"], 200);
    assert!(access["bytes"].as_u64().is_some_and(|b| b > 0), "{access}");
    assert!(access["seconds"].is_f64(), "{access}");
    let cause = lines
        .iter()
        .find(|l| l["level"] == "ERROR" && l["requestId"] == made.as_str())
        .unwrap_or_else(|| panic!("no error line for {made}: {lines:?}"));
    assert!(
        cause["message"].as_str().is_some_and(|m| m.contains(&made)),
        "{cause}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["requestId"] == made.as_str() && l["status"] == 500),
        "{lines:?}"
    );
}

/// A server on `sqlite://file:PATH?vfs=unix-excl` (docs/operations.md, "A server that alone
/// uses its SQLite file") answers reads and writes, another process cannot open the file while
/// it runs, and after it stopped the file holds what it wrote.
#[test]
fn a_server_can_hold_its_sqlite_file_alone() {
    let db = TestDb::sqlite();
    let dx = open_demo(&db);
    let key = dx.create_api_key("alone", &[], None).expect("a key").key;
    // This process's own connections would keep the server from taking the file.
    drop(dx);
    let path = db.url.strip_prefix("sqlite://").expect("a SQLite URL");
    let server = Server::start(&format!("sqlite://file:{path}?vfs=unix-excl"), &[], &[]);
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    let created: Value = agent
        .post(&format!("{}/dynamic-entity/tax-sets", server.base))
        .set("X-Api-Key", &key)
        .send_json(json!({"data": [{"name": "Held alone"}]}))
        .expect("a write")
        .into_json()
        .expect("a JSON answer");
    let id = created["data"][0]["id_tax_set"].as_i64().expect("an id");
    let read: Value = agent
        .get(&format!("{}/dynamic-entity/tax-sets/{id}", server.base))
        .set("X-Api-Key", &key)
        .call()
        .expect("a read")
        .into_json()
        .expect("a JSON answer");
    assert_eq!(read["data"]["name"], "Held alone");

    let short = Options {
        db: DbOptions {
            sqlite_busy_timeout: Duration::from_millis(100),
            connection_timeout: Duration::from_secs(1),
            ..DbOptions::default()
        },
        watch_interval: None,
        ..Options::default()
    };
    let Err(refused) = Dynex::open_with(&db.url, short.clone()) else {
        panic!("another process opened the file the server holds");
    };
    assert!(refused.to_string().contains("locked"), "{refused}");

    drop(server);
    let after = Dynex::open_with(&db.url, short).expect("the file, once the server stopped");
    let names: Vec<Value> = after
        .read_collection("tax-sets", &[], None)
        .expect("read")
        .rows
        .iter()
        .map(|r| r["name"].clone())
        .collect();
    assert!(names.contains(&json!("Held alone")), "{names:?}");
}
