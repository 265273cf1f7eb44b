//! The Data Exchange API operations of one entity, with Spryker's operation ids and tags.
//!
//! Which methods each route serves, and what they answer, follows the server's routes: GET,
//! POST, PATCH and PUT on `/{alias}`, GET, PATCH and PUT on `/{alias}/{id}`, and DELETE on both
//! only when the entity is deletable (otherwise the server answers 405).

use std::sync::Arc;

use dynex_schema::Entity;
use serde_json::{Map, Value, json};

use crate::errors::Routes;
use crate::schema::{Write, row, write_row};
use crate::{Doc, auth, errors, params, schema_ref};

/// Component name of a CSV import's summary.
const IMPORT_SUMMARY: &str = "dynex.ImportSummary";
/// Component name of the `links` of a keyset page.
const PAGE_LINKS: &str = "dynex.PageLinks";
/// Component name of the `meta` of a counted read.
const PAGE_META: &str = "dynex.PageMeta";

/// Adds the paths of `entity`.
pub(crate) fn add_entity(doc: &mut Doc<'_>, entity: &Arc<Entity>) {
    let alias = entity.alias().to_string();
    let tag = format!("dynamic-entity-{alias}");
    doc.tag(
        &tag,
        &format!(
            "Rows of `{alias}` (identifier `{}`){}.",
            entity.identifier().field_visible_name,
            if entity.config.definition.is_deletable {
                ""
            } else {
                "; not deletable"
            }
        ),
    );
    let collection = format!("{}/{alias}", doc.prefix());
    let one = format!("{collection}/{{id}}");
    let deletable = entity.config.definition.is_deletable;

    let op = get_collection(doc, entity, &tag);
    doc.operation(&collection, "get", op);
    for (method, write) in [
        ("post", Write::Create),
        ("patch", Write::Update),
        ("put", Write::Upsert),
    ] {
        let op = write_collection(doc, entity, &tag, write);
        doc.operation(&collection, method, op);
    }
    if deletable {
        let op = delete(doc, entity, &tag, false);
        doc.operation(&collection, "delete", op);
    }

    let op = get_one(doc, entity, &tag);
    doc.operation(&one, "get", op);
    for (method, write) in [("patch", Write::Update), ("put", Write::Upsert)] {
        let op = write_one(doc, entity, &tag, write);
        doc.operation(&one, method, op);
    }
    if deletable {
        let op = delete(doc, entity, &tag, true);
        doc.operation(&one, "delete", op);
    }
}

/// An operation's common members, `(id, summary, description)` in `text`, for an entity's
/// `alias` and the `scope` it needs.
fn operation(
    tag: &str,
    alias: &str,
    scope: &str,
    text: (String, String, &str),
) -> Map<String, Value> {
    let (id, summary, description) = text;
    let mut op = Map::new();
    op.insert("tags".into(), json!([tag]));
    op.insert("operationId".into(), json!(id));
    op.insert("summary".into(), json!(summary));
    op.insert("description".into(), json!(description));
    op.insert("security".into(), auth::requirement(Some(alias), scope));
    op
}

/// Responses from `(status, response)` pairs, in status order.
fn responses(mut list: Vec<(u16, Value)>) -> Value {
    list.sort_by_key(|(s, _)| *s);
    let mut out = Map::new();
    for (status, response) in list {
        out.insert(status.to_string(), response);
    }
    Value::Object(out)
}

/// A write's required request body: a JSON object whose `data` member is `data`.
fn data_body(data: Value) -> Value {
    json!({
        "required": true,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["data"],
                    "properties": { "data": data },
                },
            },
        },
    })
}

/// The responses of a read or a delete: `success`, the failures 400 and 404 and the common ones.
fn plain_responses(doc: &mut Doc<'_>, success: (u16, Value)) -> Value {
    let mut list = vec![
        success,
        (400, errors::response(doc, 400, Routes::Data)),
        (404, errors::response(doc, 404, Routes::Data)),
    ];
    list.extend(errors::common(doc, Routes::Data));
    responses(list)
}

