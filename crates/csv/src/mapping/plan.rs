//! A mapping bound to an entity and a file's header: which field each kept column fills, which
//! columns are looked up, and the cells of each record under the mapped header.

use std::collections::HashMap;
use std::sync::Arc;

use dynex_schema::{Catalog, Entity, FieldType};

use super::error::{MappingError, UnknownField};
use super::transform::{LookupSpec, Rule};
use super::{Column, Mapping, Unmapped};
use crate::parse_cell;

impl Mapping {
    /// Binds the mapping to `entity` and to a file's `header`, with no other entity to look
    /// up (a `lookup` is refused): [`Mapping::plan_in`] with an empty catalog.
    pub fn plan(&self, entity: &Entity, header: &[String]) -> Result<MappingPlan, MappingError> {
        self.plan_in(&Catalog::default(), entity, header)
    }

    /// Binds the mapping to `entity` and to a file's `header`; lookups name entities of
    /// `catalog`.
    ///
    /// Refuses field names that `entity` does not have, constants that its fields do not
    /// accept, columns of the file that are neither mentioned nor field names (unless
    /// `unmapped: ignore`), two sources for one field, and lookups of an entity that `catalog`
    /// does not serve or by a field that entity does not have.
    pub fn plan_in(
        &self,
        catalog: &Catalog,
        entity: &Entity,
        header: &[String],
    ) -> Result<MappingPlan, MappingError> {
        let alias = entity.alias();
        let ty = |field: &str| entity.field_index(field).map(|i| entity.fields()[i].ty);
        let looked_up = self.looked_up(catalog)?;
        let mut unknown = Vec::new();
        for (name, column) in &self.columns {
            if let Column::Field(rule) = column
                && ty(&rule.field).is_none()
            {
                unknown.push(UnknownField {
                    field: rule.field.clone(),
                    column: Some(name.clone()),
                });
            }
        }
        for (field, _) in &self.constants {
            if ty(field).is_none() {
                unknown.push(UnknownField {
                    field: field.clone(),
                    column: None,
                });
            }
        }
        if !unknown.is_empty() {
            return Err(MappingError::UnknownFields {
                entity: alias.to_string(),
                unknown,
                known: visible_names(entity),
            });
        }

        let mut plan = MappingPlan::default();
        // Field → where it comes from, to refuse two sources for one field.
        let mut sources: HashMap<String, String> = HashMap::new();
        let mut add = |field: &str, source: String| match sources.get(field) {
            Some(first) => Err(MappingError::TwoSources {
                field: field.to_string(),
                first: first.clone(),
                second: source,
            }),
            None => {
                sources.insert(field.to_string(), source);
                Ok(())
            }
        };
        let mut unmapped = Vec::new();
        for (index, name) in header.iter().enumerate() {
            let mentioned = self.columns.iter().find(|(c, _)| c == name).map(|(_, c)| c);
            let rule = match mentioned {
                Some(Column::Ignore) => continue,
                Some(Column::Field(rule)) => rule.clone(),
                None if ty(name).is_some() => Rule::plain(name),
                None => {
                    if self.unmapped == Unmapped::Error {
                        unmapped.push(name.clone());
                    }
                    continue;
                }
            };
            add(&rule.field, format!("the column `{name}`"))?;
            // The cells of a lookup are values of the field they are matched against.
            let field_ty = match (&rule.lookup, looked_up.get(name.as_str())) {
                (Some(spec), Some((_, by_ty))) => {
                    plan.lookups.push(Lookup {
                        position: plan.header.len(),
                        column: name.clone(),
                        field: rule.field.clone(),
                        entity: spec.entity.clone(),
                        by: spec.by.clone(),
                    });
                    *by_ty
                }
                _ => ty(&rule.field).unwrap_or(FieldType::String),
            };
            plan.header.push(rule.field.clone());
            plan.outputs.push(Output::Column {
                index,
                name: name.clone(),
                rule: (!rule.is_plain()).then_some((rule, field_ty)),
            });
        }
        if !unmapped.is_empty() {
            return Err(MappingError::Unmapped {
                entity: alias.to_string(),
                columns: unmapped,
            });
        }
        for (field, text) in &self.constants {
            add(field, "the constant".to_string())?;
            let f = &entity.fields()[entity.field_index(field).unwrap_or_default()];
            parse_cell(f, text).map_err(|source| MappingError::Constant {
                field: field.clone(),
                source,
            })?;
            plan.header.push(field.clone());
            plan.outputs.push(Output::Constant(text.clone()));
        }
        Ok(plan)
    }

