//! What is wrong with a definition: every problem found, each with where it is.

use std::fmt;

/// One problem of a definition: the path of the offending part (`source.http.paginate`) and
/// what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Where: dotted path from the definition's root.
    pub path: String,
    /// What is wrong, in a sentence.
    pub message: String,
}

impl Problem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem of a definition, refused as a whole; shown as a headline and one problem per
/// line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.lines())]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    /// `invalid pipeline definition: 2 problems`.
    pub fn headline(&self) -> String {
        let n = self.0.len();
        format!(
            "invalid pipeline definition: {n} problem{}",
            if n == 1 { "" } else { "s" }
        )
    }

    fn lines(&self) -> String {
        let mut text = self.headline();
        for problem in &self.0 {
            text.push_str("\n  ");
            text.push_str(&problem.to_string());
        }
        text
    }
}

/// Collects problems while a definition is checked, under a path prefix.
#[derive(Debug, Default)]
pub struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    /// Records a problem at `path`.
    pub fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::new(path, message));
    }

    /// The problems so far, or `Ok` when there is none.
    pub fn finish(self) -> Result<(), Problems> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(Problems(self.problems))
        }
    }

    /// Whether a problem was found.
    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }
}
