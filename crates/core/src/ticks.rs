//! What servers agree on through the database to run pipelines by themselves: which server runs
//! a scheduled tick, that a run must stop, and how each pipeline has been doing.

use diesel::prelude::*;
use serde::Serialize;

use crate::Dynex;
use crate::clock;
use crate::error::CoreError;
use crate::pipelines::{PipelineRun, RunState};

/// How many runs back [`PipelineStatus::consecutive_failures`] counts at most.
const FAILURES_COUNTED: i64 = 20;

/// How a pipeline has been doing, from its run history.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineStatus {
    /// The newest run, whatever its state.
    pub last_run: Option<PipelineRun>,
    /// When the newest successful run started (Unix milliseconds).
    pub last_success_ms: Option<i64>,
    /// Failed or interrupted runs since the newest success, counted up to 20.
    pub consecutive_failures: u32,
}

/// The ticks, stop requests and status of pipelines.
impl Dynex {
    /// Claims the tick of `pipeline` due at `due_ms` for server `by`: true for the one caller
    /// whose claim the database took first, false for every other (another server ran it).
    pub fn claim_pipeline_tick(
        &self,
        pipeline: &str,
        due_ms: i64,
        by: &str,
    ) -> Result<bool, CoreError> {
        use crate::schema::dynex_pipeline_tick as tick;
        let mut conn = self.inner.db.conn()?;
        // The primary key (pipeline, due_ms) lets exactly one insert through, on every backend.
        let inserted = diesel::insert_into(tick::table)
            .values((
                tick::pipeline.eq(pipeline),
                tick::due_ms.eq(due_ms),
                tick::claimed_by.eq(by),
                tick::claimed_ms.eq(clock::now_ms()),
            ))
            .execute(&mut *conn);
        match inserted {
            Ok(_) => Ok(true),
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Notes the run a claimed tick started.
    pub fn record_tick_run(
        &self,
        pipeline: &str,
        due_ms: i64,
        run_id: i64,
    ) -> Result<(), CoreError> {
        use crate::schema::dynex_pipeline_tick as tick;
        let mut conn = self.inner.db.conn()?;
        diesel::update(
            tick::table
                .filter(tick::pipeline.eq(pipeline))
                .filter(tick::due_ms.eq(due_ms)),
        )
        .set(tick::run_id.eq(run_id))
        .execute(&mut *conn)?;
        Ok(())
    }

    /// The claimed ticks of `pipeline` since `since_ms`, oldest first: `(due_ms, claimed_by,
    /// run_id)`.
    pub fn pipeline_ticks(
        &self,
        pipeline: &str,
        since_ms: i64,
    ) -> Result<Vec<(i64, String, Option<i64>)>, CoreError> {
        use crate::schema::dynex_pipeline_tick as tick;
        let mut conn = self.inner.db.conn()?;
        Ok(tick::table
            .filter(tick::pipeline.eq(pipeline))
            .filter(tick::due_ms.ge(since_ms))
            .order(tick::due_ms.asc())
            .select((tick::due_ms, tick::claimed_by, tick::run_id))
            .load(&mut *conn)?)
    }

    /// Forgets claimed ticks older than `before_ms`, so the table stays small.
    pub fn prune_pipeline_ticks(&self, before_ms: i64) -> Result<usize, CoreError> {
        use crate::schema::dynex_pipeline_tick as tick;
        let mut conn = self.inner.db.conn()?;
        Ok(diesel::delete(tick::table.filter(tick::due_ms.lt(before_ms))).execute(&mut *conn)?)
    }

    /// Asks the running run of `pipeline` to stop; it stops between two pages, within seconds,
    /// on whichever server runs it. Returns the run's id, or `None` when none is running.
    pub fn request_pipeline_stop(&self, pipeline: &str) -> Result<Option<i64>, CoreError> {
        use crate::schema::dynex_pipeline_run as run;
        self.pipeline(pipeline)?;
        let mut conn = self.inner.db.conn()?;
        let running: Option<i64> = run::table
            .filter(run::pipeline.eq(pipeline))
            .filter(run::state.eq(RunState::Running.as_str()))
            .order(run::id.desc())
            .select(run::id)
            .first(&mut *conn)
            .optional()?;
        if let Some(id) = running {
            diesel::update(run::table.filter(run::id.eq(id)))
                .set(run::stop_requested_ms.eq(clock::now_ms()))
                .execute(&mut *conn)?;
        }
        Ok(running)
    }

    /// Whether someone asked run `run_id` to stop.
    pub fn pipeline_run_stop_requested(&self, run_id: i64) -> Result<bool, CoreError> {
        use crate::schema::dynex_pipeline_run as run;
        let mut conn = self.inner.db.conn()?;
        let asked: Option<Option<i64>> = run::table
            .filter(run::id.eq(run_id))
            .select(run::stop_requested_ms)
            .first(&mut *conn)
            .optional()?;
        Ok(matches!(asked, Some(Some(_))))
    }

    /// How `pipeline` has been doing: its newest run, its newest success and the failures since.
    pub fn pipeline_status(&self, pipeline: &str) -> Result<PipelineStatus, CoreError> {
        use crate::schema::dynex_pipeline_run as run;
        let recent = self.pipeline_runs(pipeline, FAILURES_COUNTED)?;
        let mut consecutive_failures = 0;
        for r in &recent {
            match r.state.as_str() {
                "failed" | "interrupted" => consecutive_failures += 1,
                "succeeded" => break,
                _ => {}
            }
        }
        let mut conn = self.inner.db.conn()?;
        let last_success_ms: Option<i64> = run::table
            .filter(run::pipeline.eq(pipeline))
            .filter(run::state.eq(RunState::Succeeded.as_str()))
            .select(diesel::dsl::max(run::started_ms))
            .first(&mut *conn)?;
        Ok(PipelineStatus {
            last_run: recent.into_iter().next(),
            last_success_ms,
            consecutive_failures,
        })
    }
}
