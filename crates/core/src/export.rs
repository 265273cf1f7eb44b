//! Streaming reads of a whole entity for CSV export: keyset pages, never `OFFSET`.

use dynex_query::{Condition, Page};
use serde_json::{Map, Value as Json};

use crate::Dynex;
use crate::error::CoreError;

/// Rows per page: each page is one query that starts after the last identifier read.
const PAGE_ROWS: u64 = 1000;

impl Dynex {
    /// Reads every row of `alias` that matches the filters in `pairs` (as the API's `filter[…]`
    /// parameters), in identifier order, and hands each to `each`; returns the number of rows.
    ///
    /// Each page starts after the last identifier of the previous one (keyset paging), so a
    /// page deep in a large table costs what the first one does. Paging parameters are refused.
    pub fn export_rows(
        &self,
        alias: &str,
        pairs: &[(String, String)],
        mut each: impl FnMut(&Map<String, Json>) -> Result<(), CoreError>,
    ) -> Result<u64, CoreError> {
        let snapshot = self.snapshot();
        let entity = self.entity(&snapshot, alias)?;
        let resolve = |a: &str| snapshot.catalog.entity(a).cloned();
        let mut query = dynex_query::parse(&entity, &resolve, pairs, &self.page_limits())?;
        if pairs.iter().any(|(k, _)| k.starts_with("page")) || !query.include.is_empty() {
            return Err(CoreError::Invalid(
                "an export reads every matching row: no page[…] or include".into(),
            ));
        }
        query.page = Page {
            offset: 0,
            limit: PAGE_ROWS,
        };
        let id_index = entity.identifier_index();
        let id = entity.identifier();
        let filters = query.conditions.len();
        let mut conn = self.inner.db.conn()?;
        let mut total = 0u64;
        loop {
            let rows = crate::read::read(&mut conn, self.dialect(), &entity, &query, &[])?;
            let mut last = None;
            for row in &rows {
                if let Json::Object(object) = row {
                    each(object)?;
                    last = object.get(&id.field_visible_name).cloned();
                }
            }
            total += rows.len() as u64;
            if (rows.len() as u64) < PAGE_ROWS {
                return Ok(total);
            }
            let Some(last) = last else {
                return Ok(total);
            };
            let after = id
                .ty
                .parse_json(&last)
                .map_err(|e| CoreError::Corrupt(format!("identifier of `{alias}`: {e}")))?;
            query.conditions.truncate(filters);
            query.conditions.push(Condition::After(id_index, after));
        }
    }
}
