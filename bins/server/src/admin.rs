//! The admin API under `/admin/api`: users, integration clients and API keys. Every route needs
//! the `admin` scope; answers are `{"data": …}` and errors Spryker-style arrays like the rest.

use actix_web::{HttpRequest, HttpResponse, web};
use dynex_auth::{Role, Scope};
use dynex_core::{CoreError, Dynex};
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::{AppState, auth, blocking, query_pairs};

/// Registers the admin routes on `cfg`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin/api")
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
            .route("/keys/{name}", web::delete().to(revoke_key)),
    );
}

/// Refuses the request unless its credentials hold the `admin` scope.
fn guard(state: &web::Data<AppState>, req: &HttpRequest) -> Result<(), ApiError> {
    auth::authorize_admin(&state.dynex, req, &query_pairs(req)).map(|_| ())
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

fn ok(data: impl serde::Serialize) -> HttpResponse {
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
        .map(|t| dynex_core::parse_valid_to(t).map_err(|e| ApiError::Core(CoreError::Invalid(e))))
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
