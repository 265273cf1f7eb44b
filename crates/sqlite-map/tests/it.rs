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

    // After a commit, a reader lets go of its map at its next read; at most every 50 ms that
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

/// What the system says of a write lock of `len` bytes from `start` on `file`, asked as an open
/// file description's lock: it conflicts with this process's own record locks too, so it sees
/// them as another process would. `F_UNLCK` when nothing is in the way.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn lock_in_the_way(file: &std::fs::File, start: i64, len: i64) -> i32 {
    use std::os::fd::AsRawFd;
    // SAFETY: `flock` is plain data; `F_OFD_GETLK` writes into the one this function owns.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = start;
    lock.l_len = len;
    assert_eq!(
        unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_GETLK, &mut lock) },
        0
    );
    i32::from(lock.l_type)
}

/// The read marks of a `-shm` file: bytes 123 to 127.
const READ_MARKS: (i64, i64) = (123, 5);

/// Waits up to a second for `f` to hold.
fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while std::time::Instant::now() < until {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    false
}

/// A connection to a new file at `path` with `rows` rows in `t`, with read locks kept.
fn kept_locks_table(path: &str, rows: i64) -> SqliteConnection {
    assert!(dynex_sqlite_map::keep_read_locks());
    let mut a = open(path);
    a.batch_execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        .unwrap();
    insert(&mut a, 1, rows);
    a
}

#[test]
#[cfg(target_os = "linux")]
fn a_read_lock_is_kept_for_the_next_reader_and_let_go_when_idle() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kept.db").display().to_string();
    let mut a = kept_locks_table(&path, 100);
    // Closing a descriptor of a file drops the process's record locks on it: this one stays
    // open until the connections are closed.
    let shm = std::fs::File::open(format!("{path}-shm")).unwrap();
    let (start, len) = READ_MARKS;

    // The read is over, and the process still holds its read mark, as another process sees
    // (asked again if this thread was away for longer than the lock is kept).
    let kept_after_read = |c: &mut SqliteConnection| {
        (0..100).any(|_| {
            assert_eq!(total(c).0 % 100, 0);
            lock_in_the_way(&shm, start, len) == libc::F_RDLCK
        })
    };
    assert!(kept_after_read(&mut a), "no read lock kept after a read");
    // Until it has not been used for a moment.
    assert!(
        eventually(|| lock_in_the_way(&shm, start, len) == libc::F_UNLCK),
        "the read lock was kept"
    );

    // Reads in a row keep it; each sees what the other connection committed meanwhile.
    let mut b = open(&path);
    for i in 0..20 {
        insert(&mut b, 1_000 + i, 1);
        assert_eq!(total(&mut a).0, 101 + i);
    }

    // The process's own checkpoint is not in its way: it backfills and truncates the WAL.
    b.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    assert_eq!(std::fs::metadata(format!("{path}-wal")).unwrap().len(), 0);
    assert_eq!(total(&mut a).0, 120);
    assert!(eventually(
        || lock_in_the_way(&shm, start, len) == libc::F_UNLCK
    ));

    drop((a, b));
    drop(shm);
}

#[test]
#[cfg(target_os = "linux")]
fn the_read_locks_of_a_closed_file_are_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("closed.db").display().to_string();
    let mut a = kept_locks_table(&path, 10);
    // A read transaction left open holds its read mark.
    a.batch_execute("BEGIN").unwrap();
    assert_eq!(total(&mut a), (10, 2_000));
    let shm = format!("{path}-shm");
    let of_this_file = || {
        dynex_sqlite_map::read_locks()
            .into_iter()
            .filter(|(fd, _)| {
                std::fs::read_link(format!("/proc/self/fd/{fd}"))
                    .is_ok_and(|p| p.display().to_string() == shm)
            })
            .map(|(fd, _)| fd)
            .collect::<Vec<_>>()
    };
    // The open transaction's read mark; the insert's may still be kept beside it, on another
    // byte of the same file.
    let kept = of_this_file();
    assert!(!kept.is_empty(), "no read mark held");
    // The last connection ends the transaction, which keeps the lock, and closes the `-shm`
    // file, which drops it.
    drop(a);
    assert!(
        dynex_sqlite_map::read_locks()
            .iter()
            .all(|(fd, _)| *fd != kept[0]),
        "a closed descriptor's lock is still counted as kept"
    );
}
