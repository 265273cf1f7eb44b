//! Pipelines the server runs by itself: on their schedules (`schedule`), on new change events
//! ([`changes`]), and when asked to (the back office, webhooks).
//!
//! A run goes on a thread of its own, as a run of `dynex pipeline run` does; the database keeps
//! runs apart, so that whatever the number of servers at most one run of a pipeline goes at a
//! time.

pub mod changes;
pub(crate) mod schedule;

use std::sync::mpsc;

use dynex_core::Dynex;
use dynex_pipeline::run::{RunError, RunObserver, RunOptions, RunSummary};
use dynex_pipeline::source::{Source, SourceError, Start};

use crate::metrics::Metrics;

/// What started a run, as its options record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Its schedule.
    Schedule,
    /// Someone in the back office (or its API).
    BackOffice,
    /// An incoming webhook.
    Hook,
    /// Change events of the entities it follows.
    Changes,
}

impl Trigger {
    /// The name runs record.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::BackOffice => "back-office",
            Trigger::Hook => "hook",
            Trigger::Changes => "changes",
        }
    }
}

/// Records to run a pipeline with instead of its own source (an incoming webhook's body).
pub type Records = Box<dyn FnOnce(&Start) -> Result<Box<dyn Source>, SourceError> + Send>;

/// Runs the stored pipeline `name` on this thread until it ends, counting it in `metrics`.
pub fn run_now(
    dynex: &Dynex,
    metrics: &Metrics,
    name: &str,
    trigger: Trigger,
    observer: &mut dyn RunObserver,
) -> Result<RunSummary, RunError> {
    let options = RunOptions {
        trigger: Some(trigger.as_str().into()),
        ..RunOptions::default()
    };
    let result = dynex_pipeline::stored::run(dynex, name, options, observer);
    metrics.pipeline_run(name, &result);
    result
}

/// Starts a run of the stored pipeline `name` on a thread of its own, with `records` instead
/// of its source when given; returns the run's id once the run is recorded (the run goes on).
///
/// Blocks until then: call it from a blocking context.
pub fn start(
    dynex: &Dynex,
    metrics: &Metrics,
    name: &str,
    trigger: Trigger,
    records: Option<Records>,
) -> Result<i64, RunError> {
    let (tell, told) = mpsc::sync_channel::<Result<i64, RunError>>(1);
    let dynex = dynex.clone();
    let metrics = metrics.clone();
    let name = name.to_string();
    let thread_name = format!("pipeline-{name}");
    let errors = tell.clone();
    let spawned = std::thread::Builder::new()
        .name(thread_name)
        .spawn(move || {
            let mut observer = Started(Some(tell));
            let options = RunOptions {
                trigger: Some(trigger.as_str().into()),
                ..RunOptions::default()
            };
            let result = match records {
                Some(open) => {
                    dynex_pipeline::stored::run_with(&dynex, &name, options, &mut observer, open)
                }
                None => dynex_pipeline::stored::run(&dynex, &name, options, &mut observer),
            };
            metrics.pipeline_run(&name, &result);
            match result {
                // The run was recorded: its caller has its id already.
                Ok(_) | Err(RunError::Failed(_)) if observer.0.is_none() => {}
                Ok(summary) => {
                    let _ = errors.send(Ok(summary.run));
                }
                Err(RunError::Failed(summary)) => {
                    let _ = errors.send(Ok(summary.run));
                }
                Err(e) => {
                    let _ = errors.send(Err(e));
                }
            }
        });
    if let Err(e) = spawned {
        return Err(RunError::Core(dynex_core::CoreError::Unavailable(format!(
            "cannot start a thread for the run: {e}"
        ))));
    }
    told.recv().unwrap_or_else(|_| {
        Err(RunError::Core(dynex_core::CoreError::Unavailable(
            "the run's thread ended before the run was recorded".into(),
        )))
    })
}

/// Tells the run's id to whoever started it, once.
struct Started(Option<mpsc::SyncSender<Result<i64, RunError>>>);

impl RunObserver for Started {
    fn started(&mut self, run: i64) {
        if let Some(tell) = self.0.take() {
            let _ = tell.send(Ok(run));
        }
    }
}
