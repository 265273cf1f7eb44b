//! Pipeline definitions: the YAML an author writes, read into typed structs and checked as a
//! whole.
//!
//! ```yaml
//! name: pocketbase-countries
//! description: Countries kept in PocketBase, into the demo catalog.
//! source:
//!   http:
//!     url: http://127.0.0.1:8090/api/collections/countries/records
//!     records: $.items[*]
//!     paginate:
//!       page: { param: page, size_param: perPage, size: 200 }
//! map:
//!   fields:
//!     iso2_code: $.code
//!     name: { path: $.name, trim: true }
//! target:
//!   entity: countries
//!   mode: upsert
//!   key: iso2_code
//! ```
//!
//! A definition is refused with every problem it has, each named by its place
//! (`map.fields.name.path: …`): an unknown key, a malformed path expression or template, an
//! unknown entity or field. [`Definition::parse`] reads the text; [`Definition::check`] checks
//! it against the entities of a dynex.

use dynex_schema::Catalog;
use serde::{Deserialize, Serialize};

pub use crate::incremental::Incremental;
pub(crate) use crate::incremental::cursor_path;
use crate::map::MapSpec;
use crate::problem::{Checker, Problem, Problems};
pub use crate::schedule::Schedule;
use crate::source::changes::ChangesSpec;
use crate::source::csv::CsvFolderSpec;
use crate::source::dx::DxSpec;
use crate::source::entity::EntitySourceSpec;
use crate::source::http::HttpSpec;
use crate::target::csv::CsvTargetSpec;
use crate::target::dx::DxTarget;
use crate::target::http::HttpTarget;

/// A pipeline definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// The pipeline's name: 1 to 128 lowercase letters, digits, `-` and `_`.
    pub name: String,
    /// What the pipeline is for, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where records come from.
    #[serde(with = "serde_norway::with::singleton_map")]
    pub source: SourceSpec,
    /// How a record becomes rows of the target.
    pub map: MapSpec,
    /// Where rows go.
    #[serde(with = "serde_norway::with::singleton_map")]
    pub target: TargetSpec,
    /// What a run continues from: without it, every run reads the whole source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<Incremental>,
    /// The pipelines this one runs after, each of which must have succeeded
    /// ([`crate::order`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    /// When `dynex-server` runs the pipeline by itself ([`crate::schedule`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// Seconds a run may take before it is stopped (between two pages) and recorded as failed;
    /// [`DEFAULT_RUN_TIMEOUT`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Who may start a run by posting records to `POST /hooks/{name}` of `dynex-server`
    /// ([`crate::hook`]); without it, the pipeline cannot be called so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<crate::hook::Hook>,
}

/// Seconds a run may take when its definition does not say: an hour.
pub const DEFAULT_RUN_TIMEOUT: u64 = 3600;

/// Where a pipeline's records come from: exactly one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceSpec {
    /// Any JSON API over HTTP.
    Http(Box<HttpSpec>),
    /// The CSV files of a folder, each moved to `done/` once read.
    Csv(CsvFolderSpec),
    /// The rows of an entity of this dynex.
    Entity(EntitySourceSpec),
    /// An entity of a Data Exchange API: another dynex, or Spryker's.
    Dx(Box<DxSpec>),
    /// The change events of entities of this dynex.
    Changes(ChangesSpec),
    /// A connector of a program that embeds dynex ([`crate::run::run_with`]): the program opens
    /// the source; `dynex pipeline run` cannot.
    Connector(ConnectorSpec),
}

/// A source that a program embedding dynex brings (see `examples/pipeline`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorSpec {
    /// The connector's name, for people and for the program to check.
    pub name: String,
    /// Whatever the connector reads from the definition.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub options: serde_json::Value,
}

/// Where a pipeline's rows go: exactly one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TargetSpec {
    /// An entity of this dynex, through the same write engine as the API and imports.
    Entity(EntityTarget),
    /// A CSV file per run.
    Csv(CsvTargetSpec),
    /// An entity of a Data Exchange API (another dynex, or Spryker's), in batched requests.
    Dx(Box<DxTarget>),
    /// Any JSON API: a templated request per row or per batch of rows.
    Http(Box<HttpTarget>),
}

/// An entity of this dynex as a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityTarget {
    /// The entity's alias (`countries`).
    pub entity: String,
    /// How rows meet the stored ones.
    #[serde(default)]
    pub mode: WriteMode,
    /// The field rows are matched by in `upsert` and `update` modes (a unique field such as a
    /// SKU); the entity's identifier when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// How a target's rows meet the stored ones, as `dynex import --mode` says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    /// Create every row; a row whose key exists is refused.
    Insert,
    /// Update rows whose key exists, create the others.
    #[default]
    Upsert,
    /// Update rows whose key exists; a row whose key does not exist is refused.
    Update,
}

impl Definition {
    /// Reads a definition from YAML (JSON is YAML too); the problems of its structure (an
    /// unknown key, a missing one, a value of the wrong kind) are refused with their line.
    pub fn parse(text: &str) -> Result<Definition, Problems> {
        serde_norway::from_str(text).map_err(|e| Problems(vec![yaml_problem(&e)]))
    }

