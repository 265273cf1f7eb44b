//! The parameters of the Data Exchange API: the query grammar of reads (filters, paging,
//! `include`), the path identifier and the write headers.
//!
//! Every query parameter the server reads is described here, so that a new one (sorting,
//! sparse fields, filter operators, a cursor) is added in one place: [`collection_read`] for
//! collection reads, [`filter_value`] for what a filter value may be.

use std::sync::Arc;

use dynex_schema::{Entity, Field, FieldType};
use serde_json::{Value, json};

use crate::Doc;
use crate::schema::{component_part, relations, value};

/// How deep `include` chains are listed; the server accepts any depth.
const INCLUDE_DEPTH: usize = 3;
/// At most this many `include` chains are listed per entity.
const INCLUDE_CHAINS: usize = 100;

/// The query parameters of `GET /{alias}`: filters, paging and `include`.
pub(crate) fn collection_read(doc: &mut Doc<'_>, entity: &Arc<Entity>) -> Vec<Value> {
    let mut out = filters(doc, entity);
    out.push(page_offset(doc));
    out.push(page_limit(doc));
    out.extend(include(doc, entity));
    out
}

/// The query parameters of `GET /{alias}/{id}`: `include` and filters.
pub(crate) fn one_read(doc: &mut Doc<'_>, entity: &Arc<Entity>) -> Vec<Value> {
    let mut out: Vec<Value> = include(doc, entity).into_iter().collect();
    out.extend(filters(doc, entity));
    out
}

/// The query parameters of `DELETE /{alias}`: the filters choosing the rows.
pub(crate) fn delete_collection(doc: &mut Doc<'_>, entity: &Entity) -> Vec<Value> {
    filters(doc, entity)
}

/// One `filter[alias.field]` parameter per field, each a component the reads and deletes of the
/// entity share.
fn filters(doc: &mut Doc<'_>, entity: &Entity) -> Vec<Value> {
    let mut names: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for (i, f) in entity.fields().iter().enumerate() {
        let mut name = format!(
            "{}.filter.{}",
            entity.alias(),
            component_part(&f.field_visible_name)
        );
        // Visible names that differ only in characters a component name cannot hold.
        if names.contains(&name) {
            name = format!("{name}-{i}");
        }
        names.push(name.clone());
        out.push(doc.parameter(&name, |_| filter(entity, f)));
    }
    out
}

/// The `filter[alias.field]` parameter of `f`.
fn filter(entity: &Entity, f: &Field) -> Value {
    json!({
        "name": format!("filter[{}.{}]", entity.alias(), f.field_visible_name),
        "in": "query",
        "description": format!(
            "Keeps the rows whose `{field}` equals the value, or, with a JSON object \
             `{{\"in\": [...]}}`, is one of the values (`null` in the list matches \
             NULL). The part before the dot is not checked (as in Spryker) and \
             `filter[{field}]` works too. Several filters are combined with AND.",
            field = f.field_visible_name
        ),
        "schema": filter_value(f),
    })
}

/// What a filter value may be: the field's value as text, or a JSON `{"in": [...]}` object.
fn filter_value(f: &Field) -> Value {
    let mut scalar = value(f, false, false);
    scalar.remove("description");
    scalar.remove("examples");
    if f.ty == FieldType::DateTime {
        // Filters take the same forms as writes (`T`, a date alone).
        let mut written = value(f, false, true);
        if let Some(p) = written.remove("pattern") {
            scalar.insert("pattern".into(), p);
        }
    }
    let items = {
        let mut item = value(f, true, false);
        item.remove("description");
        item.remove("examples");
        item.remove("pattern");
        item.remove("format");
        Value::Object(item)
    };
    let in_list = json!({
        "type": "string",
        "description": "A JSON object `{\"in\": [...]}`.",
        "contentMediaType": "application/json",
        "contentSchema": {
            "type": "object",
            "required": ["in"],
            "properties": { "in": { "type": "array", "items": items } },
            "additionalProperties": false,
        },
        "pattern": r#"^\s*\{\s*"[iI][nN]"\s*:\s*\[.*\]\s*\}\s*$"#,
    });
    if matches!(f.ty, FieldType::String | FieldType::Json) {
        // Any text is a value of a string field; one that is a JSON `in` object is read as one.
        json!({ "type": "string" })
    } else {
        json!({ "anyOf": [Value::Object(scalar), in_list] })
    }
}

