/// A typed value bound to a SQL statement; the only way a value ever reaches the database.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Value {
    /// SQL `NULL`.
    #[default]
    Null,
    /// A 64-bit integer.
    Int(i64),
    /// A double-precision float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// Text.
    Text(String),
    /// A decimal in its canonical text form (`-12.50`); cast to the column's numeric type in SQL.
    Decimal(String),
    /// A date as `YYYY-MM-DD`.
    Date(String),
    /// A date and time as `YYYY-MM-DD HH:MM:SS[.ffffff]`.
    DateTime(String),
    /// JSON text.
    Json(String),
}

use crate::model::FieldType;

/// Why text or a JSON value is not a value of a field's type; it displays the reason a client
/// is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Text that does not spell a value of the type.
    #[error("`{text}` is not {}", spelled(*ty))]
    Text {
        /// The text as given.
        text: String,
        /// The type it should be of.
        ty: FieldType,
    },
    /// A JSON value of a kind the type does not take (an object for an integer).
    #[error("`{json}` is not a valid {ty} value")]
    Json {
        /// The value as JSON text.
        json: String,
        /// The type it should be of.
        ty: FieldType,
    },
}

/// A value of the type, in words, with the spellings it takes where they are not obvious.
fn spelled(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Integer => "an integer",
        FieldType::Float => "a number",
        FieldType::Boolean => "a boolean (true, false, 1 or 0)",
        FieldType::Decimal => "a decimal",
        FieldType::Date => "a date (YYYY-MM-DD)",
        FieldType::DateTime => "a date and time (YYYY-MM-DD HH:MM:SS)",
        FieldType::String => "text",
        FieldType::Json => "JSON",
    }
}

impl FieldType {
    /// Parses text (a URL parameter, a path id, a CSV cell) as a value of this type.
    pub fn parse_text(self, s: &str) -> Result<Value, ValueError> {
        let not = || ValueError::Text {
            text: s.to_string(),
            ty: self,
        };
        match self {
            FieldType::Integer => s.trim().parse::<i64>().map(Value::Int).map_err(|_| not()),
            FieldType::Float => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Value::Float)
                .ok_or_else(not),
            FieldType::Boolean => match s.trim() {
                "true" | "1" => Ok(Value::Bool(true)),
                "false" | "0" => Ok(Value::Bool(false)),
                _ => Err(not()),
            },
            FieldType::Decimal => canonical_decimal(s.trim())
                .map(Value::Decimal)
                .ok_or_else(not),
            FieldType::Date => is_date(s.trim())
                .then(|| Value::Date(s.trim().to_string()))
                .ok_or_else(not),
            FieldType::DateTime => normalize_datetime(s.trim())
                .map(Value::DateTime)
                .ok_or_else(not),
            FieldType::String => Ok(Value::Text(s.to_string())),
            FieldType::Json => Ok(Value::Json(s.to_string())),
        }
    }

    /// Converts a JSON scalar (an element of an `{"in": [...]}` list) to a value of this type.
    ///
    /// Lenient: strings holding numbers are accepted for numeric types, as URL values are text.
    pub fn parse_json(self, v: &serde_json::Value) -> Result<Value, ValueError> {
        match v {
            serde_json::Value::Null => Ok(Value::Null),
            serde_json::Value::String(s) => self.parse_text(s),
            serde_json::Value::Bool(b) if self == FieldType::Boolean => Ok(Value::Bool(*b)),
            serde_json::Value::Number(n) => self.parse_text(&n.to_string()),
            other if self == FieldType::Json => Ok(Value::Json(other.to_string())),
            other => Err(ValueError::Json {
                json: other.to_string(),
                ty: self,
            }),
        }
    }
}

/// Checks `-?digits(.digits)?` and strips a leading `+`; returns the canonical text.
pub fn canonical_decimal(s: &str) -> Option<String> {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return None;
    }
    Some(s.to_string())
}