    /// The entity and the type of the field each column with a lookup is matched against,
    /// by column name.
    fn looked_up(
        &self,
        catalog: &Catalog,
    ) -> Result<HashMap<&str, (Arc<Entity>, FieldType)>, MappingError> {
        let mut looked_up = HashMap::new();
        for (name, column) in &self.columns {
            let Column::Field(Rule {
                lookup: Some(spec), ..
            }) = column
            else {
                continue;
            };
            let LookupSpec { entity, by } = spec.as_ref();
            let other = catalog
                .entity(entity)
                .ok_or_else(|| MappingError::LookupEntity {
                    column: name.clone(),
                    entity: entity.clone(),
                })?;
            let index = other
                .field_index(by)
                .ok_or_else(|| MappingError::LookupField {
                    column: name.clone(),
                    entity: entity.clone(),
                    by: by.clone(),
                    known: visible_names(other),
                })?;
            let by_ty = other.fields()[index].ty;
            looked_up.insert(name.as_str(), (other.clone(), by_ty));
        }
        Ok(looked_up)
    }
}

/// The visible names of an entity's fields, in its order (for messages).
fn visible_names(entity: &Entity) -> Vec<String> {
    entity
        .fields()
        .iter()
        .map(|f| f.field_visible_name.clone())
        .collect()
}

/// Where a cell of the mapped record comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Output {
    /// A column of the file (`name` at `index`), transformed by a rule (`None`: as it is).
    Column {
        index: usize,
        name: String,
        rule: Option<(Rule, FieldType)>,
    },
    /// The same text on every row.
    Constant(String),
}

/// A mapping bound to an entity and a file's header: the header it gives and the cells of each
/// record under it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappingPlan {
    header: Vec<String>,
    outputs: Vec<Output>,
    lookups: Vec<Lookup>,
}

/// A column whose cells name rows of another entity by one of its fields (a natural key, such
/// as a product's `abstract_sku`): the import replaces each cell with the identifier of the row
/// it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The position of the field in [`MappingPlan::header`].
    pub position: usize,
    /// The file's column.
    pub column: String,
    /// The visible name of the field that gets the identifier of the row found.
    pub field: String,
    /// The alias of the entity looked up.
    pub entity: String,
    /// The visible name of its field that the cells are matched against.
    pub by: String,
}

/// A cell that a mapping's transform refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellError {
    /// The file's column.
    pub column: String,
    /// The visible name of the field the column fills.
    pub field: String,
    /// Why the cell was refused.
    pub reason: String,
}

impl std::fmt::Display for CellError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "column `{}`: {}", self.column, self.reason)
    }
}

impl MappingPlan {
    /// The visible field names the mapped records have cells for: the kept columns of the file,
    /// in its order, then the constants.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The columns of [`MappingPlan::header`] whose cells [`MappingPlan::apply`] leaves as the
    /// text to look up, in header order.
    pub fn lookups(&self) -> &[Lookup] {
        &self.lookups
    }

    /// The cells of a record under [`MappingPlan::header`], from its cells under the file's
    /// header; the first cell that a transform refuses stops it.
    pub fn apply(&self, cells: &[String]) -> Result<Vec<String>, CellError> {
        let mut out = Vec::with_capacity(self.outputs.len());
        for (output, field) in self.outputs.iter().zip(&self.header) {
            out.push(match output {
                Output::Constant(text) => text.clone(),
                Output::Column { index, name, rule } => {
                    let text = cells.get(*index).map_or("", String::as_str);
                    match rule {
                        None => text.to_string(),
                        Some((rule, ty)) => rule.apply(text, *ty).map_err(|reason| CellError {
                            column: name.clone(),
                            field: field.clone(),
                            reason,
                        })?,
                    }
                }
            });
        }
        Ok(out)
    }
}
