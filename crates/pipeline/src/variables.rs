//! `${NAME}` in a definition: variables kept by dynex (`dynex variable set`).
//!
//! They are resolved in the definition's strings after it is read, so that a value never
//! changes its structure (a password with a quote or a colon stays one string).
//!
//! `$${` writes a literal `${`. Secret values are resolved only for a run, and a [`Redactor`]
//! keeps them out of everything the run records or shows.

use dynex_core::{Dynex, SecretKey, Variable};
use serde_norway::Value;

use crate::definition::Definition;
use crate::problem::{Checker, Problems};
pub use crate::redact::Redactor;

/// The names a definition's text refers to as `${NAME}`, each once, in order of appearance.
pub fn referenced(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        let escaped = at > 0 && rest.as_bytes()[at - 1] == b'$';
        let after = &rest[at + 2..];
        match after.find('}') {
            Some(end) if !escaped => {
                let name = &after[..end];
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_string());
                }
                rest = &after[end + 1..];
            }
            _ => rest = after,
        }
    }
    names
}

/// Replaces `${NAME}` in `text` by the variables' values; unknown names are recorded in
/// `checker` at `path`.
fn substitute(text: &str, vars: &[Variable], path: &str, checker: &mut Checker) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        if at > 0 && rest.as_bytes()[at - 1] == b'$' {
            // `$${`: the escape; one `$` was copied already, the brace starts plain text.
            out.push_str(&rest[..at - 1]);
            out.push_str("${");
            rest = &rest[at + 2..];
            continue;
        }
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let Some(end) = after.find('}') else {
            checker.add(
                path,
                "`${` without its closing `}` (write `$${` for a literal `${`)",
            );
            out.push_str(&rest[at..]);
            return out;
        };
        let name = &after[..end];
        match vars.iter().find(|v| v.name == name) {
            Some(v) => out.push_str(&v.value),
            None => checker.add(
                path,
                format!("the variable `{name}` is not set (`dynex variable set {name}`)"),
            ),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Resolves the variables of every string of a YAML tree.
fn walk(value: &mut Value, vars: &[Variable], path: &str, checker: &mut Checker) {
    match value {
        Value::String(s) if s.contains("${") => *s = substitute(s, vars, path, checker),
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, vars, &format!("{path}[{i}]"), checker);
            }
        }
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                let key = k.as_str().map_or_else(|| "?".to_string(), str::to_string);
                let here = if path.is_empty() {
                    key
                } else {
                    format!("{path}.{key}")
                };
                walk(v, vars, &here, checker);
            }
        }
        Value::Tagged(tagged) => walk(&mut tagged.value, vars, path, checker),
        _ => {}
    }
}

/// Reads a definition with its variables resolved to `vars`.
pub fn resolve(text: &str, vars: &[Variable]) -> Result<Definition, Problems> {
    // The structure first, with its line numbers: variables only ever fill strings.
    Definition::parse(text)?;
    let mut tree: Value = serde_norway::from_str(text)
        .map_err(|e| Problems(vec![crate::Problem::new("", e.to_string())]))?;
    let mut checker = Checker::default();
    walk(&mut tree, vars, "", &mut checker);
    checker.finish()?;
    serde_norway::from_value(tree)
        .map_err(|e| Problems(vec![crate::Problem::new("", e.to_string())]))
}

/// Reads a stored definition for a run: its variables resolved from the database, secrets
/// decrypted with `key`; returns the redactor of its secrets too.
pub fn load(
    dynex: &Dynex,
    text: &str,
    key: Option<&SecretKey>,
) -> Result<(Definition, Redactor), LoadError> {
    let names = referenced(text);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let vars = dynex.resolve_variables(&refs, key)?;
    let definition = resolve(text, &vars)?;
    Ok((definition, Redactor::new(&vars)))
}

/// Reads a definition to check it before it is saved.
///
/// Plain variables are resolved, secrets replaced by a placeholder: their values are not
/// needed to check a definition, and the one who saves it need not hold the key.
pub fn for_check(dynex: &Dynex, text: &str) -> Result<Definition, LoadError> {
    let names = referenced(text);
    let known = dynex.list_variables()?;
    let vars: Vec<Variable> = known
        .into_iter()
        .filter(|v| names.contains(&v.name))
        .map(|v| Variable {
            value: v.value.unwrap_or_else(|| "secret".to_string()),
            name: v.name,
            secret: v.secret,
        })
        .collect();
    Ok(resolve(text, &vars)?)
}

/// Why a definition could not be read for a run.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Its text has problems (a variable not set among them).
    #[error(transparent)]
    Invalid(#[from] Problems),
    /// Its variables could not be read (a secret without its key).
    #[error(transparent)]
    Core(#[from] dynex_core::CoreError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(name: &str, value: &str, secret: bool) -> Variable {
        Variable {
            name: name.into(),
            value: value.into(),
            secret,
        }
    }

    #[test]
    fn names_are_found_once_and_escapes_skipped() {
        assert_eq!(
            referenced("a: ${A}/${B}\nb: ${A} $${NOT}"),
            ["A".to_string(), "B".to_string()]
        );
    }

    #[test]
    fn values_fill_strings_without_changing_structure() {
        let mut checker = Checker::default();
        let vars = [
            var("PASSWORD", "x\": y, {z}", true),
            var("HOST", "h", false),
        ];
        assert_eq!(
            substitute(
                "https://${HOST}/p?q=${PASSWORD}&e=$${LIT}",
                &vars,
                "p",
                &mut checker
            ),
            "https://h/p?q=x\": y, {z}&e=${LIT}"
        );
        assert!(checker.is_empty());
        substitute(
            "${MISSING} and ${ALSO",
            &vars,
            "source.http.url",
            &mut checker,
        );
        let problems = checker.finish().unwrap_err().0;
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].path, "source.http.url");
        assert!(problems[0].message.contains("`MISSING` is not set"));
    }

    #[test]
    fn secrets_are_redacted_longest_first() {
        let r = Redactor::new(&[
            var("A", "abc", true),
            var("B", "abcdef", true),
            var("C", "plain", false),
        ]);
        assert_eq!(r.apply("abcdef abc plain"), "*** *** plain");
    }
}
