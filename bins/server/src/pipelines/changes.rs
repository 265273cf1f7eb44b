//! Pipelines with a `changes` source, run in near real time: within about a second of a
//! committed change of an entity they follow.
//!
//! A thread looks every 250 ms at the highest change event id, one indexed query. When it
//! moved, each `changes` pipeline whose entities have events after its cursor is started
//! ([`super::start`], [`Trigger::Changes`]). A pipeline that is running already (here, or on
//! another server: the run lease in the database refuses a second run) is tried again at the
//! next poll, and so is one whose events have not settled yet (see [`dynex_core::changes`]), so
//! nothing waits for the next write to be sent. A pipeline whose last runs failed waits before
//! it runs again: a second after one failure, doubled with each, up to five minutes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dynex_core::{CoreError, Dynex};
use dynex_pipeline::definition::{Definition, SourceSpec};
use dynex_pipeline::run::RunError;

use super::{Trigger, start};
use crate::metrics::Metrics;

/// How often the thread looks for new events.
const POLL: Duration = Duration::from_millis(250);

/// How often it reads the stored definitions again.
const RELOAD: Duration = Duration::from_secs(2);

/// Events read to see whether a pipeline has some to send.
const LOOK_AHEAD: i64 = 200;

/// How often old events are pruned.
const PRUNE: Duration = Duration::from_secs(3600);

/// A `changes` pipeline as the thread follows it.
struct Follower {
    entities: Vec<String>,
    /// The highest event id when it was last looked at.
    looked_at: i64,
    /// Look again at the next poll whatever the events: a run was refused or read nothing
    /// settled yet.
    again: bool,
}

/// The thread that runs `changes` pipelines; it stops when this is dropped.
pub struct ChangesRunner {
    stop: Arc<AtomicBool>,
}

impl Drop for ChangesRunner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Starts the thread that runs `changes` pipelines.
pub fn spawn(dynex: Dynex, metrics: Metrics) -> std::io::Result<ChangesRunner> {
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    std::thread::Builder::new()
        .name("pipeline-changes".into())
        .spawn(move || follow(&dynex, &metrics, &stopped))?;
    Ok(ChangesRunner { stop })
}

fn follow(dynex: &Dynex, metrics: &Metrics, stop: &AtomicBool) {
    let mut followers: BTreeMap<String, Follower> = BTreeMap::new();
    let mut reloaded: Option<Instant> = None;
    let mut pruned: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        if reloaded.is_none_or(|at| at.elapsed() >= RELOAD) {
            reloaded = Some(Instant::now());
            match dynex.pipelines() {
                Ok(stored) => followers = refollow(followers, &stored),
                Err(e) => log::warn!("cannot read the pipelines: {e}"),
            }
        }
        if pruned.is_none_or(|at| at.elapsed() >= PRUNE) {
            pruned = Some(Instant::now());
            match dynex.prune_changes() {
                Ok(0) => {}
                Ok(n) => log::info!("pruned {n} change events every pipeline has read"),
                Err(e) => log::warn!("cannot prune change events: {e}"),
            }
        }
        if !followers.is_empty() {
            match dynex.last_change() {
                Ok(last) => {
                    for (name, follower) in &mut followers {
                        if follower.again || last > follower.looked_at {
                            follower.looked_at = last;
                            follower.again = look(dynex, metrics, name, follower);
                        }
                    }
                }
                Err(e) => log::warn!("cannot look for change events: {e}"),
            }
        }
        std::thread::sleep(POLL);
    }
}

/// The `changes` pipelines of the stored definitions, keeping what was known of each.
fn refollow(
    mut old: BTreeMap<String, Follower>,
    stored: &[dynex_core::StoredPipeline],
) -> BTreeMap<String, Follower> {
    let mut out = BTreeMap::new();
    for pipeline in stored {
        let Ok(definition) = Definition::parse(&pipeline.definition) else {
            continue;
        };
        let SourceSpec::Changes(spec) = definition.source else {
            continue;
        };
        let follower = match old.remove(&pipeline.name) {
            Some(mut f) => {
                if f.entities != spec.entities {
                    f.entities = spec.entities;
                    f.again = true;
                }
                f
            }
            None => Follower {
                entities: spec.entities,
                looked_at: 0,
                again: true,
            },
        };
        out.insert(pipeline.name.clone(), follower);
    }
    out
}

/// Starts a run of `name` when its entities have events after its cursor; whether to look
/// again at the next poll.
fn look(dynex: &Dynex, metrics: &Metrics, name: &str, follower: &Follower) -> bool {
    let cursor = match dynex.pipeline_cursor(name) {
        Ok(cursor) => cursor_id(cursor.as_ref()),
        Err(e) => {
            log::warn!("cannot read the cursor of `{name}`: {e}");
            return true;
        }
    };
    match dynex.change_events(&follower.entities, cursor, LOOK_AHEAD) {
        // Nothing to send yet; events behind an unsettled gap are looked at again.
        Ok(page) if page.events.is_empty() => return page.waiting,
        Ok(_) => {}
        Err(e) => {
            log::warn!("cannot look for change events of `{name}`: {e}");
            return true;
        }
    }
    if let Some(wait) = backing_off(dynex, name) {
        log::debug!(
            "`{name}` failed lately: its next run waits {} s",
            wait.as_secs()
        );
        return true;
    }
    match start(dynex, metrics, name, Trigger::Changes, None) {
        Ok(run) => {
            log::debug!("run {run} of `{name}` started for new change events");
            // Events committed during the run, or not settled yet, are seen at the next poll.
            true
        }
        Err(RunError::Core(CoreError::AlreadyExists { .. })) => true,
        Err(e) => {
            log::warn!("`{name}` could not start for new change events: {e}");
            true
        }
    }
}

/// The longest wait between two runs of a failing pipeline.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// How long a pipeline whose last runs failed must still wait before it runs again: a second
/// after one failure, doubled with each, up to [`MAX_BACKOFF`]; `None` when it may run now. A
/// receiver that is down is not called four times a second, and the run history does not fill
/// with failed runs.
fn backing_off(dynex: &Dynex, name: &str) -> Option<Duration> {
    let status = dynex.pipeline_status(name).ok()?;
    let failures = status.consecutive_failures;
    if failures == 0 {
        return None;
    }
    let wait = Duration::from_secs(1u64 << (failures - 1).min(9)).min(MAX_BACKOFF);
    let finished = status.last_run.as_ref()?.finished_at.as_deref()?;
    let finished = chrono::DateTime::parse_from_rfc3339(finished).ok()?;
    let since = (chrono::Utc::now() - finished.with_timezone(&chrono::Utc))
        .to_std()
        .unwrap_or_default();
    (since < wait).then(|| wait - since)
}

/// The event id a `changes` source's cursor holds, 0 without one.
fn cursor_id(cursor: Option<&serde_json::Value>) -> i64 {
    match cursor {
        Some(serde_json::Value::String(s)) => s.parse().unwrap_or(0),
        Some(serde_json::Value::Number(n)) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}
