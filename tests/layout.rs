//! The source layout a newcomer relies on: no import cycle between the
//! files of `src/` (a parent module and its child count too), every file
//! opens with a `//!` line saying its job, and none holds more than
//! [`MAX_LINES`] lines of non-test code.
//!
//! The dependency graph is read from the source text: every `crate::`,
//! `super::` and `self::` path (inside `use` trees too) names the longest
//! module it reaches. Test code (`tests.rs`, `proptests.rs`, a trailing
//! `#[cfg(test)] mod … { … }`) is left out: tests may look at anything.

use crate::util::repo_root;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Most lines of non-test code in one file.
const MAX_LINES: usize = 800;

/// `src/a/b.rs` and `src/a/b/mod.rs` -> `a::b`; `src/lib.rs` -> ``.
fn module_of(rel: &Path) -> String {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts.join("::")
}

fn is_test_file(rel: &Path) -> bool {
    let name = rel.file_name().map(|n| n.to_string_lossy().into_owned());
    matches!(name.as_deref(), Some("tests.rs" | "proptests.rs"))
        || name.is_some_and(|n| n.ends_with("_tests.rs"))
}

/// The file's text without its trailing inline test module, comments and
/// string literals (so paths in doc text or messages do not count).
fn code_of(text: &str) -> String {
    let mut code = String::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim();
        if t == "#[cfg(test)]"
            && lines
                .get(i + 1)
                .is_some_and(|n| n.contains("mod ") && n.contains('{'))
        {
            break;
        }
        code.push_str(lines[i]);
        code.push('\n');
        i += 1;
    }
    strip_comments_and_strings(&code)
}

fn strip_comments_and_strings(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                out.push_str("\"\"");
            }
            // A char literal like '"' or '{' (not a lifetime: 'a, 'static).
            b'\'' if b.get(i + 2) == Some(&b'\'') => {
                i += 3;
                out.push_str("' '");
            }
            b'\'' if b.get(i + 1) == Some(&b'\\') => {
                i += 2;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            }
            c => {
                out.push(c as char);
                i += 1;
            }
        }
    }
    out
}

/// Every path written in `code`, as segments starting with `crate`,
/// `super` or `self`; `use` trees are expanded (`a::{b, c::d}`).  Each
/// comes with the inline modules (`mod x { ... }`) it is written in, so
/// that `super` there means the file's own module.
fn paths_in(code: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let inline = inline_modules(code);
    let mut out = Vec::new();
    let b = code.as_bytes();
    let mut i = 0;
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    while i < b.len() {
        // `pub(in crate::x)` is a visibility, not a dependency.
        let at_word =
            (i == 0 || !is_ident(b[i - 1]) && b[i - 1] != b':') && !code[..i].ends_with("pub(in ");
        let rest = &code[i..];
        let starts = ["crate::", "super::", "self::"]
            .iter()
            .any(|p| rest.starts_with(*p));
        if at_word && starts {
            let (tree, len) = read_tree(&code[i..]);
            let within: Vec<String> = inline
                .iter()
                .filter(|(s, e, _)| *s <= i && i < *e)
                .map(|(_, _, n)| n.clone())
                .collect();
            let mut found = Vec::new();
            expand(&tree, &mut Vec::new(), &mut found);
            out.extend(found.into_iter().map(|p| (within.clone(), p)));
            i += len.max(1);
        } else {
            i += 1;
        }
    }
    out
}

