//! CSV lines encoded straight into a byte buffer, as the `csv` crate's default writer spells
//! them, for exports of millions of rows.
//!
//! `csv::Writer` runs every field through `csv_core`'s incremental state machine, which is
//! built to fill output buffers of any size; it was the largest share of an export's client
//! time. A row of an export fits in memory, so it is encoded in one pass instead: a word-at-a-
//! time scan for the bytes that need quotes, and quoted fields copied between their quotes.

/// Every byte of `u64` set to 1.
const ONES: u64 = u64::from_ne_bytes([1; 8]);
/// The high bit of every byte of `u64`.
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// Whether any byte of `word` equals `byte` (the classic zero-byte test on `word ^ byte…`).
#[inline]
fn has_byte(word: u64, byte: u8) -> bool {
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS != 0
}

/// Whether a byte of `bytes` forces quotes: the delimiter, the quote, or a line break (`\r`
/// too, which readers take as a line end).
pub(crate) fn needs_quotes(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let word = u64::from_ne_bytes(word.try_into().unwrap_or([0; 8]));
        if has_byte(word, b',')
            || has_byte(word, b'"')
            || has_byte(word, b'\n')
            || has_byte(word, b'\r')
        {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
}

/// Appends one CSV line of `cells`, comma-separated, and its `\n` to `out`.
///
/// Fields that hold a comma, a quote or a line break are quoted with their quotes doubled, and
/// a line of one empty cell is `""` so that it is not read as a blank line.
pub fn encode_line<'c>(out: &mut Vec<u8>, cells: impl IntoIterator<Item = &'c [u8]>) {
    let start = out.len();
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if !needs_quotes(cell) {
            out.extend_from_slice(cell);
            continue;
        }
        out.push(b'"');
        let mut rest = cell;
        while let Some(at) = memchr::memchr(b'"', rest) {
            // The quote itself, then its double.
            out.extend_from_slice(&rest[..=at]);
            out.push(b'"');
            rest = &rest[at + 1..];
        }
        out.extend_from_slice(rest);
        out.push(b'"');
    }
    if out.len() == start {
        out.extend_from_slice(b"\"\"");
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line the `csv` crate's default writer writes for `cells`.
    fn csv_crate(cells: &[Vec<u8>]) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(cells).unwrap();
        w.into_inner().unwrap()
    }

    #[test]
    fn lines_match_the_csv_crate_byte_for_byte() {
        // Every cell is built from bytes that matter to quoting, at every offset of a word.
        let alphabet: &[u8] = b"a,\"\n\r b\xc3\xa9;'\t";
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let columns = 1 + (next() % 4) as usize;
            let cells: Vec<Vec<u8>> = (0..columns)
                .map(|_| {
                    let len = (next() % 24) as usize;
                    let special = next() % 3 == 0;
                    (0..len)
                        .map(|_| {
                            if special {
                                alphabet[(next() % alphabet.len() as u64) as usize]
                            } else {
                                b'x'
                            }
                        })
                        .collect()
                })
                .collect();
            let mut line = Vec::new();
            encode_line(&mut line, cells.iter().map(Vec::as_slice));
            assert_eq!(line, csv_crate(&cells), "cells {cells:?}");
        }
    }

    #[test]
    fn quoting_cases() {
        let line = |cells: &[&str]| {
            let mut out = Vec::new();
            encode_line(&mut out, cells.iter().map(|c| c.as_bytes()));
            String::from_utf8(out).unwrap()
        };
        assert_eq!(line(&["1", "B001", ""]), "1,B001,\n");
        assert_eq!(line(&[""]), "\"\"\n", "one empty cell is not a blank line");
        assert_eq!(line(&["", ""]), ",\n");
        assert_eq!(
            line(&[r#"{"a":"b,c"}"#]),
            r#""{""a"":""b,c""}""#.to_string() + "\n"
        );
        assert_eq!(line(&["a\r"]), "\"a\r\"\n");
        assert_eq!(line(&["twelve bytes\n"]), "\"twelve bytes\n\"\n");
        assert!(!needs_quotes(b"plain text"));
        assert!(needs_quotes(b"0123456789abcde\""));
    }
}
