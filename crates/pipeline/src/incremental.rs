//! Incremental sync: what the next run of a pipeline continues from (`incremental:`).

use serde::{Deserialize, Serialize};

use crate::problem::Checker;

/// Incremental sync: what the next run continues from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incremental {
    /// A JSONPath to the cursor field of a source record (`$.updated`): the highest value
    /// delivered is kept, and the next run's source is given it.
    pub cursor: String,
    /// The source delivers records in ascending cursor order, so the cursor is kept after every
    /// page; otherwise it is kept once a run has read every page.
    #[serde(default)]
    pub ordered: bool,
}

/// Parses the cursor path of `incremental`, recording a problem when it does not parse.
pub(crate) fn cursor_path(text: &str, checker: &mut Checker) -> Option<serde_json_path::JsonPath> {
    match serde_json_path::JsonPath::parse(text) {
        Ok(path) => Some(path),
        Err(e) => {
            checker.add("incremental.cursor", format!("not a JSONPath: {e}"));
            None
        }
    }
}