/// `(start, end, name)` of every inline `mod name { ... }`, outermost first.
fn inline_modules(code: &str) -> Vec<(usize, usize, String)> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    for (at, _) in code.match_indices("mod ") {
        if at > 0 && (b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_') {
            continue;
        }
        let rest = &code[at + 4..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let after = rest[name.len()..].trim_start();
        if name.is_empty() || !after.starts_with('{') {
            continue;
        }
        let open = at + 4 + rest.len() - after.len();
        let mut depth = 0usize;
        let mut end = code.len();
        for (j, c) in code[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + j;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.push((open, end, name));
    }
    out
}

/// A use tree: a path with an optional group.
enum Tree {
    Path(Vec<String>, Option<Vec<Tree>>),
}

/// Read `a::b::{c, d::e}` (or a plain path) from the start of `s`.
fn read_tree(s: &str) -> (Tree, usize) {
    let b = s.as_bytes();
    let mut i = 0;
    let mut segs = Vec::new();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if b.get(i) == Some(&b'{') {
            i += 1;
            let mut items = Vec::new();
            loop {
                while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b',') {
                    i += 1;
                }
                if i >= b.len() || b[i] == b'}' {
                    i += 1;
                    break;
                }
                let (t, n) = read_tree(&s[i..]);
                items.push(t);
                i += n.max(1);
            }
            return (Tree::Path(segs, Some(items)), i);
        }
        let st = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'*') {
            i += 1;
        }
        if st == i {
            return (Tree::Path(segs, None), i);
        }
        segs.push(s[st..i].to_string());
        if s[i..].starts_with("::") {
            i += 2;
        } else {
            // `as alias` and the rest of a use item do not matter.
            return (Tree::Path(segs, None), i);
        }
    }
}

fn expand(t: &Tree, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let Tree::Path(segs, group) = t;
    let n = prefix.len();
    prefix.extend(segs.iter().cloned());
    match group {
        None => out.push(prefix.clone()),
        Some(items) => {
            for it in items {
                expand(it, prefix, out);
            }
        }
    }
    prefix.truncate(n);
}

/// The module `path` (written in module `from`) reaches: the longest known
/// module prefix once `crate`/`super`/`self` are resolved.
fn resolve(from: &str, path: &[String], modules: &BTreeSet<String>) -> Option<String> {
    let mut abs: Vec<String> = match path.first().map(String::as_str) {
        Some("crate") => Vec::new(),
        Some("self") | Some("super") => from
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        _ => return None,
    };
    let mut rest = path;
    if path.first().map(String::as_str) == Some("crate")
        || path.first().map(String::as_str) == Some("self")
    {
        rest = &path[1..];
    }
    for seg in rest {
        match seg.as_str() {
            "super" => {
                abs.pop();
            }
            "self" => {}
            s => abs.push(s.to_string()),
        }
    }
    (0..=abs.len())
        .rev()
        .map(|n| abs[..n].join("::"))
        .find(|m| modules.contains(m))
}

struct Source {
    module: String,
    rel: String,
    text: String,
}

fn sources() -> Vec<Source> {
    let root = repo_root().join("src");
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read src") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(&root).expect("under src").to_path_buf();
                // main.rs is the binary crate: it sees the library from outside.
                if rel == Path::new("main.rs") || is_test_file(&rel) {
                    continue;
                }
                out.push(Source {
                    module: module_of(&rel),
                    rel: rel.display().to_string(),
                    text: std::fs::read_to_string(&p).expect("read source"),
                });
            }
        }
    }
    out.sort_by(|a, b| a.module.cmp(&b.module));
    out
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct St<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(st: &mut St<'a>, v: &'a str) {
        st.index.insert(v, st.next);
        st.low.insert(v, st.next);
        st.next += 1;
        st.stack.push(v);
        st.on.insert(v);
        if let Some(ws) = st.g.get(v) {
            for w in ws {
                let w = w.as_str();
                if !st.index.contains_key(w) {
                    visit(st, w);
                    let lw = st.low[w];
                    let lv = st.low[v];
                    st.low.insert(v, lv.min(lw));
                } else if st.on.contains(w) {
                    let iw = st.index[w];
                    let lv = st.low[v];
                    st.low.insert(v, lv.min(iw));
                }
            }
        }
        if st.low[v] == st.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = st.stack.pop() {
                st.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                st.out.push(comp);
            }
        }
    }
    let mut st = St {
        g: graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !st.index.contains_key(v.as_str()) {
            visit(&mut st, v);
        }
    }
    st.out
}

