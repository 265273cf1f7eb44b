//! The admin API under `/admin/api`: users, integration clients and API keys.

use serde_json::{Value, json};

use crate::errors::Routes;
use crate::{Doc, auth, errors};

/// Adds the admin routes.
pub(crate) fn add(doc: &mut Doc<'_>) {
    doc.tag(
        "admin",
        "Users, integration clients and API keys. Needs the `admin` scope. Secrets are shown \
         once, when created.",
    );
    let time = json!({ "type": "string", "description": "UTC, `YYYY-MM-DD HH:MM:SS`." });
    let scopes = json!({
        "type": "array",
        "items": {
            "type": "string",
            "description": "`admin`, `dynamic-entity:<read|write|delete>` or \
                            `dynamic-entity:<alias>:<read|write|delete>`.",
        },
    });
    let user = doc.schema(
        "dynex.User",
        json!({
            "type": "object",
            "required": ["name", "role", "created_at", "password_changed_at"],
            "properties": {
                "name": { "type": "string" },
                "role": { "type": "string", "enum": ["admin", "integrator"] },
                "created_at": time,
                "password_changed_at": time,
            },
            "additionalProperties": false,
        }),
    );
    let client = doc.schema(
        "dynex.Client",
        json!({
            "type": "object",
            "required": ["client_id", "scopes", "created_at"],
            "properties": { "client_id": { "type": "string" }, "scopes": scopes, "created_at": time },
            "additionalProperties": false,
        }),
    );
    let new_client = doc.schema(
        "dynex.NewClient",
        json!({
            "type": "object",
            "required": ["client_id", "client_secret", "scopes"],
            "properties": {
                "client_id": { "type": "string" },
                "client_secret": { "type": "string", "description": "Shown once: store it now." },
                "scopes": scopes,
            },
            "additionalProperties": false,
        }),
    );
    let nullable_time =
        json!({ "type": ["string", "null"], "description": "UTC, `YYYY-MM-DD HH:MM:SS`." });
    let key = doc.schema(
        "dynex.ApiKey",
        json!({
            "type": "object",
            "required": ["name", "prefix", "scopes", "valid_to", "created_at", "revoked_at"],
            "properties": {
                "name": { "type": "string" },
                "prefix": { "type": "string", "description": "The key's first characters." },
                "scopes": scopes,
                "valid_to": nullable_time,
                "created_at": time,
                "revoked_at": nullable_time,
            },
            "additionalProperties": false,
        }),
    );
    let new_key = doc.schema(
        "dynex.NewApiKey",
        json!({
            "type": "object",
            "required": ["name", "key", "scopes", "valid_to"],
            "properties": {
                "name": { "type": "string" },
                "key": { "type": "string", "description": "Shown once: store it now." },
                "scopes": scopes,
                "valid_to": nullable_time,
            },
            "additionalProperties": false,
        }),
    );

    let list = |what: &str, item: &Value| {
        (
            format!("List {what}"),
            json!({
                "description": format!("The {what}."),
                "content": { "application/json": { "schema": data(json!({"type": "array", "items": item})) } },
            }),
        )
    };
    let (summary, ok) = list("users", &user);
    add_op(
        doc,
        "/admin/api/users",
        "get",
        "admin-list-users",
        &summary,
        None,
        (200, ok),
        &[],
    );
    add_op(
        doc,
        "/admin/api/users",
        "post",
        "admin-add-user",
        "Add a user",
        Some(json!({
            "type": "object",
            "required": ["name", "password"],
            "properties": {
                "name": {
                    "type": "string",
                    "description": "1 to 64 characters of `A-Z a-z 0-9 . _ @ -`, unique ignoring \
                                    case.",
                },
                "password": {
                    "type": "string",
                    "format": "password",
                    "description": "At least 12 characters and 5 different ones; not the name \
                                    and not a common password.",
                },
                "role": { "type": "string", "enum": ["admin", "integrator"], "default": "integrator" },
            },
            "additionalProperties": false,
        })),
        created(
            &user,
            links(
                "name",
                "name",
                &[
                    ("SetPassword", "admin-set-password"),
                    ("RevokeTokens", "admin-revoke-user-tokens"),
                    ("Remove", "admin-remove-user"),
                ],
            ),
        ),
        &[400, 409],
    );
    add_op(
        doc,
        "/admin/api/users/{name}",
        "delete",
        "admin-remove-user",
        "Remove a user (its tokens are refused at once)",
        None,
        no_content(),
        &[404],
    );
    add_op(
        doc,
        "/admin/api/users/{name}/password",
        "put",
        "admin-set-password",
        "Set a user's password (revokes the user's tokens)",
        Some(json!({
            "type": "object",
            "required": ["password"],
            "properties": { "password": { "type": "string", "format": "password" } },
            "additionalProperties": false,
        })),
        no_content(),
        &[400, 404],
    );
    add_op(
        doc,
        "/admin/api/users/{name}/revoke-tokens",
        "post",
        "admin-revoke-user-tokens",
        "Revoke every token of a user",
        None,
        no_content(),
        &[404],
    );

    let (summary, ok) = list("clients", &client);
    add_op(
        doc,
        "/admin/api/clients",
        "get",
        "admin-list-clients",
        &summary,
        None,
        (200, ok),
        &[],
    );
    add_op(
        doc,
        "/admin/api/clients",
        "post",
        "admin-add-client",
        "Add an integration client",
        Some(json!({
            "type": "object",
            "required": ["client_id", "scopes"],
            "properties": {
                "client_id": {
                    "type": "string",
                    "description": "1 to 64 characters of `A-Z a-z 0-9 . _ @ -`.",
                },
                "scopes": scopes,
            },
            "additionalProperties": false,
        })),
        created(
            &new_client,
            links(
                "client_id",
                "id",
                &[
                    ("RevokeTokens", "admin-revoke-client-tokens"),
                    ("Remove", "admin-remove-client"),
                ],
            ),
        ),
        &[400, 409],
    );
    add_op(
        doc,
        "/admin/api/clients/{id}",
        "delete",
        "admin-remove-client",
        "Remove an integration client",
        None,
        no_content(),
        &[404],
    );
    add_op(
        doc,
        "/admin/api/clients/{id}/revoke-tokens",
        "post",
        "admin-revoke-client-tokens",
        "Revoke every token of a client",
        None,
        no_content(),
        &[404],
    );

    let (summary, ok) = list("API keys", &key);
    add_op(
        doc,
        "/admin/api/keys",
        "get",
        "admin-list-keys",
        &summary,
        None,
        (200, ok),
        &[],
    );
    add_op(
        doc,
        "/admin/api/keys",
        "post",
        "admin-create-key",
        "Create an API key",
        Some(json!({
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": { "type": "string", "description": "Unique; at most 255 bytes." },
                "scopes": {
                    "type": "array",
                    "items": scopes["items"],
                    "description": "Default: `dynamic-entity:read`, `dynamic-entity:write` and \
                                    `dynamic-entity:delete`.",
                },
                "valid_to": {
                    "type": ["string", "null"],
                    "description": "Expiry in UTC: `YYYY-MM-DD` (the end of that day), \
                                    `YYYY-MM-DD HH:MM:SS` or RFC 3339.",
                },
            },
            "additionalProperties": false,
        })),
        created(
            &new_key,
            links("name", "name", &[("Revoke", "admin-revoke-key")]),
        ),
        &[400, 409],
    );
    add_op(
        doc,
        "/admin/api/keys/{name}",
        "delete",
        "admin-revoke-key",
        "Revoke an API key",
        None,
        no_content(),
        &[404],
    );
}

