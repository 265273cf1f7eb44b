//! A CSV export that fails after its `200` was sent, over a real connection: the body ends
//! without HTTP/1.1's terminating chunk, so the client sees an incomplete transfer and never a
//! shorter file that looks complete.
//!
//! The failure is made deterministic: on SQLite a row past the first pages holds text that is
//! not UTF-8, which the page that reads it cannot decode; on PostgreSQL and MariaDB the client
//! stops reading after the first bytes (so the export waits, far from its end) and every other
//! session of the test's database is terminated.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use dynex_core::Dynex;
use dynex_test_support::{Backend, TestDb, async_backend_tests, run_sql};

use crate::support::{LiveServer, demo};

async_backend_tests!(an_export_that_fails_midway_ends_without_the_last_chunk);

/// Rows added to the demo's tax sets: about 20 MB of CSV, far more than every buffer between
/// the export and the client holds.
const ROWS: u32 = 100_000;

/// Adds [`ROWS`] tax sets with long names (ten digits joined five times, on every backend).
fn add_tax_sets(dx: &Dynex, backend: Backend) {
    let number = "(a.i * 10000 + b.i * 1000 + c.i * 100 + d.i * 10 + e.i)";
    let name = match backend {
        Backend::Mysql => format!("CONCAT('set ', {number}, ' {}')", "x".repeat(180)),
        _ => format!("'set ' || {number} || ' {}'", "x".repeat(180)),
    };
    let digits = "SELECT 0 AS i UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 \
                  UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 \
                  UNION ALL SELECT 8 UNION ALL SELECT 9";
    run_sql(
        dx,
        &format!(
            "INSERT INTO spy_tax_set (name) SELECT {name} FROM ({digits}) a, ({digits}) b, \
             ({digits}) c, ({digits}) d, ({digits}) e"
        ),
    );
}

/// Breaks the export running on the database at `url` (see the module documentation).
fn break_the_export(url: &str, backend: Backend) {
    let other = dynex_core::Db::connect(url, 1).expect("another connection");
    let mut conn = other.conn().expect("a connection");
    match backend {
        // Broken before the export started (the row it cannot read).
        Backend::Sqlite => {}
        Backend::Postgres => dynex_core::db::run_script(
            &mut conn,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .expect("terminate the sessions"),
        Backend::Mysql => {
            let mut sql = dynex_query::Sql::default();
            sql.push(
                "SELECT CAST(id AS CHAR) FROM information_schema.processlist \
                 WHERE db = DATABASE() AND id <> CONNECTION_ID()",
            );
            let ids = dynex_core::db::load_cells(&mut conn, &sql).expect("the sessions");
            for id in ids
                .into_iter()
                .filter_map(|row| row.into_iter().next().flatten())
            {
                // A session may be gone already.
                let _ = dynex_core::db::run_script(&mut conn, &format!("KILL {id}"));
            }
        }
    }
}

/// What a client read of a chunked answer: the status, the body's bytes, and whether the
/// terminating chunk came.
struct Transfer {
    status: String,
    body: Vec<u8>,
    complete: bool,
}

/// `GET path` with `headers` over HTTP/1.1 on `port`; `pause` runs once the first kilobytes of
/// the body are in, before the rest is read.
fn get_chunked(port: u16, path: &str, headers: &[(&str, &str)], pause: impl FnOnce()) -> Transfer {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .expect("a timeout");
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let mut reader = BufReader::with_capacity(16 * 1024, stream);
    let mut status = String::new();
    reader.read_line(&mut status).expect("the status line");
    let mut chunked = false;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("a header");
        if line == "\r\n" {
            break;
        }
        chunked |= line.eq_ignore_ascii_case("transfer-encoding: chunked\r\n");
    }
    assert!(chunked, "{status}: not chunked");
    let mut pause = Some(pause);
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        if reader.read_line(&mut size).unwrap_or(0) == 0 {
            return Transfer {
                status,
                body,
                complete: false,
            };
        }
        let Ok(n) = usize::from_str_radix(size.trim_end(), 16) else {
            return Transfer {
                status,
                body,
                complete: false,
            };
        };
        let mut chunk = vec![0; n + 2];
        if reader.read_exact(&mut chunk).is_err() || !chunk.ends_with(b"\r\n") {
            return Transfer {
                status,
                body,
                complete: false,
            };
        }
        if n == 0 {
            return Transfer {
                status,
                body,
                complete: true,
            };
        }
        body.extend_from_slice(&chunk[..n]);
        if let Some(pause) = pause.take() {
            pause();
        }
    }
}

async fn an_export_that_fails_midway_ends_without_the_last_chunk(db: TestDb) {
    let (dx, _app, key) = demo(&db).await;
    add_tax_sets(&dx, db.backend);
    if db.backend == Backend::Sqlite {
        // Past the first pages of 5,000 rows.
        run_sql(
            &dx,
            "UPDATE spy_tax_set SET name = CAST(x'ff41' AS TEXT) WHERE id_tax_set = 30000",
        );
    }
    let server = LiveServer::start(&dx);
    let port = server.port();
    let (url, backend) = (db.url.clone(), db.backend);
    let transfer = std::thread::spawn(move || {
        get_chunked(
            port,
            "/dynamic-entity/tax-sets",
            &[("X-Api-Key", &key), ("Accept", "text/csv")],
            || break_the_export(&url, backend),
        )
    })
    .join()
    .expect("the client");
    drop(server);

    assert!(
        transfer.status.starts_with("HTTP/1.1 200"),
        "{}",
        transfer.status
    );
    assert!(
        !transfer.complete,
        "the failed export ended as a complete body of {} bytes",
        transfer.body.len()
    );
    let text = String::from_utf8_lossy(&transfer.body);
    assert!(text.starts_with("id_tax_set,name\n"), "{}", &text[..40]);
    let lines = text.lines().count();
    assert!(
        lines > 100 && lines < ROWS as usize,
        "{lines} lines of {} arrived",
        ROWS + 3
    );
}
