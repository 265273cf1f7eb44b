//! Who may call, in the admin API: users (who log in at `/token`), integration clients (client
//! credentials) and API keys. Answers that create a secret show it once and are never cached.

use actix_web::{HttpResponse, web};
use dynex_auth::{Role, Scope};
use dynex_core::{CoreError, Dynex};
use serde::Deserialize;

use super::{body, on_name, run};
use crate::error::ApiError;
use crate::extract::Admin;
use crate::respond::{created, ok};

/// Parses scope names as `dynex key create --scope` takes them.
fn scopes(list: &[String]) -> Result<Vec<Scope>, ApiError> {
    list.iter()
        .map(|s| s.parse().map_err(|e| ApiError::Core(CoreError::Invalid(e))))
        .collect()
}

/// `GET /admin/api/users`.
pub(crate) async fn list_users(admin: Admin) -> Result<HttpResponse, ApiError> {
    Ok(ok(run(&admin, |d| d.list_users()).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    password: String,
    #[serde(default)]
    role: Option<String>,
}

/// `POST /admin/api/users` with `{name, password, role?}`; the role is `integrator` unless
/// given.
pub(crate) async fn add_user(bytes: web::Bytes, admin: Admin) -> Result<HttpResponse, ApiError> {
    let user: NewUser = body(&bytes)?;
    let role: Role = user
        .role
        .as_deref()
        .unwrap_or("integrator")
        .parse()
        .map_err(|e| ApiError::Core(CoreError::Invalid(e)))?;
    let info = run(&admin, move |d| {
        d.add_user(&user.name, &user.password, role)
    })
    .await?;
    Ok(created(info))
}

/// `DELETE /admin/api/users/{name}`.
pub(crate) async fn remove_user(
    admin: Admin,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    on_name(admin, name.into_inner(), Dynex::remove_user).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPassword {
    password: String,
}

/// `PUT /admin/api/users/{name}/password` with `{password}`.
pub(crate) async fn set_password(
    name: web::Path<String>,
    bytes: web::Bytes,
    admin: Admin,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let new: NewPassword = body(&bytes)?;
    run(&admin, move |d| d.set_user_password(&name, &new.password)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /admin/api/users/{name}/revoke-tokens`.
pub(crate) async fn revoke_user(
    admin: Admin,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    on_name(admin, name.into_inner(), Dynex::revoke_user_tokens).await
}

/// `GET /admin/api/clients`.
pub(crate) async fn list_clients(admin: Admin) -> Result<HttpResponse, ApiError> {
    Ok(ok(run(&admin, |d| d.list_clients()).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewClient {
    client_id: String,
    scopes: Vec<String>,
}

/// `POST /admin/api/clients` with `{client_id, scopes}`: answers the client's secret once.
pub(crate) async fn add_client(bytes: web::Bytes, admin: Admin) -> Result<HttpResponse, ApiError> {
    let client: NewClient = body(&bytes)?;
    let scopes = scopes(&client.scopes)?;
    let new = run(&admin, move |d| d.add_client(&client.client_id, &scopes)).await?;
    Ok(created(new))
}

/// `DELETE /admin/api/clients/{id}`.
pub(crate) async fn remove_client(
    admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    on_name(admin, id.into_inner(), Dynex::remove_client).await
}

/// `POST /admin/api/clients/{id}/revoke-tokens`.
pub(crate) async fn revoke_client(
    admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    on_name(admin, id.into_inner(), Dynex::revoke_client_tokens).await
}

/// `GET /admin/api/keys`.
pub(crate) async fn list_keys(admin: Admin) -> Result<HttpResponse, ApiError> {
    Ok(ok(run(&admin, |d| d.list_api_keys()).await?))
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

/// `POST /admin/api/keys` with `{name, scopes?, valid_to?}`: answers the key once.
pub(crate) async fn create_key(bytes: web::Bytes, admin: Admin) -> Result<HttpResponse, ApiError> {
    let key: NewKey = body(&bytes)?;
    let scopes = scopes(&key.scopes)?;
    let valid_to = key
        .valid_to
        .as_deref()
        .map(|t| dynex_core::parse_valid_to(t).map_err(|e| ApiError::Core(e.into())))
        .transpose()?;
    let new = run(&admin, move |d| {
        d.create_api_key(&key.name, &scopes, valid_to)
    })
    .await?;
    Ok(created(new))
}

/// `DELETE /admin/api/keys/{name}`.
pub(crate) async fn revoke_key(
    admin: Admin,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    on_name(admin, name.into_inner(), Dynex::revoke_api_key).await
}
