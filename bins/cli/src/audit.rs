//! `dynex audit`: the audit log, newest first.

use std::io::Write;

use dynex_core::{AuditFilter, Dynex};

use crate::AuditArgs;
use crate::output::{print_json, print_table};

pub(crate) fn run(
    dynex: &Dynex,
    args: &AuditArgs,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let entries = dynex.audit_log(&AuditFilter {
        limit: args.limit,
        before: args.before,
        action: args.action.clone(),
        actor: args.actor.clone(),
        target: args.target.clone(),
    })?;
    if json {
        print_json(out, &serde_json::to_value(&entries)?)?;
        return Ok(());
    }
    if entries.is_empty() {
        eprintln!("no audit entries match");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.id.to_string(),
                e.at.clone(),
                e.actor.clone(),
                e.source.clone(),
                e.action.clone(),
                e.target.clone(),
                e.detail.to_string(),
            ]
        })
        .collect();
    print_table(
        out,
        &[
            "ID", "AT (UTC)", "ACTOR", "SOURCE", "ACTION", "TARGET", "DETAIL",
        ],
        &rows,
    )?;
    Ok(())
}
