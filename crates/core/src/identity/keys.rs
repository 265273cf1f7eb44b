//! API keys: created once, stored as hashes, revoked by name.

use chrono::{NaiveDateTime, Timelike};
use diesel::prelude::*;
use dynex_auth::{Scope, generate_api_key, hash_secret};
use dynex_query::{Dialect, Sql, Value};
use serde::Serialize;

use crate::config::store::bump_version;
use crate::db::{AnyConnection, execute};
use crate::error::CoreError;
use crate::schema::{dynex_api_key, timestamp_text};

/// Why a presented API key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// No such key, or it was revoked.
    Unknown,
    /// The key's `valid_to` has passed.
    Expired,
}

/// The stored format of timestamps dynex writes.
pub(crate) const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Parses a key's expiry (`--valid-to`, `valid_to`): `YYYY-MM-DD` means the end of that day,
/// `YYYY-MM-DD HH:MM:SS` and RFC 3339 are read as UTC.
pub fn parse_valid_to(s: &str) -> Result<NaiveDateTime, InvalidValidTo> {
    let s = s.trim();
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d
            .and_hms_opt(23, 59, 59)
            .ok_or_else(|| InvalidValidTo::OutOfRange(s.to_string()));
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Ok(t);
        }
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.naive_utc());
    }
    Err(InvalidValidTo::NotADate(s.to_string()))
}

/// Why [`parse_valid_to`] refused a text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidValidTo {
    /// A date whose last second cannot be represented.
    #[error("`{0}` is out of range")]
    OutOfRange(String),
    /// Text in none of the accepted forms.
    #[error("`{0}` is not a date (use YYYY-MM-DD, \"YYYY-MM-DD HH:MM:SS\" or RFC 3339)")]
    NotADate(String),
}

impl From<InvalidValidTo> for CoreError {
    fn from(e: InvalidValidTo) -> CoreError {
        CoreError::Invalid(e.to_string())
    }
}

/// A key just created; the only time the key itself is available.
#[derive(Debug, Clone, Serialize)]
pub struct NewApiKey {
    /// The key's name.
    pub name: String,
    /// The key; store it now, it is never shown again.
    pub key: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Expiry (UTC), if any.
    pub valid_to: Option<String>,
}

/// What `dynex key list` shows about a key (never the key).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiKeyInfo {
    /// The key's name.
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Expiry (UTC), if any.
    pub valid_to: Option<String>,
    /// Creation time (UTC).
    pub created_at: String,
    /// Revocation time, if revoked.
    pub revoked_at: Option<String>,
}

/// An active key as the server holds it in memory.
#[derive(Debug, Clone)]
pub(crate) struct KeyRecord {
    pub name: String,
    pub scopes: Vec<Scope>,
    pub valid_to: Option<NaiveDateTime>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = dynex_api_key, check_for_backend(crate::db::MultiBackend))]
struct KeyRow {
    name: String,
    key_hash: String,
    key_prefix: String,
    scopes: String,
    valid_to: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    revoked_at: Option<NaiveDateTime>,
}

/// A bound timestamp, cast from text in the dialect's spelling (see [`create`] for why).
fn timestamp_bind(sql: &mut Sql, dialect: Dialect, t: Option<&NaiveDateTime>) {
    match t {
        None => {
            sql.push("NULL");
        }
        Some(t) => {
            let text = Value::Text(t.format(TIME_FORMAT).to_string());
            match dialect {
                Dialect::Postgres => sql.push("CAST(").bind(text).push(" AS TIMESTAMP)"),
                Dialect::Mysql => sql.push("CAST(").bind(text).push(" AS DATETIME)"),
                Dialect::Sqlite => sql.bind(text),
            };
        }
    }
}

fn load(conn: &mut AnyConnection, only_active: bool) -> Result<Vec<KeyRow>, CoreError> {
    let mut q = dynex_api_key::table
        .select(KeyRow::as_select())
        .order(dynex_api_key::name)
        .into_boxed();
    if only_active {
        q = q.filter(dynex_api_key::revoked_at.is_null());
    }
    Ok(q.load(conn)?)
}

/// A time to the whole second, as dynex stores and compares expiries.
fn whole_second(t: NaiveDateTime) -> NaiveDateTime {
    t.with_nanosecond(0).unwrap_or(t)
}

