//! Keeping the values of secret variables out of what a run records or shows.
//!
//! A module of its own, below the definition, so that targets can use it without depending on
//! where variables are resolved ([`crate::variables`]).

use dynex_core::Variable;

/// Replaces the values of secret variables in text that is recorded or shown.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    /// A redactor of the secrets among `vars`.
    pub fn new(vars: &[Variable]) -> Redactor {
        let mut secrets: Vec<String> = vars
            .iter()
            .filter(|v| v.secret && !v.value.is_empty())
            .map(|v| v.value.clone())
            .collect();
        // Longest first: a secret that contains another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Redactor { secrets }
    }

    /// The secret values, for a client that must hide them before it shortens a message.
    pub(crate) fn secrets(&self) -> impl Iterator<Item = &str> {
        self.secrets.iter().map(String::as_str)
    }

    /// `text` with every secret value replaced by `***`.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }
}
