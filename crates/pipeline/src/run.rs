//! Running a pipeline: pages read from the source, records mapped, rows written to the target,
//! and the run recorded with its counts, cursor and dead letters.
//!
//! A page is mapped and written before the next one is handed out, so memory holds one page
//! (and, for a source read ahead, the few pages read ahead of it). Each
//! page's rows are written as one batch of `dynex import` (good rows committed together, every
//! refused row reported alone); a record the mapping cannot convert or the target refuses
//! becomes a dead letter with its source record, and its neighbours are written.
//!
//! **The cursor** is what the next run starts from: the highest value of the `incremental`
//! cursor field among the records delivered, or the source's own token. It is stored only
//! after the records it covers are committed: after each page when the source delivers records
//! in cursor order (`ordered: true`), otherwise once the run has read every page, so that a run
//! that stops halfway starts again from where the last complete run ended. Records read again
//! are matched with the stored rows and counted `unchanged`, not written twice.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::rc::Rc;
use std::time::Instant;

use dynex_core::{
    CoreError, Dynex, ImportMode, ImportObserver, ImportOptions, ImportSummary, NewDeadLetter,
    RecordRow, Reject, RowLookup, RowsSpec, RunState,
};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::Record;
use crate::definition::{Definition, SourceSpec, TargetSpec, WriteMode};
use crate::map::{MapError, Mapped, Mapping};
use crate::problem::{Checker, Problem, Problems};
use crate::source::ahead::Ahead;
use crate::source::{Page, Source, SourceError, Start};
use crate::target::Target;

/// How a run goes.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Map and check everything, write nothing and keep no cursor or dead letter.
    pub dry_run: bool,
    /// Ignore the stored cursor: read the source from its beginning.
    pub full: bool,
    /// Variables the mapping's templates see as `vars`.
    pub vars: Map<String, Value>,
    /// Keeps the values of secret variables out of the run's records and errors.
    pub redactor: crate::redact::Redactor,
    /// The run replays dead letters ([`retry`]): the cursor is neither read nor stored.
    pub replay: bool,
    /// What started the run (`cli`, `schedule`, `hook`, `changes`, `back-office`), kept in its
    /// options for the run history.
    pub trigger: Option<String>,
    /// Stops the run between two pages: when asked to, or once its time is up.
    pub cancel: StopSignal,
}

/// Stops a run between two pages: what was committed stays, and the run is recorded as failed
/// with the reason. Clones share the signal.
#[derive(Debug, Clone, Default)]
pub struct StopSignal {
    reason: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    deadline: Option<(Instant, std::time::Duration)>,
}

impl StopSignal {
    /// A signal that also fires once `timeout` has passed from now.
    pub fn with_timeout(timeout: std::time::Duration) -> StopSignal {
        StopSignal {
            deadline: Instant::now().checked_add(timeout).map(|at| (at, timeout)),
            ..StopSignal::default()
        }
    }