/// A write's responses: `success`, the failures 400, 404 and 422 answering `refused`, 413 and
/// the common ones.
fn write_responses(doc: &mut Doc<'_>, success: (u16, Value), refused: &Value) -> Value {
    let failure = |status: u16| {
        json!({
            "description": errors::describe_status(status, Routes::Data),
            "content": { "application/json": { "schema": refused } },
        })
    };
    let mut list = vec![
        success,
        (400, failure(400)),
        (404, failure(404)),
        (422, failure(422)),
        (413, errors::response(doc, 413, Routes::Data)),
    ];
    list.extend(errors::common(doc, Routes::Data));
    responses(list)
}

/// `{"data": [rows]}`: what reads and writes of a collection answer.
fn rows_answer(doc: &mut Doc<'_>, entity: &Arc<Entity>) -> Value {
    doc.shared_schema(&format!("{}.rows", entity.alias()), |doc| {
        let rows = row(doc, entity);
        envelope(json!({ "type": "array", "items": rows }))
    })
}

/// `{"data": [rows], "links": …, "meta": …}`: what a collection GET answers. Only reads page or
/// count, so writes keep [`rows_answer`].
fn page_answer(doc: &mut Doc<'_>, entity: &Arc<Entity>) -> Value {
    doc.shared_schema(&format!("{}.page", entity.alias()), |doc| {
        let rows = row(doc, entity);
        let links = doc.shared_schema(PAGE_LINKS, |_| {
            json!({
                "type": "object",
                "description": "With keyset paging (`page[size]`, `page[after]`).",
                "properties": {
                    "next": {
                        "type": ["string", "null"],
                        "description": "The path and query of the next page, with its \
                                        `page[after]` cursor; null on the last page. An \
                                        `api_key` parameter is left out.",
                    },
                },
                "required": ["next"],
            })
        });
        let meta = doc.shared_schema(PAGE_META, |_| {
            json!({
                "type": "object",
                "description": "With `meta=count`.",
                "properties": {
                    "count": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "The rows matching the filters, regardless of the page.",
                    },
                },
                "required": ["count"],
            })
        });
        let mut answer = envelope(json!({ "type": "array", "items": rows }));
        answer["properties"]["links"] = links;
        answer["properties"]["meta"] = meta;
        answer
    })
}

/// `{"data": row}`: what reads and writes of one row answer.
fn row_answer(doc: &mut Doc<'_>, entity: &Arc<Entity>) -> Value {
    doc.shared_schema(&format!("{}.row", entity.alias()), |doc| {
        let row = row(doc, entity);
        envelope(row)
    })
}

/// `{"data": data}`.
fn envelope(data: Value) -> Value {
    json!({
        "type": "object",
        "required": ["data"],
        "properties": { "data": data },
        "additionalProperties": false,
    })
}

/// `{"data": …, "errors": […]}`: the answer of a per-row write that refused rows.
fn partial(doc: &mut Doc<'_>, data: Value) -> Value {
    let errors = errors::errors_ref(doc);
    json!({
        "type": "object",
        "description": "With `X-Is-Transactional: false`: the rows saved and the errors of the \
                        rows refused.",
        "required": ["data", "errors"],
        "properties": { "data": data, "errors": errors },
        "additionalProperties": false,
    })
}

/// The saved rows of a collection write and the errors of the refused ones.
fn rows_and_errors(doc: &mut Doc<'_>, entity: &Arc<Entity>) -> Value {
    doc.shared_schema(&format!("{}.rows-and-errors", entity.alias()), |doc| {
        let rows = row(doc, entity);
        partial(doc, json!({ "type": "array", "items": rows }))
    })
}

