//! The parameters of the Data Exchange API: the query grammar of reads (filters, paging,
//! `include`), the path identifier and the write headers.
//!
//! Every query parameter the server reads is described here, so that a new one is added in one
//! place: [`collection_read`] for collection reads, [`filter_value`] for what a filter value may
//! be.

use std::sync::Arc;

use dynex_schema::{ColumnKind, Entity, Field, FieldType};
use serde_json::{Map, Value, json};

use crate::Doc;
use crate::schema::{component_part, relations, value};

/// How deep `include` chains are listed; the server accepts any depth.
const INCLUDE_DEPTH: usize = 3;
/// At most this many `include` chains are listed per entity.
const INCLUDE_CHAINS: usize = 100;

/// The query parameters of `GET /{alias}`: filters, sorting, sparse fields, both kinds of
/// paging, `include` and counting.
pub(crate) fn collection_read(doc: &mut Doc<'_>, entity: &Arc<Entity>) -> Vec<Value> {
    let mut out = filters(doc, entity);
    out.push(filter_or(doc, entity));
    out.push(sort(doc, entity));
    out.extend(sparse_fields(doc, entity));
    out.push(page_offset(doc));
    out.push(page_limit(doc));
    out.push(page_size(doc));
    out.push(page_after(doc));
    out.extend(include(doc, entity));
    out.push(meta(doc));
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
    let field = &f.field_visible_name;
    let ops = applicable_operators(entity, f);
    json!({
        "name": format!("filter[{}.{field}]", entity.alias()),
        "in": "query",
        "description": format!(
            "Keeps the rows whose `{field}` equals the value. A JSON object of operators, ANDed, \
             compares otherwise, such as `{{\"gte\": 10, \"lt\": 20}}` or `{{\"in\": [...]}}` \
             (`null` in the list matches NULL); this field takes {list}. Operator names ignore \
             case. An operator that does not exist or does not apply to the field is a 400 with \
             code 1325, a value of the wrong type one with code 1319. The part before the dot is \
             not checked (as in Spryker) and `filter[{field}]` works too; \
             `filter[relation.field]` keeps the rows having a related row that matches (and \
             needs the read scope of the related entity). Several filters are combined with \
             AND; the `in` and `nin` lists of a request hold at most 1000 values in all (code \
             1320 beyond).",
            list = ops.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", "),
        ),
        "schema": filter_value(entity, f),
    })
}

/// Whether the field holds JSON, by its type or by its live column: such values have no order
/// and are no text to match patterns against.
fn holds_json(entity: &Entity, f: &Field) -> bool {
    f.ty == FieldType::Json
        || entity
            .column(&f.field_name)
            .is_some_and(|c| c.kind == ColumnKind::Json)
}

/// The operators the server takes on `f`, in the order the API documents them.
fn applicable_operators(entity: &Entity, f: &Field) -> Vec<&'static str> {
    let json = holds_json(entity, f);
    let mut out = vec!["eq", "neq"];
    if !json {
        out.extend(["gt", "gte", "lt", "lte"]);
    }
    out.extend(["in", "nin"]);
    if f.ty == FieldType::String && !json {
        out.extend(["like", "ilike"]);
    }
    out.push("isNull");
    out
}

/// What a filter value may be: the field's value as text, or a JSON object of operators.
///
/// Any text is a value of a string or JSON field, so for those the operator object only
/// documents what the server reads a JSON object as.
fn filter_value(entity: &Entity, f: &Field) -> Value {
    let operators = json!({
        "type": "string",
        "description": "A JSON object of operators, such as `{\"gte\": 10, \"lt\": 20}`.",
        "contentMediaType": "application/json",
        "contentSchema": operator_object(entity, f),
        "pattern": r"^\s*\{[\s\S]*\}\s*$",
    });
    if matches!(f.ty, FieldType::String | FieldType::Json) {
        return json!({ "anyOf": [{ "type": "string" }, operators] });
    }
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
    json!({ "anyOf": [Value::Object(scalar), operators] })
}

/// The JSON object of operators a filter on `f` takes, each with the value it compares with.
fn operator_object(entity: &Entity, f: &Field) -> Value {
    let one = operand(f, false);
    let one_or_null = operand(f, true);
    let list = json!({ "type": "array", "items": one_or_null });
    let mut properties = Map::new();
    for op in applicable_operators(entity, f) {
        let schema = match op {
            "eq" | "neq" => one_or_null.clone(),
            "in" | "nin" => list.clone(),
            "like" | "ilike" => json!({
                "type": "string",
                "description": "`%` matches any run of characters, `_` one, `\\` makes the next \
                                one literal.",
            }),
            "isNull" => json!({ "type": "boolean" }),
            _ => one.clone(),
        };
        properties.insert(op.to_string(), schema);
    }
    json!({
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
        "minProperties": 1,
    })
}

