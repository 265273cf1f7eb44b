//! JSON Schemas of rows: what reads return and what each kind of write accepts, per entity.
//!
//! Read rows carry the types as the server renders them (decimals as strings, datetimes as
//! `YYYY-MM-DD HH:MM:SS`), nullability from the live column, and `readOnly` for fields no write
//! may set. Write rows carry the validation rules the server checks (required, ranges, lengths,
//! precision and scale, enumerations, the `url` constraint), only the fields that kind of write
//! may send, and the nested rows of editable relations. Stored rows may predate a rule, so read
//! schemas do not repeat the rules, and as `fields[alias]` may leave out any field, they require
//! none.

use std::sync::Arc;

use dynex_schema::{Entity, Field, FieldType, Relation};
use serde_json::{Map, Value, json};

use crate::{Doc, schema_ref};

/// What a write does with a row, which decides its fields and rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    /// POST: a new row; creatable fields, required fields must be there.
    Create,
    /// PATCH: changes the fields sent; editable fields, nothing required.
    Update,
    /// PUT: replaces the row, or creates it; required fields must be there.
    Upsert,
}

impl Write {
    fn suffix(self) -> &'static str {
        match self {
            Write::Create => "create",
            Write::Update => "update",
            Write::Upsert => "upsert",
        }
    }
}

/// A decimal as the server renders it.
const DECIMAL: &str = r"^-?[0-9]+(\.[0-9]+)?$";
/// A datetime as the server renders it.
const DATETIME: &str = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?$";
/// A datetime as writes accept it: a date, or a date and a time with a space or `T`.
const DATETIME_IN: &str =
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?$";

