//! Variables that pipeline definitions read as `${NAME}`, some of them secrets.
//!
//! A secret's value is encrypted at rest with ChaCha20-Poly1305 under a 256-bit key that the
//! operator provides ([`SecretKey`], `DYNEX_SECRET_KEY`); the database alone never reveals it.
//! No listing returns a secret's value: only a run that resolves a definition's variables sees
//! it, and it keeps it out of what it records.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use diesel::prelude::*;
use rand::RngCore as _;
use serde::Serialize;

use crate::Dynex;
use crate::audit::Audit;
use crate::clock;
use crate::error::CoreError;
use crate::schema::dynex_variable;

/// The prefix of an encrypted value: the scheme's version.
const SEALED: &str = "v1:";

/// The longest variable name.
const NAME_MAX: usize = 128;

/// The key that encrypts secret variables: 32 bytes, given as 64 hexadecimal digits or as
/// standard base64. Its text is never shown by `Debug`.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    /// Reads a key from its text: 64 hexadecimal digits, or the base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<SecretKey, CoreError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .ok()
        } else {
            STANDARD.decode(text).ok()
        };
        bytes
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .map(SecretKey)
            .ok_or_else(|| {
                CoreError::Invalid(
                    "the secret key must be 32 bytes: 64 hexadecimal digits or base64 \
                     (make one with `dynex variable new-key`)"
                        .into(),
                )
            })
    }

    /// A new random key, as 64 hexadecimal digits.
    pub fn generate() -> String {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        dynex_auth::hex(&bytes)
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(&self.0))
    }

    fn seal(&self, name: &str, value: &str) -> Result<String, CoreError> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        // The name is bound as associated data: a sealed value copied to another name does not
        // open.
        let sealed = self
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                chacha20poly1305::aead::Payload {
                    msg: value.as_bytes(),
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| CoreError::Invalid("the secret could not be encrypted".into()))?;
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        Ok(format!("{SEALED}{}", STANDARD.encode(bytes)))
    }

    fn open(&self, name: &str, text: &str) -> Result<String, CoreError> {
        let wrong = || {
            CoreError::Invalid(format!(
                "the secret `{name}` does not open with this key (was it set with another \
                 DYNEX_SECRET_KEY?)"
            ))
        };
        let bytes = text
            .strip_prefix(SEALED)
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|b| b.len() > 12)
            .ok_or_else(wrong)?;
        let (nonce, sealed) = bytes.split_at(12);
        let plain = self
            .cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                chacha20poly1305::aead::Payload {
                    msg: sealed,
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| wrong())?;
        String::from_utf8(plain).map_err(|_| wrong())
    }
}

/// What `dynex variable list` shows of a variable: a secret's value never.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VariableInfo {
    /// The name.
    pub name: String,
    /// Whether it is a secret.
    pub secret: bool,
    /// The value of a plain variable; `None` for a secret.
    pub value: Option<String>,
    /// When it was last set (UTC).
    pub updated_at: String,
}

/// A variable with its value, for a run to resolve a definition.
#[derive(Clone, PartialEq, Eq)]
pub struct Variable {
    /// The name.
    pub name: String,
    /// The value (a secret's decrypted).
    pub value: String,
    /// Whether it is a secret: its value must not appear in anything recorded or shown.
    pub secret: bool,
}

impl std::fmt::Debug for Variable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Variable")
            .field("name", &self.name)
            .field(
                "value",
                &if self.secret {
                    "…"
                } else {
                    self.value.as_str()
                },
            )
            .field("secret", &self.secret)
            .finish()
    }
}

/// Refuses a name that is not 1 to 128 uppercase letters, digits and `_`, starting with a
/// letter (as `${NAME}` is written).
pub fn check_variable_name(name: &str) -> Result<(), CoreError> {
    let valid = !name.is_empty()
        && name.len() <= NAME_MAX
        && name.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(CoreError::Invalid(format!(
            "`{name}` is not a variable name: use 1 to {NAME_MAX} uppercase letters, digits and \
             `_`, starting with a letter"
        )))
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = dynex_variable, check_for_backend(crate::db::MultiBackend))]
struct Row {
    name: String,
    value: String,
    secret: i16,
    updated_ms: i64,
}

