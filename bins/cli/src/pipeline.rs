//! `dynex pipeline …`: pipeline definitions checked and kept in the database.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use anyhow::Context;
use dynex_core::{Dynex, StoredPipeline};
use dynex_pipeline::definition::{Definition, SourceSpec, TargetSpec};
use dynex_pipeline::run::{RunError, RunObserver, RunOptions, RunSummary, StopSignal};
use dynex_pipeline::target::http::Per;
use dynex_pipeline::variables::Redactor;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::PipelineCommand;
use crate::output::{print_json, print_table};

pub(crate) fn run(
    dynex: &Dynex,
    command: &PipelineCommand,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match command {
        PipelineCommand::Add { file } => add(dynex, file, false, json, out),
        PipelineCommand::Check { file } => add(dynex, file, true, json, out),
        PipelineCommand::List => list(dynex, json, out),
        PipelineCommand::Show { name } => show(dynex, name, json, out),
        PipelineCommand::Export { name } => {
            let stored = dynex.pipeline(name)?;
            if json {
                print_json(
                    out,
                    &json!({ "name": stored.name, "definition": stored.definition }),
                )?;
            } else {
                out.write_all(stored.definition.as_bytes())?;
                if !stored.definition.ends_with('\n') {
                    writeln!(out)?;
                }
            }
            Ok(())
        }
        PipelineCommand::Run {
            name,
            dry_run,
            full,
            with_dependencies: false,
        } => run_now(dynex, name, *dry_run, *full, json, out),
        PipelineCommand::Run {
            name,
            dry_run,
            full,
            with_dependencies: true,
        } => run_chain(dynex, name, *dry_run, *full, json, out),
        PipelineCommand::Runs { name, limit } => runs(dynex, name, *limit, json, out),
        PipelineCommand::Test { name, sample, full } => {
            test(dynex, name, *sample, *full, json, out)
        }
        PipelineCommand::Retry { name, limit } => retry(dynex, name, *limit, json, out),
        PipelineCommand::Deliveries { name, limit } => deliveries(dynex, name, *limit, json, out),
        PipelineCommand::DeadLetters { name, limit } => {
            dead_letters(dynex, name, *limit, json, out)
        }
        PipelineCommand::Stop { name } => {
            let run = dynex.request_pipeline_stop(name)?;
            if json {
                print_json(out, &json!({ "pipeline": name, "run": run }))?;
            } else if let Some(id) = run {
                writeln!(out, "asked run {id} of `{name}` to stop")?;
            } else {
                writeln!(out, "`{name}` has no run in progress")?;
            }
            Ok(())
        }
        PipelineCommand::Remove { name } => {
            let dependents =
                dynex_pipeline::order::dependents(name, &dynex_pipeline::order::stored(dynex)?);
            if !dependents.is_empty() {
                return Err(dynex_pipeline::Problems(vec![dynex_pipeline::Problem::new(
                    "after",
                    format!(
                        "`{name}` cannot be removed: {} run after it (remove it from their `after` first)",
                        dependents.iter().map(|d| format!("`{d}`")).collect::<Vec<_>>().join(", ")
                    ),
                )])
                .into());
            }
            dynex.remove_pipeline(name)?;
            if json {
                print_json(out, &json!({ "removed": name }))?;
            } else {
                writeln!(out, "removed pipeline `{name}`")?;
            }
            Ok(())
        }
    }
}

/// The error itself, not its wrapper, so that the exit code sees what it is.
fn load_error(e: dynex_pipeline::variables::LoadError) -> anyhow::Error {
    match e {
        dynex_pipeline::variables::LoadError::Invalid(p) => p.into(),
        dynex_pipeline::variables::LoadError::Core(c) => c.into(),
    }
}

/// Reads a definition file (`-`: standard input).
fn read(file: &Path) -> anyhow::Result<String> {
    let mut text = String::new();
    if file == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the definition from standard input")?;
    } else {
        text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
    }
    Ok(text)
}

