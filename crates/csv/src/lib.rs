//! CSV mapped onto entities: rows written with the visible field names as header.
//!
//! The export side is used by `dynex` today; streaming import with mapping profiles and reject
//! reports builds on the same header mapping.

use std::io::Write;

use dynex_schema::Entity;
use serde_json::{Map, Value};

/// Errors writing CSV.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The underlying writer failed.
    #[error(transparent)]
    Csv(#[from] csv::Error),
}

/// Writes wire objects of one entity as CSV, header first.
pub struct EntityWriter<W: Write> {
    inner: csv::Writer<W>,
    columns: Vec<String>,
}

impl<W: Write> EntityWriter<W> {
    /// Starts a CSV document with the entity's visible field names as header.
    pub fn new(entity: &Entity, out: W) -> Result<Self, CsvError> {
        let columns: Vec<String> = entity
            .fields()
            .iter()
            .map(|f| f.field_visible_name.clone())
            .collect();
        let mut inner = csv::Writer::from_writer(out);
        inner.write_record(&columns)?;
        Ok(EntityWriter { inner, columns })
    }

    /// Writes one row; nulls are empty cells, strings as they are, other values as JSON text.
    pub fn write(&mut self, row: &Map<String, Value>) -> Result<(), CsvError> {
        let cells = self.columns.iter().map(|c| match row.get(c) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        });
        self.inner.write_record(cells)?;
        Ok(())
    }

    /// Flushes and returns the writer.
    pub fn finish(self) -> Result<W, CsvError> {
        self.inner
            .into_inner()
            .map_err(|e| CsvError::Csv(e.into_error().into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynex_schema::EntityConfig;

    #[test]
    fn rows_are_written_under_visible_names() {
        let c = EntityConfig::parse_many(
            r#"{"tableName":"t","tableAlias":"ts","definition":{"identifier":"id","fields":[
              {"fieldName":"id","fieldVisibleName":"id","type":"integer"},
              {"fieldName":"n","fieldVisibleName":"name","type":"string"}]}}"#,
        )
        .unwrap()
        .remove(0);
        let e = Entity::new(c).unwrap();
        let mut w = EntityWriter::new(&e, Vec::new()).unwrap();
        let row = serde_json::json!({"id": 1, "name": "a, \"b\""});
        w.write(row.as_object().unwrap()).unwrap();
        w.write(
            serde_json::json!({"id": 2, "name": null})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(text, "id,name\n1,\"a, \"\"b\"\"\"\n2,\n");
    }
}