/// The saved row of a write on `/{id}` (null when refused) and the errors.
fn row_and_errors(doc: &mut Doc<'_>, entity: &Arc<Entity>) -> Value {
    doc.shared_schema(&format!("{}.row-and-errors", entity.alias()), |doc| {
        let row = row(doc, entity);
        partial(doc, json!({ "anyOf": [row, { "type": "null" }] }))
    })
}

fn get_collection(doc: &mut Doc<'_>, entity: &Arc<Entity>, tag: &str) -> Value {
    let alias = entity.alias();
    let rows = page_answer(doc, entity);
    let text = (
        format!("get-collection-dynamic-api-{alias}"),
        format!("Get a page of {alias}"),
        "Rows ordered by the identifier, or by `sort`. Pages by `page[offset]` and \
         `page[limit]`, or by keyset with `page[size]` and `page[after]` (the answer then \
         carries `links.next`); `meta=count` adds the number of matching rows. With \
         `Accept: text/csv` the answer is every matching row as CSV: filters, `sort` and \
         `fields[alias]` of the entity apply; `page`, `include` and `meta` are refused (code \
         1320).",
    );
    let mut op = operation(tag, alias, "read", text);
    op.insert(
        "parameters".into(),
        json!(params::collection_read(doc, entity)),
    );
    let rows_response = json!({
        "description": "The rows.",
        "content": {
            "application/json": { "schema": rows },
            "text/csv": {
                "schema": {
                    "type": "string",
                    "description": "A header line of visible field names, then one line per row.",
                },
            },
        },
    });
    let responses = plain_responses(doc, (200, rows_response));
    op.insert("responses".into(), responses);
    Value::Object(op)
}

fn get_one(doc: &mut Doc<'_>, entity: &Arc<Entity>, tag: &str) -> Value {
    let row = row_answer(doc, entity);
    let alias = entity.alias();
    let text = (
        format!("get-entity-dynamic-api-{alias}"),
        format!("Get one row of {alias}"),
        "The row with this identifier; `include` and filters apply as on the collection.",
    );
    let mut op = operation(tag, alias, "read", text);
    let mut parameters = vec![params::id(entity)];
    parameters.extend(params::one_read(doc, entity));
    parameters.push(params::if_none_match(doc));
    op.insert("parameters".into(), json!(parameters));
    let row_response = json!({
        "description": "The row.",
        "headers": {
            "ETag": {
                "description": "The row's entity tag, for `If-Match` on a write and \
                                `If-None-Match` on a read; not sent with `include` or \
                                `fields`.",
                "schema": { "type": "string", "pattern": "^\"[0-9a-f]{32}\"$" },
            },
        },
        "content": { "application/json": { "schema": row } },
    });
    let mut responses = plain_responses(doc, (200, row_response));
    add_response(
        &mut responses,
        304,
        json!({ "description": "Not modified: `If-None-Match` names the row's `ETag`." }),
    );
    op.insert("responses".into(), responses);
    Value::Object(op)
}

/// Adds a response to `responses`, keeping them in status order.
fn add_response(responses: &mut Value, status: u16, response: Value) {
    if let Some(map) = responses.as_object_mut() {
        map.insert(status.to_string(), response);
        let mut sorted: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
        // Statuses are three digits: their text sorts as their number.
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        map.extend(sorted);
    }
}

/// Adds the 412 of a conditional write to `responses`.
fn precondition_failed(doc: &mut Doc<'_>, responses: &mut Value) {
    let failed = errors::response(doc, 412, Routes::Data);
    add_response(responses, 412, failed);
}

