//! Python's `glob.glob` and `fnmatch` for `[include] files=`: `*`, `?`, `[...]` and `[!...]` per path component.
//!
//! Why hand-written: `[include]` must pull in the files Supervisor pulls in,
//! and the `glob` crate (checked against its 0.3.4 source and by running
//! it) disagrees with Python on two counts.  An unclosed `[` is a
//! `PatternError` ("invalid range pattern") there, where fnmatch takes it
//! literally (`files = [ab.conf` names that file).  And its `*` matches
//! names starting with `.` unless `require_literal_leading_dot` is set,
//! where Python's glob never lets a wildcard match a leading dot.  Results
//! are unsorted; the caller sorts them, as Supervisor does.

use std::path::Path;

use super::os;

/// Python's `glob.glob(pattern)` for an absolute pattern: `*`, `?`, `[...]`
/// per path component; names starting with `.` only match a pattern that
/// starts with `.`.  Unsorted (the caller sorts).
pub fn glob(pattern: &str) -> Vec<String> {
    if !has_magic(pattern) {
        return if os::lexists(Path::new(pattern)) {
            vec![pattern.to_string()]
        } else {
            Vec::new()
        };
    }
    let (dir, base) = split(pattern);
    let dirs: Vec<String> = if dir.is_empty() {
        vec![String::new()]
    } else if dir != pattern && has_magic(dir) {
        glob_dirs(dir)
    } else {
        vec![dir.to_string()]
    };
    let mut out = Vec::new();
    for d in dirs {
        for name in glob_in_dir(&d, base, false) {
            out.push(join(&d, &name));
        }
    }
    out
}

/// The directories matching a pattern (for the inner components).
fn glob_dirs(pattern: &str) -> Vec<String> {
    if !has_magic(pattern) {
        return if os::is_dir(Path::new(pattern)) {
            vec![pattern.to_string()]
        } else {
            Vec::new()
        };
    }
    let (dir, base) = split(pattern);
    let dirs: Vec<String> = if dir != pattern && has_magic(dir) {
        glob_dirs(dir)
    } else {
        vec![dir.to_string()]
    };
    let mut out = Vec::new();
    for d in dirs {
        for name in glob_in_dir(&d, base, true) {
            out.push(join(&d, &name));
        }
    }
    out
}

fn glob_in_dir(dir: &str, pat: &str, dirs_only: bool) -> Vec<String> {
    let d = if dir.is_empty() { "." } else { dir };
    if !has_magic(pat) {
        let p = join(dir, pat);
        let ok = if pat.is_empty() {
            os::is_dir(Path::new(d))
        } else if dirs_only {
            os::is_dir(Path::new(&p))
        } else {
            os::lexists(Path::new(&p))
        };
        return if ok {
            vec![pat.to_string()]
        } else {
            Vec::new()
        };
    }
    let Some(names) = os::list_dir(Path::new(d)) else {
        return Vec::new();
    };
    let compiled = compile(pat);
    let mut out = Vec::new();
    for name in names {
        if name.starts_with('.') && !pat.starts_with('.') {
            continue;
        }
        if dirs_only && !os::is_dir(&Path::new(d).join(&name)) {
            continue;
        }
        if fnmatch_compiled(&name, &compiled) {
            out.push(name);
        }
    }
    out
}

fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// `os.path.split`.
fn split(p: &str) -> (&str, &str) {
    let i = p.rfind('/').map_or(0, |i| i + 1);
    let head = p.get(..i).unwrap_or("");
    let tail = p.get(i..).unwrap_or("");
    let trimmed = head.trim_end_matches('/');
    (if trimmed.is_empty() { head } else { trimmed }, tail)
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

#[derive(Debug)]
enum Tok {
    Star,
    One,
    Set { neg: bool, items: Vec<(char, char)> },
    Lit(char),
}

fn compile(pat: &str) -> Vec<Tok> {
    let chars: Vec<char> = pat.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        i += 1;
        match c {
            '*' => {
                if !matches!(out.last(), Some(Tok::Star)) {
                    out.push(Tok::Star);
                }
            }
            '?' => out.push(Tok::One),
            '[' => {
                // Find the closing `]` (a `]` right after `[` or `[!` is literal).
                let mut j = i;
                if chars.get(j) == Some(&'!') {
                    j += 1;
                }
                if chars.get(j) == Some(&']') {
                    j += 1;
                }
                while chars.get(j).is_some_and(|&c| c != ']') {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push(Tok::Lit('['));
                    continue;
                }
                let mut k = i;
                let neg = chars.get(k) == Some(&'!');
                if neg {
                    k += 1;
                }
                let mut items = Vec::new();
                let mut first = true;
                while k < j {
                    let Some(&a) = chars.get(k) else { break };
                    if !first && a == ']' {
                        break;
                    }
                    first = false;
                    if chars.get(k + 1) == Some(&'-') && k + 2 < j {
                        let b = chars.get(k + 2).copied().unwrap_or(a);
                        if a <= b {
                            items.push((a, b));
                        }
                        k += 3;
                    } else {
                        items.push((a, a));
                        k += 1;
                    }
                }
                out.push(Tok::Set { neg, items });
                i = j + 1;
            }
            c => out.push(Tok::Lit(c)),
        }
    }
    out
}

fn tok_matches(t: &Tok, c: char) -> bool {
    match t {
        Tok::Star => true,
        Tok::One => true,
        Tok::Lit(l) => *l == c,
        Tok::Set { neg, items } => items.iter().any(|(a, b)| (*a..=*b).contains(&c)) != *neg,
    }
}

/// Linear-time-ish wildcard matching (backtrack to the last `*` only).
fn fnmatch_compiled(name: &str, toks: &[Tok]) -> bool {
    let s: Vec<char> = name.chars().collect();
    let (mut si, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match toks.get(ti) {
            Some(Tok::Star) => {
                star = Some((ti, si));
                ti += 1;
            }
            Some(t) if s.get(si).is_some_and(|c| tok_matches(t, *c)) => {
                si += 1;
                ti += 1;
            }
            _ => match star {
                Some((st, ss)) => {
                    ti = st + 1;
                    si = ss + 1;
                    star = Some((st, ss + 1));
                }
                None => return false,
            },
        }
    }
    toks.get(ti..)
        .is_some_and(|rest| rest.iter().all(|t| matches!(t, Tok::Star)))
}

#[cfg(test)]
/// Match one name against a glob pattern.
pub fn fnmatch(name: &str, pat: &str) -> bool {
    fnmatch_compiled(name, &compile(pat))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globbing() {
        for (name, pat, ok) in [
            ("a.conf", "*.conf", true),
            ("a.ini", "*.conf", false),
            ("ab", "a?", true),
            ("a", "a?", false),
            ("b1", "[a-c]1", true),
            ("d1", "[!a-c]1", true),
            ("a1", "[!a-c]1", false),
            ("]", "[]]", true),
            ("[x", "[x", true),
            (
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "*a*a*a*a*a*a*a*a*b",
                false,
            ),
            ("abc", "a*c", true),
            ("abcbc", "a*bc", true),
        ] {
            assert_eq!(fnmatch(name, pat), ok, "{name} {pat}");
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        for f in ["b.conf", "a.conf", ".hidden.conf", "c.ini"] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/x.conf"), "").unwrap();
        let mut got = glob(&format!("{d}/*.conf"));
        got.sort();
        assert_eq!(got, vec![format!("{d}/a.conf"), format!("{d}/b.conf")]);
        assert_eq!(
            glob(&format!("{d}/*/*.conf")),
            vec![format!("{d}/sub/x.conf")]
        );
        assert_eq!(glob(&format!("{d}/c.ini")), vec![format!("{d}/c.ini")]);
        assert!(glob(&format!("{d}/none.ini")).is_empty());
        assert_eq!(
            glob(&format!("{d}/.*.conf")),
            vec![format!("{d}/.hidden.conf")]
        );
    }
}
