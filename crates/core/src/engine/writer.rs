//! This process's SQLite writer: one write transaction at a time, and the API's writes committed
//! in groups.
//!
//! SQLite takes one writer at a time, so this process's writers queue here rather than in
//! SQLite's busy handler, which sleeps in steps of up to 100 ms. A writer of its own (a delete,
//! an import, a job) takes [`Writer::lock`] and runs its transaction on its own connection.
//!
//! The API's creates, updates and upserts [`Writer::join`] a group instead. Each one-row write
//! used to be a transaction of its own: the lock went from thread to thread for every row, and
//! every commit appended the same table and index pages to the write-ahead log again. A write
//! that finds the lock taken now queues for the group's transaction and runs in it when its turn
//! comes, in a savepoint of its own (a write refused undoes only itself). The group commits when
//! nobody is queued any more, or at [`GROUP_WRITES`] writes or [`GROUP_TIME`], whichever is first.
//! Nobody is answered before the commit that holds their rows; when a group does not commit (a
//! failure that may have ended its transaction, a failed `COMMIT`), its members write again in a
//! new group, as a write repeated after a deadlock does.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use dynex_query::Dialect;

use crate::db::{AnyConnection, Conn, Db};
use crate::engine::tx::{begin_statement, control};
use crate::error::CoreError;

/// The most writes one group commits together.
pub(crate) const GROUP_WRITES: usize = 64;

/// How long a group takes in more writes after its first: the latency a write can add to the
/// first one's.
pub(crate) const GROUP_TIME: Duration = Duration::from_millis(5);

/// The writer lock, and the group transaction open under it.
#[derive(Default)]
pub(crate) struct Writer {
    state: Mutex<State>,
    /// Threads waiting for `state`: while any is, an open group stays open for them.
    queued: AtomicUsize,
}

/// The writer lock, held; see [`Writer::lock`].
pub(crate) struct WriterGuard<'a> {
    _state: MutexGuard<'a, State>,
}

#[derive(Default)]
struct State {
    open: Option<Group>,
    /// Groups committed since the start.
    commits: u64,
}

/// A group transaction: `BEGIN IMMEDIATE` on a pooled connection, and what its members wait for.
struct Group {
    conn: Conn,
    outcome: Arc<Outcome>,
    writes: usize,
    since: Instant,
}

/// Whether a group committed, once it ended.
#[derive(Default)]
struct Outcome {
    committed: Mutex<Option<bool>>,
    ended: Condvar,
}

impl Outcome {
    fn set(&self, committed: bool) {
        *self
            .committed
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(committed);
        self.ended.notify_all();
    }

    fn wait(&self) -> bool {
        let mut committed = self
            .committed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(committed) = *committed {
                return committed;
            }
            committed = self
                .ended
                .wait(committed)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl Writer {
    /// Takes the state, counted as queued while waiting for it.
    fn enter(&self) -> MutexGuard<'_, State> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.queued.fetch_sub(1, Ordering::SeqCst);
        state
    }

    /// Takes the writer lock for a transaction on the caller's own connection, once the open
    /// group (if any) has committed.
    pub(crate) fn lock(&self) -> WriterGuard<'_> {
        let mut state = self.enter();
        if let Err(e) = state.close() {
            log::warn!("a group of writes did not commit; its writes are repeated: {e}");
        }
        WriterGuard { _state: state }
    }

    /// Runs `write` in the group transaction and answers its result once the group has
    /// committed; see the module documentation.
    ///
    /// `write` must keep its work in a savepoint of its own, rolled back when it fails, and may
    /// run more than once: when a group does not commit, its members write again.
    pub(crate) fn join<R>(
        &self,
        db: &Db,
        mut write: impl FnMut(&mut AnyConnection) -> Result<R, CoreError>,
    ) -> Result<R, CoreError> {
        loop {
            let mut state = self.enter();
            let group = match &mut state.open {
                Some(group) => group,
                open => open.insert(Group::begin(db)?),
            };
            crate::session::take_discard_mark();
            let result = match catch_unwind(AssertUnwindSafe(|| write(&mut group.conn))) {
                Ok(result) => result,
                Err(panic) => {
                    state.abandon();
                    resume_unwind(panic);
                }
            };
            group.writes += 1;
            let outcome = group.outcome.clone();
            let broken =
                crate::session::take_discard_mark() || result.as_ref().is_err_and(ends_transaction);
            if broken {
                // The failure may have rolled back the whole transaction: the group's other
                // writes are done again, and the connection is not pooled again.
                state.abandon();
                return result;
            }
            if self.queued.load(Ordering::SeqCst) == 0
                || group.writes >= GROUP_WRITES
                || group.since.elapsed() >= GROUP_TIME
            {
                // Whoever closes the group answers its failure; the others write again.
                state.close()?;
            }
            drop(state);
            // A refused write left nothing in the group.
            let answer = result?;
            if outcome.wait() {
                return Ok(answer);
            }
        }
    }
}

