//! The admin API under `/admin/api`: entities (the Data Exchange API's configuration), the live
//! tables they can expose, users, integration clients and API keys. Every route needs the
//! `admin` scope; answers are `{"data": …}` and errors Spryker-style arrays like the rest.

use actix_web::{HttpRequest, HttpResponse, web};
use dynex_auth::{Role, Scope};
use dynex_core::{CoreError, Dynex};
use dynex_schema::EntityConfig;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::ApiError;
use crate::{AppState, auth, blocking, query_pairs};

/// Registers the admin routes on `cfg`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let scope = web::scope("/admin/api")
        .route("/tables", web::get().to(list_tables))
        .route("/tables/{name}", web::get().to(show_table))
        .route("/entities", web::get().to(list_entities))
        .route("/entities", web::post().to(add_entity))
        .route("/entities/{alias}", web::get().to(show_entity))
        .route("/entities/{alias}", web::put().to(save_entity))
        .route("/entities/{alias}", web::delete().to(remove_entity))
        .route("/configuration", web::get().to(export_configuration))
        .route("/configuration", web::post().to(import_configuration))
        .route("/users", web::get().to(list_users))
        .route("/users", web::post().to(add_user))
        .route("/users/{name}", web::delete().to(remove_user))
        .route("/users/{name}/password", web::put().to(set_password))
        .route("/users/{name}/revoke-tokens", web::post().to(revoke_user))
        .route("/clients", web::get().to(list_clients))
        .route("/clients", web::post().to(add_client))
        .route("/clients/{id}", web::delete().to(remove_client))
        .route("/clients/{id}/revoke-tokens", web::post().to(revoke_client))
        .route("/keys", web::get().to(list_keys))
        .route("/keys", web::post().to(create_key))
        .route("/keys/{name}", web::delete().to(revoke_key));
    cfg.service(crate::jobs::routes(scope));
}

/// Refuses the request unless its credentials hold the `admin` scope.
fn guard(state: &web::Data<AppState>, req: &HttpRequest) -> Result<(), ApiError> {
    guard_principal(state, req).map(|_| ())
}

/// Refuses the request unless its credentials hold the `admin` scope; returns who they are.
pub(crate) fn guard_principal(
    state: &web::Data<AppState>,
    req: &HttpRequest,
) -> Result<dynex_auth::Principal, ApiError> {
    auth::authorize_admin(&state.dynex, req, &query_pairs(req))
}

/// Runs `op` on the named user, client or key and answers 204.
async fn on_name(
    state: web::Data<AppState>,
    req: HttpRequest,
    name: String,
    op: fn(&Dynex, &str) -> Result<(), CoreError>,
) -> Result<HttpResponse, ApiError> {
    guard(&state, &req)?;
    run(&state, move |d| op(&d, &name)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Runs `f` off the async workers.
async fn run<R: Send + 'static>(
    state: &web::Data<AppState>,
    f: impl FnOnce(Dynex) -> Result<R, CoreError> + Send + 'static,
) -> Result<R, ApiError> {
    let dynex = state.dynex.clone();
    blocking(move || f(dynex)).await
}

fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::Core(CoreError::Invalid(format!("invalid request body: {e}"))))
}

fn scopes(list: &[String]) -> Result<Vec<Scope>, ApiError> {
    list.iter()
        .map(|s| s.parse().map_err(|e| ApiError::Core(CoreError::Invalid(e))))
        .collect()
}

pub(crate) fn ok(data: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "data": data }))
}

fn created(data: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(json!({ "data": data }))
}

async fn list_users(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    guard(&state, &req)?;
    Ok(ok(run(&state, |d| d.list_users()).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    password: String,
    #[serde(default)]
    role: Option<String>,
}

async fn add_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    guard(&state, &req)?;
    let user: NewUser = body(&bytes)?;
    let role: Role = user
        .role
        .as_deref()
        .unwrap_or("integrator")
        .parse()
        .map_err(|e| ApiError::Core(CoreError::Invalid(e)))?;
    let info = run(&state, move |d| {
        d.add_user(&user.name, &user.password, role)
    })
    .await?;
    Ok(created(info))
}

async fn remove_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    on_name(state, req, name.into_inner(), Dynex::remove_user).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPassword {
    password: String,
}

async fn set_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    name: web::Path<String>,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    guard(&state, &req)?;
    let name = name.into_inner();
    let new: NewPassword = body(&bytes)?;
    run(&state, move |d| d.set_user_password(&name, &new.password)).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn revoke_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    on_name(state, req, name.into_inner(), Dynex::revoke_user_tokens).await
}

