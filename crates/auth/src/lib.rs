//! Secrets, API keys, passwords, roles and scopes: what a caller is ([`Principal`]) and what it
//! may do.
//!
//! API keys are high-entropy random strings shown once; only their SHA-256 is stored, so a lookup
//! by hash is both safe and fast. User passwords are low-entropy, so they are stored as Argon2id
//! PHC strings ([`hash_password`], [`verify_password`]) and must pass [`check_password_strength`].
//! Scopes follow the grammar documented in `docs/auth.md`.

mod token;

use std::fmt;

use rand::Rng;
use sha2::{Digest, Sha256};

pub use token::{
    AccessClaims, CLIENT_SECRET_PREFIX, PrincipalKind, REFRESH_TOKEN_PREFIX, TokenError,
    TokenSigner, WeakSecret, check_signing_secret,
};

/// Prefix of every dynex API key; makes leaked keys easy to scan for. Never change it.
pub const API_KEY_PREFIX: &str = "dnx_";

const KEY_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Why a secret could not be processed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Hashing a password failed (never contains the password).
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// Hashes a password with Argon2id (default parameters) and a random 16-byte salt; returns the
/// PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), which records everything needed to verify.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| AuthError::Hash(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string `phc`; the final comparison is constant-time (argon2's
/// verifier). A malformed hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(phc).is_ok_and(|hash| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// Minimum length of a password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Passwords (and repeated prefixes of them) that are refused whatever their length.
const COMMON_PASSWORDS: &[&str] = &[
    "password",
    "123456789012",
    "1234567890",
    "changeme",
    "dynex",
    "qwertyuiop",
    "qwerty",
    "letmein",
    "welcome",
    "admin",
    "spryker",
    "iloveyou",
    "abc123",
    "passw0rd",
];

/// Checks the minimum strength of a new password for the user `name`.
///
/// It needs at least [`MIN_PASSWORD_CHARS`] characters and at least 5 distinct ones, and must be
/// neither the user name nor a common password (case-insensitive, also repeated and cut anywhere:
/// `changemechange`). The error says what is wrong and never contains the password.
pub fn check_password_strength(password: &str, name: &str) -> Result<(), WeakPassword> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(WeakPassword::TooShort);
    }
    if distinct_chars(password) < 5 {
        return Err(WeakPassword::TooSimple);
    }
    let lower = password.to_lowercase();
    if !name.is_empty() && lower == name.to_lowercase() {
        return Err(WeakPassword::UserName);
    }
    // The word itself, or the word repeated and cut anywhere (`passwordpass`).
    let repeats = |word: &str| {
        let word = word.as_bytes();
        lower
            .bytes()
            .enumerate()
            .all(|(i, b)| b == word[i % word.len()])
    };
    if COMMON_PASSWORDS.iter().any(|w| repeats(w)) {
        return Err(WeakPassword::Common);
    }
    Ok(())
}

/// How many different characters `s` holds: a low count marks a guessable secret.
pub(crate) fn distinct_chars(s: &str) -> usize {
    let mut chars: Vec<char> = s.chars().collect();
    chars.sort_unstable();
    chars.dedup();
    chars.len()
}

/// Why a new password is refused; the message never contains the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    #[error("the password is too short: it needs at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    /// Fewer than 5 distinct characters.
    #[error("the password is too simple: it needs at least 5 different characters")]
    TooSimple,
    /// The user name itself.
    #[error("the password must not be the user name")]
    UserName,
    /// A common password, or one repeated.
    #[error("the password is too common; choose another")]
    Common,
}

/// What a dynex user (Back Office or API user) is allowed by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// `admin`: configuration routes and every entity.
    Admin,
    /// `integrator`: every entity, no configuration.
    Integrator,
}

impl Role {
    /// The role's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Integrator => "integrator",
        }
    }

    /// The scopes a user of this role gets when a token request names none.
    pub fn default_scopes(self) -> Vec<Scope> {
        let mut scopes = match self {
            Role::Admin => vec![Scope::Admin],
            Role::Integrator => Vec::new(),
        };
        scopes.extend(default_key_scopes());
        scopes
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "admin" => Ok(Role::Admin),
            "integrator" => Ok(Role::Integrator),
            _ => Err(format!("unknown role `{s}` (admin or integrator)")),
        }
    }
}

/// Generates a new API key: the prefix and 40 random alphanumeric characters (about 238 bits).
pub fn generate_api_key() -> String {
    generate_secret(API_KEY_PREFIX)
}

/// Generates a high-entropy secret: `prefix` and 40 random alphanumeric characters (about 238
/// bits), so its SHA-256 ([`hash_secret`]) is a safe stored form.
pub fn generate_secret(prefix: &str) -> String {
    let mut rng = rand::rng();
    let body: String = (0..40)
        .map(|_| KEY_CHARS[rng.random_range(0..KEY_CHARS.len())] as char)
        .collect();
    format!("{prefix}{body}")
}

