//! Who may do what to which entity: the one place the entity engine checks scopes.
//!
//! A request that carries a [`Principal`] needs the scope of every entity it touches: the
//! entity it names, the entities its `include` tree reads and those its nested rows write. A
//! request without one comes from a program that embeds dynex and is trusted.

use dynex_auth::{Action, Principal};
use dynex_query::Include;

use crate::error::CoreError;

/// Refuses `action` on `alias` unless the caller, when there is one, holds its scope.
pub(crate) fn require(
    principal: Option<&Principal>,
    action: Action,
    alias: &str,
) -> Result<(), CoreError> {
    match principal {
        Some(p) if !p.allows(action, alias) => Err(CoreError::MissingScope(
            Principal::missing_scope(action, alias).to_string(),
        )),
        _ => Ok(()),
    }
}

/// Refuses a read whose parsed include tree reaches an entity the caller may not read.
pub(crate) fn require_included(
    principal: Option<&Principal>,
    includes: &[Include],
) -> Result<(), CoreError> {
    if principal.is_none() {
        return Ok(());
    }
    for include in includes {
        require(principal, Action::Read, include.child.alias())?;
        require_included(principal, &include.children)?;
    }
    Ok(())
}
