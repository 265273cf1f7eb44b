//! `dynex import --manifest FILE.yml`: several CSV files for several entities, parents before
//! children, each step reported and the counts totalled.
//!
//! Two forms are read. dynex's own:
//!
//! ```yaml
//! imports:
//!   - entity: product-abstracts
//!     file: abstracts.csv
//!     mode: upsert
//!     key: sku
//!     mapping: abstracts.map.yml
//! order: manifest
//! ```
//!
//! and Spryker's `data_import.yml` as it is (`actions: [{data_entity, source}]`, other keys
//! ignored). Paths are relative to the manifest's directory. Everything is checked before the
//! first file is imported.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use dynex_core::{CoreError, Dynex, ImportOptions, ImportSummary};
use dynex_csv::Mapping;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    Observer, RejectPreview, RowsRejected, fingerprint, open, print_preview, read_mapping,
};
use crate::output::print_json;
use crate::{ImportArgs, ImportModeArg};

/// The run failed in a step and, with `--json`, the one JSON document on stdout already says
/// so: [`crate::report`] only turns it into the exit code.
#[derive(Debug, thiserror::Error)]
#[error("reported")]
pub struct AlreadyReported;

/// The order the steps run in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Order {
    /// Parents before children by the configured relations; otherwise the manifest's order.
    #[default]
    Relations,
    /// The manifest's order as it is.
    Manifest,
}

/// dynex's manifest form: unknown keys are mistakes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DynexManifest {
    imports: Vec<DynexStep>,
    #[serde(default)]
    order: Order,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DynexStep {
    entity: String,
    file: PathBuf,
    #[serde(default)]
    mode: ImportModeArg,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    mapping: Option<PathBuf>,
}

/// Spryker's `data_import.yml`: `version` and other keys are left alone.
#[derive(Debug, Deserialize)]
struct SprykerManifest {
    actions: Vec<SprykerAction>,
    #[serde(default)]
    order: Order,
}

#[derive(Debug, Deserialize)]
struct SprykerAction {
    data_entity: String,
    source: PathBuf,
}

/// One file of a manifest, as written (paths not yet resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    entity: String,
    file: PathBuf,
    mode: ImportModeArg,
    key: Option<String>,
    mapping: Option<PathBuf>,
}

/// A parsed manifest.
#[derive(Debug)]
struct Manifest {
    steps: Vec<Step>,
    order: Order,
}

fn invalid(path: &Path, message: impl std::fmt::Display) -> CoreError {
    CoreError::Invalid(format!("{}: {message}", path.display()))
}

/// Reads either form; anything else is bad input.
fn parse(text: &str) -> Result<Manifest, String> {
    let doc: serde_norway::Value =
        serde_norway::from_str(text).map_err(|e| format!("the manifest is not valid YAML: {e}"))?;
    let top = match &doc {
        serde_norway::Value::Mapping(m) => m,
        serde_norway::Value::Null => return Err("the manifest is empty".into()),
        _ => {
            return Err(
                "the manifest must be a YAML mapping with `imports` (or Spryker's \
                        `actions`)"
                    .into(),
            );
        }
    };
    let has = |key: &str| top.contains_key(serde_norway::Value::from(key));
    let manifest = if has("imports") || !has("actions") {
        if !has("imports") {
            return Err("the manifest has no `imports` (nor Spryker's `actions`)".into());
        }
        let m: DynexManifest =
            serde_norway::from_value(doc).map_err(|e| format!("invalid manifest: {e}"))?;
        Manifest {
            steps: m
                .imports
                .into_iter()
                .map(|s| Step {
                    entity: s.entity,
                    file: s.file,
                    mode: s.mode,
                    key: s.key,
                    mapping: s.mapping,
                })
                .collect(),
            order: m.order,
        }
    } else {
        let m: SprykerManifest =
            serde_norway::from_value(doc).map_err(|e| format!("invalid manifest: {e}"))?;
        Manifest {
            steps: m
                .actions
                .into_iter()
                .map(|a| Step {
                    entity: a.data_entity,
                    file: a.source,
                    mode: ImportModeArg::Insert,
                    key: None,
                    mapping: None,
                })
                .collect(),
            order: m.order,
        }
    };
    if manifest.steps.is_empty() {
        return Err("the manifest lists no files".into());
    }
    Ok(manifest)
}