/// The schemas of a CSV import's answers: the summary, and the summary with refused lines.
fn import_answers(doc: &mut Doc<'_>) -> (Value, Value) {
    if !doc.has_schema(IMPORT_SUMMARY) {
        let count = json!({ "type": "integer", "minimum": 0 });
        doc.schema(
            IMPORT_SUMMARY,
            json!({
                "type": "object",
                "description": "What a CSV import did.",
                "required": [
                    "entity", "mode", "dry_run", "atomic", "committed", "read", "inserted",
                    "updated", "unchanged", "rejected", "stopped_early", "skipped", "seconds",
                    "rows_per_second"
                ],
                "properties": {
                    "entity": { "type": "string" },
                    "mode": { "type": "string", "enum": ["insert", "upsert", "update"] },
                    "dry_run": { "type": "boolean" },
                    "atomic": { "type": "boolean" },
                    "committed": { "type": "boolean" },
                    "read": count,
                    "inserted": count,
                    "updated": count,
                    "unchanged": count,
                    "rejected": count,
                    "stopped_early": { "type": "boolean" },
                    "skipped": count,
                    "seconds": { "type": "number", "minimum": 0 },
                    "rows_per_second": { "type": "number", "minimum": 0 },
                },
                "additionalProperties": false,
            }),
        );
    }
    let summary = schema_ref(IMPORT_SUMMARY);
    let imported = doc.shared_schema("dynex.ImportResult", |_| envelope(summary.clone()));
    let refused = doc.shared_schema("dynex.ImportResultWithErrors", |doc| {
        partial(doc, summary.clone())
    });
    (imported, refused)
}

fn write_collection(doc: &mut Doc<'_>, entity: &Arc<Entity>, tag: &str, write: Write) -> Value {
    let alias = entity.alias();
    let (id, summary, description, success) = match write {
        Write::Create => (
            format!("save-collection-dynamic-api-{alias}"),
            format!("Create rows of {alias}"),
            "Creates the rows (and their nested rows), in one transaction unless \
             `X-Is-Transactional: false`. A `text/csv` body is imported instead: every line a \
             row, all or nothing unless `X-Is-Transactional: false`.",
            201,
        ),
        Write::Update => (
            format!("update-collection-dynamic-api-{alias}"),
            format!("Change rows of {alias}"),
            "Changes the fields sent of each row, named by its identifier. A `text/csv` body is \
             imported in update mode.",
            200,
        ),
        Write::Upsert => (
            format!("upsert-collection-dynamic-api-{alias}"),
            format!("Replace or create rows of {alias}"),
            "Replaces each row whose identifier exists (editable fields not sent become NULL) \
             and creates the others. A `text/csv` body is imported in upsert mode (only the \
             file's columns change).",
            200,
        ),
    };
    let mut op = operation(tag, alias, "write", (id, summary, description));
    let parameters = vec![params::transactional(doc), params::csv_key(doc)];
    op.insert("parameters".into(), json!(parameters));
    let item = write_row(doc, entity, write, false);
    let mut body = data_body(json!({ "type": "array", "minItems": 1, "items": item }));
    body["content"]["text/csv"] = json!({
        "schema": {
            "type": "string",
            "description": "A header line of visible field names, then one row per line.",
        },
    });
    op.insert("requestBody".into(), body);
    let saved = doc.shared_schema(&format!("{alias}.saved"), |doc| {
        let rows = rows_answer(doc, entity);
        let refused = rows_and_errors(doc, entity);
        let (imported, import_refused) = import_answers(doc);
        json!({ "anyOf": [rows, refused, imported, import_refused] })
    });
    let refused = doc.shared_schema(&format!("{alias}.refused"), |doc| {
        let errors = errors::errors_ref(doc);
        let refused = rows_and_errors(doc, entity);
        let (_, import_refused) = import_answers(doc);
        json!({ "anyOf": [errors, refused, import_refused] })
    });
    let mut saved_response = json!({
        "description": "The saved rows, as a GET returns them, with the nested rows \
                        sent. With `X-Is-Transactional: false`, also the errors of the \
                        refused rows. For a CSV body, the import's summary.",
        "content": { "application/json": { "schema": saved } },
    });
    if write != Write::Update {
        saved_response["links"] = links_to_row(entity);
    }
    let responses = write_responses(doc, (success, saved_response), &refused);
    op.insert("responses".into(), responses);
    Value::Object(op)
}