/// Variables of pipeline definitions.
impl Dynex {
    /// Sets variable `name`; a secret is encrypted with `key` (required for secrets).
    pub fn set_variable(
        &self,
        name: &str,
        value: &str,
        secret: Option<&SecretKey>,
    ) -> Result<(), CoreError> {
        check_variable_name(name)?;
        let stored = match secret {
            Some(key) => key.seal(name, value)?,
            None => value.to_string(),
        };
        let audit = Audit::new("variable.set", name)
            .with(serde_json::json!({ "secret": secret.is_some() }));
        self.change(audit, |conn| {
            let now = clock::now_ms();
            let flag = i16::from(secret.is_some());
            let changed =
                diesel::update(dynex_variable::table.filter(dynex_variable::name.eq(name)))
                    .set((
                        dynex_variable::value.eq(&stored),
                        dynex_variable::secret.eq(flag),
                        dynex_variable::updated_ms.eq(now),
                    ))
                    .execute(conn)?;
            if changed == 0 {
                diesel::insert_into(dynex_variable::table)
                    .values((
                        dynex_variable::name.eq(name),
                        dynex_variable::value.eq(&stored),
                        dynex_variable::secret.eq(flag),
                        dynex_variable::updated_ms.eq(now),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    /// Every variable by name, secrets without their values.
    pub fn list_variables(&self) -> Result<Vec<VariableInfo>, CoreError> {
        let mut conn = self.inner.db.conn()?;
        let rows: Vec<Row> = dynex_variable::table
            .order(dynex_variable::name)
            .select(Row::as_select())
            .load(&mut *conn)?;
        Ok(rows
            .into_iter()
            .map(|r| VariableInfo {
                secret: r.secret != 0,
                value: (r.secret == 0).then_some(r.value),
                updated_at: chrono::DateTime::from_timestamp_millis(r.updated_ms)
                    .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
                    .unwrap_or_default(),
                name: r.name,
            })
            .collect())
    }

    /// The variables named, with their values, secrets decrypted with `key`; a name that is not
    /// set is left out, a secret without a key (or with the wrong one) is an error.
    pub fn resolve_variables(
        &self,
        names: &[&str],
        key: Option<&SecretKey>,
    ) -> Result<Vec<Variable>, CoreError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.inner.db.conn()?;
        let rows: Vec<Row> = dynex_variable::table
            .filter(dynex_variable::name.eq_any(names))
            .select(Row::as_select())
            .load(&mut *conn)?;
        rows.into_iter()
            .map(|r| {
                let value = if r.secret != 0 {
                    let key = key.ok_or_else(|| {
                        CoreError::Invalid(format!(
                            "`{}` is a secret: set DYNEX_SECRET_KEY to the key it was set with",
                            r.name
                        ))
                    })?;
                    key.open(&r.name, &r.value)?
                } else {
                    r.value
                };
                Ok(Variable {
                    name: r.name,
                    value,
                    secret: r.secret != 0,
                })
            })
            .collect()
    }

    /// Removes variable `name`; `CoreError::NotFound` when there is none.
    pub fn remove_variable(&self, name: &str) -> Result<(), CoreError> {
        let removed = self.change(Audit::new("variable.remove", name), |conn| {
            Ok(
                diesel::delete(dynex_variable::table.filter(dynex_variable::name.eq(name)))
                    .execute(conn)?
                    > 0,
            )
        })?;
        removed.then_some(()).ok_or_else(|| CoreError::NotFound {
            kind: "variable",
            name: name.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_open_with_their_key_and_name_only() {
        let key = SecretKey::parse(&SecretKey::generate()).expect("a generated key parses");
        let sealed = key.seal("PASSWORD", "hunter2").expect("sealed");
        assert!(sealed.starts_with("v1:") && !sealed.contains("hunter2"));
        assert_eq!(key.open("PASSWORD", &sealed).expect("opens"), "hunter2");
        assert!(key.open("OTHER", &sealed).is_err(), "bound to its name");
        let other = SecretKey::parse(&SecretKey::generate()).expect("another key");
        assert!(other.open("PASSWORD", &sealed).is_err(), "bound to its key");
        assert_ne!(
            key.seal("PASSWORD", "hunter2").unwrap(),
            sealed,
            "fresh nonce"
        );
        let b64 = STANDARD.encode([7u8; 32]);
        assert!(SecretKey::parse(&b64).is_ok());
        assert!(SecretKey::parse("short").is_err());
        assert_eq!(format!("{key:?}"), "SecretKey(…)");
    }
}