/// The steps' indexes in the order they run: with `edges[p]` the steps that must come after
/// step `p`, the first step (in manifest order) whose predecessors all ran goes next. `Err`
/// holds the steps left over when the relations among them form a cycle.
fn sort(count: usize, edges: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    let mut waiting = vec![0usize; count];
    for after in edges {
        for &c in after {
            waiting[c] += 1;
        }
    }
    let mut done = vec![false; count];
    let mut order = Vec::with_capacity(count);
    while order.len() < count {
        let Some(next) = (0..count).find(|&i| !done[i] && waiting[i] == 0) else {
            return Err((0..count).filter(|&i| !done[i]).collect());
        };
        done[next] = true;
        order.push(next);
        for &c in &edges[next] {
            waiting[c] -= 1;
        }
    }
    Ok(order)
}

/// Orders steps parents first: a relation on the entity of step P whose child is the entity of
/// step C puts P before C. A relation of an entity to itself does not order anything.
fn by_relations(
    steps: &[Step],
    children: impl Fn(&str) -> Vec<String>,
) -> Result<Vec<usize>, CoreError> {
    let edges: Vec<Vec<usize>> = steps
        .iter()
        .map(|parent| {
            let kids = children(&parent.entity);
            steps
                .iter()
                .enumerate()
                .filter(|(_, child)| child.entity != parent.entity && kids.contains(&child.entity))
                .map(|(i, _)| i)
                .collect()
        })
        .collect();
    sort(steps.len(), &edges).map_err(|left| {
        let mut names: Vec<&str> = left.iter().map(|&i| steps[i].entity.as_str()).collect();
        names.dedup();
        CoreError::Invalid(format!(
            "the relations among {} form a cycle: set `order: manifest` to import them in the \
             manifest's order",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// A step checked and ready: its paths resolved, its mapping read.
struct Ready {
    step: Step,
    path: PathBuf,
    mapping: Option<Mapping>,
    rejects: Option<PathBuf>,
}

/// What `--rejects DIR` names for each step: `<entity>.rejects.csv`, and
/// `<entity>.<n>.rejects.csv` for the n-th file of the same entity.
fn rejects_files(dir: &Path, steps: &[Step]) -> Vec<PathBuf> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    steps
        .iter()
        .map(|s| {
            let n = seen.entry(&s.entity).or_default();
            *n += 1;
            let name = if *n == 1 {
                format!("{}.rejects.csv", s.entity)
            } else {
                format!("{}.{n}.rejects.csv", s.entity)
            };
            dir.join(name)
        })
        .collect()
}

/// The five counts of a summary, as the total adds them up.
fn counts(s: &ImportSummary) -> [u64; 5] {
    [s.read, s.inserted, s.updated, s.unchanged, s.rejected]
}

fn counts_json([read, inserted, updated, unchanged, rejected]: [u64; 5]) -> Value {
    json!({"read": read, "inserted": inserted, "updated": updated, "unchanged": unchanged,
           "rejected": rejected})
}

fn counts_text([read, inserted, updated, unchanged, rejected]: [u64; 5]) -> String {
    format!(
        "read {read}, inserted {inserted}, updated {updated}, unchanged {unchanged}, \
         rejected {rejected}"
    )
}

/// Checks every step, then imports them one after the other.
pub(crate) fn run(
    dynex: &Dynex,
    manifest_path: &Path,
    args: &ImportArgs,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(manifest_path)
        .map_err(|e| CoreError::Invalid(format!("cannot read {}: {e}", manifest_path.display())))?;
    let manifest = parse(&text).map_err(|e| invalid(manifest_path, e))?;
    let base = manifest_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();

    // Everything is checked before the first row: entities, keys, files, mappings, rejects.
    let snapshot = dynex.snapshot();
    for step in &manifest.steps {
        let entity = snapshot
            .catalog
            .entity(&step.entity)
            .ok_or_else(|| CoreError::UnknownEntity(step.entity.clone()))?;
        if let Some(key) = &step.key
            && entity.field_index(key).is_none()
        {
            return Err(invalid(
                manifest_path,
                format!("the key `{key}` is not a field of `{}`", step.entity),
            )
            .into());
        }
    }
    let order = match manifest.order {
        Order::Manifest => (0..manifest.steps.len()).collect(),
        Order::Relations => by_relations(&manifest.steps, |alias| {
            snapshot
                .catalog
                .entity(alias)
                .map(|e| {
                    e.config
                        .child_relations
                        .iter()
                        .map(|r| r.child_alias().to_string())
                        .collect()
                })
                .unwrap_or_default()
        })?,
    };
    let steps: Vec<Step> = order.iter().map(|&i| manifest.steps[i].clone()).collect();
    let rejects = match &args.rejects {
        Some(dir) => {
            if dir.exists() && !dir.is_dir() {
                return Err(CoreError::Invalid(format!(
                    "--rejects {}: with --manifest it names a directory, and this is a file",
                    dir.display()
                ))
                .into());
            }
            rejects_files(dir, &steps).into_iter().map(Some).collect()
        }
        None => vec![None; steps.len()],
    };
    let mut ready = Vec::with_capacity(steps.len());
    for (step, rejects) in steps.into_iter().zip(rejects) {
        let path = base.join(&step.file);
        open(&path)?;
        let mapping = step
            .mapping
            .as_ref()
            .map(|m| read_mapping(&base.join(m)))
            .transpose()?;
        ready.push(Ready {
            step,
            path,
            mapping,
            rejects,
        });
    }
    if let Some(dir) = &args.rejects {
        std::fs::create_dir_all(dir)
            .map_err(|e| CoreError::Invalid(format!("cannot create {}: {e}", dir.display())))?;
    }

    let mut done: Vec<Value> = Vec::with_capacity(ready.len());
    let mut total = [0u64; 5];
    let count = ready.len();
    for (n, step) in ready.into_iter().enumerate() {
        let outcome = import_step(dynex, args, json, &step);
        let (summary, preview) = match outcome {
            Ok(done) => done,
            Err(e) => {
                let e = e.context(format!(
                    "step {} of {count}: {} into `{}`",
                    n + 1,
                    step.step.file.display(),
                    step.step.entity
                ));
                if !json {
                    writeln!(out, "stopped: step {} of {count} failed", n + 1)?;
                    return Err(e);
                }
                let (_, code) = crate::classify(&e);
                print_json(
                    out,
                    &json!({
                        "steps": done,
                        "total": counts_json(total),
                        "failed": {
                            "step": n + 1,
                            "entity": step.step.entity,
                            "file": step.step.file.display().to_string(),
                            "error": {"code": code, "message": format!("{e:#}")},
                        },
                    }),
                )?;
                return Err(e.context(AlreadyReported));
            }
        };
        for (t, c) in total.iter_mut().zip(counts(&summary)) {
            *t += c;
        }
        if json {
            let mut value = serde_json::to_value(&summary)?;
            value["file"] = json!(step.step.file.display().to_string());
            if let Some(path) = &step.rejects {
                value["rejects_file"] = json!(path.display().to_string());
            }
            value["first_rejects"] = json!(preview);
            done.push(value);
        } else {
            let mut line = format!(
                "{}/{count} {} <- {} ({}): {}",
                n + 1,
                summary.entity,
                step.step.file.display(),
                summary.mode,
                counts_text(counts(&summary))
            );
            if summary.dry_run {
                line.push_str(" (dry run, nothing written)");
            } else if !summary.committed {
                line.push_str(" (rolled back: nothing written)");
            }
            if summary.stopped_early {
                line.push_str(" (stopped early: --max-errors reached)");
            }
            if summary.rejected > 0
                && let Some(path) = &step.rejects
            {
                line.push_str(&format!(", rejected lines: {}", path.display()));
            }
            writeln!(out, "{line}")?;
            if step.rejects.is_none() {
                print_preview(
                    &mut std::io::stderr().lock(),
                    summary.rejected,
                    &preview,
                    "DIR",
                )?;
            }
        }
    }
    if json {
        print_json(out, &json!({"steps": done, "total": counts_json(total)}))?;
    } else {
        writeln!(out, "total: {} in {count} file(s)", counts_text(total))?;
    }
    if total[4] > 0 {
        return Err(RowsRejected(total[4]).into());
    }
    Ok(())
}

/// Imports one checked step with the run's global options; returns its summary and its first
/// rejected lines.
fn import_step(
    dynex: &Dynex,
    args: &ImportArgs,
    json: bool,
    step: &Ready,
) -> anyhow::Result<(ImportSummary, Vec<RejectPreview>)> {
    let (file, size) = open(&step.path)?;
    let mut observer = Observer::new(step.rejects.clone(), size, json);
    let source = fingerprint(&step.path)?;
    // Resuming a manifest resumes the steps that were started (finished ones skip every line)
    // and runs the ones the interruption never reached.
    let resume = args.resume && dynex.import_started(&step.step.entity, &source)?;
    let options = ImportOptions {
        mode: step.step.mode.into(),
        key: step.step.key.clone(),
        dry_run: args.dry_run,
        atomic: args.atomic,
        max_errors: args.max_errors,
        batch_rows: args.batch_size,
        mapping: step.mapping.clone(),
        source: Some(source),
        resume,
        actor: None,
    };
    let summary = dynex.import(&step.step.entity, file, &options, &mut observer);
    observer.finish()?;
    Ok((summary?, std::mem::take(&mut observer.preview)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entities(m: &Manifest) -> Vec<&str> {
        m.steps.iter().map(|s| s.entity.as_str()).collect()
    }

    #[test]
    fn reads_the_dynex_form() {
        let m = parse(
            "imports:\n  - entity: a\n    file: a.csv\n    mode: upsert\n    key: sku\n    \
             mapping: a.yml\n  - {entity: b, file: sub/b.csv}\norder: manifest\n",
        )
        .unwrap();
        assert_eq!(m.order, Order::Manifest);
        assert_eq!(
            m.steps[0],
            Step {
                entity: "a".into(),
                file: "a.csv".into(),
                mode: ImportModeArg::Upsert,
                key: Some("sku".into()),
                mapping: Some("a.yml".into()),
            }
        );
        assert_eq!(m.steps[1].mode, ImportModeArg::Insert);
        assert_eq!(entities(&m), ["a", "b"]);
    }

    #[test]
    fn reads_the_spryker_form_as_it_is() {
        let m = parse(
            "version: 0\nactions:\n  - data_entity: category-template\n    source: \
             data/import/category_template.csv\n  - data_entity: tax\n    source: tax.csv\n",
        )
        .unwrap();
        assert_eq!(m.order, Order::Relations);
        assert_eq!(entities(&m), ["category-template", "tax"]);
        assert_eq!(
            m.steps[0].file,
            Path::new("data/import/category_template.csv")
        );
    }

    #[test]
    fn refuses_what_is_no_manifest() {
        for (text, says) in [
            ("", "empty"),
            ("imports: [", "not valid YAML"),
            ("- a", "YAML mapping"),
            ("files: []", "no `imports`"),
            ("imports: []", "no files"),
            (
                "imports:\n  - {entity: a, file: a.csv}\nversion: 1\n",
                "unknown field `version`",
            ),
            (
                "imports:\n  - {entity: a, file: a.csv, sep: ';'}\n",
                "unknown field `sep`",
            ),
            (
                "imports:\n  - {entity: a, file: a.csv, mode: merge}\n",
                "unknown variant `merge`",
            ),
            ("imports:\n  - {entity: a}\n", "missing field `file`"),
            (
                "imports:\n  - {entity: a, file: a.csv}\norder: random\n",
                "unknown variant",
            ),
            (
                "actions:\n  - {source: a.csv}\n",
                "missing field `data_entity`",
            ),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }

    fn step(entity: &str) -> Step {
        Step {
            entity: entity.into(),
            file: format!("{entity}.csv").into(),
            mode: ImportModeArg::Insert,
            key: None,
            mapping: None,
        }
    }

    fn relations(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Vec<String> {
        move |parent| {
            pairs
                .iter()
                .filter(|(p, _)| *p == parent)
                .map(|(_, c)| (*c).to_string())
                .collect()
        }
    }

    #[test]
    fn parents_go_first_and_the_rest_keeps_its_place() {
        let steps: Vec<Step> = ["prices", "stores", "concretes", "abstracts", "countries"]
            .into_iter()
            .map(step)
            .collect();
        let order = by_relations(
            &steps,
            relations(&[
                ("abstracts", "concretes"),
                ("concretes", "prices"),
                ("stores", "prices"),
                ("concretes", "concretes"),
                ("countries", "tax-rates"),
            ]),
        )
        .unwrap();
        let names: Vec<&str> = order.iter().map(|&i| steps[i].entity.as_str()).collect();
        assert_eq!(
            names,
            ["stores", "abstracts", "concretes", "prices", "countries"]
        );
    }

    #[test]
    fn a_cycle_names_its_entities() {
        let steps: Vec<Step> = ["x", "a", "b", "c"].into_iter().map(step).collect();
        let e = by_relations(&steps, relations(&[("a", "b"), ("b", "c"), ("c", "a")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`a`, `b`, `c` form a cycle") && e.contains("order: manifest"),
            "{e}"
        );
    }

    #[test]
    fn rejects_files_are_named_by_entity() {
        let steps: Vec<Step> = ["a", "b", "a"].into_iter().map(step).collect();
        let files = rejects_files(Path::new("out"), &steps);
        assert_eq!(
            files,
            [
                Path::new("out/a.rejects.csv"),
                Path::new("out/b.rejects.csv"),
                Path::new("out/a.2.rejects.csv")
            ]
        );
    }
}
