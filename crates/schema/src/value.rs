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

/// The plain decimal text of a number, with every digit kept (`1.5e3` → `1500`).
///
/// More examples: `-2E-2` → `-0.02`, `12.50` → `12.50`. It is what a JSON number or a
/// database's exponent form (SQLite reads `1.0e+20`) says, without passing through a binary
/// double. `None` for text that is no such number, or whose exponent would move the point more
/// than 1000 places (no column holds such a value).
pub fn plain_decimal(number: &str) -> Option<String> {
    let (negative, body) = match number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, number),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => {
            let exp = &body[at + 1..];
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 6
            {
                return None;
            }
            (&body[..at], exp.parse::<i64>().ok()?)
        }
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !all_digits(int) || (mantissa.contains('.') && frac.is_empty()) {
        return None;
    }
    if !all_digits(frac) || exponent.abs() > 1000 {
        return None;
    }
    let digits = format!("{int}{frac}");
    // Where the point falls within `digits`, which may be before or after them.
    let point = int.len() as i64 + exponent;
    let (mut whole, fraction) = if point <= 0 {
        (
            "0".to_string(),
            format!("{}{digits}", "0".repeat(point.unsigned_abs() as usize)),
        )
    } else if point as usize >= digits.len() {
        (
            format!("{digits}{}", "0".repeat(point as usize - digits.len())),
            String::new(),
        )
    } else {
        let (w, f) = digits.split_at(point as usize);
        (w.to_string(), f.to_string())
    };
    let trimmed = whole.trim_start_matches('0');
    whole = if trimmed.is_empty() {
        "0".to_string()
    } else {
        trimmed.to_string()
    };
    // An exponent form's fraction is what the exponent left of the digits; without an
    // exponent the fraction is kept as written (`12.50`).
    let fraction = if exponent == 0 {
        fraction
    } else {
        fraction.trim_end_matches('0').to_string()
    };
    let mut out = String::with_capacity(whole.len() + fraction.len() + 2);
    if negative {
        out.push('-');
    }
    out.push_str(&whole);
    if !fraction.is_empty() {
        out.push('.');
        out.push_str(&fraction);
    }
    Some(out)
}

/// Formats a decimal's text with exactly `scale` fractional digits (`20` → `20.00`).
///
/// It works in decimal arithmetic: an exponent form (`1.0e+20`, as SQLite writes large and
/// small values) is expanded digit for digit, and more fractional digits than the scale are
/// rounded half away from zero, as PostgreSQL and MariaDB round their `NUMERIC` and `DECIMAL`
/// values.
pub fn format_decimal(text: &str, scale: u32) -> String {
    let plain = match canonical_decimal(text) {
        Some(plain) => plain,
        None => match plain_decimal(text) {
            Some(plain) => plain,
            None => return text.to_string(),
        },
    };
    let (negative, body) = match plain.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, plain.as_str()),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let scale = scale as usize;
    let mut digits: Vec<u8> = int.bytes().chain(frac.bytes().take(scale)).collect();
    digits.extend(std::iter::repeat_n(b'0', scale.saturating_sub(frac.len())));
    if frac.as_bytes().get(scale).is_some_and(|d| *d >= b'5') {
        // Round up: carry through the nines.
        let mut at = digits.len();
        loop {
            if at == 0 {
                digits.insert(0, b'1');
                break;
            }
            at -= 1;
            if digits[at] == b'9' {
                digits[at] = b'0';
            } else {
                digits[at] += 1;
                break;
            }
        }
    }
    let split = digits.len() - scale;
    let whole = std::str::from_utf8(&digits[..split]).unwrap_or("0");
    let whole = match whole.trim_start_matches('0') {
        "" => "0",
        w => w,
    };
    let fraction = std::str::from_utf8(&digits[split..]).unwrap_or_default();
    // Zero has no sign (`-0.001` at scale 2 is `0.00`, as the databases write it).
    let zero = whole == "0" && fraction.bytes().all(|b| b == b'0');
    let mut out = String::with_capacity(digits.len() + 2);
    if negative && !zero {
        out.push('-');
    }
    out.push_str(whole);
    if scale > 0 {
        out.push('.');
        out.push_str(fraction);
    }
    out
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
        // Rounding is decimal, half away from zero, with carries; no binary double between.
        assert_eq!(format_decimal("1.005", 2), "1.01");
        assert_eq!(format_decimal("-1.005", 2), "-1.01");
        assert_eq!(format_decimal("2.5", 0), "3");
        assert_eq!(format_decimal("99.995", 2), "100.00");
        assert_eq!(format_decimal("-0.001", 2), "0.00");
        assert_eq!(
            format_decimal("123456789012345678.125", 2),
            "123456789012345678.13"
        );
        // SQLite's exponent forms, expanded digit for digit.
        assert_eq!(format_decimal("1.0e+20", 2), "100000000000000000000.00");
        assert_eq!(
            format_decimal("1.234567890123e-15", 30),
            "0.000000000000001234567890123000"
        );
        assert_eq!(
            format_decimal("1.0e-21", 40),
            "0.0000000000000000000010000000000000000000"
        );
        assert_eq!(format_decimal("not a number", 2), "not a number");
    }

    #[test]
    fn numbers_become_plain_decimals_digit_for_digit() {
        let cases = [
            ("12345678901234.56", "12345678901234.56"),
            ("12.50", "12.50"),
            ("-0.5", "-0.5"),
            ("1.5e3", "1500"),
            ("1.5E+3", "1500"),
            ("-2E-2", "-0.02"),
            (
                "123456789012345678901234567890.5e-10",
                "12345678901234567890.12345678905",
            ),
            ("9007199254740993", "9007199254740993"),
            ("0e5", "0"),
            ("1.0e+20", "100000000000000000000"),
            ("5e-1", "0.5"),
        ];
        for (number, plain) in cases {
            assert_eq!(plain_decimal(number).as_deref(), Some(plain), "{number}");
        }
        for bad in [
            "", "-", "1.", ".5", "1e", "1e+", "1x", "1e100000", "--1", "1.2.3",
        ] {
            assert_eq!(plain_decimal(bad), None, "{bad}");
        }
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