/// Checks a definition as a whole against this database's entities, then saves it unless
/// `check_only`.
fn add(
    dynex: &Dynex,
    file: &Path,
    check_only: bool,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if file.is_dir() {
        return add_folder(dynex, file, check_only, json, out);
    }
    let text = read(file)?;
    let definition = dynex_pipeline::variables::for_check(dynex, &text).map_err(load_error)?;
    definition.check(&dynex.snapshot().catalog)?;
    dynex_pipeline::order::check(&definition, &dynex_pipeline::order::stored(dynex)?)?;
    let name = &definition.name;
    if check_only {
        if json {
            print_json(out, &json!({ "name": name, "valid": true }))?;
        } else {
            writeln!(out, "pipeline `{name}` is valid")?;
        }
        return Ok(());
    }
    let saved = dynex.save_pipeline(name, &text)?;
    if json {
        print_json(out, &json!({ "name": name, "saved": saved }))?;
    } else {
        let what = match saved {
            dynex_core::Saved::Created => "added",
            dynex_core::Saved::Updated => "updated",
            dynex_core::Saved::Unchanged => "unchanged",
        };
        writeln!(out, "pipeline `{name}` {what}")?;
    }
    Ok(())
}

/// Checks every definition of a folder (an app such as `fixtures/apps/pim-catalog`) as a whole,
/// then saves them all unless `check_only`, each after the pipelines it runs `after`.
///
/// Nothing is saved unless every definition holds: a problem is named with its file. `after`
/// may name a pipeline of the folder or one already stored.
fn add_folder(
    dynex: &Dynex,
    folder: &Path,
    check_only: bool,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    use dynex_pipeline::{Problem, Problems};
    let mut files: Vec<_> = std::fs::read_dir(folder)
        .with_context(|| format!("cannot read the folder {}", folder.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.is_file()
                && path.extension().is_some_and(|e| {
                    e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml")
                })
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Problems(vec![Problem::new(
            folder.display().to_string(),
            "the folder holds no pipeline definition (`*.yml`, `*.yaml`)",
        )])
        .into());
    }
    let catalog = dynex.snapshot().catalog.clone();
    let mut problems = Vec::new();
    // Name → (text, definition), in file order.
    let mut found: Vec<(String, String, Definition)> = Vec::new();
    for path in &files {
        let shown = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let in_file = |p: Problem| Problem::new(format!("{shown}: {}", p.path), p.message);
        let text = read(path)?;
        let definition = match dynex_pipeline::variables::for_check(dynex, &text) {
            Ok(definition) => definition,
            Err(dynex_pipeline::variables::LoadError::Invalid(p)) => {
                problems.extend(p.0.into_iter().map(in_file));
                continue;
            }
            Err(dynex_pipeline::variables::LoadError::Core(e)) => return Err(e.into()),
        };
        if let Err(p) = definition.check(&catalog) {
            problems.extend(p.0.into_iter().map(in_file));
        }
        if found.iter().any(|(_, _, d)| d.name == definition.name) {
            problems.push(in_file(Problem::new(
                "name",
                format!("another file of the folder defines `{}`", definition.name),
            )));
            continue;
        }
        found.push((shown, text, definition));
    }
    let mut graph = dynex_pipeline::order::stored(dynex)?;
    for (_, _, definition) in &found {
        graph.insert(definition.name.clone(), definition.after.clone());
    }
    let mut order: Vec<String> = Vec::new();
    for (shown, _, definition) in &found {
        let checked = dynex_pipeline::order::check(definition, &graph)
            .and_then(|()| dynex_pipeline::order::chain(&definition.name, &graph));
        match checked {
            Ok(chain) => {
                for name in chain {
                    if !order.contains(&name) && found.iter().any(|(_, _, d)| d.name == name) {
                        order.push(name);
                    }
                }
            }
            Err(p) => problems.extend(
                p.0.into_iter()
                    .map(|p| Problem::new(format!("{shown}: {}", p.path), p.message)),
            ),
        }
    }
    if !problems.is_empty() {
        return Err(Problems(problems).into());
    }
    let mut results = Vec::new();
    for name in &order {
        let Some((_, text, _)) = found.iter().find(|(_, _, d)| d.name == *name) else {
            continue;
        };
        let saved = if check_only {
            None
        } else {
            Some(dynex.save_pipeline(name, text)?)
        };
        results.push((name.clone(), saved));
    }
    if json {
        let items: Vec<_> = results
            .iter()
            .map(|(name, saved)| match saved {
                Some(saved) => json!({ "name": name, "saved": saved }),
                None => json!({ "name": name, "valid": true }),
            })
            .collect();
        print_json(out, &json!(items))?;
    } else {
        for (name, saved) in &results {
            let what = match saved {
                None => "is valid",
                Some(dynex_core::Saved::Created) => "added",
                Some(dynex_core::Saved::Updated) => "updated",
                Some(dynex_core::Saved::Unchanged) => "unchanged",
            };
            writeln!(out, "pipeline `{name}` {what}")?;
        }
    }
    Ok(())
}

