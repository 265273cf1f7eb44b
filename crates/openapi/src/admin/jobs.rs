//! The admin job routes: CSV imports that run in the background, CSV exports recorded as they
//! are downloaded, and the history of both.

use serde_json::{Value, json};

use super::op::{add_description, add_op, admin_op, data, links};
use crate::errors::Routes;
use crate::{Doc, auth, closed_object, errors};

/// The job routes: CSV imports that run in the background, CSV exports recorded as they are
/// downloaded, and the history of both.
pub(super) fn add(doc: &mut Doc<'_>) {
    let time = json!({ "type": "string", "format": "date-time", "description": "RFC 3339, UTC." });
    let job = doc.schema(
        "dynex.Job",
        json!({
            "type": "object",
            "description": "A CSV import or export started over the admin API. A running job \
                            whose server stopped is marked `interrupted`.",
            "required": [
                "id", "kind", "entity", "file_name", "options", "state", "created_by",
                "bytes_total", "bytes_read", "summary", "error", "started_at", "updated_at",
                "finished_at", "resumable",
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
                    "description": "`interrupted`: it was running, but has not been heard of \
                                    for a minute (its server stopped).",
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
                "resumable": {
                    "type": "boolean",
                    "description": "Whether `POST /admin/api/jobs/{id}/resume` can continue it: \
                                    an interrupted import that was neither all or nothing nor \
                                    a dry run, whose upload this instance still keeps.",
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
    let mut rejects = admin_op(
        doc,
        "/admin/api/jobs/{id}/rejects",
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
    if let Some(parameters) = rejects["parameters"].as_array_mut() {
        parameters.push(query(
            "limit",
            "Only the first lines, this many (the back office previews them).",
            json!({ "type": "integer", "minimum": 1 }),
        ));
    }
    doc.operation("/admin/api/jobs/{id}/rejects", "get", rejects);

    let mut resume = admin_op(
        doc,
        "/admin/api/jobs/{id}/resume",
        "admin-resume-job",
        "Resume an interrupted import job after its last committed batch",
        None,
        (
            202,
            json!({
                "description": "The import runs again, `running`, from the line after its last \
                                committed batch; the lines before are counted `skipped`.",
                "headers": {
                    "Location": {
                        "description": "`/admin/api/jobs/{id}`: the job.",
                        "schema": { "type": "string" },
                    },
                },
                "content": { "application/json": { "schema": data(job.clone()) } },
            }),
        ),
        &[400, 404],
    );
    resume["description"] = json!(
        "Only a job whose `resumable` is true: an interrupted import (its server stopped) that \
         was neither all or nothing nor a dry run, on the instance that keeps its upload. Any \
         other job is refused with `1401`; of two requests at once, one resumes it. Besides \
         `admin`, the credentials need the entity's write scope."
    );
    resume["security"] = security("write");
    doc.operation("/admin/api/jobs/{id}/resume", "post", resume);

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
            closed_object(
                &["entity"],
                json!({
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
                }),
            ),
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
        errors::describe_status(400, Routes::Admin)
    );
    export["responses"]["400"] = json!({
        "description": refused,
        "content": { "application/json": { "schema": errors::errors_ref(doc) } },
    });
    doc.operation("/admin/api/jobs/export", "post", export);
}
