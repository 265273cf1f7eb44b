//! `dynex export --manifest FILE.yml`: several exports in one run, each to its own file.
//!
//! ```yaml
//! exports:
//!   - entity: countries
//!     file: "out/{entity}-{timestamp}.csv"   # default "{entity}.csv"
//!     filter: ["iso2_code=AT"]               # as --filter (one or a list)
//!     fields: [iso2_code, name]              # as --fields
//!     sort: "-name"                          # as --sort
//!     changed_since: "2024-01-01"            # as --changed-since
//! ```
//!
//! Paths are relative to the manifest's directory; `{entity}` is the alias and `{timestamp}` one
//! UTC time per run (`20261123T083000Z`). Every export is checked and every file name made before
//! the first file is written; each file is written under a temporary name and renamed when done.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use dynex_core::{CoreError, Dynex, ExportPlan, ExportRequest};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use super::{filter_pair, progress, sort_warning, write_csv};
use crate::import::AlreadyReported;
use crate::output::{plural, print_json, write_file};

/// The manifest: unknown keys are mistakes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    exports: Vec<Step>,
}

/// One export as written in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    entity: String,
    #[serde(default = "default_file")]
    file: String,
    #[serde(default, deserialize_with = "filters")]
    filter: Vec<String>,
    #[serde(default, deserialize_with = "fields")]
    fields: Vec<String>,
    #[serde(default)]
    sort: Option<String>,
    #[serde(default)]
    changed_since: Option<String>,
}

fn default_file() -> String {
    "{entity}.csv".into()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// One filter or a list of them (a filter may hold commas, so one string is one filter).
fn filters<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(f) => vec![f],
        OneOrMany::Many(fs) => fs,
    })
}

/// A list of field names, or one string of them separated by commas as `--fields` takes them.
fn fields<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(f) => f.split(',').map(str::to_string).collect(),
        OneOrMany::Many(fs) => fs,
    })
}

fn parse(text: &str) -> Result<Manifest, String> {
    let m: Manifest = match serde_norway::from_str(text) {
        Ok(m) => m,
        Err(e) if text.trim().is_empty() => return Err(format!("the manifest is empty ({e})")),
        Err(e) => return Err(format!("invalid manifest: {e}")),
    };
    if m.exports.is_empty() {
        return Err("the manifest lists no exports".into());
    }
    Ok(m)
}

/// Fills `{entity}` and `{timestamp}` into a file name template.
fn expand(template: &str, entity: &str, timestamp: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(at) = rest.find(['{', '}']) {
        out.push_str(&rest[..at]);
        if rest[at..].starts_with('}') {
            return Err(format!("`{template}` has a `}}` without its `{{`"));
        }
        let Some(len) = rest[at..].find('}') else {
            return Err(format!("`{template}` has a `{{` without its `}}`"));
        };
        match &rest[at + 1..at + len] {
            "entity" => out.push_str(entity),
            "timestamp" => out.push_str(timestamp),
            other => {
                return Err(format!(
                    "`{template}` has an unknown placeholder `{{{other}}}` (known: {{entity}}, \
                     {{timestamp}})"
                ));
            }
        }
        rest = &rest[at + len + 1..];
    }
    out.push_str(rest);
    if out.trim().is_empty() {
        return Err("the file name is empty".into());
    }
    Ok(out)
}

/// An export checked and ready: its plan and the file it writes.
struct Ready {
    entity: String,
    path: PathBuf,
    plan: ExportPlan,
}

