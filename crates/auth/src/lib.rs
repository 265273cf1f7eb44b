//! Secrets, API keys and scopes: what a caller is ([`Principal`]) and what it may do.
//!
//! API keys are high-entropy random strings shown once; only their SHA-256 is stored, so a lookup
//! by hash is both safe and fast. Scopes follow the grammar documented in `docs/auth.md`.

use std::fmt;

use rand::Rng;
use sha2::{Digest, Sha256};

/// Prefix of every dynex API key; makes leaked keys easy to scan for. Never change it.
pub const API_KEY_PREFIX: &str = "dnx_";

const KEY_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Generates a new API key: the prefix and 40 random alphanumeric characters (about 238 bits).
pub fn generate_api_key() -> String {
    let mut rng = rand::rng();
    let body: String = (0..40)
        .map(|_| KEY_CHARS[rng.random_range(0..KEY_CHARS.len())] as char)
        .collect();
    format!("{API_KEY_PREFIX}{body}")
}

/// The stored form of a high-entropy secret: lowercase hex SHA-256.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two secrets (or hashes) in constant time.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// What a request does to an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// GET.
    Read,
    /// POST, PATCH, PUT.
    Write,
    /// DELETE.
    Delete,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Write => "write",
            Action::Delete => "delete",
        }
    }
}

/// One granted scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// `admin`: configuration routes.
    Admin,
    /// `dynamic-entity:<action>` (every entity) or `dynamic-entity:<alias>:<action>` (one).
    Entity {
        /// `None` for every entity.
        alias: Option<String>,
        /// The action granted.
        action: Action,
    },
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Admin => f.write_str("admin"),
            Scope::Entity {
                alias: None,
                action,
            } => write!(f, "dynamic-entity:{}", action.as_str()),
            Scope::Entity {
                alias: Some(a),
                action,
            } => {
                write!(f, "dynamic-entity:{a}:{}", action.as_str())
            }
        }
    }
}

impl std::str::FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Scope, String> {
        let action = |a: &str| match a {
            "read" => Ok(Action::Read),
            "write" => Ok(Action::Write),
            "delete" => Ok(Action::Delete),
            _ => Err(format!(
                "unknown action `{a}` in scope `{s}` (read, write or delete)"
            )),
        };
        let parts: Vec<&str> = s.split(':').collect();
        match parts.as_slice() {
            ["admin"] => Ok(Scope::Admin),
            ["dynamic-entity", a] => Ok(Scope::Entity {
                alias: None,
                action: action(a)?,
            }),
            ["dynamic-entity", alias, a]
                if !alias.is_empty()
                    && alias
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
            {
                Ok(Scope::Entity {
                    alias: Some((*alias).to_string()),
                    action: action(a)?,
                })
            }
            _ => Err(format!(
                "invalid scope `{s}` (expected admin, dynamic-entity:<action> or \
                 dynamic-entity:<alias>:<action>)"
            )),
        }
    }
}

/// Parses a space- or comma-separated scope list.
pub fn parse_scopes(list: &str) -> Result<Vec<Scope>, String> {
    list.split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect()
}

/// The scopes an API key created without `--scope` gets: every entity, every action.
pub fn default_key_scopes() -> Vec<Scope> {
    [Action::Read, Action::Write, Action::Delete]
        .into_iter()
        .map(|action| Scope::Entity {
            alias: None,
            action,
        })
        .collect()
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The API key's (or later the user's or client's) name.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
}

impl Principal {
    /// Whether the principal may do `action` on the entity `alias`.
    pub fn allows(&self, action: Action, alias: &str) -> bool {
        self.scopes.iter().any(|s| match s {
            Scope::Admin => false,
            Scope::Entity {
                alias: a,
                action: granted,
            } => *granted == action && a.as_deref().is_none_or(|a| a == alias),
        })
    }

    /// The narrowest scope that would allow `action` on `alias`, for error messages.
    pub fn missing_scope(action: Action, alias: &str) -> Scope {
        Scope::Entity {
            alias: Some(alias.to_string()),
            action,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_hashed() {
        let (a, b) = (generate_api_key(), generate_api_key());
        assert_ne!(a, b);
        assert!(a.starts_with(API_KEY_PREFIX) && a.len() == 44);
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(constant_time_eq(&hash_secret(&a), &hash_secret(&a)));
        assert!(!constant_time_eq(&hash_secret(&a), &hash_secret(&b)));
    }

    #[test]
    fn scopes_parse_and_check() {
        let p = Principal {
            name: "k".into(),
            scopes: parse_scopes("dynamic-entity:read dynamic-entity:countries:write").unwrap(),
        };
        assert!(p.allows(Action::Read, "anything"));
        assert!(p.allows(Action::Write, "countries"));
        assert!(!p.allows(Action::Write, "tax-rates"));
        assert!(!p.allows(Action::Delete, "countries"));
        assert!(parse_scopes("dynamic-entity:countries:drop").is_err());
        assert!(parse_scopes("root").is_err());
        assert_eq!(parse_scopes("admin").unwrap()[0].to_string(), "admin");
    }
}
