//! An OpenAPI 3.1 description of a dynex server, generated from its live entity configuration.
//!
//! [`describe`] turns the active entities of a [`Catalog`] and the server's [`Options`] (route
//! prefix, page limits, body limit) into an OpenAPI 3.1.0 document, with `dynex_wire`'s codes:
//! Spryker's operations on `/{prefix}/{alias}` and `/{prefix}/{alias}/{id}` per entity,
//! component schemas for read rows and for each kind of write body with the fields' types and
//! validation rules, the query parameters the server accepts, the OAuth 2.0 token endpoint, the
//! security schemes and scopes, the error objects, the health routes and the admin API.
//!
//! The document is a plain [`serde_json::Value`], cheap enough to build per request from the
//! snapshot a server serves, so it always describes the configuration in force.
//!
//! ```
//! let doc = dynex_openapi::describe(&dynex_schema::Catalog::default(), &Default::default());
//! assert_eq!(doc["openapi"], "3.1.0");
//! ```

mod admin;
mod auth;
mod errors;
mod params;
mod paths;
mod schema;
mod service;

use dynex_schema::Catalog;
use serde_json::{Map, Value, json};

/// The OpenAPI version of every document [`describe`] builds.
pub const OPENAPI_VERSION: &str = "3.1.0";

/// What the document says beyond the entities: names, where the API lives, and its limits.
///
/// A server fills these from the settings it runs with, so that the document describes exactly
/// what it serves.
#[derive(Debug, Clone)]
pub struct Options {
    /// The document's title (`info.title`).
    pub title: String,
    /// The version of the described API (`info.version`), usually the server's version.
    pub version: String,
    /// URL prefix of the Data Exchange API, without slashes (`dynamic-entity`).
    pub route_prefix: String,
    /// The server's base URL (`servers[0].url`); `None` describes the API relative to the
    /// document's own location (`/`).
    pub server_url: Option<String>,
    /// Rows per page when a request gives no `page[limit]`.
    pub page_limit_default: u64,
    /// The largest `page[limit]` accepted.
    pub page_limit_max: u64,
    /// The largest request body accepted, in bytes, when there is a limit.
    pub max_body_bytes: Option<u64>,
    /// Whether to describe the admin API under `/admin/api`.
    pub admin_api: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            title: "dynex Data Exchange API".to_string(),
            version: "0.0.0".to_string(),
            route_prefix: "dynamic-entity".to_string(),
            server_url: None,
            page_limit_default: 20,
            page_limit_max: 1000,
            max_body_bytes: None,
            admin_api: true,
        }
    }
}

impl Options {
    /// The options of the document `dynex-server` serves at `/openapi.json`, which `dynex
    /// openapi` prints too: the server's own settings and version, with the admin API.
    ///
    /// `server_url` is the base URL to name in the document; `None` leaves it relative to where
    /// the document is fetched from.
    pub fn served(
        route_prefix: &str,
        page_limit_default: u64,
        page_limit_max: u64,
        max_body_bytes: usize,
        server_url: Option<&str>,
    ) -> Options {
        Options {
            title: "dynex Data Exchange API".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            route_prefix: route_prefix.to_string(),
            server_url: server_url.map(str::to_string),
            page_limit_default,
            page_limit_max,
            max_body_bytes: u64::try_from(max_body_bytes).ok(),
            admin_api: true,
        }
    }
}

/// Builds the OpenAPI 3.1.0 document of a server that serves `catalog` with `options`.
///
/// Every entity of the catalog gets its paths, in alias order; relations to entities that are
/// not in the catalog (inactive or removed) are left out, as the server refuses them.
pub fn describe(catalog: &Catalog, options: &Options) -> Value {
    let mut doc = Doc::new(catalog, options);
    service::add(&mut doc);
    auth::add(&mut doc);
    for entity in catalog.entities() {
        paths::add_entity(&mut doc, entity);
    }
    if options.admin_api {
        admin::add(&mut doc);
    }
    doc.finish()
}

/// The document under construction: paths and components, filled by the modules in turn.
pub(crate) struct Doc<'a> {
    pub catalog: &'a Catalog,
    pub options: &'a Options,
    paths: Map<String, Value>,
    schemas: Map<String, Value>,
    responses: Map<String, Value>,
    parameters: Map<String, Value>,
    security_schemes: Map<String, Value>,
    tags: Vec<Value>,
}

