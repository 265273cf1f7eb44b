//! The overview in the admin API: the back office's landing page in one answer.

use serde_json::json;

use super::op::{add_op, data};
use crate::{Doc, closed_object, schema_ref};

/// Adds `GET /admin/api/overview`; the job schema comes from the job routes, added before.
pub(super) fn add(doc: &mut Doc<'_>) {
    let count =
        |description: &str| json!({ "type": "integer", "minimum": 0, "description": description });
    let entity = closed_object(
        &["alias", "table", "rows", "rowsCapped"],
        json!({
            "alias": { "type": "string" },
            "table": { "type": "string" },
            "rows": {
                "type": ["integer", "null"],
                "minimum": 0,
                "description": "The table's rows, counted up to `rowCountCap`; `null` when the \
                                credentials lack the entity's read scope or the database does \
                                not answer.",
            },
            "rowsCapped": {
                "type": "boolean",
                "description": "The table holds more than `rowCountCap` rows; `rows` is the cap.",
            },
        }),
    );
    let minute = closed_object(
        &["start", "requests", "clientErrors", "serverErrors"],
        json!({
            "start": count("The minute's start, in seconds since the Unix epoch."),
            "requests": count("Requests this instance answered in that minute."),
            "clientErrors": count("Of those, answered with a 4xx status."),
            "serverErrors": count("Of those, answered with a 5xx status."),
        }),
    );
    let pool = closed_object(
        &["connections", "idle", "max", "waiting"],
        json!({
            "connections": count("Connections open, in use or idle."),
            "idle": count("Open connections not in use."),
            "max": count("The most connections the pool opens."),
            "waiting": count("Callers waiting for a connection."),
        }),
    );
    let health = closed_object(
        &["database", "error", "backend", "configVersion", "pool"],
        json!({
            "database": {
                "type": "string",
                "enum": ["ready", "unavailable"],
                "description": "What `/health/ready` would answer.",
            },
            "error": {
                "type": ["string", "null"],
                "description": "That the database does not answer; the cause is in the server's log.",
            },
            "backend": { "type": "string", "enum": ["sqlite", "postgres", "mysql"] },
            "configVersion": { "type": "integer", "description": "The configuration version in force." },
            "pool": pool,
        }),
    );
    let overview = closed_object(
        &[
            "entities",
            "rowCountCap",
            "jobs",
            "requestsCounted",
            "requests",
            "health",
        ],
        json!({
            "entities": {
                "type": "array",
                "description": "The served entities, by alias.",
                "items": entity,
            },
            "rowCountCap": count("The most rows counted per entity."),
            "jobs": {
                "type": "array",
                "description": "The latest 10 jobs, newest first.",
                "items": schema_ref("dynex.Job"),
            },
            "requestsCounted": {
                "type": "boolean",
                "description": "Whether this instance counts its requests: not with `--metrics off`, \
                                and then `requests` holds only zeros.",
            },
            "requests": {
                "type": "array",
                "description": "This server instance's requests over the last hour, one entry a \
                                minute, oldest first (60 entries).",
                "items": minute,
            },
            "health": health,
        }),
    );
    add_op(
        doc,
        "/admin/api/overview",
        "get",
        "admin-overview",
        "Show the served entities with their row counts, the latest jobs, the last hour's \
         requests and the database's health",
        None,
        (
            200,
            json!({
                "description": "The overview.",
                "content": { "application/json": { "schema": data(overview) } },
            }),
        ),
        &[],
    );
}