/// The source and target of a stored definition in a few words; a definition that no longer
/// reads (saved by another version) says so instead of failing the whole list.
fn summary(stored: &StoredPipeline) -> (String, String) {
    match Definition::parse(&stored.definition) {
        Ok(d) => (source_text(&d), target_text(&d)),
        Err(e) => (format!("(unreadable: {e})"), String::new()),
    }
}

fn source_text(d: &Definition) -> String {
    match &d.source {
        SourceSpec::Http(http) => format!("http {}", http.url),
        SourceSpec::Csv(csv) => format!(
            "csv {}",
            Path::new(&csv.folder).join(&csv.pattern).display()
        ),
        SourceSpec::Entity(e) => format!("entity {}", e.entity),
        SourceSpec::Dx(dx) => format!(
            "dx {}/{}/{}",
            dx.url.trim_end_matches('/'),
            dx.prefix.trim_matches('/'),
            dx.entity
        ),
        SourceSpec::Connector(c) => format!("connector {}", c.name),
        SourceSpec::Changes(c) => format!("changes {}", c.entities.join(", ")),
    }
}

fn target_text(d: &Definition) -> String {
    match &d.target {
        TargetSpec::Entity(t) => {
            let mode = serde_json::to_value(t.mode)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            format!("entity {} ({mode})", t.entity)
        }
        TargetSpec::Csv(t) => format!("csv {}", t.file),
        TargetSpec::Dx(t) => {
            let mode = serde_json::to_value(t.mode)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            format!(
                "dx {}/{}/{} ({mode})",
                t.url.trim_end_matches('/'),
                t.prefix.trim_matches('/'),
                t.entity
            )
        }
        TargetSpec::Http(t) => {
            let per = match t.per {
                Per::Record => "per record".to_owned(),
                Per::Batch => format!("per {} rows", t.rows_per_request()),
            };
            format!("http {} {} ({per})", t.method.as_str(), t.url)
        }
    }
}

fn time_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

fn list(dynex: &Dynex, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let pipelines = dynex.pipelines()?;
    if json {
        let items: Vec<_> = pipelines
            .iter()
            .map(|p| {
                let (source, target) = summary(p);
                json!({
                    "name": p.name,
                    "source": source,
                    "target": target,
                    "updatedAt": time_text(p.updated_at_ms),
                })
            })
            .collect();
        print_json(out, &json!(items))?;
        return Ok(());
    }
    if pipelines.is_empty() {
        writeln!(
            out,
            "no pipelines (add one with `dynex pipeline add FILE.yml`)"
        )?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = pipelines
        .iter()
        .map(|p| {
            let (source, target) = summary(p);
            vec![p.name.clone(), source, target, time_text(p.updated_at_ms)]
        })
        .collect();
    print_table(out, &["NAME", "SOURCE", "TARGET", "UPDATED (UTC)"], &rows)?;
    Ok(())
}

fn show(dynex: &Dynex, name: &str, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let stored = dynex.pipeline(name)?;
    let definition = Definition::parse(&stored.definition)?;
    if json {
        print_json(
            out,
            &json!({
                "name": stored.name,
                "definition": definition,
                "createdAt": time_text(stored.created_at_ms),
                "updatedAt": time_text(stored.updated_at_ms),
            }),
        )?;
        return Ok(());
    }
    writeln!(out, "pipeline `{}`", stored.name)?;
    if let Some(description) = &definition.description {
        writeln!(out, "  {description}")?;
    }
    writeln!(out, "  source:  {}", source_text(&definition))?;
    writeln!(out, "  target:  {}", target_text(&definition))?;
    writeln!(
        out,
        "  fields:  {}",
        definition.map.target_fields().join(", ")
    )?;
    writeln!(out, "  created: {} UTC", time_text(stored.created_at_ms))?;
    writeln!(out, "  updated: {} UTC", time_text(stored.updated_at_ms))?;
    Ok(())
}

/// The run ended but records went to the dead letters (exit code 5); the summary says how many.
#[derive(Debug, thiserror::Error)]
#[error("{0} record(s) kept as dead letters")]
pub struct DeadLettered(pub u64);

/// A spinner with the run's counts, on a terminal only.
struct Progress(Option<ProgressBar>);

impl Progress {
    /// Takes the bar off the terminal once the run is over.
    fn clear(&mut self) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
    }
}

