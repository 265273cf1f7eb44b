//! CSV text as dynex's writers produce it (exports, rejects reports), for expected files.

/// One CSV line, ending in `\n`, with a cell quoted only where it holds a comma, a quote or a
/// line break (quotes doubled), as the export and the rejects writer quote it.
pub fn csv_line<S: AsRef<str>>(cells: &[S]) -> String {
    let quoted: Vec<String> = cells
        .iter()
        .map(|c| {
            let c = c.as_ref();
            if c.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.to_string()
            }
        })
        .collect();
    format!("{}\n", quoted.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_only_where_needed() {
        assert_eq!(csv_line(&["a", "b c"]), "a,b c\n");
        assert_eq!(
            csv_line(&[
                "x,y".to_string(),
                "say \"hi\"".to_string(),
                "1\n2".to_string()
            ]),
            "\"x,y\",\"say \"\"hi\"\"\",\"1\n2\"\n"
        );
    }
}
