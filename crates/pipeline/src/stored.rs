//! Stored pipelines run by name: the definition read from dynex's tables, its variables
//! resolved (secrets with the key in `DYNEX_SECRET_KEY`), and its run's timeout set.
//!
//! The CLI, the server's scheduler and its webhooks all start runs this way.

use dynex_core::{CoreError, Dynex, SecretKey};

use crate::definition::Definition;
use crate::run::{RunError, RunObserver, RunOptions, RunSummary};
use crate::source::{Source, SourceError, Start};
use crate::variables::{LoadError, Redactor};

/// The environment variable that holds the key secret variables are encrypted with.
pub const SECRET_KEY_VAR: &str = "DYNEX_SECRET_KEY";

/// The key in [`SECRET_KEY_VAR`], if it is set.
pub fn secret_key() -> Result<Option<SecretKey>, CoreError> {
    match std::env::var(SECRET_KEY_VAR) {
        Ok(text) if !text.trim().is_empty() => SecretKey::parse(&text).map(Some),
        _ => Ok(None),
    }
}

/// The stored definition of `name` with its variables resolved for a run, and the redactor of
/// its secrets.
pub fn load(dynex: &Dynex, name: &str) -> Result<(Definition, Redactor), RunError> {
    let stored = dynex.pipeline(name)?;
    let key = secret_key()?;
    Ok(crate::variables::load(
        dynex,
        &stored.definition,
        key.as_ref(),
    )?)
}

/// Runs the stored pipeline `name` with its own source; `options.redactor` is replaced by the
/// one of its secrets, and the definition's timeout is added to `options.cancel`.
pub fn run(
    dynex: &Dynex,
    name: &str,
    options: RunOptions,
    observer: &mut dyn RunObserver,
) -> Result<RunSummary, RunError> {
    let (definition, options) = prepare(dynex, name, options)?;
    crate::run::run(dynex, &definition, &options, observer)
}

/// Runs the stored pipeline `name` with records from `open` instead of its own source (an
/// incoming webhook's body), as [`run`] does otherwise.
pub fn run_with(
    dynex: &Dynex,
    name: &str,
    options: RunOptions,
    observer: &mut dyn RunObserver,
    open: impl FnOnce(&Start) -> Result<Box<dyn Source>, SourceError>,
) -> Result<RunSummary, RunError> {
    let (definition, options) = prepare(dynex, name, options)?;
    definition.check(&dynex.snapshot().catalog)?;
    crate::run::run_with(dynex, &definition, &options, observer, open)
}

fn prepare(
    dynex: &Dynex,
    name: &str,
    options: RunOptions,
) -> Result<(Definition, RunOptions), RunError> {
    let (definition, redactor) = load(dynex, name)?;
    let cancel = options.cancel.with_deadline(definition.run_timeout());
    Ok((
        definition,
        RunOptions {
            redactor,
            cancel,
            ..options
        },
    ))
}

impl From<LoadError> for RunError {
    fn from(e: LoadError) -> RunError {
        match e {
            LoadError::Invalid(p) => RunError::Invalid(p),
            LoadError::Core(c) => RunError::Core(c),
        }
    }
}
