//! Request ids: the `X-Request-Id` a client sent, when it is a sane one, or one made here.
//!
//! A made id is 16 hex digits fixed at start (random, so that servers sharing one log do not
//! repeat each other's ids) and 8 or more of a counter: unique within the process without a
//! lock, and about 50 ns to make.

use std::hash::{BuildHasher, Hasher};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::http::header::HeaderMap;

/// The header that carries the id, in requests and answers.
pub(crate) const HEADER: &str = "x-request-id";

/// The longest id taken from a request, in bytes.
pub(crate) const MAX_LEN: usize = 128;

/// The process's part of made ids.
static PREFIX: LazyLock<u64> = LazyLock::new(|| {
    // `RandomState` is seeded from the operating system's randomness; the time and the process
    // id keep two processes apart even if it were not.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(now);
    hasher.finish()
});

/// The counter of made ids.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// Whether `id` may be taken as it is: 1 to [`MAX_LEN`] visible ASCII characters other than
/// `"` and `\`, so that it cannot break a log line or a JSON string.
pub(crate) fn is_valid(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

/// A new id, unique within the process.
pub(crate) fn make() -> String {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    // Written by hand: `format!` took 1,500 instructions of a 74,000-instruction read by id.
    let mut id = String::with_capacity(32);
    push_hex(&mut id, *PREFIX, 16);
    push_hex(&mut id, n, 8);
    id
}

/// Appends `value` in lowercase hex digits, at least `width` of them, as `{:0width$x}` does.
fn push_hex(out: &mut String, value: u64, width: usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let needed = (64 - value.leading_zeros() as usize).div_ceil(4);
    for i in (0..needed.max(width)).rev() {
        let nibble = value.checked_shr(4 * i as u32).unwrap_or(0) & 0xf;
        out.push(char::from(DIGITS[nibble as usize]));
    }
}

/// The request's id: its `X-Request-Id` when valid, a new one otherwise.
pub(crate) fn of(headers: &HeaderMap) -> String {
    headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_valid(v))
        .map_or_else(make, str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_are_taken_and_others_replaced() {
        for good in ["a", "7f3c-11e9:req/1+x=", &"x".repeat(MAX_LEN)] {
            assert!(is_valid(good), "{good}");
        }
        for bad in [
            "",
            "a b",
            "a\"b",
            "a\\b",
            "é",
            "tab\there",
            &"x".repeat(MAX_LEN + 1),
        ] {
            assert!(!is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn hex_digits_are_those_of_format() {
        for (value, width) in [
            (0, 8),
            (0, 16),
            (0xab, 8),
            (u64::MAX, 8),
            (1 << 40, 8),
            (7, 1),
        ] {
            let mut out = String::new();
            push_hex(&mut out, value, width);
            assert_eq!(out, format!("{value:0width$x}"));
        }
    }

    #[test]
    fn made_ids_differ_and_share_the_process_prefix() {
        let (a, b) = (make(), make());
        assert_ne!(a, b);
        assert_eq!(a[..16], b[..16]);
        assert!(a.len() >= 24 && is_valid(&a));
    }
}
