//! The schemas of the admin configuration routes: an entry of Spryker's `configuration.json`
//! and a live table as introspection finds it.

use serde_json::{Value, json};

use crate::Doc;

/// One entry of Spryker's installer `configuration.json`, typed loosely: the server reads
/// `0`/`1` and strings for flags, and checks the rest against the live schema itself.
pub(super) fn entity_configuration(doc: &mut Doc<'_>) -> Value {
    let flag = |description: &str| {
        json!({
            "type": ["boolean", "integer", "string", "null"],
            "description": format!(
                "{description} `true` or `false`; `1`, `0`, `\"true\"`, `\"false\"` and `null` \
                 (false) are read too."
            ),
        })
    };
    let field = json!({
        "type": "object",
        "required": ["fieldName", "fieldVisibleName", "type"],
        "properties": {
            "fieldName": { "type": "string", "description": "The column." },
            "fieldVisibleName": {
                "type": "string",
                "description": "The name in payloads, answers and filters.",
            },
            "type": {
                "type": "string",
                "description": "`integer`, `string`, `decimal`, `boolean`, `float`, `date`, \
                                `datetime` or `json` (`int` and `bool` are read too).",
            },
            "isCreatable": flag("May be supplied on create."),
            "isEditable": flag("May be supplied on update."),
            "validation": {
                "type": "object",
                "description": "`isRequired`, `min`, `max`, `minLength`, `maxLength`, \
                                `precision`, `scale`, `constraints` (`[{\"name\": \"url\"}]`).",
            },
            "description": { "type": "string" },
            "examples": {
                "type": ["string", "array"],
                "description": "Comma-separated example values (an array is joined).",
            },
            "enumValues": { "type": "array", "description": "The allowed values." },
        },
    });
    let relation = json!({
        "type": "object",
        "required": ["name", "childDynamicEntityConfiguration"],
        "properties": {
            "name": { "type": "string", "description": "Used in `include` and as the nested key." },
            "isEditable": flag("`false` limits the relation to reads (default `true`)."),
            "childDynamicEntityConfiguration": {
                "type": "object",
                "required": ["tableAlias"],
                "properties": { "tableAlias": { "type": "string" } },
            },
            "relationFieldMappings": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "childFieldName": { "type": "string" },
                        "parentFieldName": { "type": "string" },
                    },
                },
            },
        },
    });
    doc.schema(
        "dynex.EntityConfiguration",
        json!({
            "type": "object",
            "description": "One entry of Spryker's installer `configuration.json`: an entity \
                            exposing a table. Checked against the live schema when saved.",
            "required": ["tableName", "tableAlias", "definition"],
            "properties": {
                "tableName": { "type": "string", "description": "The table." },
                "tableAlias": { "type": "string", "description": "The alias used in URLs." },
                "isActive": flag("Inactive entities are not served."),
                "definition": {
                    "type": "object",
                    "required": ["identifier"],
                    "properties": {
                        "identifier": {
                            "type": "string",
                            "description": "The column identifying a row in `/{alias}/{id}`.",
                        },
                        "isDeletable": flag("Whether DELETE is allowed."),
                        "fields": {
                            "type": "array",
                            "items": field,
                            "description": "Exposed columns; the others are inaccessible.",
                        },
                        "updatedAtField": {
                            "type": "string",
                            "description": "The column holding when a row last changed \
                                            (a dynex extension).",
                        },
                    },
                },
                "childRelations": { "type": "array", "items": relation },
            },
        }),
    )
}

/// A live table as introspection finds it, typed loosely.
pub(super) fn table_info(doc: &mut Doc<'_>) -> Value {
    let columns = json!({ "type": "array", "items": { "type": "string" } });
    let count = json!({ "type": ["integer", "null"], "minimum": 0 });
    doc.schema(
        "dynex.TableInfo",
        json!({
            "type": "object",
            "description": "A live table: columns, keys and foreign keys.",
            "required": ["name", "columns"],
            "properties": {
                "name": { "type": "string" },
                "columns": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "sql_type"],
                        "properties": {
                            "name": { "type": "string" },
                            "sql_type": {
                                "type": "string",
                                "description": "As the database reports it.",
                            },
                            "kind": {
                                "type": "string",
                                "description": "`integer`, `string`, `decimal`, `float`, \
                                                `boolean`, `date`, `datetime`, `json` or `other`.",
                            },
                            "nullable": { "type": "boolean" },
                            "default": {
                                "type": ["string", "null"],
                                "description": "The default expression.",
                            },
                            "auto_increment": { "type": "boolean" },
                            "max_length": count,
                            "precision": count,
                            "scale": count,
                        },
                    },
                },
                "primary_key": columns,
                "unique_keys": { "type": "array", "items": columns },
                "foreign_keys": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "columns": columns,
                            "referenced_table": { "type": "string" },
                            "referenced_columns": columns,
                        },
                    },
                },
            },
        }),
    )
}
