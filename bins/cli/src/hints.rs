//! Errors that say where to look: a SQLite file that does not exist is refused instead of
//! created, and "not found" messages name the database and the closest existing name.

use std::path::PathBuf;

use dynex_core::db::DatabaseUrl;
use dynex_core::{CoreError, Dynex, redact};

/// A command other than `migrate` named a SQLite file that does not exist (exit code 2).
///
/// SQLite would create an empty database there, and the command would then report "no
/// entities" or "table not found" about a database nobody meant to make.
#[derive(Debug, thiserror::Error)]
#[error(
    "no SQLite database at {} (database URL {url}); `dynex --database-url {url} migrate` \
     creates one, or pass the URL of an existing database",
    .file.display()
)]
pub struct MissingDatabase {
    /// The file, made absolute so that the message does not depend on the reader's directory.
    pub file: PathBuf,
    /// The database URL as given, its password hidden.
    pub url: String,
}

/// Refuses a SQLite URL whose file does not exist; an in-memory database, another backend or
/// a malformed URL (which opening reports) pass.
pub(crate) fn require_database(url: &str) -> Result<(), MissingDatabase> {
    let Ok(parsed) = DatabaseUrl::parse(url) else {
        return Ok(());
    };
    match parsed.sqlite_file() {
        Some(file) if !file.exists() => Err(MissingDatabase {
            file: std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf()),
            url: redact(url),
        }),
        _ => Ok(()),
    }
}

/// An error whose message was extended with the database it happened in and, for a mistyped
/// name, the closest existing one; [`crate::classify`] classifies the error it extends.
#[derive(Debug)]
pub struct Explained {
    message: String,
    /// The error as the command returned it.
    pub error: anyhow::Error,
}

impl std::fmt::Display for Explained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Explained {}

/// Names the database in "entity not found", "entity not configured" and "table not found"
/// errors, and suggests the closest alias or table; other errors are returned as they are.
pub(crate) fn explain(dynex: &Dynex, url: &str, err: anyhow::Error) -> anyhow::Error {
    if err
        .chain()
        .any(|c| c.is::<crate::import::AlreadyReported>())
    {
        // Printed already, as part of a manifest's report.
        return err;
    }
    let Some(core) = err.chain().find_map(|c| c.downcast_ref::<CoreError>()) else {
        return err;
    };
    let mut extra = format!(" in {}", redact(url));
    match core {
        CoreError::NotFound {
            kind: "entity",
            name,
        }
        | CoreError::UnknownEntity(name) => {
            let stored = dynex.entities().unwrap_or_default();
            let inactive = stored
                .iter()
                .any(|e| e.config.table_alias == *name && !e.config.is_active);
            if inactive {
                extra.push_str(&format!(
                    "; it is inactive: `dynex entity enable {name}` serves it"
                ));
            } else {
                let aliases = stored.iter().map(|e| e.config.table_alias.as_str());
                if let Some(close) = closest(name, aliases) {
                    extra.push_str(&format!("; did you mean `{close}`?"));
                }
            }
        }
        CoreError::NotFound {
            kind: "table",
            name,
        } => {
            let tables = dynex.tables().unwrap_or_default();
            let tables = tables
                .iter()
                .map(String::as_str)
                .filter(|t| !dynex_schema::is_reserved_table(t));
            if let Some(close) = closest(name, tables) {
                extra.push_str(&format!("; did you mean `{close}`?"));
            }
        }
        _ => return err,
    }
    let text = core.to_string();
    let message = format!("{err:#}").replacen(&text, &format!("{text}{extra}"), 1);
    Explained {
        message,
        error: err,
    }
    .into()
}

/// The candidate closest to `name` by edit distance (ignoring case), if it is close enough to
/// be a typo: at most one edit in three characters, and at least one. Ties go to the first.
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let wanted = name.to_lowercase();
    let limit = (wanted.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (strsim::damerau_levenshtein(&wanted, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_the_closest_name_and_strangers_none() {
        let aliases = ["countries", "tax-rates", "tax-sets", "stores"];
        let close = |n| closest(n, aliases);
        assert_eq!(close("contries"), Some("countries"));
        assert_eq!(close("Countries"), Some("countries"));
        assert_eq!(close("tax-rate"), Some("tax-rates"));
        assert_eq!(close("store"), Some("stores"));
        assert_eq!(close("sotres"), Some("stores"));
        assert_eq!(close("products"), None);
        assert_eq!(close("xy"), None);
        assert_eq!(close("countries"), None, "an exact name is no suggestion");
        assert_eq!(closest("anything", []), None);
    }

    #[test]
    fn only_missing_sqlite_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let missing = format!("sqlite://{}", dir.path().join("none.db").display());
        let refused = require_database(&missing).unwrap_err();
        assert_eq!(refused.file, dir.path().join("none.db"));
        assert!(refused.to_string().contains("none.db"), "{refused}");
        std::fs::write(dir.path().join("there.db"), "").unwrap();
        let there = format!("sqlite://{}", dir.path().join("there.db").display());
        assert!(require_database(&there).is_ok());
        for fine in [
            "sqlite://file::memory:",
            "sqlite://file:m?mode=memory&cache=shared",
            "postgres://u@h/db",
            "not a url",
        ] {
            assert!(require_database(fine).is_ok(), "{fine}");
        }
    }
}
