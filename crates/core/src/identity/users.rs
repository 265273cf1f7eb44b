//! dynex users (Back Office and API users): names, roles and Argon2id password hashes.

use std::sync::LazyLock;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use dynex_auth::{Role, check_password_strength, hash_password, verify_password};
use serde::Serialize;

use crate::db::AnyConnection;
use crate::error::CoreError;
use crate::schema::{dynex_user, lower};

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

#[derive(Queryable, Selectable)]
#[diesel(table_name = dynex_user, check_for_backend(crate::db::MultiBackend))]
struct UserRow {
    id: i32,
    name: String,
    password_hash: String,
    role: String,
    created_at: NaiveDateTime,
    password_changed_at: NaiveDateTime,
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
            created_at: seconds(&self.created_at),
            password_changed_at: seconds(&self.password_changed_at),
        })
    }
}

/// A stored timestamp as `YYYY-MM-DD HH:MM:SS` (PostgreSQL keeps microseconds).
fn seconds(stored: &NaiveDateTime) -> String {
    stored.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A hash verified when the named user does not exist, so that a login takes as long for an
/// unknown name as for a wrong password. Hashed with the same parameters as real passwords.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash_password("dynex: no such user; this hash never matches a login").unwrap_or_default()
});

/// The users whose name equals `name` ignoring ASCII case (MariaDB's collation compares that way;
/// the other backends are made to agree).
fn same_name(conn: &mut AnyConnection, name: &str) -> Result<Vec<UserRow>, CoreError> {
    Ok(dynex_user::table
        .filter(lower(dynex_user::name).eq(name.to_ascii_lowercase()))
        .select(UserRow::as_select())
        .load(conn)?)
}

/// The user named exactly `name`.
fn find(conn: &mut AnyConnection, name: &str) -> Result<Option<UserRow>, CoreError> {
    Ok(same_name(conn, name)?.into_iter().find(|u| u.name == name))
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
    name: &str,
    password: &str,
    role: Role,
) -> Result<UserInfo, CoreError> {
    check_name("user name", name)?;
    let hash = strong_hash(name, password)?;
    conn.transaction::<_, CoreError, _>(|conn| {
        if let Some(existing) = same_name(conn, name)?.into_iter().next() {
            return Err(CoreError::AlreadyExists {
                kind: "user",
                name: existing.name,
            });
        }
        diesel::insert_into(dynex_user::table)
            .values((
                dynex_user::name.eq(name),
                dynex_user::password_hash.eq(hash),
                dynex_user::role.eq(role.as_str()),
                // Tokens of an earlier user of the same name must not come back to life.
                dynex_user::tokens_valid_after.eq(crate::clock::now_ms()),
            ))
            .execute(conn)?;
        find(conn, name)?.ok_or_else(|| not_found(name))?.info()
    })
}

/// Lists every user by name.
pub fn list(conn: &mut AnyConnection) -> Result<Vec<UserInfo>, CoreError> {
    dynex_user::table
        .select(UserRow::as_select())
        .order(dynex_user::name)
        .load(conn)?
        .into_iter()
        .map(UserRow::info)
        .collect()
}

/// Removes a user by name; returns whether one was removed.
pub fn remove(conn: &mut AnyConnection, name: &str) -> Result<bool, CoreError> {
    conn.transaction::<_, CoreError, _>(|conn| {
        let Some(user) = find(conn, name)? else {
            return Ok(false);
        };
        Ok(diesel::delete(dynex_user::table.filter(dynex_user::id.eq(user.id))).execute(conn)? > 0)
    })
}

/// Sets a user's password (checked for strength); returns whether the user exists.
pub fn set_password(
    conn: &mut AnyConnection,
    name: &str,
    password: &str,
) -> Result<bool, CoreError> {
    let hash = strong_hash(name, password)?;
    conn.transaction::<_, CoreError, _>(|conn| {
        let Some(user) = find(conn, name)? else {
            return Ok(false);
        };
        let changed = diesel::update(dynex_user::table.filter(dynex_user::id.eq(user.id)))
            .set((
                dynex_user::password_hash.eq(hash),
                dynex_user::password_changed_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        Ok(changed > 0)
    })
}

/// Checks a user's password. An unknown name costs the same Argon2 verification as a wrong
/// password, so the answer time does not tell which names exist.
pub fn authenticate(
    conn: &mut AnyConnection,
    name: &str,
    password: &str,
) -> Result<UserInfo, CoreError> {
    let user = find(conn, name)?;
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
