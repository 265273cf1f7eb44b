//! `dynex export ALIAS`: an entity's rows as CSV, streamed in keyset pages.

use std::io::Write;
use std::time::Instant;

use dynex_core::{CoreError, Dynex};
use dynex_csv::EntityWriter;
use serde_json::json;

use crate::ExportArgs;
use crate::output::{plural, print_json, write_file};

pub(crate) fn run(
    dynex: &Dynex,
    args: &ExportArgs,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let alias = args.alias.as_str();
    let snapshot = dynex.snapshot();
    let entity = snapshot
        .catalog
        .entity(alias)
        .cloned()
        .ok_or_else(|| CoreError::UnknownEntity(alias.to_string()))?;
    let filters = args
        .filters
        .iter()
        .map(|f| filter_pair(alias, f))
        .collect::<Result<Vec<_>, _>>()?;
    let started = Instant::now();
    let write_rows = |w: &mut dyn Write| -> anyhow::Result<usize> {
        let mut writer = EntityWriter::new(&entity, w)?;
        let mut failed = None;
        let rows = dynex.export_rows(alias, &filters, |row| {
            writer.write(row).map_err(|e| {
                let message = e.to_string();
                failed = Some(e);
                CoreError::Invalid(message)
            })
        });
        if let Some(e) = failed {
            return Err(e.into());
        }
        writer.finish()?;
        Ok(usize::try_from(rows?).unwrap_or(usize::MAX))
    };
    let rows = match &args.output {
        None => write_rows(out)?,
        Some(path) => {
            let mut rows = 0;
            write_file(path, |w| {
                rows = write_rows(w)?;
                Ok(())
            })?;
            rows
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    if json {
        let summary = json!({ "rows": rows, "seconds": seconds });
        if args.output.is_some() {
            print_json(out, &summary)?;
        } else {
            eprintln!("{summary}");
        }
    } else {
        let to = args
            .output
            .as_ref()
            .map(|p| format!(" to {}", p.display()))
            .unwrap_or_default();
        eprintln!(
            "exported {} of `{alias}`{to} in {seconds:.2} s",
            plural(rows, "row", "rows")
        );
    }
    Ok(())
}

/// Turns `field=value`, `alias.field=value` or `filter[alias.field]=value` into a query pair.
fn filter_pair(alias: &str, filter: &str) -> Result<(String, String), CoreError> {
    let bad = || {
        CoreError::Invalid(format!(
            "invalid --filter `{filter}` (expected field=value or filter[{alias}.field]=value)"
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
