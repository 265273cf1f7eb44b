//! A reader on a diesel connection's handle reads what diesel reads, and leaves no statement
//! running.

use diesel::connection::SimpleConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use dynex_sqlite_raw::{Bind, Column, Error, Reader, opened};

fn open(path: &str) -> (SqliteConnection, Reader) {
    let (conn, reader) = opened(|| SqliteConnection::establish(path)).unwrap();
    (
        conn,
        reader.expect("the handle of the connection just opened"),
    )
}

fn rows(reader: &mut Reader, sql: &str, binds: &[Bind<'_>]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    reader
        .read(sql, true, binds, &mut |row| {
            out.push(
                (0..row.len())
                    .map(|i| match row.get(i) {
                        Column::Null => "null".to_string(),
                        Column::Int(n) => format!("int {n}"),
                        Column::Real(r) => format!("real {r}"),
                        Column::Text(t) => format!("text {t}"),
                        Column::Blob => "blob".to_string(),
                    })
                    .collect(),
            );
            Ok(())
        })
        .unwrap();
    out
}

#[test]
fn a_reader_reads_the_rows_of_its_connection_as_sqlite_stores_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raw.db").display().to_string();
    let (mut conn, mut reader) = open(&path);
    conn.batch_execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, r REAL, b BLOB);
         INSERT INTO t VALUES (1, 'a\"b', 0.1, NULL), (2, NULL, 1e300, x'00ff'), (3, 'é', -0.0, NULL);
         INSERT INTO t (id, v) VALUES (4, CAST(x'61ff62' AS TEXT));",
    )
    .unwrap();
    assert_eq!(
        rows(
            &mut reader,
            "SELECT id, v, r FROM t WHERE id <= ? ORDER BY id",
            &[Bind::Int(3)]
        ),
        [
            ["int 1", "text a\"b", "real 0.1"],
            ["int 2", "null", "real 1.0e+300"],
            ["int 3", "text é", "real 0.0"],
        ]
    );
    // Bytes that are not UTF-8 read as diesel reads them.
    assert_eq!(
        rows(&mut reader, "SELECT v FROM t WHERE id = ?", &[Bind::Int(4)]),
        [["text a\u{fffd}b"]]
    );
    assert_eq!(
        rows(&mut reader, "SELECT b FROM t WHERE id = ?", &[Bind::Int(2)]),
        [["blob"]]
    );
    // Text, doubles and NULL bound; the statement prepared once and kept.
    let sql = "SELECT ?, ?, ? IS NULL, typeof(?)";
    for _ in 0..3 {
        assert_eq!(
            rows(
                &mut reader,
                sql,
                &[
                    Bind::Text("x"),
                    Bind::Float(2.5),
                    Bind::Null,
                    Bind::Float(1.0)
                ]
            ),
            [["text x", "real 2.5", "int 1", "text real"]]
        );
    }
    assert_eq!(reader.kept_statements(), 4);

    // The reader sees what diesel commits, and the other way round.
    conn.batch_execute("INSERT INTO t (id, v) VALUES (5, 'new')")
        .unwrap();
    assert_eq!(
        rows(&mut reader, "SELECT v FROM t WHERE id = ?", &[Bind::Int(5)]),
        [["text new"]]
    );
    // Every read ended its transaction (a rollback journal: a reader's lock would keep the
    // others from switching the file to WAL and from committing).
    let (mut other, _) = open(&path);
    other
        .batch_execute(
            "PRAGMA journal_mode = WAL; BEGIN IMMEDIATE; DELETE FROM t WHERE id = 5; COMMIT",
        )
        .unwrap();
    assert!(rows(&mut reader, "SELECT v FROM t WHERE id = ?", &[Bind::Int(5)]).is_empty());
    drop(reader);
    drop(conn);
}

#[test]
fn errors_are_sqlites_and_the_callbacks() {
    let (_conn, mut reader) = open(":memory:");
    let err = reader
        .read("SELECT nope FROM nowhere", true, &[], &mut |_| Ok(()))
        .unwrap_err();
    assert_eq!(err.message, "no such table: nowhere");
    assert_eq!(reader.kept_statements(), 0);
    let err = reader
        .read("SELECT 1 UNION ALL SELECT 2", false, &[], &mut |_| {
            Err(Error::of_callback("stop"))
        })
        .unwrap_err();
    assert_eq!(err.message, "stop");
    // Not kept; and stopped halfway, it still ended.
    assert_eq!(reader.kept_statements(), 0);
    let mut n = 0;
    reader
        .read("SELECT 1 UNION ALL SELECT 2", true, &[], &mut |_| {
            n += 1;
            Ok(())
        })
        .unwrap();
    assert_eq!(n, 2);
}

#[test]
fn a_reader_lets_its_connection_close() {
    // diesel panics when its connection cannot close because a statement is left: dropping
    // the reader first finalizes them.
    let (conn, mut reader) = open(":memory:");
    rows(&mut reader, "SELECT 1", &[]);
    assert_eq!(reader.kept_statements(), 1);
    drop(reader);
    drop(conn);
    // A connection opened while no reader is asked for is not taken for the next one's.
    let plain = SqliteConnection::establish(":memory:").unwrap();
    let (mut conn, reader) = open(":memory:");
    drop(plain);
    let mut reader = reader;
    let n: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>("1"))
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(rows(&mut reader, "SELECT 2", &[]), [["int 2"]]);
}