/// Component names may only use these characters; relation names are free text.
pub(crate) fn component_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A reference to the read row of `entity`, building the component (and those of the entities
/// its relations reach) when needed.
pub(crate) fn row(doc: &mut Doc<'_>, entity: &Arc<Entity>) -> Value {
    let name = entity.alias().to_string();
    if !doc.has_schema(&name) {
        // Placeholder first: a relation cycle leads back here.
        doc.schema(&name, json!({}));
        let schema = read_row(doc, entity);
        doc.schema(&name, schema);
    }
    schema_ref(&name)
}

fn read_row(doc: &mut Doc<'_>, entity: &Arc<Entity>) -> Value {
    let mut properties = Map::new();
    for (i, f) in entity.fields().iter().enumerate() {
        // Without table information only the identifier is known to be non-null: it names rows.
        let nullable = column_nullable(entity, f).unwrap_or(i != entity.identifier_index());
        let mut s = value(f, nullable, false);
        if !f.is_creatable && !f.is_editable {
            s.insert("readOnly".into(), json!(true));
        }
        properties.insert(f.field_visible_name.clone(), Value::Object(s));
    }
    for (relation, child) in relations(doc, entity) {
        let items = row(doc, &child);
        let description = format!(
            "Rows of `{}` related to this row; present with `include={}`.",
            child.alias(),
            relation.name
        );
        properties.insert(relation.name.clone(), rows_of(items, description));
    }
    json!({
        "type": "object",
        "title": entity.alias(),
        "description": format!(
            "A row of `{}`, keyed by the fields' visible names. Identifier: `{}`. Every field \
             is there unless `fields[{}]` chose some.",
            entity.alias(),
            entity.identifier().field_visible_name,
            entity.alias()
        ),
        "properties": properties,
        "additionalProperties": false,
    })
}

/// A reference to the body row of a write on `entity` at its root: on a collection route, or
/// on `/{id}` (`by_id`), where the identifier comes from the path.
pub(crate) fn write_row(
    doc: &mut Doc<'_>,
    entity: &Arc<Entity>,
    write: Write,
    by_id: bool,
) -> Value {
    let name = if by_id {
        format!("{}.{}-by-id", entity.alias(), write.suffix())
    } else {
        format!("{}.{}", entity.alias(), write.suffix())
    };
    if !doc.has_schema(&name) {
        doc.schema(&name, json!({}));
        let schema = write_schema(doc, entity, write, by_id, &[]);
        doc.schema(&name, schema);
    }
    schema_ref(&name)
}

/// A reference to the rows nested under `relation` of a `parent` row in a write.
fn nested_row(
    doc: &mut Doc<'_>,
    parent: &Entity,
    relation: &Relation,
    child: &Arc<Entity>,
    write: Write,
) -> Value {
    let name = format!(
        "{}.{}.{}",
        parent.alias(),
        component_part(&relation.name),
        write.suffix()
    );
    if !doc.has_schema(&name) {
        doc.schema(&name, json!({}));
        // The child's columns of the mapping are filled in from the parent.
        let from_parent = relation.fields_from_parent(child);
        let schema = write_schema(doc, child, write, false, &from_parent);
        doc.schema(&name, schema);
    }
    schema_ref(&name)
}

fn write_schema(
    doc: &mut Doc<'_>,
    entity: &Arc<Entity>,
    write: Write,
    by_id: bool,
    from_parent: &[usize],
) -> Value {
    let id = entity.identifier_index();
    let id_name = entity.identifier().field_visible_name.clone();
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (i, f) in entity.fields().iter().enumerate() {
        let filled = from_parent.contains(&i);
        // On collection routes the identifier names the row to change, whatever `isEditable`.
        let is_key = i == id && !by_id && write != Write::Create;
        let allowed = filled
            || is_key
            || match write {
                Write::Create => f.is_creatable,
                Write::Update => f.is_editable,
                Write::Upsert => f.is_creatable || f.is_editable,
            };
        if !allowed {
            continue;
        }
        // Filled from the parent, naming the row, or given in the path: never required.
        let given = filled || is_key || (by_id && i == id);
        let must = !given
            && match write {
                Write::Create => f.validation.is_required || needs_value_on_create(entity, f),
                Write::Update => false,
                // A replaced row's editable fields that are not sent become NULL.
                Write::Upsert => {
                    f.validation.is_required
                        || (f.is_editable && i != id && column_nullable(entity, f) == Some(false))
                }
            };
        let column_null = column_nullable(entity, f).unwrap_or(!f.validation.is_required);
        let nullable = !is_key
            && (filled
                || match write {
                    // A null on create is dropped, leaving the column's default.
                    Write::Create => !must,
                    Write::Update => column_null,
                    Write::Upsert => !must && column_null,
                });
        let mut s = value(f, nullable, true);
        if filled {
            s.insert(
                "description".into(),
                json!(
                    format!(
                        "{} Filled in from the parent row.",
                        f.description.as_deref().unwrap_or_default()
                    )
                    .trim_start()
                ),
            );
        } else if is_key {
            s.insert(
                "description".into(),
                json!("The identifier of the row to change (or `identifier`)."),
            );
        }
        properties.insert(f.field_visible_name.clone(), Value::Object(s));
        if must {
            required.push(f.field_visible_name.clone());
        }
    }
    let id_alias_allowed = properties.contains_key(&id_name)
        && !by_id
        && id_name != "identifier"
        && write != Write::Create;
    if id_alias_allowed {
        let mut s = value(&entity.fields()[id], false, true);
        s.insert(
            "description".into(),
            json!(format!("Another name for `{id_name}`.")),
        );
        properties.insert("identifier".into(), Value::Object(s));
    }
    for (relation, child) in relations(doc, entity) {
        if !relation.is_editable {
            continue;
        }
        let items = nested_row(doc, entity, &relation, &child, write);
        let description = format!(
            "Rows of `{}` written with this row, in the same transaction.",
            child.alias()
        );
        properties.insert(relation.name.clone(), rows_of(items, description));
    }
    let mut schema = json!({
        "type": "object",
        "title": format!("{} ({})", entity.alias(), write.suffix()),
        "description": write_description(entity, write, by_id),
        "properties": properties,
        "additionalProperties": false,
    });
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    if write == Write::Update && !by_id {
        // A PATCH row names its row by the identifier's visible name or by `identifier`.
        schema["anyOf"] = if id_alias_allowed {
            json!([{ "required": [id_name] }, { "required": ["identifier"] }])
        } else {
            json!([{ "required": [id_name] }])
        };
    }
    schema
}

fn write_description(entity: &Entity, write: Write, by_id: bool) -> String {
    let alias = entity.alias();
    match (write, by_id) {
        (Write::Create, _) => format!(
            "A new row of `{alias}`: creatable fields only; required fields must not be null. A \
             null leaves the column's default."
        ),
        (Write::Update, false) => format!(
            "Changes to a row of `{alias}`, named by its identifier: only the fields sent \
             change, and null sets a column to NULL."
        ),
        (Write::Update, true) => format!(
            "Changes to the row of `{alias}` named in the path: only the fields sent change, \
             and null sets a column to NULL."
        ),
        (Write::Upsert, false) => format!(
            "A row of `{alias}` to replace or create: a row whose identifier exists is replaced \
             (editable fields not sent become NULL, and `isEditable` applies); any other row is \
             created (`isCreatable` applies)."
        ),
        (Write::Upsert, true) => format!(
            "The row of `{alias}` named in the path, replaced (editable fields not sent become \
             NULL) or created."
        ),
    }
}

/// The relations of `entity` whose child entity is served, with that entity.
pub(crate) fn relations(doc: &Doc<'_>, entity: &Entity) -> Vec<(Relation, Arc<Entity>)> {
    entity
        .config
        .child_relations
        .iter()
        .filter_map(|r| {
            doc.catalog
                .entity(r.child_alias())
                .map(|c| (r.clone(), c.clone()))
        })
        .collect()
}

/// Whether a created row must carry the field: its column accepts no NULL and has no default,
/// and the database does not generate it (a null would be dropped, leaving the column empty).
fn needs_value_on_create(entity: &Entity, f: &Field) -> bool {
    entity
        .column(&f.field_name)
        .is_some_and(|c| !c.nullable && c.default.is_none() && !c.auto_increment)
}

/// Whether the field's live column can hold NULL, when the table was introspected.
///
/// Primary keys and generated columns cannot, whatever the column's flag says (SQLite reports
/// its `INTEGER PRIMARY KEY` as nullable).
fn column_nullable(entity: &Entity, f: &Field) -> Option<bool> {
    let table = entity.table_info()?;
    let column = table.column(&f.field_name)?;
    Some(
        column.nullable
            && !column.auto_increment
            && !table.primary_key.iter().any(|k| k == &column.name),
    )
}

/// The schema of a field's value: as written when `write`, else as read.
pub(crate) fn value(f: &Field, nullable: bool, write: bool) -> Map<String, Value> {
    let rules = &f.validation;
    let mut s = Map::new();
    let mut types: Vec<&str> = Vec::new();
    match f.ty {
        FieldType::Integer => {
            types.push("integer");
            s.insert("format".into(), json!("int64"));
        }
        FieldType::Float => {
            types.push("number");
            s.insert("format".into(), json!("double"));
        }
        FieldType::Boolean => types.push("boolean"),
        FieldType::String => types.push("string"),
        FieldType::Decimal if write => {
            // The server takes a JSON number too, but only a string states the scale exactly.
            types.push("string");
            s.insert("pattern".into(), json!(decimal_pattern(f)));
        }
        FieldType::Decimal => {
            types.push("string");
            s.insert("pattern".into(), json!(DECIMAL));
        }
        FieldType::Date => {
            types.push("string");
            s.insert("format".into(), json!("date"));
        }
        FieldType::DateTime => {
            types.push("string");
            s.insert(
                "pattern".into(),
                json!(if write { DATETIME_IN } else { DATETIME }),
            );
        }
        FieldType::Json => {}
    }
    if nullable && !types.is_empty() {
        types.push("null");
    }
    match types.as_slice() {
        [] => {}
        [one] => {
            s.insert("type".into(), json!(one));
        }
        many => {
            s.insert("type".into(), json!(many));
        }
    }
    let mut description = f.description.clone().unwrap_or_default();
    let mut note = |text: &str| {
        if !description.is_empty() {
            description.push(' ');
        }
        description.push_str(text);
    };
    match f.ty {
        FieldType::Integer if write => {
            note("A JSON integer, written without a fraction or an exponent.");
        }
        FieldType::Decimal if write => note(
            "A decimal as a string such as \"12.50\" (a JSON number is accepted too, but may lose \
             digits on the way).",
        ),
        FieldType::Decimal => note("A decimal, as a string with its scale."),
        FieldType::DateTime if write => note(
            "A date and time `YYYY-MM-DD HH:MM:SS` (a `T` instead of the space, and a date alone, \
             are accepted too).",
        ),
        FieldType::DateTime => note("A date and time `YYYY-MM-DD HH:MM:SS`."),
        FieldType::Json => note("Any JSON value."),
        _ => {}
    }
    if write {
        if let Some(min) = rules.min {
            s.insert("minimum".into(), json!(min));
        }
        if let Some(max) = rules.max {
            s.insert("maximum".into(), json!(max));
        }
        if f.ty == FieldType::String {
            if let Some(n) = rules.min_length {
                s.insert("minLength".into(), json!(n));
            }
            if let Some(n) = rules.max_length {
                s.insert("maxLength".into(), json!(n));
            }
            if rules.constraints.iter().any(|c| c.name == "url") {
                // The server's check is stricter (a relative URL's characters); this is its shape.
                s.insert("pattern".into(), json!("^/"));
                note("A relative URL starting with `/` (constraint `url`).");
            }
        }
        if f.ty == FieldType::Decimal {
            if let Some(p) = rules.precision {
                s.insert("x-precision".into(), json!(p));
            }
            if let Some(scale) = rules.scale {
                s.insert("x-scale".into(), json!(scale));
            }
        }
        if let Some(values) = f.enum_values.as_ref().filter(|v| !v.is_empty()) {
            let mut values = values.clone();
            if nullable && !values.contains(&Value::Null) {
                values.push(Value::Null);
            }
            s.insert("enum".into(), json!(values));
        }
    }
    if !description.is_empty() {
        s.insert("description".into(), json!(description));
    }
    let examples = examples(f);
    if !examples.is_empty() {
        s.insert("examples".into(), json!(examples));
    }
    s
}

/// The configured example values, typed as the field's values (those that do not parse are
/// left out rather than shown wrong).
fn examples(f: &Field) -> Vec<Value> {
    let Some(text) = f.examples.as_deref() else {
        return Vec::new();
    };
    text.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .filter_map(|e| match f.ty {
            FieldType::Integer => e.parse::<i64>().ok().map(Value::from),
            FieldType::Float => e
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number),
            FieldType::Boolean => e.parse::<bool>().ok().map(Value::from),
            FieldType::Json => Some(serde_json::from_str(e).unwrap_or_else(|_| json!(e))),
            FieldType::String | FieldType::Decimal | FieldType::Date | FieldType::DateTime => {
                Some(json!(e))
            }
        })
        .collect()
}