    /// The same signal, also fired once `timeout` has passed from now (or at its own deadline,
    /// if that comes first).
    pub fn with_deadline(&self, timeout: std::time::Duration) -> StopSignal {
        let mine = StopSignal::with_timeout(timeout).deadline;
        let deadline = match (self.deadline, mine) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        };
        StopSignal {
            reason: std::sync::Arc::clone(&self.reason),
            deadline,
        }
    }

    /// Asks the run to stop, for `reason` (the first reason given is kept).
    pub fn cancel(&self, reason: &str) {
        if let Ok(mut slot) = self.reason.lock() {
            slot.get_or_insert_with(|| reason.to_string());
        }
    }

    /// Why the run must stop, if it must.
    pub fn reason(&self) -> Option<String> {
        if let Some(reason) = self.reason.lock().ok().and_then(|r| r.clone()) {
            return Some(reason);
        }
        match self.deadline {
            Some((at, timeout)) if Instant::now() >= at => Some(format!(
                "the run took longer than its timeout of {} s",
                timeout.as_secs()
            )),
            _ => None,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// The run's id in the run history.
    pub run: i64,
    /// The pipeline's name.
    pub pipeline: String,
    /// `succeeded` or `failed`.
    pub state: String,
    /// Whether nothing was written on purpose.
    pub dry_run: bool,
    /// Pages read from the source.
    pub pages: u64,
    /// Records read from the source.
    pub read: u64,
    /// Records the mapping skipped on purpose (`skip_when`, an empty split).
    pub skipped: u64,
    /// Rows created.
    pub inserted: u64,
    /// Rows changed.
    pub updated: u64,
    /// Rows identical to the stored ones, not written.
    pub unchanged: u64,
    /// Records kept as dead letters (the mapping could not convert them or the target refused
    /// their rows).
    pub dead_letters: u64,
    /// The cursor the run started from.
    pub cursor_before: Option<Value>,
    /// The cursor the run left for the next one.
    pub cursor_after: Option<Value>,
    /// What ended a failed run.
    pub error: Option<String>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Why a run could not start, or why it failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The definition has problems; no run was recorded.
    #[error(transparent)]
    Invalid(#[from] Problems),
    /// The database failed before the run was recorded.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The run failed (the source, or the database while it went): what earlier pages
    /// committed stays. The summary says how far it got and why it stopped.
    #[error("run {} of `{}` failed: {}", .0.run, .0.pipeline, .0.error.as_deref().unwrap_or("unknown"))]
    Failed(Box<RunSummary>),
}

/// Why a recorded run stopped.
#[derive(Debug, thiserror::Error)]
enum Stop {
    #[error("the source failed: {0}")]
    Source(#[from] SourceError),
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("the target failed: {0}")]
    Target(#[from] crate::target::TargetError),
    #[error("stopped: {0}")]
    Cancelled(String),
}

/// Receives a run's progress.
pub trait RunObserver {
    /// The run was recorded with id `run` and is about to read its source.
    fn started(&mut self, run: i64) {
        let _ = run;
    }

    /// A page was mapped and written.
    fn page(&mut self, summary: &RunSummary) {
        let _ = summary;
    }
}

/// An observer that wants nothing.
impl RunObserver for () {}

/// Runs a stored-definition pipeline with the source its definition names.
pub fn run(
    dynex: &Dynex,
    definition: &Definition,
    options: &RunOptions,
    observer: &mut dyn RunObserver,
) -> Result<RunSummary, RunError> {
    definition.check(&dynex.snapshot().catalog)?;
    refuse_connector(definition)?;
    run_with(dynex, definition, options, observer, |start| {
        open_source(dynex, definition, start)
    })
}

/// A connector's pipeline runs only in the program that brings the connector.
fn refuse_connector(definition: &Definition) -> Result<(), RunError> {
    match &definition.source {
        SourceSpec::Connector(c) => Err(RunError::Invalid(Problems(vec![Problem::new(
            "source.connector",
            format!(
                "the connector `{}` belongs to the program that embeds dynex: it runs this \
                 pipeline with `dynex_pipeline::run::run_with`",
                c.name
            ),
        )]))),
        _ => Ok(()),
    }
}

/// Opens the source a definition names (not a connector's).
fn open_source(
    dynex: &Dynex,
    definition: &Definition,
    start: &Start,
) -> Result<Box<dyn Source>, SourceError> {
    match &definition.source {
        SourceSpec::Http(http) => Ok(Box::new(http.open(start)?)),
        SourceSpec::Csv(csv) => Ok(Box::new(csv.open(start)?)),
        SourceSpec::Entity(entity) => Ok(Box::new(entity.open(dynex, start)?)),
        SourceSpec::Changes(changes) => Ok(Box::new(changes.open(dynex, start)?)),
        SourceSpec::Dx(dx) => Ok(Box::new(dx.open(start, definition.incremental.as_ref())?)),
        SourceSpec::Connector(c) => Err(SourceError::Other(format!(
            "the connector `{}` is opened by the program that brings it",
            c.name
        ))),
    }
}

/// How many dead letters a replay reads per page.
const REPLAY_PAGE: usize = 500;

/// Replays the dead letters of a pipeline through its current mapping and target: how a
/// mapping fixed after records were refused delivers them.
///
/// Each page of dead letters is removed once its records are committed; a record refused again
/// becomes a new dead letter. The cursor is neither read nor stored. At most `limit` dead
/// letters are replayed, oldest first.
pub fn retry(
    dynex: &Dynex,
    definition: &Definition,
    options: &RunOptions,
    limit: usize,
    observer: &mut dyn RunObserver,
) -> Result<RunSummary, RunError> {
    definition.check(&dynex.snapshot().catalog)?;
    let letters = dynex.dead_letters(&definition.name, i64::try_from(limit).unwrap_or(i64::MAX))?;
    let options = RunOptions {
        replay: true,
        ..options.clone()
    };
    let replay = Replay {
        dynex: dynex.clone(),
        pipeline: definition.name.clone(),
        pages: letters
            .chunks(REPLAY_PAGE)
            .map(|page| page.iter().map(|d| (d.id, d.record.clone())).collect())
            .collect(),
        last: Vec::new(),
    };
    run_with(dynex, definition, &options, observer, |_| {
        Ok(Box::new(replay) as Box<dyn Source>)
    })
}

/// Dead letters as a source: their records, a page at a time; a committed page's letters are
/// removed.
struct Replay {
    dynex: Dynex,
    pipeline: String,
    pages: std::collections::VecDeque<Vec<(i64, Record)>>,
    /// The ids of the page handed out last.
    last: Vec<i64>,
}

impl Source for Replay {
    fn next_page(&mut self) -> Result<Option<Page>, SourceError> {
        Ok(self.pages.pop_front().map(|page| {
            let (ids, records): (Vec<i64>, Vec<Record>) = page.into_iter().unzip();
            self.last = ids;
            Page {
                records,
                ..Page::default()
            }
        }))
    }

    fn committed(&mut self) -> Result<(), SourceError> {
        let ids = std::mem::take(&mut self.last);
        self.dynex
            .remove_dead_letters(&self.pipeline, &ids)
            .map(|_| ())
            .map_err(|e| SourceError::Other(format!("cannot remove replayed dead letters: {e}")))
    }
}

/// One source record beside what the mapping makes of it ([`sample`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// The record as the source delivered it.
    pub record: Record,
    /// The rows it gives, each with its lookups, when the mapping gives rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<Value>>,
    /// Why it gives no row, when the mapping skips it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Why the mapping refuses it: `{field, code, message}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

impl Sample {
    /// What `mapping` makes of `record`: its rows (each with its lookups), or why it skips or
    /// refuses it, with secrets hidden from the message.
    pub fn of(
        mapping: &Mapping,
        record: Record,
        vars: &Map<String, Value>,
        redactor: &crate::redact::Redactor,
    ) -> Sample {
        let mut sample = Sample {
            rows: None,
            skipped: None,
            error: None,
            record: Value::Null,
        };
        match mapping.apply(&record, vars) {
            Ok(Mapped::Rows(rows)) => {
                sample.rows = Some(
                    rows.into_iter()
                        .map(|r| {
                            if r.lookups.is_empty() {
                                return Value::Object(r.fields);
                            }
                            let lookups: Vec<Value> = r
                                .lookups
                                .into_iter()
                                .map(|l| {
                                    json!({"field": l.field, "entity": l.entity, "by": l.by, "value": l.value})
                                })
                                .collect();
                            json!({"fields": r.fields, "lookups": lookups})
                        })
                        .collect(),
                );
            }
            Ok(Mapped::Skipped(why)) => sample.skipped = Some(why.to_string()),
            Err(e) => {
                sample.error = Some(json!({
                    "field": e.field,
                    "code": e.code,
                    "message": redactor.apply(&e.message),
                }));
            }
        }
        sample.record = record;
        sample
    }
}

/// Reads up to `limit` records where the next run would start and maps them, writing nothing
/// and recording no run: the transformer tester of `dynex pipeline test`.
pub fn sample(
    dynex: &Dynex,
    definition: &Definition,
    options: &RunOptions,
    limit: usize,
) -> Result<Vec<Sample>, RunError> {
    definition.check(&dynex.snapshot().catalog)?;
    refuse_connector(definition)?;
    let mut checker = Checker::default();
    let mapping = definition.map.compile("map", &mut checker);
    checker.finish()?;
    let Some(mapping) = mapping else {
        return Ok(Vec::new());
    };
    let cursor = if options.full {
        None
    } else {
        dynex.pipeline_cursor(&definition.name)?
    };
    let failed = |e: SourceError| {
        RunError::Failed(Box::new(RunSummary {
            pipeline: definition.name.clone(),
            state: "failed".into(),
            error: Some(options.redactor.apply(&e.to_string())),
            ..RunSummary::default()
        }))
    };
    let mut source = open_source(dynex, definition, &Start { cursor }).map_err(failed)?;
    let mut samples = Vec::new();
    while samples.len() < limit {
        let Some(page) = source.next_page().map_err(failed)? else {
            break;
        };
        for record in page.records.into_iter().take(limit - samples.len()) {
            samples.push(Sample::of(
                &mapping,
                record,
                &options.vars,
                &options.redactor,
            ));
        }
    }
    Ok(samples)
}

/// Runs a pipeline whose records come from `open` (given where to start): how a program that
/// embeds dynex brings its own connector. The definition's `source` is not used; its `target`
/// is.
pub fn run_with(
    dynex: &Dynex,
    definition: &Definition,
    options: &RunOptions,
    observer: &mut dyn RunObserver,
    open: impl FnOnce(&Start) -> Result<Box<dyn Source>, SourceError>,
) -> Result<RunSummary, RunError> {
    execute(dynex, definition, options, observer, open, None)
}

/// Runs a pipeline whose rows go to `target` and whose records come from `open`.
///
/// This is how a program that embeds dynex delivers to a system of its own. The definition's
/// `target` is not used; its mapping may not look rows up, as only an entity target resolves
/// lookups.
pub fn run_into(
    dynex: &Dynex,
    definition: &Definition,
    options: &RunOptions,
    observer: &mut dyn RunObserver,
    open: impl FnOnce(&Start) -> Result<Box<dyn Source>, SourceError>,
    target: &mut dyn Target,
) -> Result<RunSummary, RunError> {
    if !definition.map.lookups.is_empty() {
        return Err(RunError::Invalid(Problems(vec![Problem::new(
            "map.lookups",
            "lookups are resolved by an entity target only",
        )])));
    }
    execute(dynex, definition, options, observer, open, Some(target))
}

fn execute(
    dynex: &Dynex,
    definition: &Definition,
    options: &RunOptions,
    observer: &mut dyn RunObserver,
    open: impl FnOnce(&Start) -> Result<Box<dyn Source>, SourceError>,
    other: Option<&mut dyn Target>,
) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let mut checker = Checker::default();
    let mapping = definition.map.compile("map", &mut checker);
    let cursor_path = definition
        .incremental
        .as_ref()
        .filter(|_| !options.replay)
        .and_then(|i| crate::definition::cursor_path(&i.cursor, &mut checker));
    checker.finish()?;
    let Some(mapping) = mapping else {
        return Err(RunError::Invalid(Problems(vec![Problem::new(
            "map",
            "the mapping cannot be compiled",
        )])));
    };
    let now = chrono::Utc::now();
    if (other.is_some() || !matches!(definition.target, TargetSpec::Entity(_)))
        && !definition.map.lookups.is_empty()
    {
        return Err(RunError::Invalid(Problems(vec![Problem::new(
            "map.lookups",
            "lookups are resolved by an entity target only",
        )])));
    }
    let name = definition.name.as_str();
    let (run_id, cursor_before) = dynex.start_pipeline_run(
        name,
        &json!({
            "dryRun": options.dry_run,
            "full": options.full,
            "replay": options.replay,
            "trigger": options.trigger,
        }),
        options.full || options.replay,
    )?;
    let _alive = Heartbeat::start(dynex, run_id, options.cancel.clone());
    observer.started(run_id);
    let state = Rc::new(RefCell::new(State {
        summary: RunSummary {
            run: run_id,
            pipeline: name.to_string(),
            state: "running".into(),
            dry_run: options.dry_run,
            cursor_before: cursor_before.clone(),
            ..RunSummary::default()
        },
        // A `changes` source's token is the last event id delivered, ascending page by page.
        ordered: definition.incremental.as_ref().is_some_and(|i| i.ordered)
            || matches!(definition.source, SourceSpec::Changes(_)),
        ..State::default()
    }));
    let outcome = (|| -> Result<(), Stop> {
        let mut source = open(&Start {
            cursor: cursor_before.clone(),
        })?;
        if source.read_ahead() {
            source = Box::new(
                Ahead::start(source)
                    .map_err(|e| SourceError::Other(format!("cannot start reading: {e}")))?,
            );
        }
        let fields: Vec<String> = definition
            .map
            .target_fields()
            .into_iter()
            .map(str::to_string)
            .collect();
        let mut feed = Feed {
            source,
            mapping: &mapping,
            vars: &options.vars,
            cursor_path: cursor_path.as_ref(),
            state: Rc::clone(&state),
            handed_out: false,
            dry_run: options.dry_run,
            cancel: &options.cancel,
        };
        let mut watcher = Watcher {
            dynex,
            state: Rc::clone(&state),
            observer,
            dry_run: options.dry_run,
            redactor: &options.redactor,
        };
        let written = match (other, &definition.target) {
            (Some(target), _) => deliver(target, &mut feed, &mut watcher, options.dry_run),
            (None, TargetSpec::Csv(csv)) => {
                let mut target = csv.open(name, fields, now);
                deliver(&mut target, &mut feed, &mut watcher, options.dry_run)
            }
            (None, TargetSpec::Dx(dx)) => {
                let mut target = dx.open()?;
                deliver(&mut target, &mut feed, &mut watcher, options.dry_run)
            }
            (None, TargetSpec::Http(http)) => {
                let names: Vec<&str> = fields.iter().map(String::as_str).collect();
                let mut target = http.open(&names, &options.vars, &options.redactor)?;
                deliver(&mut target, &mut feed, &mut watcher, options.dry_run)
            }
            (None, TargetSpec::Entity(target)) => {
                let lookups: Vec<RowLookup> = definition
                    .map
                    .lookups
                    .iter()
                    .map(|(field, l)| RowLookup {
                        field: field.to_string(),
                        entity: l.entity.clone(),
                        by: l.by.clone(),
                    })
                    .collect();
                let import = ImportOptions {
                    mode: match target.mode {
                        WriteMode::Insert => ImportMode::Insert,
                        WriteMode::Upsert => ImportMode::Upsert,
                        WriteMode::Update => ImportMode::Update,
                    },
                    key: target.key.clone(),
                    dry_run: options.dry_run,
                    actor: Some(format!("pipeline:{name}")),
                    ..ImportOptions::default()
                };
                let spec = RowsSpec {
                    alias: &target.entity,
                    fields: &fields,
                    lookups: &lookups,
                    options: &import,
                };
                dynex
                    .write_rows(&spec, &mut feed, &mut watcher)
                    .map(|_| ())
                    .map_err(Stop::from)
            }
        };
        let failure = state.borrow_mut().source_failure.take();
        if let Some(e) = failure {
            return Err(Stop::Source(e));
        }
        let cancelled = state.borrow_mut().cancelled.take();
        if let Some(reason) = cancelled {
            return Err(Stop::Cancelled(reason));
        }
        written?;
        Ok(())
    })();
    let mut state = state.borrow_mut();
    let summary = &mut state.summary;
    summary.seconds = started.elapsed().as_secs_f64();
    match &outcome {
        Ok(()) => {
            summary.state = "succeeded".into();
            // An unordered source's cursor is kept once every page was read.
            if !options.dry_run && state.pending_cursor.is_some() {
                let cursor = state.pending_cursor.take();
                state.summary.cursor_after = cursor.clone();
                dynex.pipeline_run_progress(
                    name,
                    run_id,
                    &counts(&state.summary),
                    cursor.as_ref(),
                    &[],
                )?;
            }
            dynex.finish_pipeline_run(
                run_id,
                RunState::Succeeded,
                &counts(&state.summary),
                None,
            )?;
        }
        Err(e) => {
            let message = options.redactor.apply(&e.to_string());
            summary.state = "failed".into();
            summary.error = Some(message.clone());
            if let Err(record) = dynex.finish_pipeline_run(
                run_id,
                RunState::Failed,
                &counts(&state.summary),
                Some(&message),
            ) {
                log::error!("cannot record the end of run {run_id} of `{name}`: {record}");
            }
        }
    }
    let summary = state.summary.clone();
    drop(state);
    match outcome {
        Ok(()) => Ok(summary),
        Err(_) => Err(RunError::Failed(Box::new(summary))),
    }
}

/// Shows that a run is alive every [`dynex_core::RUN_HEARTBEAT`] while it lasts, from a thread of
/// its own (a page may take longer than the lease: a slow source, retries), so that no other
/// run takes it for dead; and looks every [`STOP_POLL`] whether someone asked it to stop (from
/// any server). Stops when dropped.
struct Heartbeat {
    _stop: std::sync::mpsc::Sender<()>,
}

/// How often a run looks whether it was asked to stop.
const STOP_POLL: std::time::Duration = std::time::Duration::from_secs(1);

impl Heartbeat {
    fn start(dynex: &Dynex, run_id: i64, cancel: StopSignal) -> Heartbeat {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let dynex = dynex.clone();
        let beat = move || {
            let mut last_beat = Instant::now();
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(STOP_POLL)
            {
                match dynex.pipeline_run_stop_requested(run_id) {
                    Ok(true) => cancel.cancel("someone asked the run to stop"),
                    Ok(false) => {}
                    Err(e) => log::warn!("cannot see whether run {run_id} must stop: {e}"),
                }
                if last_beat.elapsed() >= dynex_core::RUN_HEARTBEAT {
                    last_beat = Instant::now();
                    if let Err(e) = dynex.pipeline_run_alive(run_id) {
                        log::warn!("cannot show that run {run_id} is alive: {e}");
                    }
                }
            }
        };
        if let Err(e) = std::thread::Builder::new()
            .name("pipeline-heartbeat".into())
            .spawn(beat)
        {
            log::warn!("no heartbeat for run {run_id}: {e}");
        }
        Heartbeat { _stop: stop }
    }
}

/// Hands the feed's pages to `target` (nothing in a dry run), keeping what it refuses.
fn deliver(
    target: &mut dyn Target,
    feed: &mut Feed<'_>,
    watcher: &mut Watcher<'_>,
    dry_run: bool,
) -> Result<(), Stop> {
    let (mut inserted, mut updated, mut unchanged) = (0, 0, 0);
    for batch in feed {
        // A failed source is reported by the caller, from the feed's state.
        let rows = batch?;
        if !dry_run && !rows.is_empty() {
            let done = target.deliver(rows)?;
            inserted += done.inserted;
            updated += done.updated;
            unchanged += done.unchanged;
            for r in &done.refused {
                watcher.refused(r.number, &r.code, r.field.as_deref(), &r.message);
            }
            watcher.deliveries(done.deliveries);
        }
        watcher.committed(inserted, updated, unchanged);
    }
    if !dry_run {
        target.finish()?;
    }
    Ok(())
}

/// The counts of a run as its record keeps them.
fn counts(s: &RunSummary) -> Value {
    json!({
        "pages": s.pages,
        "read": s.read,
        "skipped": s.skipped,
        "inserted": s.inserted,
        "updated": s.updated,
        "unchanged": s.unchanged,
        "deadLetters": s.dead_letters,
    })
}

/// What the feed and the watcher share while a run goes.
#[derive(Default)]
struct State {
    summary: RunSummary,
    /// The records of the batch being written, by row number, to keep a refused one as a dead
    /// letter (several rows of a split share their record).
    records: Vec<(u64, Record)>,
    /// Dead letters of the batch, written with its progress.
    dead: Vec<NewDeadLetter>,
    /// The cursor the batch being written reaches, and whether it is a token of the source
    /// (which replaces the one before, where a field's value must be higher).
    batch_cursor: Option<(Value, bool)>,
    /// The highest cursor committed so far, not stored yet (unordered sources).
    pending_cursor: Option<Value>,
    /// Whether the source delivers records in cursor order.
    ordered: bool,
    /// Why the source stopped, when it failed.
    source_failure: Option<SourceError>,
    /// Why the run was stopped, when it was.
    cancelled: Option<String>,
    /// The next row number.
    next_row: u64,
}

/// The rows of a run, page by page: records read, mapped, numbered.
struct Feed<'a> {
    source: Box<dyn Source>,
    mapping: &'a Mapping,
    vars: &'a Map<String, Value>,
    cursor_path: Option<&'a serde_json_path::JsonPath>,
    state: Rc<RefCell<State>>,
    /// A page was handed out and not yet acknowledged to the source.
    handed_out: bool,
    dry_run: bool,
    cancel: &'a StopSignal,
}

impl Iterator for Feed<'_> {
    type Item = Result<Vec<RecordRow>, CoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        // Asked for the next page, the run has committed the one before (outside a dry run).
        if std::mem::take(&mut self.handed_out)
            && !self.dry_run
            && let Err(e) = self.source.committed()
        {
            let message = e.to_string();
            self.state.borrow_mut().source_failure = Some(e);
            return Some(Err(CoreError::Invalid(message)));
        }
        if let Some(reason) = self.cancel.reason() {
            let message = format!("stopped: {reason}");
            self.state.borrow_mut().cancelled = Some(reason);
            return Some(Err(CoreError::Invalid(message)));
        }
        let page = match self.source.next_page() {
            Ok(Some(page)) => page,
            Ok(None) => return None,
            Err(e) => {
                let message = e.to_string();
                self.state.borrow_mut().source_failure = Some(e);
                return Some(Err(CoreError::Invalid(message)));
            }
        };
        self.handed_out = true;
        Some(Ok(self.rows(page)))
    }
}

