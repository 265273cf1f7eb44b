//! `dynex user …`: dynex users (Back Office and API users) and their passwords.

use std::io::{BufRead, IsTerminal, Write};

use dynex_auth::Role;
use dynex_core::{CoreError, Dynex, UserInfo};
use serde_json::json;

use crate::UserCommand;
use crate::output::{print_json, print_table};

pub(crate) fn run(
    dynex: &Dynex,
    command: &UserCommand,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            name,
            role,
            password_stdin,
        } => {
            let password = read_password(name, *password_stdin)?;
            let user = dynex.add_user(name, &password, *role)?;
            if json {
                print_json(out, &user_json(&user))?;
            } else {
                writeln!(out, "added {} user `{}`", user.role, user.name)?;
            }
            Ok(())
        }
        UserCommand::List => list(dynex, json, out),
        UserCommand::Remove { name } => {
            dynex.remove_user(name)?;
            if json {
                print_json(out, &json!({ "removed": name }))?;
            } else {
                writeln!(out, "removed user `{name}`")?;
            }
            Ok(())
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            // Fail before asking for a password when the user does not exist.
            if !dynex.list_users()?.iter().any(|u| u.name == *name) {
                return Err(CoreError::NotFound {
                    kind: "user",
                    name: name.clone(),
                }
                .into());
            }
            let password = read_password(name, *password_stdin)?;
            dynex.set_user_password(name, &password)?;
            if json {
                print_json(out, &json!({ "passwordChanged": name }))?;
            } else {
                writeln!(out, "changed the password of user `{name}`")?;
            }
            Ok(())
        }
        UserCommand::RevokeTokens { name } => {
            dynex.revoke_user_tokens(name)?;
            if json {
                print_json(out, &json!({ "tokensRevoked": name }))?;
            } else {
                writeln!(out, "revoked every token of user `{name}`")?;
            }
            Ok(())
        }
    }
}

/// Reads the new password: one line of stdin with `--password-stdin`, else typed twice at a
/// terminal without echo. Never prints it.
fn read_password(name: &str, from_stdin: bool) -> anyhow::Result<String> {
    let invalid = |m: String| anyhow::Error::new(CoreError::Invalid(m));
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| invalid(format!("cannot read the password from stdin: {e}")))?;
        let line = line.strip_suffix('\n').unwrap_or(&line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        return Ok(line.to_string());
    }
    if !std::io::stdin().is_terminal() {
        return Err(invalid(
            "stdin is not a terminal, so the password cannot be asked for; \
             pipe it in and pass --password-stdin"
                .into(),
        ));
    }
    let prompt = |p: &str| {
        rpassword::prompt_password(p).map_err(|e| invalid(format!("cannot read the password: {e}")))
    };
    let first = prompt(&format!("New password for `{name}`: "))?;
    let second = prompt("Repeat the password: ")?;
    if first != second {
        return Err(invalid("the passwords do not match".into()));
    }
    Ok(first)
}

fn user_json(u: &UserInfo) -> serde_json::Value {
    json!({
        "name": u.name,
        "role": u.role.as_str(),
        "createdAt": u.created_at,
        "passwordChangedAt": u.password_changed_at,
    })
}

fn list(dynex: &Dynex, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let users = dynex.list_users()?;
    if json {
        print_json(
            out,
            &serde_json::Value::Array(users.iter().map(user_json).collect()),
        )?;
        return Ok(());
    }
    if users.is_empty() {
        eprintln!("no users; add one with `dynex user add NAME --role admin`");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            vec![
                u.name.clone(),
                u.role.to_string(),
                u.created_at.clone(),
                u.password_changed_at.clone(),
            ]
        })
        .collect();
    print_table(
        out,
        &["NAME", "ROLE", "CREATED (UTC)", "PASSWORD CHANGED (UTC)"],
        &rows,
    )?;
    Ok(())
}

/// Parses `--role`.
pub(crate) fn parse_role(s: &str) -> Result<Role, String> {
    s.trim().parse()
}
