//! dynex users (Back Office and API users): names, roles and Argon2id password hashes.

use std::sync::LazyLock;

use diesel::sql_types::{Integer, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};
use dynex_auth::{Role, check_password_strength, hash_password, verify_password};
use dynex_query::{Dialect, Sql, Value};
use serde::Serialize;

use crate::config::store::as_text;
use crate::db::{AnyConnection, DynQuery, execute};
use crate::error::CoreError;

/// What `dynex user list` shows about a user (never the password hash).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserInfo {
    /// The user's name.
    pub name: String,
    /// The user's role.
    #[serde(serialize_with = "role_name")]
    pub role: Role,
    /// Creation time (UTC).
    pub created_at: String,
    /// When the password was last set (UTC).
    pub password_changed_at: String,
}

fn role_name<S: serde::Serializer>(role: &Role, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(role.as_str())
}

#[derive(QueryableByName)]
struct UserRow {
    #[diesel(sql_type = Integer)]
    id: i32,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    password_hash: String,
    #[diesel(sql_type = Text)]
    role: String,
    #[diesel(sql_type = Text)]
    created: String,
    #[diesel(sql_type = Text)]
    changed: String,
}

impl UserRow {
    fn info(self) -> Result<UserInfo, CoreError> {
        let role = self
            .role
            .parse()
            .map_err(|e| CoreError::Corrupt(format!("role of user `{}`: {e}", self.name)))?;
        Ok(UserInfo {
            name: self.name,
            role,
            created_at: seconds(self.created),
            password_changed_at: seconds(self.changed),
        })
    }
}

/// A stored timestamp as `YYYY-MM-DD HH:MM:SS` (PostgreSQL keeps microseconds).
fn seconds(stored: String) -> String {
    match dynex_schema::normalize_datetime(&stored) {
        Some(t) => t.split('.').next().unwrap_or_default().to_string(),
        None => stored,
    }
}

/// A hash verified when the named user does not exist, so that a login takes as long for an
/// unknown name as for a wrong password. Hashed with the same parameters as real passwords.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash_password("dynex: no such user; this hash never matches a login").unwrap_or_default()
});

fn select(dialect: Dialect) -> Sql {
    let mut q = Sql::default();
    q.push(&format!(
        "SELECT id, name, password_hash, role, {} AS created, {} AS changed FROM dynex_user",
        as_text(dialect, "created_at"),
        as_text(dialect, "password_changed_at"),
    ));
    q
}

/// The users whose name equals `name` ignoring ASCII case (MariaDB's collation compares that way;
/// the other backends are made to agree).
fn same_name(
    conn: &mut AnyConnection,
    dialect: Dialect,
    name: &str,
) -> Result<Vec<UserRow>, CoreError> {
    let mut q = select(dialect);
    q.push(" WHERE LOWER(name) = ")
        .bind(Value::Text(name.to_ascii_lowercase()));
    Ok(DynQuery(&q).load::<UserRow>(conn)?)
}

/// The user named exactly `name`.
fn find(
    conn: &mut AnyConnection,
    dialect: Dialect,
    name: &str,
) -> Result<Option<UserRow>, CoreError> {
    Ok(same_name(conn, dialect, name)?
        .into_iter()
        .find(|u| u.name == name))
}

fn not_found(name: &str) -> CoreError {
    CoreError::NotFound {
        kind: "user",
        name: name.to_string(),
    }
}

/// Checks a user name or client id: 1 to 64 characters of `A-Z a-z 0-9 . _ @ -` (no `:`, which
/// HTTP Basic uses as its separator, and nothing that needs escaping).
pub(crate) fn check_name(kind: &str, name: &str) -> Result<(), CoreError> {
    let valid = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'));
    if valid {
        Ok(())
    } else {
        Err(CoreError::Invalid(format!(
            "invalid {kind} `{name}`: use 1 to 64 letters, digits, `.`, `_`, `@` or `-`"
        )))
    }
}

fn strong_hash(name: &str, password: &str) -> Result<String, CoreError> {
    check_password_strength(password, name).map_err(|e| CoreError::Invalid(e.to_string()))?;
    hash_password(password).map_err(|e| CoreError::Invalid(e.to_string()))
}

