//! `depends_on` (SPEC Part B): each name is a program of this config, and
//! no program depends on itself through any chain.
//!
//! The list is read per section by `process`; the cross-references can only
//! be checked once every section is built, here, with the option's file and
//! line in each error.

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
        // One entry per program, by name: (name, its dependencies).
        let mut progs: Vec<(&str, &[String])> = groups
            .iter()
            .flat_map(|g| &g.processes)
            .map(|p| (p.program_name.as_str(), p.depends_on.as_slice()))
            .collect();
        progs.sort_by(|a, b| a.0.cmp(b.0));
        progs.dedup_by(|a, b| a.0 == b.0);
        let index = |name: &str| progs.binary_search_by(|p| p.0.cmp(name)).ok();
        for &(prog, deps) in &progs {
            for dep in deps.iter().filter(|d| index(d).is_none()) {
                let at = self.depends_at(prog);
                self.error(
                    at,
                    Some("depends_on"),
                    format!("program {prog} depends on {dep}, which is not a program of this configuration"),
                );
            }
        }
        // Depth-first, iterative (a chain of thousands of programs must not
        // exhaust the stack): a dependency met again while on the path
        // closes a cycle.  0 = not seen, 1 = on the path, 2 = done.
        let mut mark = vec![0u8; progs.len()];
        let mut on_path_at = vec![0usize; progs.len()];
        let mut reported: Vec<Vec<usize>> = Vec::new();
        for start in 0..progs.len() {
            if mark.get(start) != Some(&0) {
                continue;
            }
            let mut path: Vec<(usize, usize)> = vec![(start, 0)];
            mark[start] = 1;
            while let Some((node, next)) = path.last_mut() {
                let node = *node;
                let dep = progs.get(node).and_then(|p| p.1.get(*next));
                *next += 1;
                let Some(dep) = dep else {
                    mark[node] = 2;
                    path.pop();
                    continue;
                };
                let Some(d) = index(dep) else { continue };
                match mark[d] {
                    0 => {
                        mark[d] = 1;
                        on_path_at[d] = path.len();
                        path.push((d, 0));
                    }
                    1 => {
                        let mut cycle: Vec<usize> =
                            path.iter().skip(on_path_at[d]).map(|&(k, _)| k).collect();
                        // Reported once, from its first program by name.
                        let first = cycle
                            .iter()
                            .enumerate()
                            .min_by_key(|&(_, k)| k)
                            .map_or(0, |(i, _)| i);
                        cycle.rotate_left(first);
                        if !reported.contains(&cycle) {
                            reported.push(cycle);
                        }
                    }
                    _ => {}
                }
            }
        }
        for cycle in reported {
            let names: Vec<&str> = cycle
                .iter()
                .chain(cycle.first())
                .filter_map(|&k| progs.get(k).map(|p| p.0))
                .collect();
            let at = self.depends_at(names.first().copied().unwrap_or_default());
            self.error(
                at,
                Some("depends_on"),
                format!("depends_on forms a cycle: {}", names.join(" -> ")),
            );
        }
    }

    /// Where program `name`'s `depends_on` is written (only looked up for
    /// an error).
    fn depends_at(&self, name: &str) -> At<'a> {
        let raw = self.raw;
        let sec = raw.sections.iter().find(|sec| {
            sec.name.split_once(':').is_some_and(|(kind, n)| {
                n == name && matches!(kind, "program" | "fcgi-program" | "eventlistener")
            })
        });
        match sec {
            Some(sec) => self.at(sec, "depends_on"),
            None => At {
                sec: None,
                entry: None,
            },
        }
    }
}
