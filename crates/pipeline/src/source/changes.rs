//! The `changes` source: the change events of entities of this dynex, in id order, each with
//! the row as it is now.
//!
//! Writes of followed entities (the API, imports, pipelines) record an event in their own
//! transaction ([`dynex_core::changes`]); this source reads them after the cursor, the last
//! event id a run delivered (the source's own token, [`Page::token`]). A first run (and a
//! `--full` one) reads every event kept.
//!
//! Each record is the event with the row as it is when the page is read (`row`, `null` once
//! the row is deleted): a webhook can send the row without asking the API, and a row changed
//! twice before the read is sent twice in its latest state, which a receiver applies once.

use dynex_core::Dynex;
use dynex_core::changes::ChangeEvent;
use dynex_schema::Catalog;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::problem::Checker;
use crate::source::{Page, Source, SourceError, Start};

/// The definition of a `changes` source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangesSpec {
    /// The aliases of the entities followed.
    pub entities: Vec<String>,
    /// The operations delivered (`insert`, `update`, `delete`); all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<Operation>,
    /// Events per page, 100 by default (1 to 1000).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
}

/// An operation of a change event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// A new row.
    Insert,
    /// A changed row.
    Update,
    /// A removed row.
    Delete,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Insert => "insert",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }
}

fn default_page_size() -> u32 {
    100
}

impl ChangesSpec {
    /// Checks the entities and the page size against `catalog`.
    pub fn check(&self, at: &str, catalog: &Catalog, checker: &mut Checker) {
        if self.entities.is_empty() {
            checker.add(format!("{at}.entities"), "name at least one entity");
        }
        for (i, alias) in self.entities.iter().enumerate() {
            if catalog.entity(alias).is_none() {
                checker.add(
                    format!("{at}.entities[{i}]"),
                    format!("`{alias}` is not an entity of this dynex"),
                );
            }
        }
        if !(1..=1000).contains(&self.page_size) {
            checker.add(format!("{at}.page_size"), "a page holds 1 to 1000 events");
        }
    }

    /// A source reading the events after the cursor of `start`.
    pub fn open(&self, dynex: &Dynex, start: &Start) -> Result<ChangesSource, SourceError> {
        let after = match &start.cursor {
            None => 0,
            Some(Value::String(s)) => s
                .parse()
                .map_err(|_| SourceError::Other(format!("the cursor `{s}` is not an event id")))?,
            Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
            Some(other) => {
                return Err(SourceError::Other(format!(
                    "the cursor {other} is not an event id"
                )));
            }
        };
        Ok(ChangesSource {
            dynex: dynex.clone(),
            spec: self.clone(),
            after,
            done: false,
        })
    }
}

/// A `changes` source being read ([`ChangesSpec::open`]).
pub struct ChangesSource {
    dynex: Dynex,
    spec: ChangesSpec,
    /// The last event id read.
    after: i64,
    done: bool,
}

impl std::fmt::Debug for ChangesSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangesSource")
            .field("entities", &self.spec.entities)
            .field("after", &self.after)
            .finish_non_exhaustive()
    }
}

impl Source for ChangesSource {
    fn next_page(&mut self) -> Result<Option<Page>, SourceError> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .dynex
            .change_events(
                &self.spec.entities,
                self.after,
                i64::from(self.spec.page_size),
            )
            .map_err(|e| SourceError::Other(format!("cannot read change events: {e}")))?;
        self.done = !page.more;
        let Some(position) = page.position else {
            return Ok(None);
        };
        self.after = position;
        let wanted: Vec<ChangeEvent> = page
            .events
            .into_iter()
            .filter(|e| {
                self.spec.operations.is_empty()
                    || self
                        .spec
                        .operations
                        .iter()
                        .any(|o| o.as_str() == e.operation)
            })
            .collect();
        let rows = self.rows(&wanted)?;
        let records = wanted
            .into_iter()
            .map(|e| {
                let identifier: Value = serde_json::from_str(&e.identifier).unwrap_or(Value::Null);
                let row = rows
                    .get(&(e.entity.clone(), key(&identifier)))
                    .cloned()
                    .unwrap_or(Value::Null);
                json!({
                    "id": e.id,
                    "entity": e.entity,
                    "identifier": identifier,
                    "operation": e.operation,
                    "fields": serde_json::from_str::<Value>(&e.fields).unwrap_or(json!([])),
                    "principal": e.principal,
                    "at": at(e.created_ms),
                    "row": row,
                })
            })
            .collect();
        Ok(Some(Page {
            records,
            token: Some(position.to_string()),
            rejected: Vec::new(),
        }))
    }
}

impl ChangesSource {
    /// The rows the events name as they are now, by (entity, identifier key): one read per
    /// entity with an `in` filter.
    fn rows(
        &self,
        events: &[ChangeEvent],
    ) -> Result<std::collections::HashMap<(String, String), Value>, SourceError> {
        let mut out = std::collections::HashMap::new();
        let snapshot = self.dynex.snapshot();
        for alias in &self.spec.entities {
            let ids: Vec<Value> = events
                .iter()
                .filter(|e| &e.entity == alias && e.operation != "delete")
                .filter_map(|e| serde_json::from_str::<Value>(&e.identifier).ok())
                .collect();
            if ids.is_empty() {
                continue;
            }
            let Some(entity) = snapshot.catalog.entity(alias) else {
                continue;
            };
            let id_name = entity.identifier().field_visible_name.clone();
            let pairs = vec![
                (
                    format!("filter[{alias}.{id_name}]"),
                    json!({ "in": ids }).to_string(),
                ),
                ("page[limit]".into(), ids.len().to_string()),
            ];
            let page = self
                .dynex
                .read_collection(alias, &pairs, None)
                .map_err(|e| SourceError::Other(format!("cannot read `{alias}`: {e}")))?;
            for row in page.rows {
                let k = row.get(&id_name).map(key).unwrap_or_default();
                out.insert((alias.clone(), k), row);
            }
        }
        Ok(out)
    }
}

/// An identifier as a map key: numbers and strings alike as text.
fn key(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Unix milliseconds as RFC 3339 in UTC.
fn at(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}
