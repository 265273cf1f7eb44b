//! `dynex variable …`: the variables pipeline definitions read as `${NAME}`, some secret.

use std::io::{IsTerminal, Read, Write};

use anyhow::Context;
use dynex_core::{CoreError, Dynex, SecretKey};
use serde_json::json;

use crate::VariableCommand;
use crate::output::{print_json, print_table};

/// The environment variable that holds the key of secret variables.
pub(crate) const KEY_VAR: &str = dynex_pipeline::stored::SECRET_KEY_VAR;

/// The key of secret variables from `DYNEX_SECRET_KEY`, if set.
pub(crate) fn secret_key() -> Result<Option<SecretKey>, CoreError> {
    dynex_pipeline::stored::secret_key()
}

pub(crate) fn run(
    dynex: &Dynex,
    command: &VariableCommand,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match command {
        VariableCommand::Set { name, secret } => set(dynex, name, *secret, json, out),
        VariableCommand::List => list(dynex, json, out),
        VariableCommand::Remove { name } => {
            dynex.remove_variable(name)?;
            if json {
                print_json(out, &json!({ "removed": name }))?;
            } else {
                writeln!(out, "removed variable `{name}`")?;
            }
            Ok(())
        }
        VariableCommand::NewKey => new_key(json, out),
    }
}

/// `dynex variable new-key`: a new key for secrets. It needs no database, so that running it
/// where none exists neither fails nor creates one ([`crate::run`] calls it before opening).
pub(crate) fn new_key(json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let key = SecretKey::generate();
    if json {
        print_json(out, &json!({ "key": key }))?;
    } else {
        writeln!(out, "{key}")?;
    }
    Ok(())
}

fn set(
    dynex: &Dynex,
    name: &str,
    secret: bool,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let key = if secret {
        Some(secret_key()?.ok_or_else(|| {
            CoreError::Invalid(format!(
                "a secret needs {KEY_VAR}: the key that encrypts it (make one with `dynex \
                 variable new-key` and keep it where the server and the CLI read it)"
            ))
        })?)
    } else {
        None
    };
    let value = if std::io::stdin().is_terminal() {
        let prompt = format!("value of {name}: ");
        if secret {
            rpassword::prompt_password(prompt).context("cannot read the value")?
        } else {
            eprint!("{prompt}");
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the value")?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    } else {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the value from standard input")?;
        // `echo value | dynex variable set` adds a newline that is no part of the value.
        text.strip_suffix('\n')
            .map(|t| t.strip_suffix('\r').unwrap_or(t))
            .unwrap_or(&text)
            .to_string()
    };
    dynex.set_variable(name, &value, key.as_ref())?;
    if json {
        print_json(out, &json!({ "name": name, "secret": secret }))?;
    } else {
        writeln!(
            out,
            "set {}variable `{name}`",
            if secret { "secret " } else { "" }
        )?;
    }
    Ok(())
}

fn list(dynex: &Dynex, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let vars = dynex.list_variables()?;
    if json {
        print_json(out, &serde_json::to_value(&vars)?)?;
        return Ok(());
    }
    if vars.is_empty() {
        writeln!(out, "no variables (set one with `dynex variable set NAME`)")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = vars
        .iter()
        .map(|v| {
            vec![
                v.name.clone(),
                v.value
                    .clone()
                    .unwrap_or_else(|| "(secret, not shown)".to_string()),
                v.updated_at.clone(),
            ]
        })
        .collect();
    print_table(out, &["NAME", "VALUE", "UPDATED (UTC)"], &rows)?;
    Ok(())
}
