//! Whether pipelines are healthy: the red or green heart an operator looks for.
//!
//! A pipeline is **unhealthy** when its last [`FAILURES_UNHEALTHY`] runs failed (or were
//! interrupted), or when it is **stale**: it has a schedule and has not succeeded for longer
//! than two of its intervals and a minute (since it was saved, if it never succeeded).

use chrono::{DateTime, Utc};
use dynex_core::{CoreError, Dynex, PipelineRun};
use serde::Serialize;

use crate::definition::Definition;
use crate::schedule::Schedule;

/// Failed runs in a row that make a pipeline unhealthy.
pub const FAILURES_UNHEALTHY: u32 = 3;

/// How a pipeline is doing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineHealth {
    /// The pipeline's name.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// Its schedule, if it runs by itself.
    pub schedule: Option<Schedule>,
    /// When its schedule runs it next (UTC).
    pub next_run_at: Option<String>,
    /// The pipelines it runs after.
    pub after: Vec<String>,
    /// `running` while a run goes, `idle` otherwise.
    pub state: &'static str,
    /// Its newest run.
    pub last_run: Option<PipelineRun>,
    /// When its newest successful run started (UTC).
    pub last_success_at: Option<String>,
    /// Failed or interrupted runs since the last success (counted up to 20).
    pub consecutive_failures: u32,
    /// Records its newest run read.
    pub records_last_run: u64,
    /// Whether it is overdue for its schedule.
    pub stale: bool,
    /// Neither failing repeatedly nor stale.
    pub healthy: bool,
    /// Why it is unhealthy, for people.
    pub problems: Vec<String>,
}

impl PipelineHealth {
    /// When its newest successful run started, in Unix seconds.
    pub fn last_success_seconds(&self) -> Option<i64> {
        self.last_success_at
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp())
    }
}

/// The health of every stored pipeline, by name, at `now`.
pub fn all(dynex: &Dynex, now: DateTime<Utc>) -> Result<Vec<PipelineHealth>, CoreError> {
    dynex
        .pipelines()?
        .into_iter()
        .map(|p| of(dynex, &p, now))
        .collect()
}

/// The health of the stored pipeline `name` at `now`.
pub fn one(dynex: &Dynex, name: &str, now: DateTime<Utc>) -> Result<PipelineHealth, CoreError> {
    of(dynex, &dynex.pipeline(name)?, now)
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn of(
    dynex: &Dynex,
    stored: &dynex_core::StoredPipeline,
    now: DateTime<Utc>,
) -> Result<PipelineHealth, CoreError> {
    let definition = Definition::parse(&stored.definition).ok();
    let status = dynex.pipeline_status(&stored.name)?;
    let schedule = definition.as_ref().and_then(|d| d.schedule.clone());
    let ticks = schedule.as_ref().and_then(|s| s.ticks().ok());
    let mut problems = Vec::new();
    if status.consecutive_failures >= FAILURES_UNHEALTHY {
        problems.push(format!(
            "the last {} runs failed",
            status.consecutive_failures
        ));
    }
    let mut stale = false;
    if let Some(ticks) = &ticks {
        let since_ms = status.last_success_ms.unwrap_or(stored.updated_at_ms);
        let since = DateTime::from_timestamp_millis(since_ms).unwrap_or(now);
        if let Some(interval) = ticks.interval_after(since) {
            let allowed = interval * 2 + chrono::Duration::minutes(1);
            if now - since > allowed {
                stale = true;
                problems.push(format!(
                    "no successful run since {} (the schedule allows {} min)",
                    utc(since),
                    allowed.num_minutes()
                ));
            }
        }
    }
    let last_run = status.last_run;
    Ok(PipelineHealth {
        name: stored.name.clone(),
        description: definition.as_ref().and_then(|d| d.description.clone()),
        next_run_at: ticks.as_ref().and_then(|t| t.next_after(now)).map(utc),
        schedule,
        after: definition.map(|d| d.after).unwrap_or_default(),
        state: if last_run.as_ref().is_some_and(|r| r.state == "running") {
            "running"
        } else {
            "idle"
        },
        records_last_run: last_run
            .as_ref()
            .and_then(|r| r.summary["read"].as_u64())
            .unwrap_or(0),
        last_run,
        last_success_at: status
            .last_success_ms
            .and_then(DateTime::from_timestamp_millis)
            .map(utc),
        consecutive_failures: status.consecutive_failures,
        healthy: problems.is_empty(),
        stale,
        problems,
    })
}