fn scopes_text(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Creates a key; fails when the name is taken.
pub fn create(
    conn: &mut AnyConnection,
    dialect: Dialect,
    name: &str,
    scopes: &[Scope],
    valid_to: Option<NaiveDateTime>,
) -> Result<NewApiKey, CoreError> {
    if name.trim().is_empty() || name.len() > 255 {
        return Err(CoreError::Invalid(
            "a key name must have 1 to 255 characters".into(),
        ));
    }
    let key = generate_api_key();
    conn.transaction::<_, CoreError, _>(|conn| {
        if load(conn, false)?.iter().any(|k| k.name == name) {
            return Err(CoreError::AlreadyExists {
                kind: "API key",
                name: name.to_string(),
            });
        }
        // Hand-written SQL, not diesel's DSL: the multi-backend connection binds a
        // `Timestamp` as MySQL's TIMESTAMP type, whose range ends in 2038, and MariaDB stores
        // such a bind past it as NULL in the DATETIME column (a key valid until 2999 would
        // never expire). Text cast in the dialect's spelling keeps DATETIME's range.
        let mut q = Sql::default();
        q.push("INSERT INTO dynex_api_key (name, key_hash, key_prefix, scopes, valid_to) VALUES (")
            .bind(Value::Text(name.to_string()))
            .push(", ")
            .bind(Value::Text(hash_secret(&key)))
            .push(", ")
            .bind(Value::Text(key[..8].to_string()))
            .push(", ")
            .bind(Value::Text(scopes_text(scopes)))
            .push(", ");
        timestamp_bind(&mut q, dialect, valid_to.as_ref());
        q.push(")");
        execute(conn, &q)?;
        bump_version(conn)?;
        Ok(())
    })?;
    Ok(NewApiKey {
        name: name.to_string(),
        key,
        scopes: scopes.iter().map(ToString::to_string).collect(),
        valid_to: valid_to.map(|t| t.format(TIME_FORMAT).to_string()),
    })
}

/// Lists every key, revoked ones included.
pub fn list(conn: &mut AnyConnection) -> Result<Vec<ApiKeyInfo>, CoreError> {
    Ok(load(conn, false)?
        .into_iter()
        .map(|k| ApiKeyInfo {
            name: k.name,
            prefix: k.key_prefix,
            scopes: k.scopes.split_whitespace().map(str::to_string).collect(),
            valid_to: k.valid_to.as_ref().map(timestamp_text),
            created_at: timestamp_text(&k.created_at),
            revoked_at: k.revoked_at.as_ref().map(timestamp_text),
        })
        .collect())
}

/// Revokes a key by name; returns whether an active key was revoked.
pub fn revoke(conn: &mut AnyConnection, name: &str) -> Result<bool, CoreError> {
    conn.transaction::<_, CoreError, _>(|conn| {
        let n = diesel::update(
            dynex_api_key::table
                .filter(dynex_api_key::revoked_at.is_null())
                .filter(dynex_api_key::name.eq(name)),
        )
        .set(dynex_api_key::revoked_at.eq(diesel::dsl::now.nullable()))
        .execute(conn)?;
        bump_version(conn)?;
        Ok(n > 0)
    })
}

/// Deletes a key, active or revoked, so that its name is free again; true if it existed.
pub fn delete(conn: &mut AnyConnection, name: &str) -> Result<bool, CoreError> {
    conn.transaction::<_, CoreError, _>(|conn| {
        let n = diesel::delete(dynex_api_key::table.filter(dynex_api_key::name.eq(name)))
            .execute(conn)?;
        bump_version(conn)?;
        Ok(n > 0)
    })
}

/// Loads the active keys by hash, for the in-memory snapshot.
pub(crate) fn load_active(conn: &mut AnyConnection) -> Result<Vec<(String, KeyRecord)>, CoreError> {
    load(conn, true)?
        .into_iter()
        .map(|k| {
            let scopes = dynex_auth::parse_scopes(&k.scopes)
                .map_err(|e| CoreError::Corrupt(format!("scopes of key `{}`: {e}", k.name)))?;
            Ok((
                k.key_hash,
                KeyRecord {
                    name: k.name,
                    scopes,
                    valid_to: k.valid_to.map(whole_second),
                },
            ))
        })
        .collect()
}
