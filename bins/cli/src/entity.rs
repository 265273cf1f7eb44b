//! `dynex entity …`: the entity configuration.

use std::io::Write;

use dynex_core::{CoreError, Dynex};
use dynex_schema::{EntityConfig, Field};
use serde_json::json;

use crate::EntityCommand;
use crate::output::{plural, print_json, print_table, read_input, write_file};

/// Runs an entity command on `dynex`, whose URL (password hidden) is `database`.
pub(crate) fn run(
    dynex: &Dynex,
    command: &EntityCommand,
    database: &str,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match command {
        EntityCommand::List => list(dynex, database, json, out),
        EntityCommand::Show { alias } => show(dynex, alias, json, out),
        EntityCommand::Add {
            table,
            alias,
            inactive,
        } => {
            // The store keeps one entity per table and would re-alias the existing one.
            if dynex
                .entities()?
                .iter()
                .any(|e| &e.config.table_name == table)
            {
                return Err(CoreError::AlreadyExists {
                    kind: "entity for table",
                    name: table.clone(),
                }
                .into());
            }
            let config = dynex.add_entity(table, alias.as_deref(), !inactive)?;
            if json {
                print_json(out, &serde_json::to_value(&config)?)?;
            } else {
                print_added(out, &config)?;
            }
            Ok(())
        }
        EntityCommand::Import { file } => {
            let text = read_input(file)?;
            let aliases = dynex.import_configuration(&text)?;
            if json {
                print_json(out, &json!({ "imported": aliases }))?;
            } else {
                writeln!(
                    out,
                    "imported {}: {}",
                    plural(aliases.len(), "entity", "entities"),
                    aliases.join(", ")
                )?;
            }
            Ok(())
        }
        EntityCommand::Export { aliases, output } => {
            let configs = dynex.export_configuration(aliases)?;
            let value = serde_json::to_value(&configs)?;
            match output {
                None => print_json(out, &value)?,
                Some(path) => {
                    write_file(path, |w| Ok(print_json(w, &value)?))?;
                    let exported: Vec<&str> =
                        configs.iter().map(|c| c.table_alias.as_str()).collect();
                    if json {
                        print_json(out, &json!({ "exported": exported, "file": path }))?;
                    } else {
                        writeln!(
                            out,
                            "exported {} to {}",
                            plural(exported.len(), "entity", "entities"),
                            path.display()
                        )?;
                    }
                }
            }
            Ok(())
        }
        EntityCommand::Enable { alias } => set_active(dynex, alias, true, json, out),
        EntityCommand::Disable { alias } => set_active(dynex, alias, false, json, out),
        EntityCommand::Remove { alias } => {
            dynex.remove_entity(alias)?;
            if json {
                print_json(out, &json!({ "alias": alias, "removed": true }))?;
            } else {
                writeln!(out, "removed entity `{alias}` (its table is untouched)")?;
            }
            Ok(())
        }
    }
}

/// What `entity add` prints without `--json`: what was made of the table, in a few lines (the
/// whole configuration is `entity show`'s, or `--json`'s).
fn print_added(out: &mut dyn Write, c: &EntityConfig) -> std::io::Result<()> {
    let alias = &c.table_alias;
    writeln!(
        out,
        "added entity `{alias}`: table {}, {}, identifier {}",
        c.table_name,
        plural(c.definition.fields.len(), "field", "fields"),
        c.definition.identifier
    )?;
    if c.is_active {
        writeln!(out, "Exposed at /dynamic-entity/{alias}")?;
    } else {
        writeln!(
            out,
            "Stored inactive; `dynex entity enable {alias}` exposes it at /dynamic-entity/{alias}"
        )?;
    }
    writeln!(
        out,
        "`dynex entity show {alias}` shows its fields and rules"
    )
}