impl Feed<'_> {
    fn rows(&mut self, page: Page) -> Vec<RecordRow> {
        let mut state = self.state.borrow_mut();
        let state = &mut *state;
        state.summary.pages += 1;
        state.records.clear();
        let mut rows = Vec::with_capacity(page.records.len());
        // Without a cursor field, the source's own token (the last page's) is the cursor.
        let mut cursor: Option<Value> = match self.cursor_path {
            None => page.token.map(Value::String),
            Some(_) => None,
        };
        for rejected in page.rejected {
            state.summary.read += 1;
            state.summary.dead_letters += 1;
            state.dead.push(NewDeadLetter {
                stage: "read",
                code: rejected.code,
                field: None,
                message: rejected.message,
                record: rejected.record,
            });
        }
        for record in page.records {
            state.summary.read += 1;
            if let Some(value) = self.cursor_path.and_then(|p| cursor_value(p, &record))
                && cursor.as_ref().is_none_or(|c| later(&value, c))
            {
                cursor = Some(value);
            }
            match self.mapping.apply(&record, self.vars) {
                Ok(Mapped::Skipped(_)) => state.summary.skipped += 1,
                Ok(Mapped::Rows(mapped)) => {
                    for row in mapped {
                        let number = state.next_row;
                        state.next_row += 1;
                        rows.push(RecordRow {
                            number,
                            fields: row.fields,
                            // A null natural key is no reference: the field is left out.
                            lookups: row
                                .lookups
                                .into_iter()
                                .map(|l| (!l.value.is_null()).then_some(l.value))
                                .collect(),
                        });
                        state.records.push((number, record.clone()));
                    }
                }
                Err(e) => {
                    state.summary.dead_letters += 1;
                    state.dead.push(map_dead_letter(&e, record));
                }
            }
        }
        state.batch_cursor = cursor.map(|c| (c, self.cursor_path.is_none()));
        rows
    }
}