/// Whether `e` may have come with the end of the transaction it happened in (SQLite rolls a
/// transaction back on a full disk, an I/O error or lack of memory).
fn ends_transaction(e: &CoreError) -> bool {
    matches!(
        e,
        CoreError::Database(_)
            | CoreError::Busy
            | CoreError::Unavailable(_)
            | CoreError::StatementTimeout(_)
            | CoreError::Corrupt(_)
    )
}

impl Group {
    fn begin(db: &Db) -> Result<Group, CoreError> {
        let mut conn = db.conn()?;
        crate::retry::on_busy(|| {
            control(&mut conn, begin_statement(Dialect::Sqlite))
                .map(Some)
                .map_err(CoreError::from)
        })?;
        Ok(Group {
            conn,
            outcome: Arc::default(),
            writes: 0,
            since: Instant::now(),
        })
    }
}

impl State {
    /// Commits the open group, if any; when the commit fails, rolls it back and answers why.
    fn close(&mut self) -> Result<(), CoreError> {
        let Some(mut group) = self.open.take() else {
            return Ok(());
        };
        match control(&mut group.conn, "COMMIT") {
            Ok(()) => {
                self.commits += 1;
                group.outcome.set(true);
                Ok(())
            }
            Err(e) => {
                self.open = Some(group);
                self.abandon();
                Err(e.into())
            }
        }
    }

    /// Rolls the open group back, discards its connection and tells its members to write again.
    fn abandon(&mut self) {
        let Some(mut group) = self.open.take() else {
            return;
        };
        if let Err(e) = control(&mut group.conn, "ROLLBACK") {
            log::debug!("the group's transaction ended with the failure: {e}");
        }
        crate::session::discard_on_return();
        drop(group.conn);
        group.outcome.set(false);
    }
}

#[cfg(test)]
mod tests {
    use diesel::RunQueryDsl;
    use diesel::connection::SimpleConnection;

    use super::*;
    use crate::engine::tx::Tx;

    const WRITERS: usize = 16;