/// A value compared with `f` inside an operator object: a JSON value of the field's type.
fn operand(f: &Field, nullable: bool) -> Value {
    let mut s = value(f, nullable, false);
    s.remove("description");
    s.remove("examples");
    s.remove("readOnly");
    match f.ty {
        FieldType::DateTime => {
            let mut written = value(f, false, true);
            if let Some(p) = written.remove("pattern") {
                s.insert("pattern".into(), p);
            }
        }
        FieldType::Decimal => {
            // A JSON number is read as the decimal it spells; only strings need the pattern.
            let types = if nullable {
                json!(["string", "number", "null"])
            } else {
                json!(["string", "number"])
            };
            s.insert("type".into(), types);
        }
        _ => {}
    }
    Value::Object(s)
}

/// `filter[or]`: groups of conditions of which a row must meet one.
fn filter_or(doc: &mut Doc<'_>, entity: &Entity) -> Value {
    doc.parameter(&format!("{}.filter-or", entity.alias()), |_| {
        let example = or_example(entity).to_string();
        json!({
            "name": "filter[or]",
            "in": "query",
            "description": format!(
                "Keeps the rows meeting any of the groups: a JSON array of objects, each mapping \
                 fields (named as in `filter[…]`: a visible name, `identifier`, or \
                 `relation.field` for a related row) to a value (equality) or an operator \
                 object; the members of a group are ANDed. A member named `or` nests another \
                 array of groups. Several `filter[or]` are ANDed with each other and with the \
                 other filters. A request holds at most 100 conditions and 1000 values in its \
                 `in` and `nin` lists, and groups and relation filters nest at most 4 deep (code \
                 1320 beyond). Example: `{example}`."
            ),
            "schema": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {
                    "type": "array",
                    "minItems": 1,
                    "items": { "type": "object", "minProperties": 1 },
                },
                "pattern": r"^\s*\[[\s\S]*\]\s*$",
            },
            "examples": {
                "or": { "summary": "One of two conditions", "value": example },
            },
        })
    })
}

/// Two groups on the identifier with values of its type, so that the example is a valid
/// request.
fn or_example(entity: &Entity) -> Value {
    let id = entity.identifier();
    let (a, b, c) = match id.ty {
        FieldType::Integer | FieldType::Float | FieldType::Decimal => {
            (json!(1), json!(10), json!(20))
        }
        FieldType::Date => (
            json!("2024-01-01"),
            json!("2024-02-01"),
            json!("2024-03-01"),
        ),
        FieldType::DateTime => (
            json!("2024-01-01 00:00:00"),
            json!("2024-02-01 00:00:00"),
            json!("2024-03-01 00:00:00"),
        ),
        FieldType::Boolean => (json!(true), json!(false), json!(true)),
        FieldType::String | FieldType::Json => (json!("a"), json!("b"), json!("c")),
    };
    let name = &id.field_visible_name;
    if matches!(id.ty, FieldType::Boolean | FieldType::Json) {
        // Booleans make a poor example of an order, and JSON has none.
        return json!([{ name: a }, { name: { "isNull": true } }]);
    }
    json!([{ name: a }, { name: { "gte": b, "lt": c } }])
}

/// `text` as a literal in an ECMA-262 regular expression, escaping only the syntax characters
/// (identity escapes of other characters are errors in Unicode mode).
fn regex_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if r"^$\.*+?()[]{}|/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Whether `name` can be named in a comma-separated list the server splits and trims.
fn listable(name: &str) -> bool {
    !name.is_empty() && !name.contains(',') && name.trim() == name
}

/// `(a|b|…)` of the names, escaped, for a pattern.
fn alternatives<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(regex_literal).collect();
    format!("({})", names.join("|"))
}

/// `sort`: the fields the rows are ordered by.
fn sort(doc: &mut Doc<'_>, entity: &Entity) -> Value {
    doc.parameter(&format!("{}.sort", entity.alias()), |_| {
        let mut names: Vec<&str> = entity
            .fields()
            .iter()
            .filter(|f| !holds_json(entity, f))
            .map(|f| f.field_visible_name.as_str())
            // A leading `-` would be read as the direction.
            .filter(|n| listable(n) && !n.starts_with('-'))
            .collect();
        if !names.contains(&"identifier") {
            names.push("identifier");
        }
        let list = names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let one = alternatives(names.iter().copied());
        json!({
            "name": "sort",
            "in": "query",
            "description": format!(
                "Orders the rows by these fields, comma-separated, each ascending or, with a \
                 leading `-`, descending (`-{first},{second}`); the identifier breaks ties. NULL \
                 comes first in ascending order. Sortable: {list}; JSON fields cannot be sorted. \
                 An unknown field, a field named twice or a JSON field is a 400 with code 1320. \
                 Keep the same sort when following `links.next`.",
                first = names[0],
                second = names.get(1).unwrap_or(&names[0]),
            ),
            "schema": {
                "type": "string",
                "pattern": format!("^-?{one}(,-?{one})*$"),
            },
        })
    })
}