/// Adds a user; fails when the name is invalid or taken (ignoring case) or the password is weak.
pub fn add(
    conn: &mut AnyConnection,
    dialect: Dialect,
    name: &str,
    password: &str,
    role: Role,
) -> Result<UserInfo, CoreError> {
    check_name("user name", name)?;
    let hash = strong_hash(name, password)?;
    conn.transaction::<_, CoreError, _>(|conn| {
        if let Some(existing) = same_name(conn, dialect, name)?.into_iter().next() {
            return Err(CoreError::AlreadyExists {
                kind: "user",
                name: existing.name,
            });
        }
        let mut q = Sql::default();
        // Tokens of an earlier user of the same name must not come back to life.
        q.push("INSERT INTO dynex_user (name, password_hash, role, tokens_valid_after) VALUES (")
            .bind(Value::Text(name.to_string()))
            .push(", ")
            .bind(Value::Text(hash))
            .push(", ")
            .bind(Value::Text(role.as_str().to_string()))
            .push(", ")
            .bind(Value::Int(crate::clock::now_ms()))
            .push(")");
        execute(conn, &q)?;
        find(conn, dialect, name)?
            .ok_or_else(|| not_found(name))?
            .info()
    })
}

/// Lists every user by name.
pub fn list(conn: &mut AnyConnection, dialect: Dialect) -> Result<Vec<UserInfo>, CoreError> {
    let mut q = select(dialect);
    q.push(" ORDER BY name");
    DynQuery(&q)
        .load::<UserRow>(conn)?
        .into_iter()
        .map(UserRow::info)
        .collect()
}

/// Removes a user by name; returns whether one was removed.
pub fn remove(conn: &mut AnyConnection, dialect: Dialect, name: &str) -> Result<bool, CoreError> {
    conn.transaction::<_, CoreError, _>(|conn| {
        let Some(user) = find(conn, dialect, name)? else {
            return Ok(false);
        };
        let mut q = Sql::default();
        q.push("DELETE FROM dynex_user WHERE id = ")
            .bind(Value::Int(i64::from(user.id)));
        Ok(execute(conn, &q)? > 0)
    })
}

/// Sets a user's password (checked for strength); returns whether the user exists.
pub fn set_password(
    conn: &mut AnyConnection,
    dialect: Dialect,
    name: &str,
    password: &str,
) -> Result<bool, CoreError> {
    let hash = strong_hash(name, password)?;
    conn.transaction::<_, CoreError, _>(|conn| {
        let Some(user) = find(conn, dialect, name)? else {
            return Ok(false);
        };
        let mut q = Sql::default();
        q.push("UPDATE dynex_user SET password_hash = ")
            .bind(Value::Text(hash))
            .push(", password_changed_at = CURRENT_TIMESTAMP WHERE id = ")
            .bind(Value::Int(i64::from(user.id)));
        Ok(execute(conn, &q)? > 0)
    })
}

/// Checks a user's password. An unknown name costs the same Argon2 verification as a wrong
/// password, so the answer time does not tell which names exist.
pub fn authenticate(
    conn: &mut AnyConnection,
    dialect: Dialect,
    name: &str,
    password: &str,
) -> Result<UserInfo, CoreError> {
    let user = find(conn, dialect, name)?;
    let hash = user
        .as_ref()
        .map_or(DUMMY_HASH.as_str(), |u| &u.password_hash);
    let verified = verify_password(password, hash);
    match user {
        Some(user) if verified => user.info(),
        _ => Err(CoreError::BadCredentials),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in [
            "a",
            "alice",
            "alice.smith@example.com",
            "ci-bot_2",
            &"x".repeat(64),
        ] {
            assert!(check_name("user name", good).is_ok(), "{good}");
        }
        for bad in ["", "alice smith", "ä", "a/b", "a:b", &"x".repeat(65)] {
            assert!(
                matches!(check_name("user name", bad), Err(CoreError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_dummy_hash_is_a_real_argon2id_hash() {
        assert!(DUMMY_HASH.starts_with("$argon2id$"));
    }
}
