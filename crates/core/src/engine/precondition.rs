//! Conditional writes: the ETag of a row, and `If-Match` / `If-None-Match` checked inside the
//! write transaction, on the locked row, so that no other writer can slip in between the check
//! and the write.

use dynex_query::{Condition, Dialect, Select, Value, decode_row, select};
use dynex_schema::Entity;
use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};

use crate::db::load_json;
use crate::engine::refusal::{Abort, abort};
use crate::engine::tx::Tx;
use crate::error::CoreError;

/// The entity tag of a row: 32 hex digits of the SHA-256 of its wire object (every field,
/// under its visible name, in the entity's field order), without the quotes of the header.
///
/// A strong validator: it changes whenever a field's value changes, and whenever the entity's
/// configuration changes the row's wire shape (a field added, renamed or removed).
pub fn row_etag(row: &Map<String, Json>) -> String {
    etag_of_text(&serde_json::to_vec(row).unwrap_or_default())
}

/// The entity tag of a row from its JSON text (`serde_json::to_vec` of the row object), for a
/// caller that has the text already: [`row_etag`] is this of the row's text.
pub fn etag_of_text(text: &[u8]) -> String {
    dynex_auth::hex(&Sha256::digest(text)[..16])
}

/// The entity tags a conditional header names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntityTags {
    /// `*`: any current row.
    Any,
    /// These opaque tags (without quotes).
    List(Vec<String>),
}

impl EntityTags {
    /// Whether a row whose current tag is `current` (`None`: there is no such row) is named.
    pub fn names(&self, current: Option<&str>) -> bool {
        match (self, current) {
            (_, None) => false,
            (EntityTags::Any, Some(_)) => true,
            (EntityTags::List(tags), Some(current)) => tags.iter().any(|t| t == current),
        }
    }
}

/// What a conditional write requires of the row it names (RFC 9110, section 13.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Precondition {
    /// `If-Match`: the row must exist with one of these tags (strong comparison: weak tags
    /// are left out by the caller, and never match).
    pub if_match: Option<EntityTags>,
    /// `If-None-Match`: the row must not exist with one of these tags (`*`: must not exist).
    pub if_none_match: Option<EntityTags>,
}

impl Precondition {
    /// Whether the request asks for no condition at all.
    pub fn is_empty(&self) -> bool {
        self.if_match.is_none() && self.if_none_match.is_none()
    }

    /// The header that does not hold for a row whose current tag is `current`, if any.
    pub fn failing(&self, current: Option<&str>) -> Option<&'static str> {
        if let Some(tags) = &self.if_match
            && !tags.names(current)
        {
            return Some("If-Match");
        }
        if let Some(tags) = &self.if_none_match
            && tags.names(current)
        {
            return Some("If-None-Match");
        }
        None
    }

    /// The header that does not hold on a collection route: a collection exists but has no
    /// entity tag, so `If-Match: *` holds and any list of tags does not (RFC 9110, 13.1.1), and
    /// `If-None-Match: *` does not hold.
    pub fn failing_on_collection(&self) -> Option<&'static str> {
        if matches!(self.if_match, Some(EntityTags::List(_))) {
            Some("If-Match")
        } else if self.if_none_match == Some(EntityTags::Any) {
            Some("If-None-Match")
        } else {
            None
        }
    }
}

/// Locks and reads the row of `entity` whose identifier is `id` inside `tx` and checks
/// `precondition` against its tag; the refusal is [`CoreError::PreconditionFailed`].
///
/// The lock (`FOR UPDATE`, or SQLite's write transaction) is held until the transaction ends,
/// so the write that follows sees the row that was checked.
pub(crate) fn check(
    tx: &mut Tx<'_>,
    dialect: Dialect,
    entity: &Entity,
    id: &Value,
    precondition: &Precondition,
) -> Result<(), Abort> {
    let conditions = [Condition::Eq(entity.identifier_index(), id.clone())];
    let sql = select(
        dialect,
        &Select {
            entity,
            fields: None,
            conditions: &conditions,
            keys: None,
            extra_columns: &[],
            page: None,
            lock: true,
        },
    );
    let rows = load_json(tx.conn(), &sql).map_err(|e| abort(dialect, e))?;
    let current = match rows.first() {
        Some(text) => Some(row_etag(
            &decode_row(entity, text).map_err(CoreError::Corrupt)?.0,
        )),
        None => None,
    };
    match precondition.failing(current.as_deref()) {
        None => Ok(()),
        Some(header) => Err(Abort::Fatal(CoreError::PreconditionFailed {
            path: format!(
                "{}.{} = {}",
                entity.alias(),
                entity.identifier().field_visible_name,
                shown(id)
            ),
            header,
        })),
    }
}

/// An identifier as error paths show it.
fn shown(id: &Value) -> String {
    match id {
        Value::Int(n) => n.to_string(),
        Value::Text(s) => s.clone(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_rfc_9110() {
        let tags = |t: &[&str]| EntityTags::List(t.iter().map(|s| s.to_string()).collect());
        let both = Precondition {
            if_match: Some(tags(&["a", "b"])),
            if_none_match: None,
        };
        assert_eq!(both.failing(Some("b")), None);
        assert_eq!(both.failing(Some("c")), Some("If-Match"));
        // No current row: no tag, not even `*`, names it.
        assert_eq!(both.failing(None), Some("If-Match"));
        let any = Precondition {
            if_match: Some(EntityTags::Any),
            if_none_match: None,
        };
        assert_eq!(
            (any.failing(Some("x")), any.failing(None)),
            (None, Some("If-Match"))
        );
        let absent = Precondition {
            if_match: None,
            if_none_match: Some(EntityTags::Any),
        };
        assert_eq!(absent.failing(None), None);
        assert_eq!(absent.failing(Some("x")), Some("If-None-Match"));
        assert!(Precondition::default().is_empty());
    }

    #[test]
    fn etags_are_32_hex_digits_and_follow_every_value() {
        let row = |v: Json| {
            let mut m = Map::new();
            m.insert("id".into(), Json::from(1));
            m.insert("name".into(), v);
            m
        };
        let a = row_etag(&row(Json::from("a")));
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a, row_etag(&row(Json::from("a"))));
        assert_ne!(a, row_etag(&row(Json::from("b"))));
        assert_ne!(a, row_etag(&row(Json::Null)));
    }
}