/// `fields[alias]` for the entity itself and for each entity an `include` chain reaches.
fn sparse_fields(doc: &mut Doc<'_>, entity: &Arc<Entity>) -> Vec<Value> {
    let mut targets = vec![entity.clone()];
    for child in included_entities(doc, entity) {
        if !targets.iter().any(|t| t.alias() == child.alias()) {
            targets.push(child);
        }
    }
    targets
        .iter()
        .map(|target| {
            doc.parameter(&format!("{}.fields", target.alias()), |_| {
                fields_parameter(target)
            })
        })
        .collect()
}

/// The `fields[alias]` parameter of `entity`, shared by every read that may return its rows.
fn fields_parameter(entity: &Entity) -> Value {
    let alias = entity.alias();
    let mut names: Vec<&str> = entity
        .fields()
        .iter()
        .map(|f| f.field_visible_name.as_str())
        .filter(|n| listable(n))
        .collect();
    if !names.contains(&"identifier") {
        names.push("identifier");
    }
    let one = alternatives(names.iter().copied());
    json!({
        "name": format!("fields[{alias}]"),
        "in": "query",
        "description": format!(
            "Returns only these fields (visible names, comma-separated) of the `{alias}` rows: \
             the rows read, or the rows nested by `include` when `{alias}` is an included \
             relation's entity. Fields come out in configuration order; included relations are \
             always returned. A field `{alias}` does not have, or an alias that is neither the \
             entity read nor an included one, is a 400 with code 1320."
        ),
        "schema": {
            "type": "string",
            "pattern": format!("^{one}(,{one})*$"),
        },
    })
}

/// The entities `include` chains reach from `entity`, in chain order, each once.
fn included_entities(doc: &Doc<'_>, entity: &Arc<Entity>) -> Vec<Arc<Entity>> {
    let mut out: Vec<Arc<Entity>> = Vec::new();
    for chain in include_chains(doc, entity) {
        let mut current = entity.clone();
        for name in chain.split('.') {
            let Some((_, child)) = relations(doc, &current)
                .into_iter()
                .find(|(r, _)| r.name == name)
            else {
                break;
            };
            if !out.iter().any(|e| e.alias() == child.alias()) {
                out.push(child.clone());
            }
            current = child;
        }
    }
    out
}

fn page_size(doc: &mut Doc<'_>) -> Value {
    doc.parameter("page.size", |doc| {
        let max = doc.options.page_limit_max;
        json!({
            "name": "page[size]",
            "in": "query",
            "description": format!(
                "Keyset paging: rows per page, at most {max}. The answer carries `links.next`, \
                 the path of the next page (with `page[after]`), or null on the last page. Does \
                 not mix with `page[offset]` and `page[limit]` (code 1320)."
            ),
            "schema": { "type": "integer", "minimum": 1, "maximum": max },
        })
    })
}

fn page_after(doc: &mut Doc<'_>) -> Value {
    doc.parameter("page.after", |_| {
        json!({
            "name": "page[after]",
            "in": "query",
            "description": "Keyset paging: the opaque cursor from the previous page's \
                            `links.next`; keep that request's `sort` and filters. A cursor that \
                            was altered, or issued for another entity or sort, is a 400 with \
                            code 1326. Alone it uses the default page size; does not mix with \
                            `page[offset]` and `page[limit]` (code 1320).",
            "schema": { "type": "string", "minLength": 1 },
        })
    })
}

fn meta(doc: &mut Doc<'_>) -> Value {
    doc.parameter("meta", |_| {
        json!({
            "name": "meta",
            "in": "query",
            "description": "`count` adds `meta.count`, the number of rows matching the filters \
                            regardless of the page. Off by default: counting reads every \
                            matching row. Another value is a 400 with code 1320.",
            "schema": { "type": "string", "enum": ["count"] },
        })
    })
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

/// `If-Match`, the precondition of a write of one row.
pub(crate) fn if_match(doc: &mut Doc<'_>) -> Value {
    doc.parameter("If-Match", |_| {
        json!({
            "name": "If-Match",
            "in": "header",
            "description": "The `ETag` of the row as read (or a list of them): the write \
                            happens only if the row still has it, checked on the locked row in \
                            the write's transaction; otherwise 412 (code 1327) and nothing is \
                            written. `*`: the row must exist. Weak tags never match.",
            "schema": { "type": "string" },
        })
    })
}

/// `If-None-Match`, on a read of one row (304) and on a write of one (`*`: create only).
pub(crate) fn if_none_match(doc: &mut Doc<'_>) -> Value {
    doc.parameter("If-None-Match", |_| {
        json!({
            "name": "If-None-Match",
            "in": "header",
            "description": "Reads: the `ETag`s already held; 304 when the row still has one. \
                            Writes: `*` writes only if the row does not exist (otherwise 412, \
                            code 1327).",
            "schema": { "type": "string" },
        })
    })
}
