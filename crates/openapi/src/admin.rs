//! The admin API under `/admin/api`: entities (the Data Exchange API's configuration), the live
//! tables they can expose, Spryker's `configuration.json`, users, integration clients, API keys
//! and jobs (CSV imports run in the background, CSV exports).

use serde_json::{Value, json};

use crate::errors::Routes;
use crate::{Doc, auth, errors};

/// Adds the admin routes.
pub(crate) fn add(doc: &mut Doc<'_>) {
    doc.tag(
        "admin",
        "Entities (the Data Exchange API's configuration, in Spryker's installer shape), the \
         live tables they can expose, import and export of `configuration.json`, users, \
         integration clients, API keys, and jobs (CSV imports run in the background, CSV \
         exports, their history). Needs the `admin` scope. Secrets are shown once, when \
         created.",
    );
    add_configuration(doc);
    let time = json!({ "type": "string", "description": "UTC, `YYYY-MM-DD HH:MM:SS`." });
    let scopes = json!({
        "type": "array",
        "items": {
            "type": "string",
            "description": "`admin`, `dynamic-entity:<read|write|delete>` or \
                            `dynamic-entity:<alias>:<read|write|delete>`.",
        },
    });
    let user = doc.schema(
        "dynex.User",
        json!({
            "type": "object",
            "required": ["name", "role", "created_at", "password_changed_at"],
            "properties": {
                "name": { "type": "string" },
                "role": { "type": "string", "enum": ["admin", "integrator"] },
                "created_at": time,
                "password_changed_at": time,
            },
            "additionalProperties": false,
        }),
    );
    let client = doc.schema(
        "dynex.Client",
        json!({
            "type": "object",
            "required": ["client_id", "scopes", "created_at"],
            "properties": { "client_id": { "type": "string" }, "scopes": scopes, "created_at": time },
            "additionalProperties": false,
        }),
    );
    let new_client = doc.schema(
        "dynex.NewClient",
        json!({
            "type": "object",
            "required": ["client_id", "client_secret", "scopes"],
            "properties": {
                "client_id": { "type": "string" },
                "client_secret": { "type": "string", "description": "Shown once: store it now." },
                "scopes": scopes,
            },
            "additionalProperties": false,
        }),
    );
    let nullable_time =
        json!({ "type": ["string", "null"], "description": "UTC, `YYYY-MM-DD HH:MM:SS`." });
    let key = doc.schema(
        "dynex.ApiKey",
        json!({
            "type": "object",
            "required": ["name", "prefix", "scopes", "valid_to", "created_at", "revoked_at"],
            "properties": {
                "name": { "type": "string" },
                "prefix": { "type": "string", "description": "The key's first characters." },
                "scopes": scopes,
                "valid_to": nullable_time,
                "created_at": time,
                "revoked_at": nullable_time,
            },
            "additionalProperties": false,
        }),
    );
    let new_key = doc.schema(
        "dynex.NewApiKey",
        json!({
            "type": "object",
            "required": ["name", "key", "scopes", "valid_to"],
            "properties": {
                "name": { "type": "string" },
                "key": { "type": "string", "description": "Shown once: store it now." },
                "scopes": scopes,
                "valid_to": nullable_time,
            },
            "additionalProperties": false,
        }),
    );

    let list = |what: &str, item: &Value| {
        (
            format!("List {what}"),
            json!({
                "description": format!("The {what}."),
                "content": { "application/json": { "schema": data(json!({"type": "array", "items": item})) } },
            }),
        )
    };
    let (summary, ok) = list("users", &user);
    add_op(
        doc,
        "/admin/api/users",
        "get",
        "admin-list-users",
        &summary,
        None,
        (200, ok),
        &[],
    );
    add_op(
        doc,
        "/admin/api/users",
        "post",
        "admin-add-user",
        "Add a user",
        Some(json!({
            "type": "object",
            "required": ["name", "password"],
            "properties": {
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
            },
            "additionalProperties": false,
        })),
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
    add_op(
        doc,
        "/admin/api/users/{name}",
        "delete",
        "admin-remove-user",
        "Remove a user (its tokens are refused at once)",
        None,
        no_content(),
        &[404],
    );
    add_op(
        doc,
        "/admin/api/users/{name}/password",
        "put",
        "admin-set-password",
        "Set a user's password (revokes the user's tokens)",
        Some(json!({
            "type": "object",
            "required": ["password"],
            "properties": { "password": { "type": "string", "format": "password" } },
            "additionalProperties": false,
        })),
        no_content(),
        &[400, 404],
    );
    add_op(
        doc,
        "/admin/api/users/{name}/revoke-tokens",
        "post",
        "admin-revoke-user-tokens",
        "Revoke every token of a user",
        None,
        no_content(),
        &[404],
    );

    let (summary, ok) = list("clients", &client);
    add_op(
        doc,
        "/admin/api/clients",
        "get",
        "admin-list-clients",
        &summary,
        None,
        (200, ok),
        &[],
    );
    add_op(
        doc,
        "/admin/api/clients",
        "post",
        "admin-add-client",
        "Add an integration client",
        Some(json!({
            "type": "object",
            "required": ["client_id", "scopes"],
            "properties": {
                "client_id": {
                    "type": "string",
                    "description": "1 to 64 characters of `A-Z a-z 0-9 . _ @ -`.",
                },
                "scopes": scopes,
            },
            "additionalProperties": false,
        })),
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
    add_op(
        doc,
        "/admin/api/clients/{id}",
        "delete",
        "admin-remove-client",
        "Remove an integration client",
        None,
        no_content(),
        &[404],
    );
    add_op(
        doc,
        "/admin/api/clients/{id}/revoke-tokens",
        "post",
        "admin-revoke-client-tokens",
        "Revoke every token of a client",
        None,
        no_content(),
        &[404],
    );

    let (summary, ok) = list("API keys", &key);
    add_op(
        doc,
        "/admin/api/keys",
        "get",
        "admin-list-keys",
        &summary,
        None,
        (200, ok),
        &[],
    );
    add_op(
        doc,
        "/admin/api/keys",
        "post",
        "admin-create-key",
        "Create an API key",
        Some(json!({
            "type": "object",
            "required": ["name"],
            "properties": {
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
            },
            "additionalProperties": false,
        })),
        created(
            &new_key,
            links("name", "name", &[("Revoke", "admin-revoke-key")]),
        ),
        &[400, 409],
    );
    add_op(
        doc,
        "/admin/api/keys/{name}",
        "delete",
        "admin-revoke-key",
        "Revoke an API key",
        None,
        no_content(),
        &[404],
    );
    add_jobs(doc);
}

/// The job routes: CSV imports that run in the background, CSV exports recorded as they are
/// downloaded, and the history of both.
fn add_jobs(doc: &mut Doc<'_>) {
    let time = json!({ "type": "string", "format": "date-time", "description": "RFC 3339, UTC." });
    let job = doc.schema(
        "dynex.Job",
        json!({
            "type": "object",
            "description": "A CSV import or export started over the admin API. A running job \
                            whose server stopped is shown `interrupted`.",
            "required": [
                "id", "kind", "entity", "file_name", "options", "state", "created_by",
                "bytes_total", "bytes_read", "summary", "error", "started_at", "updated_at",
                "finished_at",
            ],
            "properties": {
                "id": { "type": "string", "description": "Used in `/admin/api/jobs/{id}`." },
                "kind": { "type": "string", "enum": ["import", "export"] },
                "entity": { "type": "string", "description": "The entity's alias." },
                "file_name": {
                    "type": "string",
                    "description": "The file's name, as given (imports) or as offered (exports).",
                },
                "options": {
                    "type": "object",
                    "description": "What the job was started with: an import's `mode`, `key`, \
                                    `dryRun`, `atomic`, `maxErrors` and `mapping` (whether one \
                                    was given); an export's `sort`, `fields`, `filters` (`[name, \
                                    value]` pairs) and `changedSince`.",
                },
                "state": {
                    "type": "string",
                    "enum": ["running", "done", "failed", "interrupted"],
                    "description": "`interrupted`: running, but without progress for a minute \
                                    (its server stopped).",
                },
                "created_by": {
                    "type": "string",
                    "description": "The user, client or API key that started it.",
                },
                "bytes_total": {
                    "type": ["integer", "null"],
                    "minimum": 0,
                    "description": "The input's size, when known (imports).",
                },
                "bytes_read": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Bytes of the input read so far (imports).",
                },
                "summary": {
                    "type": ["object", "null"],
                    "description": "The counts so far, final once the job is done: an import's \
                                    (`read`, `inserted`, `updated`, `unchanged`, `rejected`, \
                                    `stopped_early`, `seconds`, …) or an export's (`rows`, \
                                    `seconds`).",
                },
                "error": {
                    "type": ["object", "null"],
                    "description": "Why a failed job failed: the code and message the API would \
                                    have answered.",
                    "required": ["code", "message"],
                    "properties": {
                        "code": { "type": "string" },
                        "message": { "type": "string" },
                    },
                },
                "started_at": time,
                "updated_at": add_description(time.clone(), "When it last recorded progress."),
                "finished_at": {
                    "type": ["string", "null"],
                    "format": "date-time",
                    "description": "When it ended (RFC 3339, UTC).",
                },
            },
            "additionalProperties": false,
        }),
    );
    let answer = |description: &str, schema: Value| {
        json!({
            "description": description,
            "content": { "application/json": { "schema": data(schema) } },
        })
    };
    let csv = |description: &str, file: &str| {
        json!({
            "description": description,
            "headers": {
                "Content-Disposition": {
                    "description": format!("`attachment; filename=\"{file}\"`."),
                    "schema": { "type": "string" },
                },
            },
            "content": { "text/csv": { "schema": { "type": "string" } } },
        })
    };
    let query = |name: &str, description: &str, schema: Value| json!({ "name": name, "in": "query", "description": description, "schema": schema });
    // Imports write rows and exports read them: the credentials need that scope of the entity
    // too (`dynamic-entity:<action>` or `dynamic-entity:<alias>:<action>`).
    let security = |action: &str| {
        let mut security = auth::requirement(None, "admin");
        if let Some(list) = security.as_array_mut() {
            for requirement in list.iter_mut().filter(|r| r.get("oauth2").is_some()) {
                requirement["oauth2"] = json!(["admin", format!("dynamic-entity:{action}")]);
            }
        }
        security
    };

    let mut op = admin_op(
        doc,
        "/admin/api/jobs",
        "admin-list-jobs",
        "List the jobs, newest first",
        None,
        (
            200,
            answer(
                "The latest jobs, newest first.",
                json!({ "type": "array", "items": job }),
            ),
        ),
        &[400],
    );
    // The server's default and largest `limit`.
    op["parameters"] = json!([query(
        "limit",
        "How many jobs to list.",
        json!({ "type": "integer", "minimum": 1, "maximum": 500, "default": 50 }),
    )]);
    doc.operation("/admin/api/jobs", "get", op);

    add_op(
        doc,
        "/admin/api/jobs/{id}",
        "get",
        "admin-show-job",
        "Show a job and its progress",
        None,
        (200, answer("The job.", job.clone())),
        &[404],
    );
    add_op(
        doc,
        "/admin/api/jobs/{id}/rejects",
        "get",
        "admin-show-job-rejects",
        "Download the rejected lines of an import job as CSV",
        None,
        (
            200,
            csv(
                "The rejected lines, in line order: the columns `line,code,field,message`, then \
                 the file's own columns.",
                "{entity}-rejects.csv",
            ),
        ),
        &[404],
    );

    let mut import = admin_op(
        doc,
        "/admin/api/jobs/import",
        "admin-start-import-job",
        "Import a CSV file into an entity in the background",
        Some((
            "text/csv",
            json!({
                "type": "string",
                "description": "The CSV file: a header line (the visible field names, or the \
                                columns `mapping` names), then one row per line. Up to the \
                                server's upload limit, not the API's body limit.",
            }),
        )),
        (
            202,
            json!({
                "description": "The import started: the job, `running`. Its progress, summary \
                                and rejected lines follow at `GET /admin/api/jobs/{id}`; a file \
                                the entity cannot take fails the job, not the request.",
                "headers": {
                    "Location": {
                        "description": "`jobs/{id}`: the job.",
                        "schema": { "type": "string" },
                    },
                },
                "content": { "application/json": { "schema": data(job.clone()) } },
                "links": links(
                    "id",
                    "id",
                    &[("Show", "admin-show-job"), ("Rejects", "admin-show-job-rejects")],
                ),
            }),
        ),
        &[400, 404],
    );
    import["description"] = json!(
        "The file is stored as it arrives, then imported in batches while the job records its \
         progress. Besides `admin`, the credentials need the entity's write scope \
         (`dynamic-entity:write` or `dynamic-entity:{alias}:write`). Unknown query parameters \
         are refused."
    );
    import["security"] = security("write");
    let flag = json!({ "type": "boolean", "default": false });
    import["parameters"] = json!([
        {
            "name": "entity",
            "in": "query",
            "required": true,
            "description": "The alias of the entity to import into.",
            "schema": { "type": "string" },
        },
        query(
            "mode",
            "`insert` creates rows; `update` changes the rows `key` matches; `upsert` changes \
             them and creates the others.",
            json!({ "type": "string", "enum": ["insert", "upsert", "update"], "default": "insert" }),
        ),
        query(
            "key",
            "The field (visible name) that matches rows in `upsert` and `update` modes, such as \
             a unique SKU; default: the identifier.",
            json!({ "type": "string" }),
        ),
        query(
            "dryRun",
            "Validate and try everything, then roll it back: the summary of a real run, nothing \
             written.",
            flag.clone(),
        ),
        query(
            "atomic",
            "All or nothing: the whole file in one transaction, committed only when no row was \
             rejected.",
            flag,
        ),
        query(
            "maxErrors",
            "Stop after the batch in which this many rows were rejected.",
            json!({ "type": "integer", "minimum": 0 }),
        ),
        query(
            "fileName",
            "The file's name, shown with the job; default: `{entity}.csv`.",
            json!({ "type": "string" }),
        ),
        query(
            "mapping",
            "How the file's columns become fields: a YAML mapping document, as `dynex import \
             --mapping` reads (`columns`, `constants`, `unmapped`).",
            json!({ "type": "string" }),
        ),
    ]);
    doc.operation("/admin/api/jobs/import", "post", import);

    let mut export = admin_op(
        doc,
        "/admin/api/jobs/export",
        "admin-start-export-job",
        "Export an entity as CSV, recorded as a job",
        Some((
            "application/json",
            json!({
                "type": "object",
                "required": ["entity"],
                "properties": {
                    "entity": { "type": "string", "description": "The alias of the entity." },
                    "sort": {
                        "type": ["string", "null"],
                        "description": "As `sort` on the API: visible field names, comma \
                                        separated, `-` for descending.",
                    },
                    "fields": {
                        "type": "array",
                        "items": { "type": "string" },
                        "description": "The fields (visible names) to export, in this order; \
                                        default: every field.",
                    },
                    "filters": {
                        "type": "object",
                        "propertyNames": { "pattern": "^filter" },
                        "additionalProperties": {
                            "description": "A value, or an object of operators (as JSON or as \
                                            its text).",
                        },
                        "description": "Filters as the API's query parameters: \
                                        `{\"filter[alias.field]\": {\"gte\": 10}}`.",
                    },
                    "changedSince": {
                        "type": ["string", "null"],
                        "description": "Only rows changed since this time, by the entity's \
                                        `updatedAtField`.",
                    },
                },
                "additionalProperties": false,
            }),
        )),
        (200, {
            let mut file = csv(
                "The file, streamed: a header line of the fields, then one line per matching \
                 row. The job is `done` with its row count once the last row is sent.",
                "{entity}.csv",
            );
            file["headers"]["X-Dynex-Job"] = json!({
                "description": "The job's id.",
                "schema": { "type": "string" },
            });
            file["links"] = json!({
                "Show": {
                    "operationId": "admin-show-job",
                    "parameters": { "id": "$response.header.X-Dynex-Job" },
                },
            });
            file
        }),
        &[400, 404],
    );
    export["description"] = json!(
        "Filters, `sort` and `fields` work as on the API's CSV export (`Accept: text/csv`). \
         Besides `admin`, the credentials need the entity's read scope (`dynamic-entity:read` \
         or `dynamic-entity:{alias}:read`)."
    );
    export["security"] = security("read");
    let refused = format!(
        "{} A filter or `sort` the entity refuses is answered with the API's codes, as its \
         collection reads answer them.",
        errors::describe_status(doc, 400, Routes::Admin)
    );
    export["responses"]["400"] = json!({
        "description": refused,
        "content": { "application/json": { "schema": errors::errors_ref(doc) } },
    });
    doc.operation("/admin/api/jobs/export", "post", export);
}

/// The configuration routes: live tables, entities and `configuration.json`.
fn add_configuration(doc: &mut Doc<'_>) {
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
    let entity = doc.schema(
        "dynex.EntitySummary",
        json!({
            "type": "object",
            "required": [
                "alias", "table", "active", "served", "isDeletable", "fields", "relations",
                "updatedAt",
            ],
            "properties": {
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
            },
            "additionalProperties": false,
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
            data(json!({
                "type": "object",
                "required": ["table", "suggested"],
                "properties": { "table": table_info, "suggested": config },
                "additionalProperties": false,
            })),
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
        Some(json!({
            "type": "object",
            "required": ["table"],
            "properties": {
                "table": { "type": "string", "description": "A live table." },
                "alias": {
                    "type": ["string", "null"],
                    "description": "The entity's alias; derived from the table name when absent.",
                },
                "active": { "type": "boolean", "default": true },
            },
            "additionalProperties": false,
        })),
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
            data(json!({
                "type": "object",
                "required": ["configuration", "served", "updatedAt", "warnings"],
                "properties": {
                    "configuration": config,
                    "served": {
                        "type": "boolean",
                        "description": "Active and accepted by the running server.",
                    },
                    "updatedAt": { "type": "string", "description": "When the entity last changed." },
                    "warnings": { "type": "array", "items": { "type": "string" } },
                },
                "additionalProperties": false,
            })),
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
    add_op(
        doc,
        "/admin/api/entities/{alias}",
        "delete",
        "admin-remove-entity",
        "Remove an entity (its table is kept)",
        None,
        no_content(),
        &[404],
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
            data(json!({
                "type": "object",
                "required": ["imported"],
                "properties": { "imported": { "type": "array", "items": { "type": "string" } } },
                "additionalProperties": false,
            })),
        ),
        &[400],
    );
}

/// `schema` with a description (OpenAPI 3.1 allows siblings of `$ref`).
fn add_description(mut schema: Value, description: &str) -> Value {
    schema["description"] = json!(description);
    schema
}

/// One entry of Spryker's installer `configuration.json`, typed loosely: the server reads
/// `0`/`1` and strings for flags, and checks the rest against the live schema itself.
fn entity_configuration(doc: &mut Doc<'_>) -> Value {
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
fn table_info(doc: &mut Doc<'_>) -> Value {
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

/// `{"data": schema}`.
fn data(schema: Value) -> Value {
    json!({
        "type": "object",
        "required": ["data"],
        "properties": { "data": schema },
        "additionalProperties": false,
    })
}

fn created(item: &Value, links: Value) -> (u16, Value) {
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
fn links(key: &str, parameter: &str, operations: &[(&str, &str)]) -> Value {
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

fn no_content() -> (u16, Value) {
    (204, json!({ "description": "Done." }))
}

/// Adds one admin operation: its path parameter (if any), JSON body, success and error answers.
#[allow(clippy::too_many_arguments)]
fn add_op(
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

/// One admin operation, for [`add_op`] or to complete first: its path parameter (if any), body
/// (media type and schema), success and error answers.
fn admin_op(
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
    for &status in failures {
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