/// The stored form of a high-entropy secret: lowercase hex SHA-256.
pub fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// `bytes` as lowercase hexadecimal: by table, as every request hashes its key (formatting
/// each byte costs more than the SHA-256 before it).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
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

impl Scope {
    /// Whether granting `self` also grants `other`: `dynamic-entity:read` covers
    /// `dynamic-entity:countries:read`; a scope covers itself.
    pub fn covers(&self, other: &Scope) -> bool {
        match (self, other) {
            (Scope::Admin, Scope::Admin) => true,
            (
                Scope::Entity { alias, action },
                Scope::Entity {
                    alias: other_alias,
                    action: other_action,
                },
            ) => action == other_action && (alias.is_none() || alias == other_alias),
            _ => false,
        }
    }
}

/// Joins scopes into the space-separated form of OAuth 2.0 (`scope` parameters and answers).
pub fn scopes_text(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
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
    /// The API key's name, the user's name or the integration client's id.
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

    /// Whether the principal holds the `admin` scope (configuration routes).
    pub fn is_admin(&self) -> bool {
        self.scopes.contains(&Scope::Admin)
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

    #[test]
    fn scopes_cover_narrower_ones() {
        let all_read: Scope = "dynamic-entity:read".parse().unwrap();
        let one_read: Scope = "dynamic-entity:countries:read".parse().unwrap();
        let one_write: Scope = "dynamic-entity:countries:write".parse().unwrap();
        assert!(all_read.covers(&one_read));
        assert!(all_read.covers(&all_read));
        assert!(!one_read.covers(&all_read));
        assert!(!all_read.covers(&one_write));
        assert!(!all_read.covers(&Scope::Admin));
        assert!(Scope::Admin.covers(&Scope::Admin));
        assert!(!Scope::Admin.covers(&one_read));
        assert_eq!(
            scopes_text(&[Scope::Admin, one_read]),
            "admin dynamic-entity:countries:read"
        );
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterY", &hash));
        assert!(!verify_password("", &hash));
        let again = hash_password("correct horse battery").unwrap();
        assert_ne!(hash, again, "every hash has its own salt");
        assert!(verify_password("correct horse battery", &again));
        for malformed in [
            "",
            "x",
            "$argon2id$",
            &hash[..hash.len() - 4],
            &hash_secret("a"),
        ] {
            assert!(
                !verify_password("correct horse battery", malformed),
                "{malformed}"
            );
        }
    }

    #[test]
    fn weak_passwords_are_refused() {
        let check = |p: &str| check_password_strength(p, "alice.smith");
        assert!(check("correct horse battery").is_ok());
        assert!(check("Tr0ub4dor&3xyz").is_ok());
        assert!(
            check("short1!")
                .unwrap_err()
                .to_string()
                .contains("at least 12")
        );
        // Twelve characters counted as characters, not bytes.
        assert!(
            check("äöüäöüäöüäö")
                .unwrap_err()
                .to_string()
                .contains("at least 12")
        );
        assert!(
            check("aaaabbbbcccc")
                .unwrap_err()
                .to_string()
                .contains("5 different")
        );
        assert!(
            check("abababababab")
                .unwrap_err()
                .to_string()
                .contains("5 different")
        );
        assert!(
            check_password_strength("Alice.Smith.Long", "alice.smith.long")
                .unwrap_err()
                .to_string()
                .contains("user name")
        );
        for common in [
            "123456789012",
            "PASSWORDPASSWORD",
            "passwordpass",
            "changemechangeme",
            "dynexdynexdynex",
            "QwertyUiopQwertyuiop",
            "1234567890123456789012345",
        ] {
            assert!(
                check(common)
                    .unwrap_err()
                    .to_string()
                    .contains("too common"),
                "{common}"
            );
        }
        // A common word plus something else is not a repetition.
        assert!(check("password-of-the-day").is_ok());
        let err = check("x").unwrap_err().to_string();
        assert!(!err.contains('x'), "the message never repeats the password");
    }

    #[test]
    fn roles_parse_and_grant_default_scopes() {
        assert_eq!("admin".parse::<Role>().unwrap(), Role::Admin);
        assert_eq!("integrator".parse::<Role>().unwrap(), Role::Integrator);
        assert!("root".parse::<Role>().is_err());
        assert!("Admin".parse::<Role>().is_err());
        assert_eq!(Role::Integrator.to_string(), "integrator");
        let text = |r: Role| {
            r.default_scopes()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(
            text(Role::Admin),
            "admin dynamic-entity:read dynamic-entity:write dynamic-entity:delete"
        );
        assert_eq!(
            text(Role::Integrator),
            "dynamic-entity:read dynamic-entity:write dynamic-entity:delete"
        );
        let p = Principal {
            name: "i".into(),
            scopes: Role::Integrator.default_scopes(),
        };
        assert!(p.allows(Action::Delete, "countries"));
        assert!(!p.scopes.contains(&Scope::Admin));
    }
}
