//! SQLite connections to one file read it through one shared map, and see each other's writes.

use diesel::connection::SimpleConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryableByName, RunQueryDsl, sql_query};

#[derive(QueryableByName)]
struct Total {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    rows: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    bytes: i64,
}

fn total(conn: &mut SqliteConnection) -> (i64, i64) {
    let t: Total = sql_query("SELECT COUNT(*) AS rows, SUM(LENGTH(v)) AS bytes FROM t")
        .get_result(conn)
        .unwrap();
    (t.rows, t.bytes)
}

/// The resident kB of the mappings of `path`, from `/proc/self/smaps`.
fn resident_kb(path: &str) -> u64 {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let mut ours = false;
    let mut kb = 0;
    for line in smaps.lines() {
        if line.contains(" r") && line.contains('-') && line.split_whitespace().count() >= 5 {
            ours = line.ends_with(path);
        } else if ours && let Some(rss) = line.strip_prefix("Rss:") {
            kb += rss.trim().trim_end_matches(" kB").parse::<u64>().unwrap();
        }
    }
    kb
}

fn one(conn: &mut SqliteConnection) {
    sql_query("SELECT COUNT(*) AS rows, 0 AS bytes FROM t WHERE id = 1")
        .get_result::<Total>(conn)
        .unwrap();
}

/// The lines of `/proc/self/maps` that map `path` itself.
fn maps_of(path: &str) -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|l| l.ends_with(path))
        .count()
}

fn open(path: &str) -> SqliteConnection {
    let mut c = SqliteConnection::establish(path).unwrap();
    c.batch_execute("PRAGMA journal_mode = WAL; PRAGMA mmap_size = 268435456")
        .unwrap();
    c
}

fn insert(conn: &mut SqliteConnection, from: i64, rows: i64) {
    conn.batch_execute(&format!(
        "WITH RECURSIVE n(i) AS (SELECT {from} UNION ALL SELECT i + 1 FROM n WHERE i < {})
         INSERT INTO t (id, v) SELECT i, printf('%0200d', i) FROM n",
        from + rows - 1
    ))
    .unwrap();
}

#[test]
#[cfg(target_os = "linux")]
fn connections_share_one_map_of_a_file_and_see_each_others_writes() {
    assert!(dynex_sqlite_map::share(256 << 20));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db").display().to_string();
    let mut a = open(&path);
    a.batch_execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        .unwrap();
    insert(&mut a, 1, 20_000);
    let mut b = open(&path);
    let mut c = open(&path);
    assert_eq!(total(&mut a), (20_000, 4_000_000));
    assert_eq!(total(&mut b), (20_000, 4_000_000));
    assert_eq!(total(&mut c), (20_000, 4_000_000));
    assert_eq!(maps_of(&path), 1, "three connections, one map");
    assert!(dynex_sqlite_map::shared_maps().contains(&3));

    // The file grows past what the others mapped; a checkpoint writes it into the file.
    insert(&mut a, 20_001, 30_000);
    a.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    assert_eq!(total(&mut b), (50_000, 10_000_000));
    assert_eq!(total(&mut c), (50_000, 10_000_000));
    assert_eq!(maps_of(&path), 1);

    // After a commit, a reader lets go of its map at its next read; at most every 250 ms that
    // lets go of the shared map's pages, which the next reads map again.
    let whole = resident_kb(&path);
    assert!(whole > 8_000, "the table read through the map: {whole} kB");
    std::thread::sleep(std::time::Duration::from_millis(300));
    a.batch_execute("INSERT INTO t (id, v) VALUES (0, 'x'); DELETE FROM t WHERE id = 0")
        .unwrap();
    one(&mut b);
    let after = resident_kb(&path);
    assert!(after < whole / 4, "{after} kB of {whole} kB still mapped");
    assert_eq!(total(&mut c), (50_000, 10_000_000));

    // The file shrinks: SQLite trims its maps, the others still read theirs.
    a.batch_execute("DELETE FROM t WHERE id > 10000; VACUUM")
        .unwrap();
    assert_eq!(total(&mut b), (10_000, 2_000_000));
    assert_eq!(total(&mut c), (10_000, 2_000_000));
    assert_eq!(total(&mut a), (10_000, 2_000_000));

    drop((a, b, c));
    assert_eq!(maps_of(&path), 0, "the last connection unmapped it");
}
