//! Progress records of imports in `dynex_import_job`, so that `--resume` continues after the
//! last committed batch.

use diesel::QueryableByName;
use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Integer};
use dynex_query::{Sql, Value};

use crate::db::{AnyConnection, DynQuery, execute};
use crate::error::CoreError;

#[derive(QueryableByName)]
struct JobRow {
    #[diesel(sql_type = Integer)]
    id: i32,
    #[diesel(sql_type = BigInt)]
    committed_line: i64,
}

fn latest(
    conn: &mut AnyConnection,
    entity: &str,
    source: &str,
    running: bool,
) -> Result<Option<JobRow>, CoreError> {
    let mut q = Sql::default();
    q.push("SELECT id, committed_line FROM dynex_import_job WHERE entity = ")
        .bind(Value::Text(entity.to_string()))
        .push(" AND source = ")
        .bind(Value::Text(source.to_string()));
    if running {
        q.push(" AND state = 'running'");
    }
    q.push(" ORDER BY id DESC");
    Ok(DynQuery(&q).load::<JobRow>(conn)?.into_iter().next())
}

/// Starts a job, or with `resume` finds the latest unfinished one of this file; returns its
/// id and the last committed line (1, the header, for a new job).
pub(super) fn open(
    conn: &mut AnyConnection,
    entity: &str,
    source: &str,
    resume: bool,
) -> Result<(i32, u64), CoreError> {
    if resume {
        if let Some(job) = latest(conn, entity, source, true)? {
            return Ok((job.id, u64::try_from(job.committed_line).unwrap_or(1)));
        }
        // A finished import of this file: every line is committed, so all are skipped.
        let job = latest(conn, entity, source, false)?.ok_or_else(|| {
            CoreError::Invalid(format!(
                "nothing to resume: no import of this file into `{entity}` was started \
                 (or the file changed since)"
            ))
        })?;
        return Ok((job.id, u64::MAX));
    }
    let mut q = Sql::default();
    q.push("INSERT INTO dynex_import_job (entity, source, committed_line, state) VALUES (")
        .bind(Value::Text(entity.to_string()))
        .push(", ")
        .bind(Value::Text(source.to_string()))
        .push(", 1, 'running')");
    execute(conn, &q)?;
    let job = latest(conn, entity, source, false)?
        .ok_or_else(|| CoreError::Corrupt("an import job vanished".into()))?;
    Ok((job.id, 1))
}

/// Whether an import of this file into `entity` was ever started.
pub(super) fn exists(
    conn: &mut AnyConnection,
    entity: &str,
    source: &str,
) -> Result<bool, CoreError> {
    Ok(latest(conn, entity, source, false)?.is_some())
}

/// Records that every line up to `line` is committed.
pub(super) fn progress(conn: &mut AnyConnection, id: i32, line: u64) -> Result<(), CoreError> {
    let mut q = Sql::default();
    q.push("UPDATE dynex_import_job SET committed_line = ")
        .bind(Value::Int(i64::try_from(line).unwrap_or(i64::MAX)))
        .push(" WHERE id = ")
        .bind(Value::Int(i64::from(id)));
    execute(conn, &q)?;
    Ok(())
}

/// Marks a job done: there is nothing left to resume.
pub(super) fn finish(conn: &mut AnyConnection, id: i32) -> Result<(), CoreError> {
    let mut q = Sql::default();
    q.push("UPDATE dynex_import_job SET state = 'done' WHERE id = ")
        .bind(Value::Int(i64::from(id)));
    execute(conn, &q)?;
    Ok(())
}