    /// Checks everything a definition says against the entities of `catalog`, and reports every
    /// problem at once.
    pub fn check(&self, catalog: &Catalog) -> Result<(), Problems> {
        let mut checker = Checker::default();
        if let Err(e) = dynex_core::check_pipeline_name(&self.name) {
            checker.add("name", e.to_string());
        }
        for (i, name) in self.after.iter().enumerate() {
            if let Err(e) = dynex_core::check_pipeline_name(name) {
                checker.add(format!("after[{i}]"), e.to_string());
            } else if self.after[..i].contains(name) {
                checker.add(format!("after[{i}]"), format!("`{name}` is named twice"));
            }
        }
        if let Some(schedule) = &self.schedule {
            schedule.check("schedule.cron", &mut checker);
        }
        if let Some(hook) = &self.hook {
            hook.check("hook", &mut checker);
        }
        if self.timeout == Some(0) {
            checker.add("timeout", "a run needs at least one second");
        }
        match &self.source {
            SourceSpec::Http(http) => http.check("source.http", &mut checker),
            SourceSpec::Csv(csv) => csv.check("source.csv", &mut checker),
            SourceSpec::Entity(entity) => entity.check(
                "source.entity",
                catalog,
                self.incremental.is_some(),
                &mut checker,
            ),
            SourceSpec::Dx(dx) => dx.check("source.dx", self.incremental.as_ref(), &mut checker),
            SourceSpec::Changes(changes) => {
                changes.check("source.changes", catalog, &mut checker);
                if self.incremental.is_some() {
                    checker.add(
                        "incremental",
                        "a `changes` source keeps its own cursor (the last event id): remove \
                         `incremental`",
                    );
                }
            }
            SourceSpec::Connector(c) if c.name.trim().is_empty() => {
                checker.add("source.connector.name", "a connector needs a name");
            }
            SourceSpec::Connector(_) => {}
        }
        let _ = self.map.compile("map", &mut checker);
        if let Some(incremental) = &self.incremental {
            let _ = cursor_path(&incremental.cursor, &mut checker);
        }
        match &self.target {
            TargetSpec::Entity(target) => self.check_entity_target(target, catalog, &mut checker),
            TargetSpec::Csv(csv) => {
                csv.check("target.csv", &mut checker);
                self.no_lookups(&mut checker);
            }
            TargetSpec::Dx(target) => {
                target.check("target.dx", &mut checker);
                self.no_lookups(&mut checker);
            }
            TargetSpec::Http(target) => {
                target.check("target.http", &self.map.target_fields(), &mut checker);
                self.no_lookups(&mut checker);
            }
        }
        checker.finish()
    }

    /// Only an entity target resolves lookups.
    fn no_lookups(&self, checker: &mut Checker) {
        if !self.map.lookups.is_empty() {
            checker.add(
                "map.lookups",
                "lookups are resolved by an entity target only",
            );
        }
    }

    fn check_entity_target(&self, target: &EntityTarget, catalog: &Catalog, checker: &mut Checker) {
        let Some(entity) = catalog.entity(&target.entity) else {
            let known: Vec<&str> = catalog.entities().iter().map(|e| e.alias()).collect();
            checker.add(
                "target.entity.entity",
                format!(
                    "`{}` is not an entity of this dynex (known: {})",
                    target.entity,
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            );
            return;
        };
        for field in self.map.target_fields() {
            if entity.field_index(field).is_none() {
                checker.add(
                    format!("map.fields.{field}"),
                    format!("`{field}` is not a field of `{}`", target.entity),
                );
            }
        }
        if let Some(key) = &target.key {
            if entity.field_index(key).is_none() {
                checker.add(
                    "target.entity.key",
                    format!("`{key}` is not a field of `{}`", target.entity),
                );
            } else if target.mode != WriteMode::Insert
                && !self.map.target_fields().contains(&key.as_str())
            {
                checker.add(
                    "target.entity.key",
                    format!(
                        "the mapping gives no value for the key `{key}`, so rows cannot be \
                         matched"
                    ),
                );
            }
        } else if target.mode != WriteMode::Insert {
            let id = &entity.identifier().field_visible_name;
            if !self.map.target_fields().contains(&id.as_str()) {
                checker.add(
                    "target.entity.key",
                    format!(
                        "{} needs a key: name a unique field (`key:`) or map the identifier \
                         `{id}`",
                        match target.mode {
                            WriteMode::Update => "update",
                            _ => "upsert",
                        }
                    ),
                );
            }
        }
    }

    /// How long a run may take.
    pub fn run_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout.unwrap_or(DEFAULT_RUN_TIMEOUT))
    }

    /// The definition as YAML.
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).unwrap_or_default()
    }
}

/// A YAML error as a problem: where it is (line and column) and what is wrong.
fn yaml_problem(e: &serde_norway::Error) -> Problem {
    let message = e.to_string();
    match e.location() {
        Some(at) => Problem::new(
            format!("line {}, column {}", at.line(), at.column()),
            // The message repeats the location at its end.
            message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_string(),
        ),
        None => Problem::new("", message),
    }
}
