//! The scheduler: runs pipelines whose schedule is due, each tick exactly once whatever the
//! number of servers on the database.
//!
//! Every server computes the same ticks from the stored definitions. When a tick is due, each
//! tries to claim it with an insert keyed by (pipeline, tick time) in `dynex_pipeline_tick`: the
//! database lets exactly one insert through, and only that server runs the tick. A tick whose
//! pipeline is still running (here or on another server) is claimed and skipped, so runs never
//! overlap. A pipeline with `after:` dependencies runs them first, in order, and runs only if
//! they all succeeded.
//!
//! A server that starts does not run the ticks it missed while it was down: the next tick
//! catches up, as incremental pipelines read from their cursor.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dynex_core::Dynex;
use dynex_pipeline::definition::Definition;
use dynex_pipeline::run::{RunError, RunObserver};
use dynex_pipeline::schedule::Ticks;

use super::{Trigger, run_now};
use crate::metrics::Metrics;

/// How often the scheduler looks at the clock.
const POLL: Duration = Duration::from_millis(500);

/// How often it reads the stored definitions again, to see schedules added or changed.
const RELOAD: Duration = Duration::from_secs(5);

/// How long claimed ticks are kept, for the record.
const KEEP_TICKS: chrono::Duration = chrono::Duration::days(7);

/// A scheduled pipeline's next tick.
struct Plan {
    /// The schedule as written, to see it change.
    schedule: dynex_pipeline::schedule::Schedule,
    ticks: Ticks,
    next: DateTime<Utc>,
}

/// Starts the scheduler on a thread of its own, for as long as the process lives.
pub fn spawn(dynex: Dynex, metrics: Metrics) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("pipeline-scheduler".into())
        .spawn(move || scheduler(&dynex, &metrics))
        .map(|_| ())
}

fn scheduler(dynex: &Dynex, metrics: &Metrics) {
    let me = dynex_core::process_name();
    let mut plans: BTreeMap<String, Plan> = BTreeMap::new();
    let mut reloaded: Option<std::time::Instant> = None;
    let mut pruned: Option<std::time::Instant> = None;
    loop {
        if reloaded.is_none_or(|at| at.elapsed() >= RELOAD) {
            reloaded = Some(std::time::Instant::now());
            match dynex.pipelines() {
                Ok(stored) => plans = replan(plans, &stored, Utc::now()),
                Err(e) => log::warn!("cannot read the pipelines' schedules: {e}"),
            }
        }
        if pruned.is_none_or(|at| at.elapsed() >= Duration::from_secs(3600)) {
            pruned = Some(std::time::Instant::now());
            let before = (Utc::now() - KEEP_TICKS).timestamp_millis();
            if let Err(e) = dynex.prune_pipeline_ticks(before) {
                log::warn!("cannot forget old ticks: {e}");
            }
        }
        let now = Utc::now();
        for (name, plan) in &mut plans {
            if plan.next > now {
                continue;
            }
            let due = plan.next;
            // Ticks missed while busy are not run one after the other: the next is after now.
            match plan.ticks.next_after(now) {
                Some(next) => plan.next = next,
                None => plan.next = DateTime::<Utc>::MAX_UTC,
            }
            match dynex.claim_pipeline_tick(name, due.timestamp_millis(), &me) {
                Ok(true) => start_tick(dynex, metrics, name, due),
                Ok(false) => log::debug!("tick {due} of `{name}` was claimed by another server"),
                Err(e) => log::warn!("cannot claim tick {due} of `{name}`: {e}"),
            }
        }
        std::thread::sleep(POLL);
    }
}

/// The plans for the stored pipelines: a plan kept while its schedule is unchanged, a new one
/// starting at the next tick after `now` otherwise.
fn replan(
    mut old: BTreeMap<String, Plan>,
    stored: &[dynex_core::StoredPipeline],
    now: DateTime<Utc>,
) -> BTreeMap<String, Plan> {
    let mut plans = BTreeMap::new();
    for pipeline in stored {
        let Ok(definition) = Definition::parse(&pipeline.definition) else {
            continue;
        };
        let Some(schedule) = definition.schedule else {
            continue;
        };
        if let Some(plan) = old.remove(&pipeline.name)
            && plan.schedule == schedule
        {
            plans.insert(pipeline.name.clone(), plan);
            continue;
        }
        match schedule.ticks() {
            Ok(ticks) => {
                if let Some(next) = ticks.next_after(now) {
                    plans.insert(
                        pipeline.name.clone(),
                        Plan {
                            schedule,
                            ticks,
                            next,
                        },
                    );
                }
            }
            Err(e) => log::warn!("the schedule of `{}` cannot be read: {e}", pipeline.name),
        }
    }
    plans
}

/// Runs a claimed tick on a thread of its own: the pipeline's dependencies first, then the
/// pipeline if they all succeeded.
fn start_tick(dynex: &Dynex, metrics: &Metrics, name: &str, due: DateTime<Utc>) {
    let dynex = dynex.clone();
    let metrics = metrics.clone();
    let owned = name.to_string();
    let spawned = std::thread::Builder::new()
        .name(format!("tick-{name}"))
        .spawn(move || run_tick(&dynex, &metrics, &owned, due));
    if let Err(e) = spawned {
        log::error!("cannot start tick {due} of `{name}`: {e}");
    }
}

fn run_tick(dynex: &Dynex, metrics: &Metrics, name: &str, due: DateTime<Utc>) {
    let chain = match dynex_pipeline::order::stored(dynex)
        .map_err(|e| e.to_string())
        .and_then(|graph| dynex_pipeline::order::chain(name, &graph).map_err(|e| e.to_string()))
    {
        Ok(chain) => chain,
        Err(e) => {
            log::error!("tick {due} of `{name}` not run: {e}");
            return;
        }
    };
    for step in &chain {
        let mut observer = Recorder {
            dynex,
            tick: (step == name).then(|| (name, due.timestamp_millis())),
        };
        match run_now(dynex, metrics, step, Trigger::Schedule, &mut observer) {
            Ok(summary) => log::info!(
                "scheduled run {} of `{step}` succeeded: {} read, {} written, {} dead letters",
                summary.run,
                summary.read,
                summary.inserted + summary.updated,
                summary.dead_letters
            ),
            Err(RunError::Core(dynex_core::CoreError::AlreadyExists { .. })) => {
                log::info!("tick {due} of `{name}` skipped: `{step}` is running already");
                return;
            }
            Err(e) => {
                log::warn!("tick {due} of `{name}`: `{step}` did not succeed: {e}");
                return;
            }
        }
    }
}

/// Notes the run a tick started.
struct Recorder<'a> {
    dynex: &'a Dynex,
    tick: Option<(&'a str, i64)>,
}

impl RunObserver for Recorder<'_> {
    fn started(&mut self, run: i64) {
        if let Some((name, due)) = self.tick
            && let Err(e) = self.dynex.record_tick_run(name, due, run)
        {
            log::warn!("cannot note run {run} of tick {due} of `{name}`: {e}");
        }
    }
}