/// Links from a write's answer to the operations on its first saved row, by its identifier.
fn links_to_row(entity: &Entity) -> Value {
    let alias = entity.alias();
    // A JSON pointer escapes `~` and `/` in member names.
    let id = entity
        .identifier()
        .field_visible_name
        .replace('~', "~0")
        .replace('/', "~1");
    let parameters = json!({ "id": format!("$response.body#/data/0/{id}") });
    let mut links = serde_json::Map::new();
    let mut operations = vec![
        ("GetSaved", format!("get-entity-dynamic-api-{alias}")),
        ("UpdateSaved", format!("update-entity-dynamic-api-{alias}")),
        ("UpsertSaved", format!("upsert-entity-dynamic-api-{alias}")),
    ];
    if entity.config.definition.is_deletable {
        operations.push(("DeleteSaved", format!("delete-entity-dynamic-api-{alias}")));
    }
    for (name, operation) in operations {
        links.insert(
            name.to_string(),
            json!({
                "operationId": operation,
                "parameters": parameters,
                "description": "The first row saved.",
            }),
        );
    }
    Value::Object(links)
}

fn write_one(doc: &mut Doc<'_>, entity: &Arc<Entity>, tag: &str, write: Write) -> Value {
    let alias = entity.alias();
    let (id, summary, description) = match write {
        Write::Update => (
            format!("update-entity-dynamic-api-{alias}"),
            format!("Change one row of {alias}"),
            "Changes the fields sent of the row named in the path.",
        ),
        _ => (
            format!("upsert-entity-dynamic-api-{alias}"),
            format!("Replace or create one row of {alias}"),
            "Replaces the row named in the path (editable fields not sent become NULL), or \
             creates it when it does not exist and the identifier is creatable.",
        ),
    };
    let mut op = operation(tag, alias, "write", (id, summary, description));
    op.insert(
        "parameters".into(),
        json!([
            params::id(entity),
            params::transactional(doc),
            params::if_match(doc),
            params::if_none_match(doc),
        ]),
    );
    let item = write_row(doc, entity, write, true);
    op.insert("requestBody".into(), data_body(item));
    let saved = row_answer(doc, entity);
    let refused = doc.shared_schema(&format!("{alias}.refused-by-id"), |doc| {
        let errors = errors::errors_ref(doc);
        let refused = row_and_errors(doc, entity);
        json!({ "anyOf": [errors, refused] })
    });
    let saved_response = json!({
        "description": "The saved row, as a GET returns it.",
        "content": { "application/json": { "schema": saved } },
    });
    let mut responses = write_responses(doc, (200, saved_response), &refused);
    precondition_failed(doc, &mut responses);
    op.insert("responses".into(), responses);
    Value::Object(op)
}

fn delete(doc: &mut Doc<'_>, entity: &Arc<Entity>, tag: &str, by_id: bool) -> Value {
    let alias = entity.alias();
    let (id, summary, description) = if by_id {
        (
            format!("delete-entity-dynamic-api-{alias}"),
            format!("Delete one row of {alias}"),
            "Deletes the row named in the path. A row still referenced by other rows is not \
             deleted (code 1317).",
        )
    } else {
        (
            format!("delete-collection-dynamic-api-{alias}"),
            format!("Delete rows of {alias}"),
            "Deletes every row matching the filters, atomically: if any of them is still \
             referenced, nothing is deleted (code 1317, one error per row). At least one filter \
             is needed (code 1323); `page` and `include` are refused (code 1320).",
        )
    };
    let mut op = operation(tag, alias, "delete", (id, summary, description));
    let parameters = if by_id {
        vec![params::id(entity), params::if_match(doc)]
    } else {
        params::delete_collection(doc, entity)
    };
    op.insert("parameters".into(), json!(parameters));
    let mut responses = plain_responses(doc, (204, json!({ "description": "Deleted." })));
    if by_id {
        precondition_failed(doc, &mut responses);
    }
    op.insert("responses".into(), responses);
    Value::Object(op)
}