impl RunObserver for Progress {
    fn page(&mut self, s: &RunSummary) {
        if let Some(bar) = &self.0 {
            bar.set_message(format!(
                "{} pages, {} records read, {} written, {} unchanged, {} dead letters",
                s.pages,
                s.read,
                s.inserted + s.updated,
                s.unchanged,
                s.dead_letters
            ));
            bar.tick();
        }
    }
}

/// A stored definition with its variables resolved for a run, and the redactor of its secrets.
fn loaded(dynex: &Dynex, name: &str) -> anyhow::Result<(Definition, Redactor)> {
    dynex_pipeline::stored::load(dynex, name).map_err(run_error)
}

/// A spinner on a terminal, unless the output is JSON.
fn progress(json: bool) -> Progress {
    Progress((!json && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
            bar.set_style(style);
        }
        bar.set_message("reading the first page");
        bar
    }))
}

fn run_now(
    dynex: &Dynex,
    name: &str,
    dry_run: bool,
    full: bool,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let result = run_stored(dynex, name, dry_run, full, json)?;
    finish_run(result, json, out)
}

/// Runs the stored pipeline `name`, with a progress bar (cleared when it ends) on a terminal.
fn run_stored(
    dynex: &Dynex,
    name: &str,
    dry_run: bool,
    full: bool,
    json: bool,
) -> anyhow::Result<Result<RunSummary, RunError>> {
    let options = RunOptions {
        dry_run,
        full,
        trigger: Some("cli".into()),
        ..RunOptions::default()
    };
    let mut progress = progress(json);
    let result = dynex_pipeline::stored::run(dynex, name, options, &mut progress);
    progress.clear();
    Ok(result)
}

/// Runs `name` after the pipelines it depends on, each after its own, in order; the first that
/// fails ends the chain, and the pipelines after it are not run.
fn run_chain(
    dynex: &Dynex,
    name: &str,
    dry_run: bool,
    full: bool,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    dynex.pipeline(name)?;
    let chain = dynex_pipeline::order::chain(name, &dynex_pipeline::order::stored(dynex)?)?;
    let mut summaries = Vec::new();
    let mut dead_letters = 0;
    for (i, step) in chain.iter().enumerate() {
        let result = run_stored(dynex, step, dry_run, full, json)?;
        let summary = match &result {
            Ok(summary) => Some(summary),
            Err(RunError::Failed(summary)) => Some(&**summary),
            Err(_) => None,
        };
        if let Some(summary) = summary {
            if !json {
                print_run(out, summary, false)?;
            }
            summaries.push(serde_json::to_value(summary)?);
            dead_letters += summary.dead_letters;
        }
        if let Err(error) = result {
            let error = run_error(error);
            let skipped = &chain[i + 1..];
            if json {
                print_json(out, &json!({ "runs": summaries, "notRun": skipped }))?;
            } else if !skipped.is_empty() {
                writeln!(
                    out,
                    "not run, as `{step}` failed: {}",
                    skipped
                        .iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )?;
            }
            return Err(error);
        }
    }
    if json {
        print_json(out, &json!({ "runs": summaries, "notRun": [] }))?;
    }
    if dead_letters > 0 {
        return Err(DeadLettered(dead_letters).into());
    }
    Ok(())
}

