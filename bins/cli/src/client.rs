//! `dynex client …`: integration clients (OAuth 2.0 client credentials grant).

use std::io::Write;

use dynex_auth::Scope;
use dynex_core::Dynex;
use serde_json::json;

use crate::ClientCommand;
use crate::output::{print_json, print_table};

pub(crate) fn run(
    dynex: &Dynex,
    command: &ClientCommand,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match command {
        ClientCommand::Add { id, scopes } => add(dynex, id, scopes, json, out),
        ClientCommand::List => list(dynex, json, out),
        ClientCommand::Remove { id } => {
            dynex.remove_client(id)?;
            if json {
                print_json(out, &json!({ "removed": id }))?;
            } else {
                writeln!(out, "removed client `{id}`")?;
            }
            Ok(())
        }
        ClientCommand::RevokeTokens { id } => {
            dynex.revoke_client_tokens(id)?;
            if json {
                print_json(out, &json!({ "tokensRevoked": id }))?;
            } else {
                writeln!(out, "revoked every token of client `{id}`")?;
            }
            Ok(())
        }
    }
}

fn add(
    dynex: &Dynex,
    id: &str,
    scopes: &[Scope],
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let client = dynex.add_client(id, scopes)?;
    if json {
        print_json(
            out,
            &json!({
                "client_id": client.client_id,
                "client_secret": client.client_secret,
                "scopes": client.scopes,
            }),
        )?;
        return Ok(());
    }
    writeln!(out, "Added client `{}`", client.client_id)?;
    writeln!(out, "  scopes: {}", client.scopes.join(" "))?;
    writeln!(out)?;
    writeln!(out, "    {}", client.client_secret)?;
    writeln!(out)?;
    writeln!(
        out,
        "Store this secret now: it is shown once and will not be shown again."
    )?;
    writeln!(out, "Example (get an access token):")?;
    writeln!(
        out,
        "    curl -u {}:{} -d grant_type=client_credentials http://127.0.0.1:8080/token",
        client.client_id, client.client_secret
    )?;
    Ok(())
}

fn list(dynex: &Dynex, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let clients = dynex.list_clients()?;
    if json {
        print_json(out, &serde_json::to_value(&clients)?)?;
        return Ok(());
    }
    if clients.is_empty() {
        eprintln!("no clients; add one with `dynex client add ID --scope dynamic-entity:read`");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = clients
        .iter()
        .map(|c| {
            vec![
                c.client_id.clone(),
                c.created_at.clone(),
                c.scopes.join(" "),
            ]
        })
        .collect();
    print_table(out, &["CLIENT ID", "CREATED (UTC)", "SCOPES"], &rows)?;
    Ok(())
}