/// The direct child modules of `m`.
fn children<'a>(m: &str, modules: &'a BTreeSet<String>) -> Vec<&'a String> {
    modules
        .iter()
        .filter(|c| {
            let parent = c.rsplit_once("::").map_or("", |(p, _)| p);
            parent == m && c.as_str() != m && !c.is_empty()
        })
        .collect()
}

/// Whether `code` has `name::` not preceded by `::` or an identifier
/// character (`mod name;` declarations do not count).
fn mentions_bare(code: &str, name: &str) -> bool {
    let pat = format!("{name}::");
    code.match_indices(&pat).any(|(i, _)| {
        let before = &code[..i];
        let prev = before.chars().next_back();
        !before.ends_with("::") && !prev.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

fn graph(srcs: &[Source]) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<String> = srcs.iter().map(|s| s.module.clone()).collect();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in srcs {
        let deps = g.entry(s.module.clone()).or_default();
        let code = code_of(&s.text);
        for (within, p) in paths_in(&code) {
            let mut from = s.module.clone();
            for m in within {
                from = if from.is_empty() {
                    m
                } else {
                    format!("{from}::{m}")
                };
            }
            if let Some(m) = resolve(&from, &p, &modules)
                && m != s.module
            {
                deps.insert(m);
            }
        }
        // A child module is also reached by a bare path (`table::lookup`,
        // `use call::Method`).
        for child in children(&s.module, &modules) {
            let name = child.rsplit("::").next().unwrap_or(child);
            if mentions_bare(&code, name) {
                deps.insert(child.clone());
            }
        }
    }
    g
}

#[test]
fn no_import_cycle_between_source_files() {
    let srcs = sources();
    let g = graph(&srcs);
    let found = cycles(&g);
    let mut report = String::new();
    for c in &found {
        report.push_str(&format!("\n  cycle among: {}", c.join(", ")));
        for m in c {
            let inside: Vec<&String> = g[m].iter().filter(|d| c.contains(d)).collect();
            report.push_str(&format!("\n    {m} -> {inside:?}"));
        }
    }
    assert!(found.is_empty(), "import cycles in src/:{report}");
}

#[test]
fn every_source_file_says_its_job_and_stays_small() {
    let mut problems = Vec::new();
    for s in sources() {
        if !s.text.starts_with("//! ") {
            problems.push(format!("{}: does not open with a `//!` line", s.rel));
        }
        let code = code_of(&s.text);
        let n = code.lines().filter(|l| !l.trim().is_empty()).count();
        if n > MAX_LINES {
            problems.push(format!(
                "{}: {n} lines of non-test code (at most {MAX_LINES})",
                s.rel
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_layout_checker_sees_cycles_and_use_trees() {
    // The checker itself: a planted cycle through a use tree is found.
    let srcs = vec![
        Source {
            module: "a".into(),
            rel: "a.rs".into(),
            text: "//! a\nuse crate::{b::X, c};\n".into(),
        },
        Source {
            module: "b".into(),
            rel: "b.rs".into(),
            text: "//! b\nmod x;\nfn f() { super::a::g(); x::h(); }\n// crate::c in a comment\n".into(),
        },
        Source {
            module: "b::x".into(),
            rel: "b/x.rs".into(),
            text: "//! b::x\n".into(),
        },
        Source {
            module: "c".into(),
            rel: "c.rs".into(),
            text: "//! c\npub(in crate::a) fn f() {}\npub mod inner {\n use super::f;\n}\nconst S: &str = \"crate::a\";\n#[cfg(test)]\nmod tests {\n use crate::a;\n}\n".into(),
        },
    ];
    let g = graph(&srcs);
    assert_eq!(g["a"], BTreeSet::from(["b".to_string(), "c".to_string()]));
    assert_eq!(
        g["b"],
        BTreeSet::from(["a".to_string(), "b::x".to_string()]),
        "a bare path to a child module counts"
    );
    assert!(g["c"].is_empty(), "strings and test modules do not count");
    assert_eq!(cycles(&g), vec![vec!["a".to_string(), "b".to_string()]]);
}