impl<'a> Doc<'a> {
    fn new(catalog: &'a Catalog, options: &'a Options) -> Doc<'a> {
        Doc {
            catalog,
            options,
            paths: Map::new(),
            schemas: Map::new(),
            responses: Map::new(),
            parameters: Map::new(),
            security_schemes: Map::new(),
            tags: Vec::new(),
        }
    }

    /// `/{prefix}` with the configured prefix, without a trailing slash.
    pub fn prefix(&self) -> String {
        let p = self.options.route_prefix.trim_matches('/');
        if p.is_empty() {
            String::new()
        } else {
            format!("/{p}")
        }
    }

    /// Adds `operation` as `method` of `path`.
    pub fn operation(&mut self, path: &str, method: &str, operation: Value) {
        let item = self
            .paths
            .entry(path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(item) = item {
            item.insert(method.to_string(), operation);
        }
    }

    /// Whether a component schema called `name` exists (or is being built).
    pub fn has_schema(&self, name: &str) -> bool {
        self.schemas.contains_key(name)
    }

    /// Adds (or replaces) the component schema `name`; returns a reference to it.
    pub fn schema(&mut self, name: &str, schema: Value) -> Value {
        self.schemas.insert(name.to_string(), schema);
        schema_ref(name)
    }

    /// Adds the component schema `name`, an object with these `required` members and
    /// `properties` that refuses any other member; returns a reference to it.
    pub(crate) fn closed_schema(
        &mut self,
        name: &str,
        required: &[&str],
        properties: Value,
    ) -> Value {
        self.schema(name, closed_object(required, properties))
    }

    /// Adds the component schema `name` unless it exists; returns a reference to it.
    pub fn shared_schema(&mut self, name: &str, build: impl FnOnce(&mut Self) -> Value) -> Value {
        if !self.schemas.contains_key(name) {
            let schema = build(self);
            self.schemas.insert(name.to_string(), schema);
        }
        schema_ref(name)
    }

    /// Adds the component response `name` unless it exists; returns a reference to it.
    pub fn response(&mut self, name: &str, build: impl FnOnce(&mut Self) -> Value) -> Value {
        if !self.responses.contains_key(name) {
            let response = build(self);
            self.responses.insert(name.to_string(), response);
        }
        json!({ "$ref": format!("#/components/responses/{name}") })
    }

    /// Adds the component parameter `name` unless it exists; returns a reference to it.
    pub fn parameter(&mut self, name: &str, build: impl FnOnce(&Self) -> Value) -> Value {
        if !self.parameters.contains_key(name) {
            let parameter = build(self);
            self.parameters.insert(name.to_string(), parameter);
        }
        json!({ "$ref": format!("#/components/parameters/{name}") })
    }

    /// Adds a security scheme.
    pub fn security_scheme(&mut self, name: &str, scheme: Value) {
        self.security_schemes.insert(name.to_string(), scheme);
    }

    /// Declares a tag with its description.
    pub fn tag(&mut self, name: &str, description: &str) {
        self.tags
            .push(json!({ "name": name, "description": description }));
    }

    fn finish(self) -> Value {
        let o = self.options;
        let server = o.server_url.as_deref().unwrap_or("/").trim_end_matches('/');
        let server = if server.is_empty() { "/" } else { server };
        json!({
            "openapi": OPENAPI_VERSION,
            "info": {
                "title": o.title,
                "version": o.version,
                "summary": "REST API over configured database tables, wire-compatible with \
                            Spryker's Data Exchange API (Dynamic Entity API).",
                "description": overview(o),
                "license": { "name": "Apache-2.0", "identifier": "Apache-2.0" },
            },
            "servers": [{ "url": server }],
            "tags": self.tags,
            "paths": self.paths,
            "components": {
                "schemas": self.schemas,
                "responses": self.responses,
                "parameters": self.parameters,
                "securitySchemes": self.security_schemes,
            },
        })
    }
}

/// An object schema with these `required` members and `properties`, refusing any other member.
pub(crate) fn closed_object(required: &[&str], properties: Value) -> Value {
    json!({
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": false,
    })
}

/// A `$ref` to the component schema `name`.
pub(crate) fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The document's introduction, shown at the top of interactive docs.
fn overview(o: &Options) -> String {
    let prefix = o.route_prefix.trim_matches('/');
    format!(
        "Generated from the live entity configuration: every active entity is served under \
         `/{prefix}/{{alias}}` and `/{prefix}/{{alias}}/{{id}}`, and this document changes with \
         the configuration.\n\n\
         * **Credentials**: an API key in the `X-Api-Key` header (or the `api_key` query \
         parameter), or an OAuth 2.0 access token from `POST /token` as `Authorization: Bearer`. \
         Scopes are checked per entity and method.\n\
         * **Envelope**: rows are JSON objects keyed by the fields' visible names, inside \
         `{{\"data\": …}}`: an array on collection routes, an object on `/{{id}}` routes. Write \
         bodies use the same envelope.\n\
         * **Errors**: a JSON array of `{{\"code\", \"status\", \"message\"}}` objects; the HTTP \
         status is the first error's. With `X-Is-Transactional: false` a write that refuses some \
         rows answers `{{\"data\": …, \"errors\": […]}}`.\n\
         * **Paging**: `page[offset]` and `page[limit]` (default {default}, at most {max}), or \
         keyset paging with `page[size]` and the `page[after]` cursor of `links.next`; rows are \
         ordered by the identifier unless `sort` says otherwise. `meta=count` counts the \
         matching rows.\n\
         * **Filters**: `filter[alias.field]` with a value or a JSON object of operators (`eq`, \
         `neq`, `gt`, `gte`, `lt`, `lte`, `in`, `nin`, `like`, `ilike`, `isNull`), `filter[or]` \
         groups, and `filter[relation.field]` on related rows. `fields[alias]` returns only some \
         fields, so any field of a read row may be missing.\n\
         * **CSV**: `Accept: text/csv` on a collection GET streams every matching row as CSV; a \
         `text/csv` body on a collection POST, PATCH or PUT runs an import.",
        default = o.page_limit_default,
        max = o.page_limit_max,
    )
}

#[cfg(test)]
mod tests;
