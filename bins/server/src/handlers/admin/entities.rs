//! Entities in the admin API: the live tables an entity can expose, the entities themselves
//! (the Data Exchange API's configuration) and their export and import as Spryker's installer
//! `configuration.json`.

use actix_web::{HttpResponse, web};
use dynex_core::{CoreError, Dynex};
use dynex_schema::EntityConfig;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{body, on_name, run};
use crate::error::ApiError;
use crate::extract::Admin;
use crate::respond::{created, ok};

/// A live table and the entity exposing it, if any.
#[derive(Serialize)]
struct TableSummary {
    name: String,
    entity: Option<String>,
}

/// `GET /admin/api/tables`: the live tables but dynex's own, each with the entity exposing it.
pub(crate) async fn list_tables(admin: Admin) -> Result<HttpResponse, ApiError> {
    let tables = run(&admin, |d| {
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
pub(crate) async fn show_table(
    admin: Admin,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let (table, suggested) = run(&admin, move |d| {
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

/// `GET /admin/api/entities`: every stored entity, served or not.
pub(crate) async fn list_entities(admin: Admin) -> Result<HttpResponse, ApiError> {
    let list = run(&admin, |d| {
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
pub(crate) async fn show_entity(
    admin: Admin,
    alias: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let alias = alias.into_inner();
    let shown = run(&admin, move |d| {
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
pub(crate) async fn add_entity(bytes: web::Bytes, admin: Admin) -> Result<HttpResponse, ApiError> {
    let new: NewEntity = body(&bytes)?;
    let config = run(&admin, move |d| {
        d.add_entity(&new.table, new.alias.as_deref(), new.active)
    })
    .await?;
    Ok(created(config))
}

/// Creates or replaces the entity `alias` with the configuration in the body (Spryker's
/// installer shape), checked against the live schema: all problems are answered, one error
/// each, and nothing is stored.
pub(crate) async fn save_entity(
    alias: web::Path<String>,
    bytes: web::Bytes,
    admin: Admin,
) -> Result<HttpResponse, ApiError> {
    let alias = alias.into_inner();
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::Core(CoreError::ConfigFormat("the body is not UTF-8".into())))?;
    // One entry, read as `dynex entity import` reads a file (strictly); its text is checked
    // for NUL characters with the configuration.
    let config: EntityConfig = match EntityConfig::parse_many(text) {
        Ok(mut configs) if configs.len() == 1 && !text.trim_start().starts_with('[') => {
            configs.remove(0)
        }
        Ok(_) => {
            return Err(ApiError::Core(CoreError::ConfigFormat(
                "invalid request body: one entity configuration object is expected".into(),
            )));
        }
        Err(e) => {
            return Err(ApiError::Core(CoreError::ConfigFormat(format!(
                "invalid request body: {e}"
            ))));
        }
    };
    if config.table_alias != alias {
        return Err(ApiError::Core(CoreError::Invalid(format!(
            "the body's tableAlias `{}` is not the alias of the path, `{alias}` (to rename, \
             create the new alias and remove the old one)",
            config.table_alias
        ))));
    }
    let saved = run(&admin, move |d| {
        d.save_entities(std::slice::from_ref(&config))?;
        Ok(d.stored_entity(&alias)?.config)
    })
    .await?;
    Ok(ok(saved))
}

/// `DELETE /admin/api/entities/{alias}`.
pub(crate) async fn remove_entity(
    admin: Admin,
    alias: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    on_name(admin, alias.into_inner(), Dynex::remove_entity).await
}

/// Every entity in Spryker's installer `configuration.json` shape, as `dynex entity export`.
pub(crate) async fn export_configuration(admin: Admin) -> Result<HttpResponse, ApiError> {
    let all = run(&admin, |d| d.export_configuration(&[])).await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            "attachment; filename=\"configuration.json\"",
        ))
        .json(all))
}

/// Imports a Spryker installer `configuration.json` (or one entry): all or nothing.
pub(crate) async fn import_configuration(
    bytes: web::Bytes,
    admin: Admin,
) -> Result<HttpResponse, ApiError> {
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::Core(CoreError::ConfigFormat("the body is not UTF-8".into())))?;
    let aliases = run(&admin, move |d| d.import_configuration(&text)).await?;
    Ok(ok(json!({ "imported": aliases })))
}
