//! The admin routes that manage who may call the API: users, integration clients and API
//! keys.

use serde_json::{Value, json};

use super::op::{add_action, add_op, created, data, links, no_content};
use crate::{Doc, closed_object};

/// Adds the user, client and API key routes.
pub(super) fn add(doc: &mut Doc<'_>) {
    let time = json!({ "type": "string", "description": "UTC, `YYYY-MM-DD HH:MM:SS`." });
    let scopes = json!({
        "type": "array",
        "items": {
            "type": "string",
            "description": "`admin`, `dynamic-entity:<read|write|delete>` or \
                            `dynamic-entity:<alias>:<read|write|delete>`.",
        },
    });
    let user = doc.closed_schema(
        "dynex.User",
        &["name", "role", "created_at", "password_changed_at"],
        json!({
            "name": { "type": "string" },
            "role": { "type": "string", "enum": ["admin", "integrator"] },
            "created_at": time,
            "password_changed_at": time,
        }),
    );
    let client = doc.closed_schema(
        "dynex.Client",
        &["client_id", "scopes", "created_at"],
        json!({ "client_id": { "type": "string" }, "scopes": scopes, "created_at": time }),
    );
    let new_client = doc.closed_schema(
        "dynex.NewClient",
        &["client_id", "client_secret", "scopes"],
        json!({
            "client_id": { "type": "string" },
            "client_secret": { "type": "string", "description": "Shown once: store it now." },
            "scopes": scopes,
        }),
    );
    let nullable_time =
        json!({ "type": ["string", "null"], "description": "UTC, `YYYY-MM-DD HH:MM:SS`." });
    let key = doc.closed_schema(
        "dynex.ApiKey",
        &[
            "name",
            "prefix",
            "scopes",
            "valid_to",
            "created_at",
            "revoked_at",
        ],
        json!({
            "name": { "type": "string" },
            "prefix": { "type": "string", "description": "The key's first characters." },
            "scopes": scopes,
            "valid_to": nullable_time,
            "created_at": time,
            "revoked_at": nullable_time,
        }),
    );
    let new_key = doc.closed_schema(
        "dynex.NewApiKey",
        &["name", "key", "scopes", "valid_to"],
        json!({
            "name": { "type": "string" },
            "key": { "type": "string", "description": "Shown once: store it now." },
            "scopes": scopes,
            "valid_to": nullable_time,
        }),
    );

    add_list(doc, "/admin/api/users", "admin-list-users", "users", &user);
    add_op(
        doc,
        "/admin/api/users",
        "post",
        "admin-add-user",
        "Add a user",
        Some(closed_object(
            &["name", "password"],
            json!({
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
            }),
        )),
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
    add_action(
        doc,
        "/admin/api/users/{name}",
        "delete",
        "admin-remove-user",
        "Remove a user (its tokens are refused at once)",
    );
    add_op(
        doc,
        "/admin/api/users/{name}/password",
        "put",
        "admin-set-password",
        "Set a user's password (revokes the user's tokens)",
        Some(closed_object(
            &["password"],
            json!({ "password": { "type": "string", "format": "password" } }),
        )),
        no_content(),
        &[400, 404],
    );
    add_action(
        doc,
        "/admin/api/users/{name}/revoke-tokens",
        "post",
        "admin-revoke-user-tokens",
        "Revoke every token of a user",
    );

    add_list(
        doc,
        "/admin/api/clients",
        "admin-list-clients",
        "clients",
        &client,
    );
    add_op(
        doc,
        "/admin/api/clients",
        "post",
        "admin-add-client",
        "Add an integration client",
        Some(closed_object(
            &["client_id", "scopes"],
            json!({
                "client_id": {
                    "type": "string",
                    "description": "1 to 64 characters of `A-Z a-z 0-9 . _ @ -`.",
                },
                "scopes": scopes,
            }),
        )),
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
    add_action(
        doc,
        "/admin/api/clients/{id}",
        "delete",
        "admin-remove-client",
        "Remove an integration client",
    );
    add_action(
        doc,
        "/admin/api/clients/{id}/revoke-tokens",
        "post",
        "admin-revoke-client-tokens",
        "Revoke every token of a client",
    );

    add_list(doc, "/admin/api/keys", "admin-list-keys", "API keys", &key);
    add_op(
        doc,
        "/admin/api/keys",
        "post",
        "admin-create-key",
        "Create an API key",
        Some(closed_object(
            &["name"],
            json!({
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
            }),
        )),
        created(
            &new_key,
            links("name", "name", &[("Revoke", "admin-revoke-key")]),
        ),
        &[400, 409],
    );
    add_action(
        doc,
        "/admin/api/keys/{name}",
        "delete",
        "admin-revoke-key",
        "Revoke an API key",
    );
}

/// Adds the operation at `path` that lists every one of `what`, each as `item`.
fn add_list(doc: &mut Doc<'_>, path: &str, id: &str, what: &str, item: &Value) {
    let ok = json!({
        "description": format!("The {what}."),
        "content": { "application/json": { "schema": data(json!({"type": "array", "items": item})) } },
    });
    add_op(
        doc,
        path,
        "get",
        id,
        &format!("List {what}"),
        None,
        (200, ok),
        &[],
    );
}
