//! The audit log in the admin API: who changed what, when and from where.

use serde_json::json;

use super::op::{admin_op, data};
use crate::{Doc, closed_object};

/// Adds `GET /admin/api/audit`.
pub(super) fn add(doc: &mut Doc<'_>) {
    let text = |description: &str| json!({ "type": "string", "description": description });
    let entry = closed_object(
        &["id", "at", "actor", "source", "action", "target", "detail"],
        json!({
            "id": { "type": "integer", "description": "Ascending with time; pass the last one as `before` for the next page." },
            "at": text("When, in UTC (`2026-12-06T15:20:01.123Z`)."),
            "actor": text("The API key's, user's or client's name, or the CLI's operating-system user."),
            "source": text("The client's address, or `cli`."),
            "action": text("What, as `area.verb`: `entity.save`, `key.create`, `user.remove`, `token.revoke`, `job.import`, `data.update`…"),
            "target": text("What it was done to: an alias, a key's, user's or client's name."),
            "detail": { "type": "object", "description": "More, never a secret: a new key's scopes, written rows' identifiers." },
        }),
    );
    let mut op = admin_op(
        doc,
        "/admin/api/audit",
        "admin-list-audit",
        "List the audit log, newest first",
        None,
        (
            200,
            json!({
                "description": "Audit entries, newest first.",
                "content": { "application/json": { "schema": data(json!({ "type": "array", "items": entry })) } },
            }),
        ),
        &[400],
    );
    let query = |name: &str, description: &str, schema: serde_json::Value| json!({ "name": name, "in": "query", "description": description, "schema": schema });
    op["parameters"] = json!([
        query(
            "limit",
            "How many entries to list.",
            json!({ "type": "integer", "minimum": 1, "maximum": 1000, "default": 100 }),
        ),
        query(
            "before",
            "Only entries older than this id (the last `id` of the previous page).",
            json!({ "type": "integer" }),
        ),
        query(
            "action",
            "Only this action (`key.revoke`), or every action of an area (`key.`).",
            json!({ "type": "string" }),
        ),
        query(
            "actor",
            "Only entries by this actor.",
            json!({ "type": "string" })
        ),
        query(
            "target",
            "Only entries about this target.",
            json!({ "type": "string" })
        ),
    ]);
    doc.operation("/admin/api/audit", "get", op);
}