/// The pattern of a decimal string under the field's precision and scale: at most
/// `precision - scale` digits before the point (leading zeros aside) and `scale` after it
/// (trailing zeros aside), as the server counts them.
fn decimal_pattern(f: &Field) -> String {
    let rules = &f.validation;
    let scale = rules.scale;
    let int = match rules.precision {
        Some(p) => match p.saturating_sub(scale.unwrap_or(0)) {
            0 => "0+".to_string(),
            1 => "(0*[0-9])".to_string(),
            n => format!("(0*[1-9][0-9]{{0,{}}}|0+)", n - 1),
        },
        None => "[0-9]+".to_string(),
    };
    let frac = match scale {
        Some(0) => r"(\.0+)?".to_string(),
        Some(s) => format!(r"(\.[0-9]{{1,{s}}}0*)?"),
        None => r"(\.[0-9]+)?".to_string(),
    };
    format!("^-?{int}{frac}$")
}

/// The property of a relation: an array of `items`, described.
fn rows_of(items: Value, description: String) -> Value {
    json!({ "type": "array", "items": items, "description": description })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decimal(precision: Option<u32>, scale: Option<u32>) -> Field {
        let mut f: Field = serde_json::from_value(
            json!({"fieldName": "d", "fieldVisibleName": "d", "type": "decimal"}),
        )
        .unwrap();
        f.validation.precision = precision;
        f.validation.scale = scale;
        f
    }

    /// The pattern of a decimal string accepts exactly the strings the server's validator does.
    #[test]
    fn decimal_patterns_accept_what_the_server_accepts() {
        let samples = [
            "0",
            "00",
            "1",
            "-1",
            "12",
            "123",
            "1234",
            "0.5",
            "0.50",
            "0.05",
            "12.34",
            "12.345",
            "123.4",
            "0012.3400",
            "1.",
            ".5",
            "-",
            "",
            "1.2.3",
            "1e5",
            "99.99",
            "100.00",
            "-0.000",
            "+1",
            " 1",
        ];
        for (precision, scale) in [
            (Some(4), Some(2)),
            (Some(3), Some(0)),
            (Some(2), Some(2)),
            (Some(1), None),
            (None, Some(1)),
            (None, None),
        ] {
            let f = decimal(precision, scale);
            let pattern = decimal_pattern(&f);
            let re = regex::Regex::new(&pattern).unwrap();
            for s in samples {
                let server = dynex_validate::check_value(&f, &json!(s)).is_ok();
                assert_eq!(
                    re.is_match(s),
                    server,
                    "`{s}` against {pattern} (precision {precision:?}, scale {scale:?})"
                );
            }
        }
    }
}