fn retry(
    dynex: &Dynex,
    name: &str,
    limit: u32,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let (definition, redactor) = loaded(dynex, name)?;
    let options = RunOptions {
        redactor,
        trigger: Some("cli".into()),
        cancel: StopSignal::with_timeout(definition.run_timeout()),
        ..RunOptions::default()
    };
    let mut progress = progress(json);
    let result = dynex_pipeline::run::retry(
        dynex,
        &definition,
        &options,
        usize::try_from(limit).unwrap_or(usize::MAX),
        &mut progress,
    );
    progress.clear();
    finish_run(result, json, out)
}

/// Prints a run's summary; dead letters make the exit code 5, a failed run 1.
fn finish_run(
    result: Result<RunSummary, RunError>,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let summary = match result {
        Ok(summary) => summary,
        Err(RunError::Failed(summary)) => {
            print_run(out, &summary, json)?;
            return Err(RunError::Failed(summary).into());
        }
        Err(e) => return Err(run_error(e)),
    };
    print_run(out, &summary, json)?;
    if summary.dead_letters > 0 {
        return Err(DeadLettered(summary.dead_letters).into());
    }
    Ok(())
}

/// A run's error as the exit code reads it: the problems or the core error itself, not its
/// wrapper.
fn run_error(e: RunError) -> anyhow::Error {
    match e {
        RunError::Invalid(p) => p.into(),
        RunError::Core(e) => e.into(),
        failed @ RunError::Failed(_) => failed.into(),
    }
}

fn print_run(out: &mut dyn Write, s: &RunSummary, json: bool) -> anyhow::Result<()> {
    if json {
        print_json(out, &serde_json::to_value(s)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "run {} of `{}` {}{} in {:.1} s",
        s.run,
        s.pipeline,
        s.state,
        if s.dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        },
        s.seconds
    )?;
    writeln!(out, "  pages read:    {}", s.pages)?;
    writeln!(out, "  records read:  {}", s.read)?;
    writeln!(out, "  skipped:       {}", s.skipped)?;
    writeln!(out, "  inserted:      {}", s.inserted)?;
    writeln!(out, "  updated:       {}", s.updated)?;
    writeln!(out, "  unchanged:     {}", s.unchanged)?;
    writeln!(out, "  dead letters:  {}", s.dead_letters)?;
    if let Some(cursor) = &s.cursor_after {
        writeln!(out, "  cursor:        {cursor}")?;
    }
    if s.dead_letters > 0 {
        writeln!(
            out,
            "See them with `dynex pipeline dead-letters {}`.",
            s.pipeline
        )?;
    }
    Ok(())
}

fn runs(
    dynex: &Dynex,
    name: &str,
    limit: u32,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    // An unknown pipeline is an error, not an empty history.
    let _ = dynex.pipeline(name)?;
    let runs = dynex.pipeline_runs(name, i64::from(limit))?;
    let count =
        |r: &dynex_core::PipelineRun, k: &str| r.summary[k].as_u64().unwrap_or(0).to_string();
    print_list(
        out,
        json,
        &runs,
        &format!("pipeline `{name}` has not run yet"),
        &[
            "RUN",
            "STARTED (UTC)",
            "STATE",
            "READ",
            "WRITTEN",
            "UNCHANGED",
            "DEAD",
            "ERROR",
        ],
        |r| {
            vec![
                r.id.to_string(),
                r.started_at.clone(),
                r.state.clone(),
                count(r, "read"),
                (r.summary["inserted"].as_u64().unwrap_or(0)
                    + r.summary["updated"].as_u64().unwrap_or(0))
                .to_string(),
                count(r, "unchanged"),
                count(r, "deadLetters"),
                r.error.clone().unwrap_or_default(),
            ]
        },
    )
}

