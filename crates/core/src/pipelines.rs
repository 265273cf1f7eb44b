//! Pipeline definitions kept in dynex's own tables.
//!
//! The store keeps the text its author wrote, so that `dynex pipeline export` gives it back with
//! its comments; `dynex-pipeline` checks a definition as a whole before it is saved here.

use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

use crate::Dynex;
use crate::audit::Audit;
use crate::clock;
use crate::error::CoreError;
use crate::schema::dynex_pipeline;

/// The longest pipeline name.
pub const PIPELINE_NAME_MAX: usize = 128;

/// A stored pipeline definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Queryable, Selectable)]
#[diesel(table_name = dynex_pipeline, check_for_backend(crate::db::MultiBackend))]
pub struct StoredPipeline {
    /// The pipeline's name.
    pub name: String,
    /// The definition as its author wrote it.
    pub definition: String,
    /// When it was first saved (Unix milliseconds).
    pub created_at_ms: i64,
    /// When it was last saved (Unix milliseconds).
    pub updated_at_ms: i64,
}

/// Whether a save created the pipeline or replaced its definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Saved {
    /// A new pipeline.
    Created,
    /// An existing pipeline's definition was replaced.
    Updated,
    /// The definition was the same as the stored one: nothing was written.
    Unchanged,
}

impl crate::audit::Changed for Saved {
    fn changed(&self) -> bool {
        *self != Saved::Unchanged
    }
}

/// Refuses a name that is not 1 to 128 lowercase letters, digits, `-` and `_`, starting with a
/// letter or digit: names appear in URLs, file names and log lines.
pub fn check_pipeline_name(name: &str) -> Result<(), CoreError> {
    let valid = !name.is_empty()
        && name.len() <= PIPELINE_NAME_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if valid {
        Ok(())
    } else {
        Err(CoreError::Invalid(format!(
            "`{name}` is not a pipeline name: use 1 to {PIPELINE_NAME_MAX} lowercase letters, \
             digits, `-` and `_`, starting with a letter or digit"
        )))
    }
}

/// Pipeline definitions.
impl Dynex {
    /// Saves the definition of pipeline `name`, creating it or replacing the stored one.
    ///
    /// The text is stored as given: check it with `dynex-pipeline` first.
    pub fn save_pipeline(&self, name: &str, definition: &str) -> Result<Saved, CoreError> {
        check_pipeline_name(name)?;
        let audit = Audit::new("pipeline.save", name).with(json!({ "bytes": definition.len() }));
        self.change(audit, |conn| {
            let now = clock::now_ms();
            let stored = dynex_pipeline::table
                .filter(dynex_pipeline::name.eq(name))
                .select(dynex_pipeline::definition)
                .first::<String>(conn)
                .optional()?;
            match stored {
                Some(text) if text == definition => Ok(Saved::Unchanged),
                Some(_) => {
                    diesel::update(dynex_pipeline::table.filter(dynex_pipeline::name.eq(name)))
                        .set((
                            dynex_pipeline::definition.eq(definition),
                            dynex_pipeline::updated_at_ms.eq(now),
                        ))
                        .execute(conn)?;
                    Ok(Saved::Updated)
                }
                None => {
                    diesel::insert_into(dynex_pipeline::table)
                        .values((
                            dynex_pipeline::name.eq(name),
                            dynex_pipeline::definition.eq(definition),
                            dynex_pipeline::created_at_ms.eq(now),
                            dynex_pipeline::updated_at_ms.eq(now),
                        ))
                        .execute(conn)
                        .map_err(|e| match e {
                            diesel::result::Error::DatabaseError(
                                diesel::result::DatabaseErrorKind::UniqueViolation,
                                _,
                            ) => CoreError::AlreadyExists {
                                kind: "pipeline",
                                name: name.to_string(),
                            },
                            e => e.into(),
                        })?;
                    Ok(Saved::Created)
                }
            }
        })
    }

    /// Every stored pipeline, by name.
    pub fn pipelines(&self) -> Result<Vec<StoredPipeline>, CoreError> {
        let mut conn = self.inner.db.conn()?;
        Ok(dynex_pipeline::table
            .order(dynex_pipeline::name)
            .select(StoredPipeline::as_select())
            .load(&mut conn)?)
    }

    /// The stored pipeline `name`; `CoreError::NotFound` when there is none.
    pub fn pipeline(&self, name: &str) -> Result<StoredPipeline, CoreError> {
        let mut conn = self.inner.db.conn()?;
        dynex_pipeline::table
            .filter(dynex_pipeline::name.eq(name))
            .select(StoredPipeline::as_select())
            .first(&mut conn)
            .optional()?
            .ok_or_else(|| CoreError::NotFound {
                kind: "pipeline",
                name: name.to_string(),
            })
    }

    /// Removes pipeline `name`; `CoreError::NotFound` when there is none.
    pub fn remove_pipeline(&self, name: &str) -> Result<(), CoreError> {
        let removed = self.change(Audit::new("pipeline.remove", name), |conn| {
            Ok(
                diesel::delete(dynex_pipeline::table.filter(dynex_pipeline::name.eq(name)))
                    .execute(conn)?
                    > 0,
            )
        })?;
        removed.then_some(()).ok_or_else(|| CoreError::NotFound {
            kind: "pipeline",
            name: name.to_string(),
        })
    }
}