fn list(dynex: &Dynex, database: &str, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let entities = dynex.entities()?;
    if json {
        let items: Vec<_> = entities
            .iter()
            .map(|e| {
                let c = &e.config;
                json!({
                    "alias": c.table_alias,
                    "table": c.table_name,
                    "active": c.is_active,
                    "isDeletable": c.definition.is_deletable,
                    "fields": c.definition.fields.len(),
                    "relations": c.child_relations.len(),
                })
            })
            .collect();
        print_json(out, &serde_json::Value::Array(items))?;
        return Ok(());
    }
    if entities.is_empty() {
        eprintln!(
            "no entities configured in {database}; add one with `dynex entity add --table \
             TABLE` or `dynex entity import FILE.json`"
        );
        return Ok(());
    }
    let rows: Vec<Vec<String>> = entities
        .iter()
        .map(|e| {
            let c = &e.config;
            vec![
                c.table_alias.clone(),
                c.table_name.clone(),
                yes_no(c.is_active),
                yes_no(c.definition.is_deletable),
                c.definition.fields.len().to_string(),
                c.child_relations.len().to_string(),
            ]
        })
        .collect();
    print_table(
        out,
        &[
            "ALIAS",
            "TABLE",
            "ACTIVE",
            "DELETABLE",
            "FIELDS",
            "RELATIONS",
        ],
        &rows,
    )?;
    Ok(())
}

fn show(dynex: &Dynex, alias: &str, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let stored = dynex.stored_entity(alias)?;
    let value = serde_json::to_value(&stored.config)?;
    let warnings = dynex.index_warnings(&stored.config)?;
    if json {
        // stdout stays the configuration alone; the warnings go to stderr.
        print_json(out, &value)?;
        for w in &warnings {
            eprintln!("warning: {w}");
        }
        return Ok(());
    }
    let c = &stored.config;
    let state = match (
        c.is_active,
        dynex.snapshot().catalog.entity(alias).is_some(),
    ) {
        (false, _) => "inactive",
        (true, true) => "active",
        (true, false) => "active but not served (see the log)",
    };
    writeln!(
        out,
        "{} → table {}: {state}, {}, identifier {}, updated {}",
        c.table_alias,
        c.table_name,
        if c.definition.is_deletable {
            "deletable"
        } else {
            "not deletable"
        },
        c.definition.identifier,
        stored.updated_at,
    )?;
    writeln!(out)?;
    let rows: Vec<Vec<String>> = c.definition.fields.iter().map(field_row).collect();
    print_table(
        out,
        &[
            "FIELD",
            "VISIBLE NAME",
            "TYPE",
            "CREATABLE",
            "EDITABLE",
            "REQUIRED",
            "RULES",
        ],
        &rows,
    )?;
    print_relations(out, c)?;
    if !warnings.is_empty() {
        writeln!(out)?;
        for w in &warnings {
            writeln!(out, "warning: {w}")?;
        }
    }
    writeln!(out)?;
    print_json(out, &value)?;
    Ok(())
}

fn field_row(f: &Field) -> Vec<String> {
    let v = &f.validation;
    let mut rules = Vec::new();
    let mut rule = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            rules.push(format!("{name}={value}"));
        }
    };
    rule("min", v.min.map(|n| n.to_string()));
    rule("max", v.max.map(|n| n.to_string()));
    rule("minLength", v.min_length.map(|n| n.to_string()));
    rule("maxLength", v.max_length.map(|n| n.to_string()));
    rule("precision", v.precision.map(|n| n.to_string()));
    rule("scale", v.scale.map(|n| n.to_string()));
    for constraint in &v.constraints {
        rules.push(constraint.name.clone());
    }
    vec![
        f.field_name.clone(),
        f.field_visible_name.clone(),
        f.ty.to_string(),
        yes_no(f.is_creatable),
        yes_no(f.is_editable),
        yes_no(v.is_required),
        rules.join(" "),
    ]
}

fn print_relations(out: &mut dyn Write, c: &EntityConfig) -> std::io::Result<()> {
    if c.child_relations.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "Relations:")?;
    for r in &c.child_relations {
        let on: Vec<String> = r
            .relation_field_mappings
            .iter()
            .map(|m| {
                format!(
                    "{}.{} = {}",
                    r.child_alias(),
                    m.child_field_name,
                    m.parent_field_name
                )
            })
            .collect();
        let mode = if r.is_editable { "" } else { " (read only)" };
        writeln!(
            out,
            "  {} → {} on {}{mode}",
            r.name,
            r.child_alias(),
            on.join(", ")
        )?;
    }
    Ok(())
}

fn set_active(
    dynex: &Dynex,
    alias: &str,
    active: bool,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    dynex.set_entity_active(alias, active)?;
    if json {
        print_json(out, &json!({ "alias": alias, "active": active }))?;
    } else if active {
        writeln!(
            out,
            "entity `{alias}` enabled: served at /dynamic-entity/{alias}"
        )?;
    } else {
        writeln!(out, "entity `{alias}` disabled (its configuration is kept)")?;
    }
    Ok(())
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}