/// `{"data": schema}`.
fn data(schema: Value) -> Value {
    json!({
        "type": "object",
        "required": ["data"],
        "properties": { "data": schema },
        "additionalProperties": false,
    })
}

fn created(item: &Value, links: Value) -> (u16, Value) {
    (
        201,
        json!({
            "description": "Created.",
            "content": { "application/json": { "schema": data(item.clone()) } },
            "links": links,
        }),
    )
}

/// Links from a created user, client or key to the operations on it, by the member `key` of
/// the answer's `data`, passed as the path parameter `parameter`.
fn links(key: &str, parameter: &str, operations: &[(&str, &str)]) -> Value {
    let mut out = serde_json::Map::new();
    for (name, operation) in operations {
        out.insert(
            (*name).to_string(),
            json!({
                "operationId": operation,
                "parameters": { parameter: format!("$response.body#/data/{key}") },
            }),
        );
    }
    Value::Object(out)
}

fn no_content() -> (u16, Value) {
    (204, json!({ "description": "Done." }))
}

/// Adds one admin operation: its path parameter (if any), body, success and error answers.
#[allow(clippy::too_many_arguments)]
fn add_op(
    doc: &mut Doc<'_>,
    path: &str,
    method: &str,
    id: &str,
    summary: &str,
    body: Option<Value>,
    success: (u16, Value),
    failures: &[u16],
) {
    let mut responses = serde_json::Map::new();
    let mut list = vec![success];
    for &status in failures {
        list.push((status, errors::response(doc, status, Routes::Admin)));
    }
    if body.is_some() {
        list.push((413, errors::response(doc, 413, Routes::Admin)));
    }
    list.extend(errors::common(doc, Routes::Admin));
    list.sort_by_key(|(s, _)| *s);
    for (status, response) in list {
        responses.insert(status.to_string(), response);
    }
    let mut op = json!({
        "tags": ["admin"],
        "operationId": id,
        "summary": summary,
        "security": auth::requirement(None, "admin"),
        "responses": responses,
    });
    let parameters: Vec<Value> = ["name", "id"]
        .into_iter()
        .filter(|p| path.contains(&format!("{{{p}}}")))
        .map(|p| json!({ "name": p, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect();
    if !parameters.is_empty() {
        op["parameters"] = json!(parameters);
    }
    if let Some(body) = body {
        op["requestBody"] = json!({
            "required": true,
            "content": { "application/json": { "schema": body } },
        });
    }
    doc.operation(path, method, op);
}
