//! `dynex key …`: API keys.

use std::io::Write;

use chrono::{NaiveDateTime, Utc};
use dynex_auth::Scope;
use dynex_core::Dynex;
use serde_json::json;

use crate::KeyCommand;
use crate::output::{print_json, print_table};

pub(crate) fn run(
    dynex: &Dynex,
    command: &KeyCommand,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match command {
        KeyCommand::Create {
            name,
            scopes,
            valid_to,
        } => create(dynex, name, scopes, *valid_to, json, out),
        KeyCommand::List => list(dynex, json, out),
        KeyCommand::Revoke { name } => {
            dynex.revoke_api_key(name)?;
            if json {
                print_json(out, &json!({ "revoked": name }))?;
            } else {
                writeln!(out, "revoked API key `{name}`")?;
            }
            Ok(())
        }
    }
}

fn create(
    dynex: &Dynex,
    name: &str,
    scopes: &[Scope],
    valid_to: Option<NaiveDateTime>,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let key = dynex.create_api_key(name, scopes, valid_to)?;
    if valid_to.is_some_and(|t| t <= Utc::now().naive_utc()) {
        eprintln!("warning: --valid-to is in the past; the key `{name}` is already expired");
    }
    if json {
        print_json(
            out,
            &json!({
                "name": key.name,
                "key": key.key,
                "scopes": key.scopes,
                "validTo": key.valid_to,
            }),
        )?;
        return Ok(());
    }
    // An alias the key may read, for the example request.
    let alias = scopes
        .iter()
        .find_map(|s| match s {
            Scope::Entity { alias: Some(a), .. } => Some(a.clone()),
            _ => None,
        })
        .or_else(|| {
            let snapshot = dynex.snapshot();
            snapshot
                .catalog
                .entities()
                .first()
                .map(|e| e.alias().to_string())
        })
        .unwrap_or_else(|| "<alias>".to_string());
    writeln!(out, "Created API key `{}`", key.name)?;
    writeln!(out, "  scopes:   {}", key.scopes.join(" "))?;
    writeln!(
        out,
        "  valid to: {} (UTC)",
        key.valid_to.as_deref().unwrap_or("never")
    )?;
    writeln!(out)?;
    writeln!(out, "    {}", key.key)?;
    writeln!(out)?;
    writeln!(out, "Store this key now: it will not be shown again.")?;
    writeln!(out, "Example:")?;
    writeln!(
        out,
        "    curl -H 'X-Api-Key: {}' http://127.0.0.1:8080/dynamic-entity/{alias}",
        key.key
    )?;
    Ok(())
}

fn list(dynex: &Dynex, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let keys = dynex.list_api_keys()?;
    let now = Utc::now().naive_utc();
    let status = |valid_to: Option<&str>, revoked: bool| {
        let expired = valid_to
            .and_then(|t| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f").ok())
            .is_some_and(|t| t <= now);
        if revoked {
            "revoked"
        } else if expired {
            "expired"
        } else {
            "active"
        }
    };
    if json {
        let items: Vec<_> = keys
            .iter()
            .map(|k| {
                json!({
                    "name": k.name,
                    "prefix": k.prefix,
                    "scopes": k.scopes,
                    "validTo": k.valid_to,
                    "createdAt": k.created_at,
                    "revokedAt": k.revoked_at,
                    "status": status(k.valid_to.as_deref(), k.revoked_at.is_some()),
                })
            })
            .collect();
        print_json(out, &serde_json::Value::Array(items))?;
        return Ok(());
    }
    if keys.is_empty() {
        eprintln!("no API keys; create one with `dynex key create NAME`");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                k.name.clone(),
                format!("{}…", k.prefix),
                status(k.valid_to.as_deref(), k.revoked_at.is_some()).to_string(),
                k.valid_to.clone().unwrap_or_else(|| "never".into()),
                k.created_at.clone(),
                k.scopes.join(" "),
            ]
        })
        .collect();
    print_table(
        out,
        &[
            "NAME",
            "PREFIX",
            "STATUS",
            "VALID TO (UTC)",
            "CREATED (UTC)",
            "SCOPES",
        ],
        &rows,
    )?;
    Ok(())
}
