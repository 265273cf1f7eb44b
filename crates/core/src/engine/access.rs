//! Who may do what to which entity: the one place the entity engine checks scopes.
//!
//! A request that carries a [`Principal`] needs the scope of every entity it touches: the
//! entity it names, the entities its `include` tree reads, those its filters look into
//! (relation filters, also inside `or` groups: a filter on a child's field answers questions
//! about the child's rows, so it reads them) and those its nested rows write. Sorting, keyset
//! cursors and counts use only the named entity's own fields and the same filters, so they
//! reach nothing more. A request without a principal comes from a program that embeds dynex
//! and is trusted.

use dynex_auth::{Action, Principal};
use dynex_query::{Condition, Include, ReadQuery};

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

/// Refuses a parsed read (a page, one row, a count) that reaches an entity the caller may
/// not read, through its filters or its include tree.
///
/// The read scope of the entity read is checked before its alias is looked up
/// ([`require`]); this covers what the parsed query adds.
pub(crate) fn require_query(
    principal: Option<&Principal>,
    query: &ReadQuery,
) -> Result<(), CoreError> {
    require_filtered(principal, &query.conditions)?;
    require_included(principal, &query.include)
}

/// Refuses conditions that look into an entity the caller may not read: relation filters,
/// at any depth and inside `or` groups. Reads, exports and filtered deletes all check their
/// conditions here.
pub(crate) fn require_filtered(
    principal: Option<&Principal>,
    conditions: &[Condition],
) -> Result<(), CoreError> {
    if principal.is_none() {
        return Ok(());
    }
    for condition in conditions {
        match condition {
            Condition::Related(related) => {
                require(principal, Action::Read, related.child.alias())?;
                require_filtered(principal, &related.conditions)?;
            }
            Condition::Any(groups) => {
                for group in groups {
                    require_filtered(principal, group)?;
                }
            }
            // Conditions on the entity's own fields reach no other entity.
            Condition::Eq(..)
            | Condition::In(..)
            | Condition::NotIn(..)
            | Condition::Compare(..)
            | Condition::Like { .. }
            | Condition::IsNull(..)
            | Condition::After(..)
            | Condition::AtLeast(..) => {}
        }
    }
    Ok(())
}

/// Refuses a read whose parsed include tree reaches an entity the caller may not read.
fn require_included(principal: Option<&Principal>, includes: &[Include]) -> Result<(), CoreError> {
    if principal.is_none() {
        return Ok(());
    }
    for include in includes {
        require(principal, Action::Read, include.child.alias())?;
        require_included(principal, &include.children)?;
    }
    Ok(())
}