    fn database() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("group.db").display());
        let db = Db::connect(&url, 4).unwrap();
        db.conn()
            .unwrap()
            .batch_execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)")
            .unwrap();
        (dir, db)
    }

    /// Inserts `v` in a savepoint of its own, as the API's writes do.
    fn insert(conn: &mut AnyConnection, v: &str) -> Result<(), CoreError> {
        let mut tx = Tx::nested(conn)?;
        let inserted =
            diesel::sql_query(format!("INSERT INTO t (v) VALUES ('{v}')")).execute(tx.conn());
        match inserted {
            Ok(_) => Ok(tx.commit()?),
            Err(e) => {
                tx.rollback()?;
                Err(CoreError::Invalid(e.to_string()))
            }
        }
    }

    fn insert_alone(db: &Db, v: &str) {
        db.conn()
            .unwrap()
            .batch_execute(&format!(
                "BEGIN IMMEDIATE; INSERT INTO t (v) VALUES ('{v}'); COMMIT"
            ))
            .unwrap();
    }

    fn values(db: &Db) -> Vec<String> {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            v: String,
        }
        diesel::sql_query("SELECT v FROM t ORDER BY v")
            .load::<Row>(&mut *db.conn().unwrap())
            .unwrap()
            .into_iter()
            .map(|r| r.v)
            .collect()
    }

    /// Starts `WRITERS` threads that join while the lock is held, and lets them go once every
    /// one is queued; answers each thread's result.
    fn queued_writes(
        writer: &Arc<Writer>,
        db: &Db,
        write: impl Fn(usize, &mut AnyConnection) -> Result<(), CoreError> + Send + Sync + 'static,
    ) -> Vec<Result<(), CoreError>> {
        let write = Arc::new(write);
        let held = writer.lock();
        let threads: Vec<_> = (0..WRITERS)
            .map(|i| {
                let (writer, db, write) = (writer.clone(), db.clone(), write.clone());
                std::thread::spawn(move || writer.join(&db, |conn| write(i, conn)))
            })
            .collect();
        while writer.queued.load(Ordering::SeqCst) < WRITERS {
            std::thread::yield_now();
        }
        drop(held);
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    }

    #[test]
    fn queued_writes_commit_together_and_a_refused_one_alone_fails() {
        let (_dir, db) = database();
        let writer = Arc::new(Writer::default());
        insert_alone(&db, "seed");
        let results = queued_writes(&writer, &db, |i, conn| {
            // Writer 3 repeats a row's value: refused by the unique index.
            match i {
                3 => insert(conn, "seed"),
                i => insert(conn, &format!("v{i:02}")),
            }
        });
        for (i, result) in results.iter().enumerate() {
            assert_eq!(result.is_ok(), i != 3, "writer {i}: {result:?}");
        }
        let expected: Vec<String> = std::iter::once("seed".to_string())
            .chain((0..WRITERS).filter(|i| *i != 3).map(|i| format!("v{i:02}")))
            .collect();
        assert_eq!(values(&db), expected);
        let commits = writer.state.lock().unwrap().commits;
        assert!(
            commits < WRITERS as u64 / 2,
            "{WRITERS} queued writes took {commits} commits"
        );
        // The group ended: a writer of its own gets the database.
        let _held = writer.lock();
        insert_alone(&db, "own");
    }

    #[test]
    fn a_failure_that_may_end_the_transaction_has_the_others_write_again() {
        let (_dir, db) = database();
        let writer = Arc::new(Writer::default());
        let failing = Arc::new(AtomicUsize::new(usize::MAX));
        let attempts = Arc::new(AtomicUsize::new(0));
        let (f, a) = (failing.clone(), attempts.clone());
        let results = queued_writes(&writer, &db, move |i, conn| {
            let before = a.fetch_add(1, Ordering::SeqCst);
            insert(conn, &format!("v{i:02}"))?;
            // The second write of the first group fails as a full disk would, which ends the
            // transaction: the first one's row goes with it.
            if before == 1 {
                f.store(i, Ordering::SeqCst);
                conn.batch_execute("ROLLBACK").unwrap();
                return Err(CoreError::Corrupt("disk full".into()));
            }
            Ok(())
        });
        let failed = failing.load(Ordering::SeqCst);
        for (i, result) in results.iter().enumerate() {
            assert_eq!(result.is_ok(), i != failed, "writer {i}: {result:?}");
        }
        let expected: Vec<String> = (0..WRITERS)
            .filter(|i| *i != failed)
            .map(|i| format!("v{i:02}"))
            .collect();
        assert_eq!(
            values(&db),
            expected,
            "nothing of the rolled-back group is lost"
        );
        assert_eq!(
            attempts.load(Ordering::SeqCst),
            WRITERS + 1,
            "the first write of the group was done again"
        );
    }

    #[test]
    fn a_panicking_write_ends_its_group_and_the_others_commit() {
        let (_dir, db) = database();
        let writer = Arc::new(Writer::default());
        let results: Vec<std::thread::Result<Result<(), CoreError>>> = {
            let held = writer.lock();
            let threads: Vec<_> = (0..4)
                .map(|i| {
                    let (writer, db) = (writer.clone(), db.clone());
                    std::thread::spawn(move || {
                        writer.join(&db, |conn| {
                            insert(conn, &format!("v{i}"))?;
                            assert_ne!(i, 2, "writer 2 panics");
                            Ok(())
                        })
                    })
                })
                .collect();
            while writer.queued.load(Ordering::SeqCst) < 4 {
                std::thread::yield_now();
            }
            drop(held);
            threads.into_iter().map(|t| t.join()).collect()
        };
        assert!(results[2].is_err(), "writer 2 panicked");
        for i in [0, 1, 3] {
            assert!(matches!(results[i], Ok(Ok(()))), "writer {i}");
        }
        assert_eq!(values(&db), ["v0", "v1", "v3"]);
    }
}