fn page_offset(doc: &mut Doc<'_>) -> Value {
    doc.parameter("page.offset", |_| {
        json!({
            "name": "page[offset]",
            "in": "query",
            "description": "Rows to skip. Works without `page[limit]`.",
            "schema": { "type": "integer", "minimum": 0, "default": 0 },
        })
    })
}

fn page_limit(doc: &mut Doc<'_>) -> Value {
    doc.parameter("page.limit", |doc| {
        let o = doc.options;
        json!({
            "name": "page[limit]",
            "in": "query",
            "description": format!(
                "Rows per page, at most {}; works without `page[offset]`. A larger value is a \
                 400 with code 1320.",
                o.page_limit_max
            ),
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": o.page_limit_max,
                "default": o.page_limit_default,
            },
        })
    })
}

/// `include`, when the entity has relations to served entities.
fn include(doc: &Doc<'_>, entity: &Arc<Entity>) -> Option<Value> {
    let chains = include_chains(doc, entity);
    if chains.is_empty() {
        return None;
    }
    Some(json!({
        "name": "include",
        "in": "query",
        "description": "Relations whose rows are loaded and nested under the relation's name, \
                        comma-separated; `.` walks down a chain (`rel.child`). Each included \
                        entity needs its read scope too. Chains up to three levels are listed; \
                        deeper ones work as well.",
        "style": "form",
        "explode": false,
        "schema": {
            "type": "array",
            "uniqueItems": true,
            "items": { "type": "string", "enum": chains },
        },
    }))
}

/// The relation chains `include` accepts from `entity`, down to [`INCLUDE_DEPTH`] levels, never
/// through an entity twice (relations may form cycles).
pub(crate) fn include_chains(doc: &Doc<'_>, entity: &Arc<Entity>) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack: Vec<(Arc<Entity>, String, Vec<String>)> = vec![(
        entity.clone(),
        String::new(),
        vec![entity.alias().to_string()],
    )];
    while let Some((current, prefix, seen)) = stack.pop() {
        for (relation, child) in relations(doc, &current).into_iter().rev() {
            if out.len() >= INCLUDE_CHAINS {
                break;
            }
            let chain = if prefix.is_empty() {
                relation.name.clone()
            } else {
                format!("{prefix}.{}", relation.name)
            };
            if seen.len() < INCLUDE_DEPTH && !seen.iter().any(|a| a == child.alias()) {
                let mut seen = seen.clone();
                seen.push(child.alias().to_string());
                stack.push((child.clone(), chain.clone(), seen));
            }
            out.push(chain);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The `{id}` path parameter, typed as the entity's identifier.
pub(crate) fn id(entity: &Entity) -> Value {
    let mut schema = value(entity.identifier(), false, false);
    schema.remove("description");
    schema.remove("readOnly");
    json!({
        "name": "id",
        "in": "path",
        "required": true,
        "description": format!(
            "The row's identifier (`{}`). An id that cannot be of its type names no row.",
            entity.identifier().field_visible_name
        ),
        "schema": schema,
    })
}

/// `X-Is-Transactional`, the header of the per-row mode of writes.
pub(crate) fn transactional(doc: &mut Doc<'_>) -> Value {
    doc.parameter("X-Is-Transactional", |_| {
        json!({
            "name": "X-Is-Transactional",
            "in": "header",
            "description": "`false` (or `0`) saves each root row (with its nested rows) on its \
                            own and answers `{\"data\", \"errors\"}` when some are refused; \
                            anything else, or no header, is one transaction for the request.",
            "schema": { "type": "string", "enum": ["true", "false", "1", "0"] },
        })
    })
}

/// `key`, the field that matches rows in CSV imports.
pub(crate) fn csv_key(doc: &mut Doc<'_>) -> Value {
    doc.parameter("csv.key", |_| {
        json!({
            "name": "key",
            "in": "query",
            "description": "CSV bodies only: the field (visible name) that matches rows in \
                            PATCH and PUT imports, such as a unique SKU; default: the \
                            identifier.",
            "schema": { "type": "string" },
        })
    })
}