/// Formats a decimal's text with exactly `scale` fractional digits (`20` → `20.00`).
pub fn format_decimal(text: &str, scale: u32) -> String {
    let Some(_) = canonical_decimal(text) else {
        // Exponent forms come from SQLite's REAL storage of very small or large values.
        return match text.parse::<f64>() {
            Ok(f) => format!("{f:.*}", scale as usize),
            Err(_) => text.to_string(),
        };
    };
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let scale = scale as usize;
    if frac.len() <= scale {
        if scale == 0 {
            int.to_string()
        } else {
            format!("{int}.{frac:0<scale$}")
        }
    } else if frac[scale..].bytes().all(|b| b == b'0') {
        if scale == 0 {
            int.to_string()
        } else {
            format!("{int}.{}", &frac[..scale])
        }
    } else {
        // More digits than the scale (SQLite float noise such as 20.000000000000004): round.
        match text.parse::<f64>() {
            Ok(f) => format!("{f:.scale$}"),
            Err(_) => text.to_string(),
        }
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// Normalises `YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]]` to `YYYY-MM-DD HH:MM:SS[.ffffff]`, dropping a
/// zero fraction, so every backend renders the same text.
pub fn normalize_datetime(s: &str) -> Option<String> {
    // `get`: byte 10 may fall inside a character of text that is no date at all.
    if s.len() < 16 || !s.get(..10).is_some_and(is_date) {
        return if is_date(s) {
            Some(format!("{s} 00:00:00"))
        } else {
            None
        };
    }
    let sep = s.as_bytes()[10];
    if sep != b' ' && sep != b'T' {
        return None;
    }
    let time = s[11..].trim_end_matches('Z');
    let time = time.split(['+']).next().unwrap_or(time);
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let parts: Vec<&str> = hms.split(':').collect();
    let ok = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
    let (h, m, sec) = match parts.as_slice() {
        [h, m] if ok(h) && ok(m) => (*h, *m, "00"),
        [h, m, sec] if ok(h) && ok(m) && ok(sec) => (*h, *m, *sec),
        _ => return None,
    };
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    Some(if frac.is_empty() {
        format!("{} {h}:{m}:{sec}", &s[..10])
    } else {
        format!("{} {h}:{m}:{sec}.{frac}", &s[..10])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_is_no_date_is_refused_without_panicking() {
        for s in [
            "zq$𑄿WY𞀣/ez",
            "2024-01-0𞀣 10:00",
            "ÄÄÄÄÄÄÄÄÄÄÄÄ",
            "2024-01-02T1ä:00",
        ] {
            assert_eq!(normalize_datetime(s), None, "{s}");
        }
        assert_eq!(
            normalize_datetime("2024-01-02T10:00"),
            Some("2024-01-02 10:00:00".into())
        );
    }

    #[test]
    fn decimals_are_rendered_with_their_scale() {
        assert_eq!(format_decimal("20", 2), "20.00");
        assert_eq!(format_decimal("20.5", 2), "20.50");
        assert_eq!(format_decimal("20.000000", 2), "20.00");
        assert_eq!(format_decimal("2.25", 10), "2.2500000000");
        assert_eq!(format_decimal("20.000000000000004", 2), "20.00");
        assert_eq!(format_decimal("-7", 0), "-7");
    }

    #[test]
    fn text_is_typed_by_the_field() {
        assert_eq!(FieldType::Integer.parse_text("42"), Ok(Value::Int(42)));
        assert!(FieldType::Integer.parse_text("4x").is_err());
        assert_eq!(FieldType::Boolean.parse_text("1"), Ok(Value::Bool(true)));
        assert!(FieldType::Decimal.parse_text("1e5").is_err());
        assert_eq!(
            FieldType::DateTime.parse_text("2024-01-15T10:00:00.000000"),
            Ok(Value::DateTime("2024-01-15 10:00:00".into()))
        );
        assert_eq!(
            normalize_datetime("2024-01-15 10:00:00.250"),
            Some("2024-01-15 10:00:00.25".into())
        );
    }
}
