//! `depends_on` (SPEC Part B): each name is a program of this config, and
//! no program depends on itself through any chain.
//!
//! The list is read per section by `process`; the cross-references can only
//! be checked once every section is built, here, with the option's file and
//! line in each error.

use std::collections::{BTreeMap, BTreeSet};

use super::ctx::{At, Ctx};
use crate::config::datatypes as dt;
use crate::config::types::GroupConfig;

/// `depends_on=`: comma-separated program names, each a valid name; a name
/// given twice counts once.
pub(super) fn depends_on(s: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for name in dt::list_of_strings(s) {
        if name.is_empty() {
            continue; // `a,,b` or a trailing comma
        }
        let name =
            dt::process_or_group_name(&name).map_err(|m| format!("{m} (in the list {s:?})"))?;
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

impl<'a> Ctx<'a> {
    /// Every `depends_on` name must be a program of this config and the
    /// dependencies must not form a cycle.
    pub fn check_depends(&mut self, groups: &[GroupConfig]) {
        // Program name -> (its dependencies, where they were written).
        let mut graph: BTreeMap<&str, (&[String], Option<At<'a>>)> = BTreeMap::new();
        let raw = self.raw;
        let sections: BTreeMap<&str, &'a crate::config::source::Section> = raw
            .sections
            .iter()
            .filter_map(|sec| {
                let (kind, name) = sec.name.split_once(':')?;
                matches!(kind, "program" | "fcgi-program" | "eventlistener").then_some((name, sec))
            })
            .collect();
        for p in groups.iter().flat_map(|g| &g.processes) {
            let at = sections
                .get(p.program_name.as_str())
                .map(|sec| self.at(sec, "depends_on"));
            graph
                .entry(p.program_name.as_str())
                .or_insert((p.depends_on.as_slice(), at));
        }
        for (&prog, &(deps, at)) in &graph {
            for dep in deps {
                if !graph.contains_key(dep.as_str()) {
                    let at = at.unwrap_or(At {
                        sec: None,
                        entry: None,
                    });
                    self.error(
                        at,
                        Some("depends_on"),
                        format!("program {prog} depends on {dep}, which is not a program of this configuration"),
                    );
                }
            }
        }
        // Depth-first search; a node met again while on the path closes a
        // cycle, reported once, at the first program of the cycle in name order.
        let mut done: BTreeSet<&str> = BTreeSet::new();
        let mut reported: BTreeSet<Vec<&str>> = BTreeSet::new();
        for &start in graph.keys() {
            let mut cycles: Vec<Vec<&str>> = Vec::new();
            walk(start, &graph, &mut done, &mut cycles);
            for cycle in cycles {
                let first = cycle
                    .iter()
                    .enumerate()
                    .min_by_key(|&(_, n)| *n)
                    .map_or(0, |(i, _)| i);
                let mut key = cycle.clone();
                key.rotate_left(first);
                if !reported.insert(key.clone()) {
                    continue;
                }
                let at = graph.get(key[0]).and_then(|&(_, at)| at).unwrap_or(At {
                    sec: None,
                    entry: None,
                });
                let mut shown = key.clone();
                shown.push(key[0]);
                self.error(
                    at,
                    Some("depends_on"),
                    format!("depends_on forms a cycle: {}", shown.join(" -> ")),
                );
            }
        }
    }
}

type Graph<'g, 'a> = BTreeMap<&'g str, (&'g [String], Option<At<'a>>)>;

/// Depth-first from `start`, iterative (a chain of thousands of programs
/// must not exhaust the stack): a node met again while on the path closes
/// a cycle.
fn walk<'g>(
    start: &'g str,
    graph: &Graph<'g, '_>,
    done: &mut BTreeSet<&'g str>,
    cycles: &mut Vec<Vec<&'g str>>,
) {
    // The path, each node with the index of its next dependency to visit.
    let mut path: Vec<(&'g str, usize)> = Vec::new();
    // Each node on the path, with its position there.
    let mut on_path: BTreeMap<&'g str, usize> = BTreeMap::new();
    let mut next = Some(start);
    loop {
        if let Some(node) = next.take() {
            if let Some(&i) = on_path.get(node) {
                cycles.push(
                    path.get(i..)
                        .unwrap_or_default()
                        .iter()
                        .map(|&(n, _)| n)
                        .collect(),
                );
            } else if !done.contains(node) && graph.contains_key(node) {
                on_path.insert(node, path.len());
                path.push((node, 0));
            }
        }
        let Some((node, i)) = path.last_mut() else {
            return;
        };
        let deps = graph.get(*node).map_or(&[][..], |&(d, _)| d);
        match deps.get(*i) {
            Some(dep) => {
                *i += 1;
                next = Some(dep.as_str());
            }
            None => {
                done.insert(*node);
                on_path.remove(*node);
                path.pop();
            }
        }
    }
}