async fn list_clients(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    guard(&state, &req)?;
    Ok(ok(run(&state, |d| d.list_clients()).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewClient {
    client_id: String,
    scopes: Vec<String>,
}

async fn add_client(
    state: web::Data<AppState>,
    req: HttpRequest,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    guard(&state, &req)?;
    let client: NewClient = body(&bytes)?;
    let scopes = scopes(&client.scopes)?;
    let new = run(&state, move |d| d.add_client(&client.client_id, &scopes)).await?;
    Ok(created(new))
}

async fn remove_client(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    on_name(state, req, id.into_inner(), Dynex::remove_client).await
}

async fn revoke_client(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    on_name(state, req, id.into_inner(), Dynex::revoke_client_tokens).await
}

async fn list_keys(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    guard(&state, &req)?;
    Ok(ok(run(&state, |d| d.list_api_keys()).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    valid_to: Option<String>,
}

async fn create_key(
    state: web::Data<AppState>,
    req: HttpRequest,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    guard(&state, &req)?;
    let key: NewKey = body(&bytes)?;
    let scopes = scopes(&key.scopes)?;
    let valid_to = key
        .valid_to
        .as_deref()
        .map(|t| dynex_core::parse_valid_to(t).map_err(|e| ApiError::Core(e.into())))
        .transpose()?;
    let new = run(&state, move |d| {
        d.create_api_key(&key.name, &scopes, valid_to)
    })
    .await?;
    Ok(created(new))
}

async fn revoke_key(
    state: web::Data<AppState>,
    req: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    on_name(state, req, name.into_inner(), Dynex::revoke_api_key).await
}

/// A live table and the entity exposing it, if any.
#[derive(Serialize)]
struct TableSummary {
    name: String,
    entity: Option<String>,
}

async fn list_tables(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    guard(&state, &req)?;
    let tables = run(&state, |d| {
        let entities = d.entities()?;
        Ok(d.tables()?
            .into_iter()
            // dynex's own tables can never be exposed.
            .filter(|name| !dynex_schema::is_reserved_table(name))
            .map(|name| TableSummary {
                entity: entities
                    .iter()
                    .find(|e| e.config.table_name == name)
                    .map(|e| e.config.table_alias.clone()),
                name,
            })
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(ok(tables))
}

/// A live table's columns and keys, with the configuration `POST /entities` would store for it.
async fn show_table(
    state: web::Data<AppState>,
    req: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    guard(&state, &req)?;
    let name = name.into_inner();
    let (table, suggested) = run(&state, move |d| {
        if dynex_schema::is_reserved_table(&name) {
            return Err(CoreError::NotFound {
                kind: "table",
                name,
            });
        }
        let table = d.table(&name)?;
        let suggested = dynex_schema::suggest_config(&table, None);
        Ok((table, suggested))
    })
    .await?;
    Ok(ok(json!({ "table": table, "suggested": suggested })))
}

/// An entity as the list shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EntitySummary {
    alias: String,
    table: String,
    active: bool,
    /// Active and accepted by the running server (an entity whose table changed is not).
    served: bool,
    is_deletable: bool,
    fields: usize,
    relations: usize,
    updated_at: String,
}

async fn list_entities(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    guard(&state, &req)?;
    let list = run(&state, |d| {
        let snapshot = d.snapshot();
        Ok(d.entities()?
            .into_iter()
            .map(|e| EntitySummary {
                served: snapshot.catalog.entity(&e.config.table_alias).is_some(),
                alias: e.config.table_alias,
                table: e.config.table_name,
                active: e.config.is_active,
                is_deletable: e.config.definition.is_deletable,
                fields: e.config.definition.fields.len(),
                relations: e.config.child_relations.len(),
                updated_at: e.updated_at,
            })
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(ok(list))
}

/// One entity: its configuration, whether it is served, and index warnings.
async fn show_entity(
    state: web::Data<AppState>,
    req: HttpRequest,
    alias: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    guard(&state, &req)?;
    let alias = alias.into_inner();
    let shown = run(&state, move |d| {
        let stored = d.stored_entity(&alias)?;
        let warnings: Vec<String> = d
            .index_warnings(&stored.config)?
            .iter()
            .map(ToString::to_string)
            .collect();
        Ok(json!({
            "configuration": stored.config,
            "served": d.snapshot().catalog.entity(&alias).is_some(),
            "updatedAt": stored.updated_at,
            "warnings": warnings,
        }))
    })
    .await?;
    Ok(ok(shown))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewEntity {
    table: String,
    #[serde(default)]
    alias: Option<String>,
    #[serde(default = "yes")]
    active: bool,
}

fn yes() -> bool {
    true
}

/// Exposes a live table with the configuration introspection suggests (as `dynex entity add`).
async fn add_entity(
    state: web::Data<AppState>,
    req: HttpRequest,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    guard(&state, &req)?;
    let new: NewEntity = body(&bytes)?;
    let config = run(&state, move |d| {
        d.add_entity(&new.table, new.alias.as_deref(), new.active)
    })
    .await?;
    Ok(created(config))
}

/// Creates or replaces the entity `alias` with the configuration in the body (Spryker's
/// installer shape), checked against the live schema: all problems are answered, one error
/// each, and nothing is stored.
async fn save_entity(
    state: web::Data<AppState>,
    req: HttpRequest,
    alias: web::Path<String>,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    guard(&state, &req)?;
    let alias = alias.into_inner();
    let config: EntityConfig = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::Core(CoreError::ConfigFormat(format!(
            "invalid request body: {e}"
        )))
    })?;
    if config.table_alias != alias {
        return Err(ApiError::Core(CoreError::Invalid(format!(
            "the body's tableAlias `{}` is not the alias of the path, `{alias}` (to rename, \
             create the new alias and remove the old one)",
            config.table_alias
        ))));
    }
    let saved = run(&state, move |d| {
        d.save_entities(std::slice::from_ref(&config))?;
        Ok(d.stored_entity(&alias)?.config)
    })
    .await?;
    Ok(ok(saved))
}

async fn remove_entity(
    state: web::Data<AppState>,
    req: HttpRequest,
    alias: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    on_name(state, req, alias.into_inner(), Dynex::remove_entity).await
}

/// Every entity in Spryker's installer `configuration.json` shape, as `dynex entity export`.
async fn export_configuration(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    guard(&state, &req)?;
    let all = run(&state, |d| d.export_configuration(&[])).await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            "attachment; filename=\"configuration.json\"",
        ))
        .json(all))
}

/// Imports a Spryker installer `configuration.json` (or one entry): all or nothing.
async fn import_configuration(
    state: web::Data<AppState>,
    req: HttpRequest,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    guard(&state, &req)?;
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::Core(CoreError::ConfigFormat("the body is not UTF-8".into())))?;
    let aliases = run(&state, move |d| d.import_configuration(&text)).await?;
    Ok(ok(json!({ "imported": aliases })))
}
