//! Index warnings: columns dynex filters or sorts by configuration that no index leads with.

use serde::Serialize;

use dynex_schema::EntityConfig;

use crate::config::introspect;
use crate::{CoreError, Dynex};

/// Columns of an entity's table that dynex filters or sorts by, by configuration, while no
/// index of the table leads with them: each such query scans the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexWarning {
    /// The entity's table.
    pub table: String,
    /// The columns an index should lead with (in any order).
    pub columns: Vec<String>,
    /// Why dynex queries by them, e.g. `children of countries.countryTaxRates are read by it`.
    pub reason: String,
}

impl std::fmt::Display for IndexWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no index on {}({}): {}",
            self.table,
            self.columns.join(", "),
            self.reason
        )
    }
}

/// Whether some index has exactly `columns` (in any order) as its first columns.
fn covered(indexes: &[Vec<String>], columns: &[String]) -> bool {
    indexes.iter().any(|index| {
        index.len() >= columns.len()
            && index[..columns.len()]
                .iter()
                .all(|i| columns.iter().any(|c| c.eq_ignore_ascii_case(i)))
            && columns.iter().all(|c| {
                index[..columns.len()]
                    .iter()
                    .any(|i| c.eq_ignore_ascii_case(i))
            })
    })
}

impl Dynex {
    /// The columns of an entity's table that dynex filters or sorts by, by configuration, and
    /// that no index (primary key, unique or plain) leads with: the identifier (by-id reads and
    /// keyset paging), the child columns of every relation of the catalog to this entity
    /// (loading children, relation filters) and the `updatedAtField` (delta exports).
    ///
    /// Takes a stored configuration ([`Dynex::stored_entity`]), so inactive entities are checked
    /// too, and callers that show the configuration read it once; a table that no longer exists
    /// gives no warnings.
    pub fn index_warnings(&self, config: &EntityConfig) -> Result<Vec<IndexWarning>, CoreError> {
        let alias = config.table_alias.as_str();
        let one = |column: &str| vec![column.to_string()];
        let mut wanted: Vec<(Vec<String>, String)> = vec![(
            one(&config.definition.identifier),
            "it is the identifier: rows are read and paged by it".to_string(),
        )];
        let snapshot = self.snapshot();
        for parent in snapshot.catalog.entities() {
            for relation in &parent.config.child_relations {
                if relation.child_alias() != alias || relation.relation_field_mappings.is_empty() {
                    continue;
                }
                let mut columns: Vec<String> = Vec::new();
                for m in &relation.relation_field_mappings {
                    if !columns.contains(&m.child_field_name) {
                        columns.push(m.child_field_name.clone());
                    }
                }
                let them = if columns.len() == 1 { "it" } else { "them" };
                let reason = format!(
                    "children of {}.{} are read by {them}",
                    parent.alias(),
                    relation.name
                );
                wanted.push((columns, reason));
            }
        }
        if let Some(column) = &config.definition.updated_at_field {
            wanted.push((
                one(column),
                "delta exports (--changed-since) filter and sort by it".to_string(),
            ));
        }

        let dialect = self.dialect();
        let mut conn = self.inner.db.conn()?;
        let indexes = introspect::indexes(&mut conn, dialect, &config.table_name)?;
        if indexes.is_empty()
            && !introspect::tables(&mut conn, dialect)?.contains(&config.table_name)
        {
            return Ok(Vec::new());
        }
        let mut warnings: Vec<IndexWarning> = Vec::new();
        for (columns, reason) in wanted {
            if covered(&indexes, &columns) {
                continue;
            }
            let warning = IndexWarning {
                table: config.table_name.clone(),
                columns,
                reason,
            };
            if !warnings.contains(&warning) {
                warnings.push(warning);
            }
        }
        Ok(warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_string()).collect()
    }

    #[test]
    fn an_index_covers_the_columns_it_leads_with_in_any_order() {
        let indexes = vec![cols(&["id"]), cols(&["a", "b", "c"])];
        assert!(covered(&indexes, &cols(&["id"])));
        assert!(covered(&indexes, &cols(&["A"])));
        assert!(covered(&indexes, &cols(&["b", "a"])));
        assert!(covered(&indexes, &cols(&["a", "b", "c"])));
        assert!(!covered(&indexes, &cols(&["b"])));
        assert!(!covered(&indexes, &cols(&["a", "c"])));
        assert!(!covered(&indexes, &cols(&["a", "b", "c", "d"])));
        assert!(!covered(&[], &cols(&["id"])));
    }

    #[test]
    fn a_warning_names_table_columns_and_reason() {
        let w = IndexWarning {
            table: "spy_tax_rate".into(),
            columns: cols(&["fk_country"]),
            reason: "children of countries.countryTaxRates are read by it".into(),
        };
        assert_eq!(
            w.to_string(),
            "no index on spy_tax_rate(fk_country): children of countries.countryTaxRates are read by it"
        );
    }
}
