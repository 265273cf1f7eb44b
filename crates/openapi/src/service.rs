//! Routes about the server itself: health checks and this description.

use serde_json::json;

use crate::errors::Routes;
use crate::{Doc, errors};

/// Adds `/health/live`, `/health/ready` and `/openapi.json`.
pub(crate) fn add(doc: &mut Doc<'_>) {
    doc.tag(
        "service",
        "Health checks and this description. No credentials needed.",
    );
    doc.operation(
        "/health/live",
        "get",
        json!({
            "tags": ["service"],
            "operationId": "health-live",
            "summary": "Liveness",
            "description": "Answers while the process runs.",
            "security": [{}],
            "responses": {
                "200": {
                    "description": "Running.",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["status"],
                                "properties": { "status": { "const": "ok" } },
                                "additionalProperties": false,
                            },
                        },
                    },
                },
            },
        }),
    );
    let unavailable = errors::response(doc, 503, Routes::Data);
    doc.operation(
        "/health/ready",
        "get",
        json!({
            "tags": ["service"],
            "operationId": "health-ready",
            "summary": "Readiness",
            "description": "Checks the database and reports the configuration version in use.",
            "security": [{}],
            "responses": {
                "200": {
                    "description": "Ready.",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["status", "configVersion"],
                                "properties": {
                                    "status": { "const": "ok" },
                                    "configVersion": { "type": "integer" },
                                },
                                "additionalProperties": false,
                            },
                        },
                    },
                },
                "503": unavailable,
            },
        }),
    );
    doc.operation(
        "/openapi.json",
        "get",
        json!({
            "tags": ["service"],
            "operationId": "openapi",
            "summary": "This description",
            "description": "The OpenAPI 3.1 description of this server, generated from the \
                            configuration in force at the time of the request. Interactive \
                            documentation of it is served at `/docs`.",
            "security": [{}],
            "responses": {
                "200": {
                    "description": "The description.",
                    "content": { "application/json": { "schema": { "type": "object" } } },
                },
            },
        }),
    );
}