/// The cursor field's value in a record: the first value the path finds, if it is a string or
/// a number.
fn cursor_value(path: &serde_json_path::JsonPath, record: &Record) -> Option<Value> {
    path.query(record)
        .first()
        .filter(|v| v.is_string() || v.is_number())
        .cloned()
}

/// Whether cursor value `a` comes after `b`: numbers by value, strings by their text (ISO 8601
/// times in one format sort by text), a number before any string.
fn later(a: &Value, b: &Value) -> bool {
    let order = match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::String(_), _) => Ordering::Greater,
        _ => Ordering::Less,
    };
    order == Ordering::Greater
}

fn map_dead_letter(e: &MapError, record: Record) -> NewDeadLetter {
    NewDeadLetter {
        stage: "map",
        code: serde_json::to_value(e.code)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        field: Some(e.field.clone()),
        message: e.message.clone(),
        record,
    }
}

/// Keeps refused rows as dead letters and records each committed batch.
struct Watcher<'a> {
    dynex: &'a Dynex,
    state: Rc<RefCell<State>>,
    observer: &'a mut dyn RunObserver,
    dry_run: bool,
    redactor: &'a crate::redact::Redactor,
}

impl Watcher<'_> {
    /// Keeps the record of row `number` as a dead letter of the `write` stage.
    fn refused(&mut self, number: u64, code: &str, field: Option<&str>, message: &str) {
        let mut state = self.state.borrow_mut();
        // Rows are numbered in the order they were pushed.
        let record = state
            .records
            .binary_search_by_key(&number, |(n, _)| *n)
            .map(|i| state.records[i].1.clone())
            .unwrap_or(Value::Null);
        state.summary.dead_letters += 1;
        state.dead.push(NewDeadLetter {
            stage: "write",
            code: code.to_string(),
            field: field.map(str::to_string),
            message: message.to_string(),
            record,
        });
    }

    /// Lists the requests a target sent, each with the source records of its rows.
    fn deliveries(&mut self, sent: Vec<(Vec<u64>, dynex_core::changes::NewDelivery)>) {
        if sent.is_empty() || self.dry_run {
            return;
        }
        let state = self.state.borrow();
        let record_of = |number: u64| {
            state
                .records
                .binary_search_by_key(&number, |(n, _)| *n)
                .map(|i| state.records[i].1.clone())
                .unwrap_or(Value::Null)
        };
        let list: Vec<dynex_core::changes::NewDelivery> = sent
            .into_iter()
            .map(|(numbers, mut delivery)| {
                delivery.record = match numbers.as_slice() {
                    [one] => record_of(*one),
                    many => Value::Array(many.iter().map(|n| record_of(*n)).collect()),
                };
                if let Some(error) = &delivery.error {
                    delivery.error = Some(self.redactor.apply(error));
                }
                delivery
            })
            .collect();
        if let Err(e) =
            self.dynex
                .record_deliveries(&state.summary.pipeline, state.summary.run, &list)
        {
            log::warn!(
                "cannot list the deliveries of run {} of `{}`: {e}",
                state.summary.run,
                state.summary.pipeline
            );
        }
    }

    /// A batch is committed; the run's totals are now these.
    fn committed(&mut self, inserted: u64, updated: u64, unchanged: u64) {
        let mut state = self.state.borrow_mut();
        let state = &mut *state;
        state.summary.inserted = inserted;
        state.summary.updated = updated;
        state.summary.unchanged = unchanged;
        if let Some((c, token)) = state.batch_cursor.take()
            && (token || state.pending_cursor.as_ref().is_none_or(|p| later(&c, p)))
        {
            state.pending_cursor = Some(c);
        }
        let mut dead = std::mem::take(&mut state.dead);
        for letter in &mut dead {
            letter.message = self.redactor.apply(&letter.message);
        }
        if !self.dry_run {
            let cursor = if state.ordered {
                state.pending_cursor.take()
            } else {
                None
            };
            if cursor.is_some() {
                state.summary.cursor_after = cursor.clone();
            }
            // The batch is committed: its bookkeeping follows in one transaction. A failure
            // here is logged; the next run reads the records again and finds them unchanged.
            if let Err(e) = self.dynex.pipeline_run_progress(
                &state.summary.pipeline,
                state.summary.run,
                &counts(&state.summary),
                cursor.as_ref(),
                &dead,
            ) {
                log::error!(
                    "cannot record the progress of run {} of `{}`: {e}",
                    state.summary.run,
                    state.summary.pipeline
                );
            }
        }
        self.observer.page(&state.summary);
    }
}

impl ImportObserver for Watcher<'_> {
    fn reject(&mut self, reject: &Reject) -> Result<(), CoreError> {
        self.refused(
            reject.line,
            &reject.code,
            reject.field.as_deref(),
            &reject.message,
        );
        Ok(())
    }

    fn progress(&mut self, summary: &ImportSummary, _bytes_read: u64) {
        self.committed(summary.inserted, summary.updated, summary.unchanged);
    }
}
