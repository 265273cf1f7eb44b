//! Progress records of imports in `dynex_import_job`, so that `--resume` continues after the
//! last committed batch.

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::error::CoreError;
use crate::schema::dynex_import_job;

#[derive(Queryable, Selectable)]
#[diesel(table_name = dynex_import_job, check_for_backend(crate::db::MultiBackend))]
struct JobRow {
    id: i32,
    committed_line: i64,
}

fn latest(
    conn: &mut AnyConnection,
    entity: &str,
    source: &str,
    running: bool,
) -> Result<Option<JobRow>, CoreError> {
    let mut q = dynex_import_job::table
        .filter(dynex_import_job::entity.eq(entity))
        .filter(dynex_import_job::source.eq(source))
        .select(JobRow::as_select())
        .order(dynex_import_job::id.desc())
        .into_boxed();
    if running {
        q = q.filter(dynex_import_job::state.eq("running"));
    }
    Ok(q.first(conn).optional()?)
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
    diesel::insert_into(dynex_import_job::table)
        .values((
            dynex_import_job::entity.eq(entity),
            dynex_import_job::source.eq(source),
            dynex_import_job::committed_line.eq(1),
            dynex_import_job::state.eq("running"),
        ))
        .execute(conn)?;
    let job = latest(conn, entity, source, false)?
        .ok_or_else(|| CoreError::Corrupt("an import job vanished".into()))?;
    Ok((job.id, 1))
}

/// The last committed line of the latest unfinished import of `source` into `entity`.
pub(super) fn committed(
    conn: &mut AnyConnection,
    entity: &str,
    source: &str,
) -> Result<Option<u64>, CoreError> {
    Ok(latest(conn, entity, source, true)?
        .map(|job| u64::try_from(job.committed_line).unwrap_or(1)))
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
    diesel::update(dynex_import_job::table.filter(dynex_import_job::id.eq(id)))
        .set(dynex_import_job::committed_line.eq(i64::try_from(line).unwrap_or(i64::MAX)))
        .execute(conn)?;
    Ok(())
}

/// Marks a job done: there is nothing left to resume.
pub(super) fn finish(conn: &mut AnyConnection, id: i32) -> Result<(), CoreError> {
    diesel::update(dynex_import_job::table.filter(dynex_import_job::id.eq(id)))
        .set(dynex_import_job::state.eq("done"))
        .execute(conn)?;
    Ok(())
}
