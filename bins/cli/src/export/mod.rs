//! `dynex export ALIAS`: an entity's rows as CSV, streamed in keyset pages; `--manifest` runs
//! several exports ([`manifest`]).

use std::io::Write;
use std::time::Instant;

use dynex_core::{CoreError, Dynex, ExportPlan, ExportRequest, ExportSummary};
use dynex_csv::EntityWriter;
use indicatif::ProgressBar;
use serde_json::json;

use crate::output::{plural, print_json, write_file};
use crate::{ExportArgs, Formulas};

mod manifest;
mod progress;

pub(crate) fn run(
    dynex: &Dynex,
    args: &ExportArgs,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if let Some(manifest) = &args.manifest {
        return manifest::run(dynex, manifest, args, json, out);
    }
    let Some(alias) = args.alias.as_deref() else {
        return Err(
            CoreError::Invalid("name the entity to export (or pass --manifest)".into()).into(),
        );
    };
    let request = ExportRequest {
        filters: args
            .filters
            .iter()
            .map(|f| filter_pair(alias, f))
            .collect::<Result<Vec<_>, _>>()?,
        fields: args.fields.clone(),
        sort: args.sort.clone(),
        changed_since: args.changed_since.clone(),
        page_rows: args.page_rows,
    };
    let plan = dynex.plan_export(alias, &request, None)?;
    if let Some(sort) = &args.sort
        && let Some(warning) = sort_warning(dynex, &plan, sort, args.page_rows)
    {
        eprintln!("warning: {warning}");
    }
    let started = Instant::now();
    let escape = args.formulas == Formulas::Escape;
    let bar = progress::bar(alias, json, args.output.is_none());
    let summary = match &args.output {
        None => write_csv(dynex, &plan, escape, bar.as_ref(), out),
        Some(path) => {
            let mut summary = ExportSummary::default();
            write_file(path, |w| {
                summary = write_csv(dynex, &plan, escape, bar.as_ref(), w)?;
                Ok(())
            })
            .map(|()| summary)
        }
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let summary = summary?;
    let seconds = started.elapsed().as_secs_f64();
    if json {
        let summary = json!({
            "rows": summary.rows,
            "seconds": seconds,
            "changed_since": args.changed_since,
            "max_changed_at": summary.max_changed_at,
        });
        if args.output.is_some() {
            print_json(out, &summary)?;
        } else {
            // stdout holds the CSV.
            eprintln!("{summary}");
        }
    } else {
        let to = args
            .output
            .as_ref()
            .map(|p| format!(" to {}", p.display()))
            .unwrap_or_default();
        let since = args
            .changed_since
            .as_ref()
            .map(|t| format!(" changed since {t}"))
            .unwrap_or_default();
        let latest = summary
            .max_changed_at
            .as_ref()
            .map(|t| format!("; latest change {t}"))
            .unwrap_or_default();
        eprintln!(
            "exported {}{since} of `{alias}`{to} in {seconds:.2} s{latest}",
            plural(
                usize::try_from(summary.rows).unwrap_or(usize::MAX),
                "row",
                "rows"
            )
        );
    }
    Ok(())
}

/// Writes the rows of a planned export as CSV: a header of the plan's fields, one line per row;
/// `escape` neutralises formula-like text cells; `bar` counts the rows.
pub(crate) fn write_csv(
    dynex: &Dynex,
    plan: &ExportPlan,
    escape: bool,
    bar: Option<&ProgressBar>,
    w: &mut dyn Write,
) -> anyhow::Result<ExportSummary> {
    let mut writer =
        EntityWriter::with_fields(plan.entity(), plan.fields(), w)?.escape_formulas(escape);
    let mut failed = None;
    let mut rows = 0u64;
    let summary = dynex.export_cells(plan, |cells| {
        rows += 1;
        if let Some(bar) = bar
            && rows % progress::ROWS_PER_UPDATE == 1
        {
            bar.set_position(rows);
        }
        writer.write_cells(cells).map_err(|e| {
            let message = e.to_string();
            failed = Some(e);
            CoreError::Invalid(message)
        })
    });
    if let Some(bar) = bar {
        bar.set_position(rows);
    }
    // A write that failed (a full disk, a closed pipe) is reported as itself, not as the
    // export's error it was passed through.
    if let Some(e) = failed {
        return Err(e.into());
    }
    let summary = summary?;
    writer.finish()?;
    Ok(summary)
}

/// Warns when no index of the table leads with the columns of `sort` (up to the identifier,
/// which only breaks ties): each page of `page_rows` rows then makes the database read and
/// sort the whole table, which takes minutes on a large one. `None` when an index serves
/// the sort, or the indexes cannot be read (a warning never fails an export).
pub(crate) fn sort_warning(
    dynex: &Dynex,
    plan: &ExportPlan,
    sort: &str,
    page_rows: u64,
) -> Option<String> {
    let entity = plan.entity();
    let keys = dynex_query::parse_sort(entity, sort).ok()?;
    let identifier = entity.identifier_index();
    let columns: Vec<&str> = keys
        .iter()
        .take_while(|k| k.field != identifier)
        .map(|k| entity.fields()[k.field].field_name.as_str())
        .collect();
    if columns.is_empty() {
        return None;
    }
    let mut conn = dynex.db().conn().ok()?;
    let indexes =
        dynex_core::introspect::indexes(&mut conn, dynex.dialect(), entity.table()).ok()?;
    let served = indexes.iter().any(|index| {
        index.len() >= columns.len()
            && index
                .iter()
                .zip(&columns)
                .all(|(i, c)| i.eq_ignore_ascii_case(c))
    });
    if served {
        return None;
    }
    let table = entity.table();
    let list = columns.join(", ");
    let name = format!("{table}_{}", columns.join("_"));
    Some(format!(
        "no index on {table}({list}): an export sorted by {list} reads and sorts the whole \
         table for each page of {page_rows} rows; create one to make it fast: \
         CREATE INDEX {name} ON {table} ({list})"
    ))
}

/// Turns `field=value`, `alias.field=value` or `filter[alias.field]=value` into a query pair.
pub(crate) fn filter_pair(alias: &str, filter: &str) -> Result<(String, String), CoreError> {
    let bad = || {
        CoreError::Invalid(format!(
            "invalid filter `{filter}` (expected field=value or filter[{alias}.field]=value)"
        ))
    };
    let (key, value) = filter.split_once('=').ok_or_else(bad)?;
    let key = key.trim();
    if key.starts_with("filter[") && key.ends_with(']') {
        return Ok((key.to_string(), value.to_string()));
    }
    if key.is_empty() || key.contains(['[', ']']) {
        return Err(bad());
    }
    let qualified = if key.contains('.') {
        key.to_string()
    } else {
        format!("{alias}.{key}")
    };
    Ok((format!("filter[{qualified}]"), value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_qualified_with_the_alias() {
        let pair = |f| filter_pair("countries", f).unwrap();
        assert_eq!(
            pair("iso2_code=AT"),
            ("filter[countries.iso2_code]".into(), "AT".into())
        );
        assert_eq!(
            pair("filter[countries.iso2_code]=AT"),
            ("filter[countries.iso2_code]".into(), "AT".into())
        );
        assert_eq!(
            pair("countries.name=a=b"),
            ("filter[countries.name]".into(), "a=b".into())
        );
        assert!(filter_pair("countries", "iso2_code").is_err());
        assert!(filter_pair("countries", "page[limit]=5").is_err());
    }
}
