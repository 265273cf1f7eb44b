//! The admin configuration routes: the live tables that can be exposed, the entities exposing
//! them, and Spryker's `configuration.json` of every entity.

use serde_json::{Value, json};

use super::op::{add_action, add_description, add_op, created, data, links};
use super::schemas::{entity_configuration, table_info};
use crate::{Doc, closed_object};

/// The configuration routes: live tables, entities and `configuration.json`.
pub(super) fn add(doc: &mut Doc<'_>) {
    let config = entity_configuration(doc);
    let table_info = table_info(doc);
    let table = doc.schema(
        "dynex.Table",
        json!({
            "type": "object",
            "description": "A live table that can be exposed.",
            "required": ["name", "entity"],
            "properties": {
                "name": { "type": "string" },
                "entity": {
                    "type": ["string", "null"],
                    "description": "The alias of the entity exposing the table, if any.",
                },
            },
            "additionalProperties": false,
        }),
    );
    let entity = doc.closed_schema(
        "dynex.EntitySummary",
        &[
            "alias",
            "table",
            "active",
            "served",
            "isDeletable",
            "fields",
            "relations",
            "updatedAt",
        ],
        json!({
            "alias": { "type": "string" },
            "table": { "type": "string" },
            "active": { "type": "boolean" },
            "served": {
                "type": "boolean",
                "description": "Active and accepted by the running server (an entity whose \
                                table changed is not).",
            },
            "isDeletable": { "type": "boolean" },
            "fields": { "type": "integer", "minimum": 0, "description": "Exposed fields." },
            "relations": { "type": "integer", "minimum": 0, "description": "Child relations." },
            "updatedAt": { "type": "string", "description": "When the entity last changed." },
        }),
    );
    let ok = |description: &str, schema: Value| {
        (
            200,
            json!({
                "description": description,
                "content": { "application/json": { "schema": schema } },
            }),
        )
    };

    add_op(
        doc,
        "/admin/api/tables",
        "get",
        "admin-list-tables",
        "List the live tables that can be exposed",
        None,
        ok(
            "The live tables (dynex's own excluded), with the entity exposing each.",
            data(json!({ "type": "array", "items": table })),
        ),
        &[],
    );
    add_op(
        doc,
        "/admin/api/tables/{name}",
        "get",
        "admin-show-table",
        "Show a live table and the configuration exposing it would store",
        None,
        ok(
            "The table's columns and keys, and the configuration `POST /admin/api/entities` \
             would store for it.",
            data(closed_object(
                &["table", "suggested"],
                json!({ "table": table_info, "suggested": config }),
            )),
        ),
        &[404],
    );

    add_op(
        doc,
        "/admin/api/entities",
        "get",
        "admin-list-entities",
        "List the entities",
        None,
        ok(
            "Every configured entity, active or not.",
            data(json!({ "type": "array", "items": entity })),
        ),
        &[],
    );
    add_op(
        doc,
        "/admin/api/entities",
        "post",
        "admin-add-entity",
        "Expose a live table with the configuration introspection suggests",
        Some(closed_object(
            &["table"],
            json!({
                "table": { "type": "string", "description": "A live table." },
                "alias": {
                    "type": ["string", "null"],
                    "description": "The entity's alias; derived from the table name when absent.",
                },
                "active": { "type": "boolean", "default": true },
            }),
        )),
        created(
            &config,
            links(
                "tableAlias",
                "alias",
                &[
                    ("Show", "admin-show-entity"),
                    ("Save", "admin-save-entity"),
                    ("Remove", "admin-remove-entity"),
                ],
            ),
        ),
        &[400, 404, 409],
    );
    add_op(
        doc,
        "/admin/api/entities/{alias}",
        "get",
        "admin-show-entity",
        "Show an entity",
        None,
        ok(
            "The entity's configuration, whether it is served, and warnings (unindexed columns).",
            data(closed_object(
                &["configuration", "served", "updatedAt", "warnings"],
                json!({
                    "configuration": config,
                    "served": {
                        "type": "boolean",
                        "description": "Active and accepted by the running server.",
                    },
                    "updatedAt": { "type": "string", "description": "When the entity last changed." },
                    "warnings": { "type": "array", "items": { "type": "string" } },
                }),
            )),
        ),
        &[404],
    );
    let save = add_description(
        config.clone(),
        "The entity's whole configuration; its `tableAlias` must be the alias of the path.",
    );
    add_op(
        doc,
        "/admin/api/entities/{alias}",
        "put",
        "admin-save-entity",
        "Create or replace an entity (checked against the live schema; every problem is \
         answered, one error each, and nothing is stored)",
        Some(save),
        ok("The configuration as stored.", data(config.clone())),
        &[400],
    );
    add_action(
        doc,
        "/admin/api/entities/{alias}",
        "delete",
        "admin-remove-entity",
        "Remove an entity (its table is kept)",
    );

    let mut export = ok(
        "Every entity as Spryker's installer `configuration.json`: a plain array, not wrapped \
         in `data`.",
        json!({ "type": "array", "items": config }),
    );
    export.1["headers"] = json!({
        "Content-Disposition": {
            "description": "`attachment; filename=\"configuration.json\"`.",
            "schema": { "type": "string" },
        }
    });
    add_op(
        doc,
        "/admin/api/configuration",
        "get",
        "admin-export-configuration",
        "Export every entity as `configuration.json`",
        None,
        export,
        &[],
    );
    add_op(
        doc,
        "/admin/api/configuration",
        "post",
        "admin-import-configuration",
        "Import a `configuration.json` or one entry of it (all or nothing)",
        Some(json!({
            "oneOf": [
                { "type": "array", "items": config },
                config,
            ],
        })),
        ok(
            "The aliases imported.",
            data(closed_object(
                &["imported"],
                json!({ "imported": { "type": "array", "items": { "type": "string" } } }),
            )),
        ),
        &[400],
    );
}
