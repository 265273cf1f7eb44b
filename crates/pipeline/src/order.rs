//! Dependencies between pipelines: `after: [categories, …]`.
//!
//! A pipeline runs only after those succeeded. They are checked when a definition is saved
//! (every name exists, no loop), and give the order in which
//! `dynex pipeline run --with-dependencies` runs a chain.

use std::collections::{BTreeMap, BTreeSet};

use dynex_core::{CoreError, Dynex};

use crate::definition::Definition;
use crate::problem::{Problem, Problems};

/// Each pipeline's `after` list, by name.
pub type Graph = BTreeMap<String, Vec<String>>;

/// The stored pipelines' dependencies. A stored definition that no longer reads (saved by
/// another version) depends on nothing.
pub fn stored(dynex: &Dynex) -> Result<Graph, CoreError> {
    Ok(dynex
        .pipelines()?
        .into_iter()
        .map(|p| {
            let after = Definition::parse(&p.definition)
                .map(|d| d.after)
                .unwrap_or_default();
            (p.name, after)
        })
        .collect())
}

/// Checks the dependencies of `definition`, about to be saved among the pipelines of `graph`:
/// each names a stored pipeline, and none leads back to it (the loop is named).
pub fn check(definition: &Definition, graph: &Graph) -> Result<(), Problems> {
    let mut problems = Vec::new();
    for (i, name) in definition.after.iter().enumerate() {
        if *name != definition.name && !graph.contains_key(name) {
            problems.push(Problem::new(
                format!("after[{i}]"),
                format!("there is no pipeline `{name}`: add it first"),
            ));
        }
    }
    let mut graph = graph.clone();
    graph.insert(definition.name.clone(), definition.after.clone());
    if let Some(cycle) = loop_through(&graph, &definition.name) {
        problems.push(Problem::new(
            "after",
            format!("the dependencies make a loop: {}", cycle.join(" → ")),
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Problems(problems))
    }
}

/// A path of dependencies from `start` back to itself, `[start, …, start]`, if there is one.
fn loop_through(graph: &Graph, start: &str) -> Option<Vec<String>> {
    fn visit(
        graph: &Graph,
        node: &str,
        start: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in graph.get(node).into_iter().flatten() {
            path.push(next.clone());
            if next == start || (seen.insert(next.clone()) && visit(graph, next, start, path, seen))
            {
                return true;
            }
            path.pop();
        }
        false
    }
    let mut path = vec![start.to_string()];
    visit(graph, start, start, &mut path, &mut BTreeSet::new()).then_some(path)
}

/// The pipelines `name` depends on, directly or not, each after its own dependencies and in
/// the order `after` lists them, then `name` itself: the order of
/// `dynex pipeline run --with-dependencies`.
pub fn chain(name: &str, graph: &Graph) -> Result<Vec<String>, Problems> {
    fn visit(
        graph: &Graph,
        node: &str,
        order: &mut Vec<String>,
        open: &mut Vec<String>,
    ) -> Result<(), Problems> {
        if order.iter().any(|n| n == node) {
            return Ok(());
        }
        if let Some(at) = open.iter().position(|n| n == node) {
            let mut cycle = open[at..].to_vec();
            cycle.push(node.to_string());
            return Err(Problems(vec![Problem::new(
                "after",
                format!("the dependencies make a loop: {}", cycle.join(" → ")),
            )]));
        }
        let Some(after) = graph.get(node) else {
            return Err(Problems(vec![Problem::new(
                "after",
                format!("there is no pipeline `{node}`"),
            )]));
        };
        open.push(node.to_string());
        for dependency in after {
            visit(graph, dependency, order, open)?;
        }
        open.pop();
        order.push(node.to_string());
        Ok(())
    }
    let mut order = Vec::new();
    visit(graph, name, &mut order, &mut Vec::new())?;
    Ok(order)
}

/// The pipelines whose `after` names `name`: it may not be removed while they do.
pub fn dependents(name: &str, graph: &Graph) -> Vec<String> {
    graph
        .iter()
        .filter(|(other, after)| *other != name && after.iter().any(|a| a == name))
        .map(|(other, _)| other.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> Graph {
        edges
            .iter()
            .map(|(n, after)| (n.to_string(), after.iter().map(|a| a.to_string()).collect()))
            .collect()
    }

    fn definition(name: &str, after: &[&str]) -> Definition {
        let mut d = Definition::parse(&format!(
            "name: {name}\nsource: {{ entity: {{ entity: countries }} }}\nmap: {{ fields: {{ a: $.a }} }}\ntarget: {{ csv: {{ file: out.csv }} }}\n"
        ))
        .expect("a definition");
        d.after = after.iter().map(|a| a.to_string()).collect();
        d
    }

    #[test]
    fn a_chain_runs_dependencies_first_each_once() {
        let g = graph(&[
            ("categories", &[]),
            ("abstracts", &["categories"]),
            ("prices", &["abstracts"]),
            ("concretes", &["abstracts", "categories"]),
            ("all", &["concretes", "prices"]),
        ]);
        assert_eq!(
            chain("all", &g).unwrap(),
            ["categories", "abstracts", "concretes", "prices", "all"]
        );
        assert_eq!(chain("categories", &g).unwrap(), ["categories"]);
        assert_eq!(dependents("abstracts", &g), ["concretes", "prices"]);
    }

    #[test]
    fn a_loop_is_refused_and_named() {
        let g = graph(&[("a", &[]), ("b", &["a"]), ("c", &["b"])]);
        let problems = check(&definition("a", &["c"]), &g).unwrap_err();
        assert_eq!(problems.0[0].path, "after");
        assert_eq!(
            problems.0[0].message,
            "the dependencies make a loop: a → c → b → a"
        );
        let problems = check(&definition("a", &["a"]), &g).unwrap_err();
        assert_eq!(problems.0[0].message, "the dependencies make a loop: a → a");
        let cyclic = graph(&[("a", &["b"]), ("b", &["a"])]);
        assert_eq!(
            chain("a", &cyclic).unwrap_err().0[0].message,
            "the dependencies make a loop: a → b → a"
        );
    }

    #[test]
    fn an_unknown_dependency_is_refused() {
        let g = graph(&[("a", &[])]);
        let problems = check(&definition("b", &["a", "nope"]), &g).unwrap_err();
        assert_eq!(problems.0.len(), 1);
        assert_eq!(problems.0[0].path, "after[1]");
        assert!(check(&definition("b", &["a"]), &g).is_ok());
    }
}