/// Prints `items` as JSON, or as a table of `row`s under `headers`, or `empty` when there are
/// none: the listings of runs, dead letters and deliveries.
fn print_list<T: serde::Serialize>(
    out: &mut dyn Write,
    json: bool,
    items: &[T],
    empty: &str,
    headers: &[&str],
    row: impl Fn(&T) -> Vec<String>,
) -> anyhow::Result<()> {
    if json {
        print_json(out, &serde_json::to_value(items)?)?;
    } else if items.is_empty() {
        writeln!(out, "{empty}")?;
    } else {
        let rows: Vec<Vec<String>> = items.iter().map(row).collect();
        print_table(out, headers, &rows)?;
    }
    Ok(())
}

fn dead_letters(
    dynex: &Dynex,
    name: &str,
    limit: u32,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let _ = dynex.pipeline(name)?;
    let letters = dynex.dead_letters(name, i64::from(limit))?;
    print_list(
        out,
        json,
        &letters,
        &format!("pipeline `{name}` has no dead letters"),
        &["ID", "RUN", "STAGE", "CODE", "FIELD", "MESSAGE", "RECORD"],
        |d| {
            vec![
                d.id.to_string(),
                d.run_id.to_string(),
                d.stage.clone(),
                d.code.clone(),
                d.field.clone().unwrap_or_default(),
                d.message.clone(),
                d.record.to_string(),
            ]
        },
    )
}

fn deliveries(
    dynex: &Dynex,
    name: &str,
    limit: u32,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let _ = dynex.pipeline(name)?;
    let list = dynex.deliveries(name, i64::from(limit))?;
    print_list(
        out,
        json,
        &list,
        &format!("pipeline `{name}` has sent no requests"),
        &[
            "ID", "RUN", "TIME", "STATUS", "TRIES", "RESULT", "RECORD", "ERROR",
        ],
        |d| {
            // A change event is named by its id, another record by itself.
            let record = match d.record.get("id") {
                Some(id) if d.record.get("operation").is_some() => format!("event {id}"),
                _ => d.record.to_string(),
            };
            vec![
                d.id.to_string(),
                d.run.to_string(),
                d.at.clone(),
                d.status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                d.attempts.to_string(),
                if d.ok { "delivered" } else { "failed" }.to_string(),
                record,
                d.error.clone().unwrap_or_default(),
            ]
        },
    )
}

fn test(
    dynex: &Dynex,
    name: &str,
    sample: u32,
    full: bool,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let (definition, redactor) = loaded(dynex, name)?;
    let options = RunOptions {
        full,
        redactor,
        ..RunOptions::default()
    };
    let samples = match dynex_pipeline::run::sample(
        dynex,
        &definition,
        &options,
        usize::try_from(sample).unwrap_or(usize::MAX),
    ) {
        Ok(samples) => samples,
        Err(RunError::Invalid(p)) => return Err(p.into()),
        Err(RunError::Core(e)) => return Err(e.into()),
        Err(e) => return Err(e.into()),
    };
    if json {
        print_json(out, &serde_json::to_value(&samples)?)?;
        return Ok(());
    }
    if samples.is_empty() {
        writeln!(out, "the source gave no record")?;
        return Ok(());
    }
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let indent = |text: String| {
        text.lines()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for (i, s) in samples.iter().enumerate() {
        writeln!(out, "record {}:", i + 1)?;
        writeln!(out, "{}", indent(pretty(&s.record)))?;
        if let Some(rows) = &s.rows {
            writeln!(
                out,
                "  → {} row{}:",
                rows.len(),
                if rows.len() == 1 { "" } else { "s" }
            )?;
            for row in rows {
                writeln!(out, "{}", indent(pretty(row)))?;
            }
        }
        if let Some(why) = &s.skipped {
            writeln!(out, "  → skipped: {why}")?;
        }
        if let Some(error) = &s.error {
            writeln!(
                out,
                "  → refused: field `{}`: {}",
                error["field"].as_str().unwrap_or_default(),
                error["message"].as_str().unwrap_or_default()
            )?;
        }
    }
    Ok(())
}
