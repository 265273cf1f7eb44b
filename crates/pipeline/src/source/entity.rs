//! The `entity` source: the rows of an entity of this dynex, for sending data out.
//!
//! Rows are read with the API's own reader ([`Dynex::read_collection`]) in keyset pages
//! (`page[size]`, `page[after]`): rows written between two pages neither repeat nor go missing,
//! and a page deep in a large table costs what the first one does. Each record is the row as
//! the API answers it (visible field names).
//!
//! `filter` holds the API's `filter[KEY]=VALUE` pairs as a map: a string is sent as it is,
//! anything else as JSON text, so `{ "tax-rates.rate": { gte: 10 } }` is
//! `filter[tax-rates.rate]={"gte":10}`.
//!
//! **Incremental.** With `incremental: { field: updated_at }`, rows are read in ascending order
//! of that field (then by identifier), and the cursor the last run left is sent as
//! `filter[ALIAS.FIELD]={"gte": CURSOR}`: only rows changed since are read, the ones at the
//! cursor again (they are found unchanged). The pipeline's own `incremental.cursor` names the
//! field in the record (`$.updated_at`), and `ordered: true` holds. Rows whose field is null are
//! read by a first (or `--full`) run only.

use std::collections::BTreeMap;

use dynex_core::Dynex;
use dynex_schema::Catalog;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::problem::Checker;
use crate::source::{Page, Source, SourceError, Start};

/// The definition of an `entity` source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntitySourceSpec {
    /// The entity's alias (`countries`).
    pub entity: String,
    /// `filter[KEY]` → value, as the API takes them (`countries.iso2_code: AT`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub filter: BTreeMap<String, Value>,
    /// Rows per page, 1000 by default (at most the API's largest page).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// How the stored cursor narrows the read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<EntityIncremental>,
}

/// How the cursor of the last run reaches an `entity` source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityIncremental {
    /// The field rows are read in order of and filtered by (`{"gte": cursor}`).
    pub field: String,
}

fn default_page_size() -> u32 {
    1000
}

impl EntitySourceSpec {
    /// Checks the entity, the incremental field and the page size against `catalog`;
    /// `has_cursor` says whether the pipeline keeps a cursor (`incremental.cursor`).
    pub fn check(&self, at: &str, catalog: &Catalog, has_cursor: bool, checker: &mut Checker) {
        if self.page_size == 0 {
            checker.add(format!("{at}.page_size"), "a page holds at least one row");
        }
        let Some(entity) = catalog.entity(&self.entity) else {
            let known: Vec<&str> = catalog.entities().iter().map(|e| e.alias()).collect();
            checker.add(
                format!("{at}.entity"),
                format!(
                    "`{}` is not an entity of this dynex (known: {})",
                    self.entity,
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            );
            return;
        };
        if let Some(incremental) = &self.incremental {
            let path = format!("{at}.incremental.field");
            if entity.field_index(&incremental.field).is_none() {
                checker.add(
                    &path,
                    format!(
                        "`{}` is not a field of `{}`",
                        incremental.field, self.entity
                    ),
                );
            } else if self.filter.contains_key(&self.cursor_key(incremental)) {
                checker.add(
                    format!("{at}.filter"),
                    format!(
                        "`{}` is filtered by the cursor already; filter another field",
                        self.cursor_key(incremental)
                    ),
                );
            }
            if !has_cursor {
                checker.add(
                    &path,
                    "the pipeline keeps no cursor: add `incremental: { cursor: $.FIELD, \
                     ordered: true }`",
                );
            }
        }
    }

    /// The filter key of the cursor: `ALIAS.FIELD`.
    fn cursor_key(&self, incremental: &EntityIncremental) -> String {
        format!("{}.{}", self.entity, incremental.field)
    }

    /// The query pairs of every page but the position: the filters, the cursor's and the
    /// order.
    fn pairs(&self, start: &Start) -> Vec<(String, String)> {
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let mut pairs: Vec<(String, String)> = self
            .filter
            .iter()
            .map(|(k, v)| (format!("filter[{k}]"), text(v)))
            .collect();
        if let Some(incremental) = &self.incremental {
            if let Some(cursor) = &start.cursor {
                pairs.push((
                    format!("filter[{}]", self.cursor_key(incremental)),
                    serde_json::json!({ "gte": cursor }).to_string(),
                ));
            }
            pairs.push(("sort".into(), incremental.field.clone()));
        }
        pairs.push(("page[size]".into(), self.page_size.to_string()));
        pairs
    }

    /// A source reading the entity of `dynex` from where `start` says.
    pub fn open(&self, dynex: &Dynex, start: &Start) -> Result<EntitySource, SourceError> {
        Ok(EntitySource {
            dynex: dynex.clone(),
            alias: self.entity.clone(),
            pairs: self.pairs(start),
            after: None,
            done: false,
        })
    }
}

/// An `entity` source being read ([`EntitySourceSpec::open`]).
pub struct EntitySource {
    dynex: Dynex,
    alias: String,
    pairs: Vec<(String, String)>,
    /// The `page[after]` cursor of the next page.
    after: Option<String>,
    done: bool,
}

impl std::fmt::Debug for EntitySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntitySource")
            .field("alias", &self.alias)
            .field("pairs", &self.pairs)
            .finish_non_exhaustive()
    }
}

impl Source for EntitySource {
    fn next_page(&mut self) -> Result<Option<Page>, SourceError> {
        if self.done {
            return Ok(None);
        }
        let mut pairs = self.pairs.clone();
        if let Some(after) = &self.after {
            pairs.push(("page[after]".into(), after.clone()));
        }
        let page = self
            .dynex
            .read_collection(&self.alias, &pairs, None)
            .map_err(|e| SourceError::Other(format!("cannot read `{}`: {e}", self.alias)))?;
        self.after = page.next;
        self.done = self.after.is_none();
        if page.rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(Page {
            records: page.rows,
            ..Page::default()
        }))
    }
}
