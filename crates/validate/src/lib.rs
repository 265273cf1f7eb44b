//! Validation of values against an entity's field types and rules.
//!
//! This crate holds the checks shared by the API and CSV import. The read side uses the type
//! checks for path identifiers; row validation for writes (codes 1304–1311, 1316) builds on it.

use dynex_schema::{Field, FieldType, Value};

/// Why a value does not fit a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The value has the wrong type (Spryker 1305).
    #[error("invalid data type for field `{field}`: expected {expected}")]
    Type {
        /// The field's visible name.
        field: String,
        /// The expected type.
        expected: FieldType,
    },
}

/// Parses text (a path identifier, a CSV cell) as a value of `field`'s type.
pub fn parse_text(field: &Field, text: &str) -> Result<Value, ValueError> {
    field.ty.parse_text(text).map_err(|_| ValueError::Type {
        field: field.field_visible_name.clone(),
        expected: field.ty,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_typed() {
        let f: Field =
            serde_json::from_str(r#"{"fieldName":"id","fieldVisibleName":"id","type":"integer"}"#)
                .unwrap();
        assert_eq!(parse_text(&f, "7"), Ok(Value::Int(7)));
        assert!(parse_text(&f, "seven").is_err());
    }
}
