//! A new user's first minutes: `dynex-server --demo` started as the README says, the commands
//! its banner prints pasted into a shell as printed, and a restart that says what it did.

use std::io::{Read, Write};
use std::net::TcpStream;

use dynex_core::Dynex;
use dynex_test_support::{TestDb, backend_tests, open_demo};
use serde_json::Value;

use crate::oauth::Server;
use crate::support::LiveServer;

backend_tests!(
    the_demo_banner_commands_work_as_printed,
    a_restarted_demo_says_what_it_did
);

/// The line after `heading` in the banner: the command printed to try.
fn command_after(output: &str, heading: &str) -> String {
    let mut lines = output.lines();
    lines
        .by_ref()
        .find(|l| *l == heading)
        .unwrap_or_else(|| panic!("no `{heading}` in the banner:\n{output}"));
    lines
        .next()
        .expect("a command after the heading")
        .trim()
        .to_string()
}

/// Runs `command` in a shell, as a user who pasted it does, and parses what it printed.
fn paste(command: &str) -> Value {
    let printed = crate::support::paste(command, None, &[]);
    serde_json::from_slice(&printed).unwrap_or_else(|e| {
        panic!(
            "`{command}` printed no JSON ({e}):\n{}",
            String::from_utf8_lossy(&printed)
        )
    })
}

/// The key printed on the banner's `API key` line.
fn printed_key(output: &str) -> String {
    output
        .lines()
        .find(|l| l.starts_with("API key `demo` (shown once"))
        .and_then(|l| l.rsplit(": ").next())
        .unwrap_or_else(|| panic!("no API key printed:\n{output}"))
        .to_string()
}

fn the_demo_banner_commands_work_as_printed(db: TestDb) {
    let mut server = Server::start(&db.url, &["--demo"], &[]);
    let output = server.output();

    let try_it = command_after(&output, "Try:");
    assert!(try_it.starts_with("curl -g "), "{try_it}");
    let page = paste(&try_it);
    let rows = page["data"].as_array().expect("a page of countries");
    assert_eq!(rows.len(), 2, "{page}");
    assert!(
        rows.iter().all(|r| r["countryTaxRates"].is_array()),
        "the include is answered: {page}"
    );

    let token = paste(&command_after(&output, "Token:"));
    assert_eq!(token["token_type"], "Bearer", "{token}");
    assert!(
        token["access_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    server.stop();
}

fn a_restarted_demo_says_what_it_did(db: TestDb) {
    let mut first = Server::start(&db.url, &["--demo"], &[]);
    let output = first.stop();
    assert!(
        output.contains("dynex demo catalog loaded into"),
        "{output}"
    );
    assert!(output.contains("the table spy_product_label is not exposed yet"));
    let first_key = printed_key(&output);

    // Exposed meanwhile, the table is not offered again; the catalog is not reloaded.
    let dynex = Dynex::open(&db.url).expect("open the demo database");
    dynex
        .add_entity("spy_product_label", None, true)
        .expect("expose the table");
    let mut second = Server::start(&db.url, &["--demo"], &[]);
    let output = second.output();
    assert!(
        output.contains("dynex demo catalog found in") && output.contains("not loaded again"),
        "{output}"
    );
    assert!(!output.contains("loaded into"), "{output}");
    assert!(
        output.contains("it replaces the demo key of an earlier start"),
        "{output}"
    );
    assert!(!output.contains("is not exposed yet"), "{output}");
    let second_key = printed_key(&output);
    assert_ne!(first_key, second_key);

    // One demo key, the new one: the first no longer opens anything.
    let names: Vec<String> = dynex
        .list_api_keys()
        .expect("list keys")
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(names, ["demo"]);
    let status = |key: &str| {
        ureq::get(&format!("{}/dynamic-entity/countries", second.base))
            .set("X-Api-Key", key)
            .call()
            .map_or_else(
                |e| match e {
                    ureq::Error::Status(code, _) => code,
                    other => panic!("{other}"),
                },
                |r| r.status(),
            )
    };
    assert_eq!(status(&second_key), 200);
    // As Spryker answers an unknown key: 403.
    assert_eq!(status(&first_key), 403);
    second.stop();
}

/// Sends `request` as raw bytes and returns the answer's head and body.
fn raw(port: u16, request: &[u8]) -> (String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.write_all(request).expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read");
    let answer = String::from_utf8(answer).expect("text");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head");
    (head.to_string(), body.to_string())
}

/// A request the HTTP parser refuses before any handler runs still gets a JSON error, and the
/// connection is closed after it.
#[test]
fn requests_the_parser_refuses_get_json_answers() {
    let db = TestDb::sqlite();
    let dynex = open_demo(&db);
    let server = LiveServer::start(&dynex);
    let quotes = b"GET /dynamic-entity/countries?filter[countries.iso2_code]={\"in\":[\"AT\"]} HTTP/1.1\r\nHost: x\r\n\r\n";
    let space = b"GET /dynamic-entity/countries?x=a b HTTP/1.1\r\nHost: x\r\n\r\n";
    for request in [&quotes[..], &space[..]] {
        let status = 400;
        let (head, body) = raw(server.port(), request);
        assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(head.contains("connection: close"), "{head}");
        let errors: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert_eq!(errors[0]["code"], "1320", "{body}");
        assert_eq!(errors[0]["status"], status, "{body}");
        assert!(
            errors[0]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
    }
    // A good request on the same server is answered as before.
    let (head, _) = raw(
        server.port(),
        b"GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
}
