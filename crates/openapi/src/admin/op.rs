//! Building blocks of the admin operations: the common answers, links from a created item to
//! the operations on it, and an operation with its security, parameters and error answers.

use serde_json::{Value, json};

use crate::errors::Routes;
use crate::{Doc, auth, closed_object, errors};

/// `schema` with a description (OpenAPI 3.1 allows siblings of `$ref`).
pub(super) fn add_description(mut schema: Value, description: &str) -> Value {
    schema["description"] = json!(description);
    schema
}

/// `{"data": schema}`.
pub(super) fn data(schema: Value) -> Value {
    closed_object(&["data"], json!({ "data": schema }))
}

/// The `201` answer with the created `item` in `data`, and `links` to the operations on it.
pub(super) fn created(item: &Value, links: Value) -> (u16, Value) {
    (
        201,
        json!({
            "description": "Created.",
            "content": { "application/json": { "schema": data(item.clone()) } },
            "links": links,
        }),
    )
}

/// Links from a created user, client, key or entity to the operations on it, by the member `key` of
/// the answer's `data`, passed as the path parameter `parameter`.
pub(super) fn links(key: &str, parameter: &str, operations: &[(&str, &str)]) -> Value {
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

/// The `204` answer of an operation that answers nothing.
pub(super) fn no_content() -> (u16, Value) {
    (204, json!({ "description": "Done." }))
}

/// Adds one admin operation: its path parameter (if any), JSON body, success and error answers.
#[allow(clippy::too_many_arguments)]
pub(super) fn add_op(
    doc: &mut Doc<'_>,
    path: &str,
    method: &str,
    id: &str,
    summary: &str,
    body: Option<Value>,
    success: (u16, Value),
    failures: &[u16],
) {
    let body = body.map(|schema| ("application/json", schema));
    let op = admin_op(doc, path, id, summary, body, success, failures);
    doc.operation(path, method, op);
}

/// Adds an operation on the item named in `path` that takes no body and answers nothing, or 404
/// when there is no such item.
pub(super) fn add_action(doc: &mut Doc<'_>, path: &str, method: &str, id: &str, summary: &str) {
    add_op(doc, path, method, id, summary, None, no_content(), &[404]);
}

/// One admin operation, for [`add_op`] or to complete first: its path parameter (if any), body
/// (media type and schema), success and error answers.
pub(super) fn admin_op(
    doc: &mut Doc<'_>,
    path: &str,
    id: &str,
    summary: &str,
    body: Option<(&str, Value)>,
    success: (u16, Value),
    failures: &[u16],
) -> Value {
    let mut responses = serde_json::Map::new();
    let mut list = vec![success];
    // Every admin route refuses a NUL character in its path or query parameters (1401).
    let mut failures = failures.to_vec();
    if !failures.contains(&400) {
        failures.push(400);
    }
    for status in failures {
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
    let parameters: Vec<Value> = ["name", "id", "alias"]
        .into_iter()
        .filter(|p| path.contains(&format!("{{{p}}}")))
        .map(|p| json!({ "name": p, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect();
    if !parameters.is_empty() {
        op["parameters"] = json!(parameters);
    }
    if let Some((media, body)) = body {
        op["requestBody"] = json!({
            "required": true,
            "content": { media: { "schema": body } },
        });
    }
    op
}