/// Checks every export of the manifest, then runs them one after the other.
pub(crate) fn run(
    dynex: &Dynex,
    manifest_path: &Path,
    args: &crate::ExportArgs,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let page_rows = args.page_rows;
    let escape = args.formulas == crate::Formulas::Escape;
    let started = Instant::now();
    let where_ = manifest_path.display().to_string();
    let text = std::fs::read_to_string(manifest_path)
        .map_err(|e| CoreError::Invalid(format!("cannot read {where_}: {e}")))?;
    let manifest = parse(&text).map_err(|e| CoreError::Invalid(format!("{where_}: {e}")))?;
    let base = manifest_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let timestamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let count = manifest.exports.len();

    // Everything is checked, and every name made, before the first file is written.
    let mut ready = Vec::with_capacity(count);
    let mut targets = HashSet::new();
    for (n, step) in manifest.exports.iter().enumerate() {
        let context = || format!("{where_}: export {} of {count} (`{}`)", n + 1, step.entity);
        let filters = step
            .filter
            .iter()
            .map(|f| filter_pair(&step.entity, f))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::Error::new(e).context(context()))?;
        let request = ExportRequest {
            filters,
            fields: step.fields.clone(),
            sort: step.sort.clone(),
            changed_since: step.changed_since.clone(),
            page_rows,
        };
        let plan = dynex
            .plan_export(&step.entity, &request, None)
            .map_err(|e| anyhow::Error::new(e).context(context()))?;
        if let Some(sort) = &step.sort
            && let Some(warning) = sort_warning(dynex, &plan, sort, page_rows)
        {
            eprintln!("warning: {}: {warning}", context());
        }
        let name = expand(&step.file, &step.entity, &timestamp)
            .map_err(|e| anyhow::Error::new(CoreError::Invalid(e)).context(context()))?;
        let path = base.join(name);
        if !targets.insert(path.clone()) {
            return Err(anyhow::Error::new(CoreError::Invalid(format!(
                "{} is the file of an earlier export too",
                path.display()
            )))
            .context(context()));
        }
        ready.push(Ready {
            entity: step.entity.clone(),
            path,
            plan,
        });
    }
    for r in &ready {
        if let Some(dir) = r.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| CoreError::Invalid(format!("cannot create {}: {e}", dir.display())))?;
        }
    }

    let mut done: Vec<Value> = Vec::with_capacity(count);
    let mut total = 0u64;
    for (n, r) in ready.iter().enumerate() {
        let step_started = Instant::now();
        let mut summary = dynex_core::ExportSummary::default();
        let bar = progress::bar(&r.entity, json, false);
        let outcome = write_file(&r.path, |w| {
            summary = write_csv(dynex, &r.plan, escape, bar.as_ref(), w)?;
            Ok(())
        });
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let file = r.path.display().to_string();
        if let Err(e) = outcome {
            let e = e.context(format!(
                "export {} of {count}: `{}` to {file}",
                n + 1,
                r.entity
            ));
            eprintln!(
                "stopped: export {} of {count} failed; the files written before it are kept",
                n + 1
            );
            if !json {
                return Err(e);
            }
            let (_, code) = crate::classify(&e);
            print_json(
                out,
                &json!({
                    "exports": done,
                    "rows": total,
                    "seconds": started.elapsed().as_secs_f64(),
                    "failed": {
                        "export": n + 1,
                        "entity": r.entity,
                        "file": file,
                        "error": {"code": code, "message": format!("{e:#}")},
                    },
                }),
            )?;
            return Err(e.context(AlreadyReported));
        }
        let seconds = step_started.elapsed().as_secs_f64();
        total += summary.rows;
        let rows = usize::try_from(summary.rows).unwrap_or(usize::MAX);
        eprintln!(
            "{}/{count} {} -> {file}: {} in {seconds:.2} s",
            n + 1,
            r.entity,
            plural(rows, "row", "rows")
        );
        done.push(json!({
            "entity": r.entity,
            "file": file,
            "rows": summary.rows,
            "seconds": seconds,
            "max_changed_at": summary.max_changed_at,
        }));
    }
    let seconds = started.elapsed().as_secs_f64();
    if json {
        print_json(
            out,
            &json!({"exports": done, "rows": total, "seconds": seconds}),
        )?;
    } else {
        eprintln!(
            "total: {} in {} in {seconds:.2} s",
            plural(usize::try_from(total).unwrap_or(usize::MAX), "row", "rows"),
            plural(count, "file", "files")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_key() {
        let m = parse(
            "exports:\n  - entity: countries\n    file: \"out/{entity}-{timestamp}.csv\"\n    \
             filter: [\"iso2_code=AT\"]\n    fields: [iso2_code, name]\n    sort: \"-name\"\n    \
             changed_since: 2024-01-01\n  - entity: stores\n    filter: name=DE\n    \
             fields: id_store,name\n",
        )
        .unwrap();
        assert_eq!(
            m.exports[0],
            Step {
                entity: "countries".into(),
                file: "out/{entity}-{timestamp}.csv".into(),
                filter: vec!["iso2_code=AT".into()],
                fields: vec!["iso2_code".into(), "name".into()],
                sort: Some("-name".into()),
                changed_since: Some("2024-01-01".into()),
            }
        );
        assert_eq!(m.exports[1].file, "{entity}.csv");
        assert_eq!(m.exports[1].filter, ["name=DE"]);
        assert_eq!(m.exports[1].fields, ["id_store", "name"]);
    }

    #[test]
    fn refuses_what_is_no_manifest() {
        for (text, says) in [
            ("", "empty"),
            ("exports: [", "invalid manifest"),
            ("exports: []", "no exports"),
            ("files: []", "unknown field `files`"),
            (
                "exports:\n  - {entity: a, flie: a.csv}\n",
                "unknown field `flie`",
            ),
            ("exports:\n  - {file: a.csv}\n", "missing field `entity`"),
            ("exports:\n  - {entity: a, sort: [a]}\n", "invalid"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }

    #[test]
    fn templates_know_two_placeholders() {
        let x = |t| expand(t, "countries", "20261123T083000Z");
        assert_eq!(x("{entity}.csv").unwrap(), "countries.csv");
        assert_eq!(
            x("out/{entity}-{timestamp}.csv").unwrap(),
            "out/countries-20261123T083000Z.csv"
        );
        assert_eq!(x("plain.csv").unwrap(), "plain.csv");
        for (bad, says) in [
            ("{date}.csv", "unknown placeholder `{date}`"),
            ("{entity.csv", "without its `}`"),
            ("entity}.csv", "without its `{`"),
            ("", "empty"),
        ] {
            let e = x(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
