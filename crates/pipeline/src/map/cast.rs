//! The value conversions of a field (`cast:`), exact: a value that does not convert without
//! loss is refused with a message naming it, never rounded or guessed.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Number, Value};

/// The type a field's values are converted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cast {
    String,
    Integer,
    Number,
    Boolean,
    Date,
    DateTime,
}

/// The names `cast:` accepts, for messages.
pub(super) const CASTS: &str = "string, integer, number, boolean, date, datetime";

impl Cast {
    pub(super) fn parse(name: &str) -> Option<Cast> {
        Some(match name {
            "string" => Cast::String,
            "integer" => Cast::Integer,
            "number" => Cast::Number,
            "boolean" => Cast::Boolean,
            "date" => Cast::Date,
            "datetime" => Cast::DateTime,
            _ => return None,
        })
    }

    /// The value converted, or why it cannot be (a sentence naming the value).
    pub(super) fn apply(self, v: Value) -> Result<Value, String> {
        if v.is_null() {
            return Ok(v);
        }
        match self {
            Cast::String => string(v),
            Cast::Integer => integer(&v).ok_or_else(|| refuse(&v, "an integer")),
            Cast::Number => number(&v).ok_or_else(|| refuse(&v, "a number")),
            Cast::Boolean => boolean(&v).ok_or_else(|| refuse(&v, "a boolean")),
            Cast::Date => date(&v).ok_or_else(|| {
                refuse(
                    &v,
                    "a date (YYYY-MM-DD, an RFC 3339 date and time or Unix seconds)",
                )
            }),
            Cast::DateTime => datetime(&v).ok_or_else(|| {
                refuse(
                    &v,
                    "a date and time (RFC 3339 with an offset, such as 2024-03-01T09:30:00Z, or Unix seconds)",
                )
            }),
        }
    }
}

fn refuse(v: &Value, what: &str) -> String {
    format!("{} is not {what}", show(v))
}

/// A value as JSON text for a message, cut after 60 characters.
pub(super) fn show(v: &Value) -> String {
    const MAX: usize = 60;
    let text = v.to_string();
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("`{}…`", &text[..i]),
        None => format!("`{text}`"),
    }
}

fn string(v: Value) -> Result<Value, String> {
    match v {
        Value::String(_) => Ok(v),
        Value::Number(n) => Ok(Value::String(n.to_string())),
        Value::Bool(b) => Ok(Value::String(b.to_string())),
        _ => Err(format!(
            "{} is not a text, number or boolean (use `first`, `join` or a more precise path)",
            show(&v)
        )),
    }
}

/// The largest integer an `f64` holds exactly (2^53).
const EXACT_F64: f64 = 9_007_199_254_740_992.0;

fn integer(v: &Value) -> Option<Value> {
    match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(v.clone()),
        Value::Number(n) => {
            // A JSON number written with a fraction (`42.0`) is whole if its fraction is zero;
            // beyond 2^53 the float may already have lost digits, so it is refused.
            let f = n.as_f64()?;
            (f.fract() == 0.0 && f.abs() <= EXACT_F64).then(|| Value::from(f as i64))
        }
        Value::String(s) => {
            let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let s = s.strip_prefix('+').unwrap_or(s);
            if let Ok(i) = s.parse::<i64>() {
                Some(Value::from(i))
            } else {
                s.parse::<u64>().ok().map(Value::from)
            }
        }
        _ => None,
    }
}

fn number(v: &Value) -> Option<Value> {
    match v {
        Value::Number(_) => Some(v.clone()),
        Value::String(s) => decimal(s).map(Value::String),
        _ => None,
    }
}

/// The largest exponent a decimal text may have (`1e1000` would be a thousand digits).
const MAX_EXPONENT: i64 = 1000;

/// A decimal text normalised, every digit kept: no sign `+`, no leading zeros, no exponent
/// (`+007.50` → `7.50`, `1.5e3` → `1500`, `-.5` → `-0.5`); `None` when it is no decimal.
pub(super) fn decimal(s: &str) -> Option<String> {
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => {
            let e = &rest[i + 1..];
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let e: i64 = e.strip_prefix('+').unwrap_or(e).parse().ok()?;
            if e.abs() > MAX_EXPONENT {
                return None;
            }
            (&rest[..i], e)
        }
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // All digits, and where the point stands among them once the exponent moved it.
    let digits: String = format!("{int}{frac}");
    let point = int.len() as i64 + exponent;
    let (int, frac) = if point <= 0 {
        let zeros = "0".repeat(point.unsigned_abs() as usize);
        (String::new(), format!("{zeros}{digits}"))
    } else if point as usize >= digits.len() {
        let zeros = "0".repeat(point as usize - digits.len());
        (format!("{digits}{zeros}"), String::new())
    } else {
        let (i, f) = digits.split_at(point as usize);
        (i.to_string(), f.to_string())
    };
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let zero = int == "0" && frac.bytes().all(|b| b == b'0');
    let sign = if negative && !zero { "-" } else { "" };
    Some(if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    })
}

fn boolean(v: &Value) -> Option<Value> {
    let b = match v {
        Value::Bool(b) => *b,
        Value::Number(n) => match n.as_u64() {
            Some(1) => true,
            Some(0) => false,
            _ => return None,
        },
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => return None,
        },
        _ => return None,
    };
    Some(Value::Bool(b))
}

/// Unix seconds (a whole or fractional JSON number) as a UTC time.
fn unix(n: &Number) -> Option<DateTime<Utc>> {
    if let Some(i) = n.as_i64() {
        return DateTime::from_timestamp(i, 0);
    }
    let f = n.as_f64()?;
    let secs = f.floor();
    let nanos = ((f - secs) * 1e9).round() as u32;
    DateTime::from_timestamp(secs as i64, nanos.min(999_999_999))
}

fn date(v: &Value) -> Option<Value> {
    let d = match v {
        Value::String(s) => {
            if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                d
            } else if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                // The calendar day as the source wrote it, not the UTC one.
                t.date_naive()
            } else {
                naive(s)?.date()
            }
        }
        Value::Number(n) => unix(n)?.date_naive(),
        _ => return None,
    };
    Some(Value::String(d.format("%Y-%m-%d").to_string()))
}

/// A date and time without offset, with `T` or a space.
fn naive(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
        .ok()
}

fn datetime(v: &Value) -> Option<Value> {
    let t = match v {
        Value::String(s) => DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc),
        Value::Number(n) => unix(n)?,
        _ => return None,
    };
    Some(Value::String(
        t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
    ))
}
