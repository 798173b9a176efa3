//! Pure formatting for supervisorctl's output: the lines its commands
//! print, Python's `str()`/`repr()` of reply values for messages, and the
//! `help` command table.  No I/O here, so every shape is unit-tested.

use crate::rpc::Value;

/// Width of the name column of `status` before its 3 spaces of padding.
const STATUS_MIN_NAME: usize = 30;

/// `group:name`, or just `name` when the process is its own group.
pub fn make_namespec(group: &str, name: &str) -> String {
    if group == name {
        name.to_string()
    } else {
        format!("{group}:{name}")
    }
}

/// Split a namespec into (group, process).  `g:*` and `g:` name the whole
/// group (`None`); a name without a colon is its own group.
pub fn split_namespec(spec: &str) -> (String, Option<String>) {
    match spec.split_once(':') {
        Some((g, p)) if p.is_empty() || p == "*" => (g.to_string(), None),
        Some((g, p)) => (g.to_string(), Some(p.to_string())),
        None => (spec.to_string(), Some(spec.to_string())),
    }
}

/// One row of `status` input: the namespec, the state name and the
/// description, already turned into text.
pub struct StatusRow {
    pub namespec: String,
    pub statename: String,
    pub description: String,
}

/// The `status` table: the name column is as wide as the longest name (at
/// least 30), plus 3; the state column is 10 wide.
pub fn status_lines(rows: &[StatusRow]) -> Vec<String> {
    let width = rows
        .iter()
        .map(|r| r.namespec.chars().count())
        .fold(STATUS_MIN_NAME, usize::max)
        + 3;
    rows.iter()
        .map(|r| {
            format!(
                "{:<width$}{:<10}{}",
                r.namespec,
                r.statename,
                r.description,
                width = width
            )
        })
        .collect()
}

/// One `avail` line.
pub fn avail_line(namespec: &str, inuse: bool, autostart: bool, prio: &str) -> String {
    format!(
        "{:<32} {:<9} {:<9} {}",
        namespec,
        if inuse { "in use" } else { "avail" },
        if autostart { "auto" } else { "manual" },
        prio
    )
}

/// `reread` lines: each name once, sorted, with the last list that names
/// it winning (disappeared over changed over available).
pub fn reread_lines(added: &[String], changed: &[String], dropped: &[String]) -> Vec<String> {
    let mut all: std::collections::BTreeMap<&str, &str> = std::collections::BTreeMap::new();
    for (names, what) in [
        (added, "available"),
        (changed, "changed"),
        (dropped, "disappeared"),
    ] {
        for n in names {
            all.insert(n, what);
        }
    }
    if all.is_empty() {
        return vec!["No config updates to processes".to_string()];
    }
    all.into_iter().map(|(n, w)| format!("{n}: {w}")).collect()
}

/// Python's `repr()` of a str.
pub fn py_repr_str(s: &str) -> String {
    crate::config::expand::py_repr(s)
}

/// Python's `str()` of a decoded XML-RPC value (used where the reference
/// formats a reply with `%s`).
pub fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) | Value::DateTime(s) => s.clone(),
        _ => py_repr(v),
    }
}

/// Python's `repr()` of a decoded XML-RPC value.
pub fn py_repr(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(s) => py_repr_str(s),
        Value::Double(d) => py_float(*d),
        Value::DateTime(s) => format!("<DateTime {} >", py_repr_str(s)),
        Value::Base64(b) => format!("<Binary {} bytes>", b.len()),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(py_repr).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Struct(members) => {
            let inner: Vec<String> = members
                .iter()
                .map(|(k, v)| format!("{}: {}", py_repr_str(k), py_repr(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
        Value::Nil => "None".into(),
    }
}

fn py_float(d: f64) -> String {
    if d.is_nan() {
        "nan".into()
    } else if d.is_infinite() {
        if d > 0.0 { "inf".into() } else { "-inf".into() }
    } else if d == d.trunc() && d.abs() < 1e16 {
        format!("{d:.1}")
    } else {
        format!("{d}")
    }
}

/// Python's name for the type of a decoded value, for `TypeError` texts.
pub fn py_type(v: &Value) -> &'static str {
    match v {
        Value::Int(_) => "int",
        Value::Bool(_) => "bool",
        Value::String(_) => "str",
        Value::Double(_) => "float",
        Value::DateTime(_) => "DateTime",
        Value::Base64(_) => "Binary",
        Value::Array(_) => "list",
        Value::Struct(_) => "dict",
        Value::Nil => "NoneType",
    }
}

/// Python's `int()` of a command argument: optional sign, ASCII digits
/// with single underscores between them, surrounding whitespace allowed.
pub fn py_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    // Beyond i64 is beyond XML-RPC's int anyway: saturate, the caller
    // reports it as out of range.
    let n = clean.parse::<i64>().unwrap_or(i64::MAX);
    Some(if neg { -n } else { n })
}

/// Lay `words` out in columns no wider than `width`, as Python's
/// `cmd.Cmd.columnize` does: the fewest rows that fit, filled column by
/// column, two spaces between columns.
pub fn columnize(words: &[&str], width: usize) -> Vec<String> {
    match words.len() {
        0 => return vec!["<empty>".into()],
        1 => return vec![words.first().copied().unwrap_or_default().to_string()],
        _ => {}
    }
    let size = words.len();
    let len = |i: usize| words.get(i).map_or(0, |w| w.chars().count());
    let mut layout: Option<(usize, Vec<usize>)> = None;
    for nrows in 1..size {
        let ncols = size.div_ceil(nrows);
        let mut widths = Vec::new();
        let mut total: isize = -2;
        for col in 0..ncols {
            let w = (0..nrows)
                .map(|row| row + nrows * col)
                .take_while(|&i| i < size)
                .map(len)
                .max()
                .unwrap_or(0);
            widths.push(w);
            total += w as isize + 2;
            if total > width as isize {
                break;
            }
        }
        if total <= width as isize {
            layout = Some((nrows, widths));
            break;
        }
    }
    let (nrows, widths) = layout.unwrap_or((size, vec![0]));
    let mut lines = Vec::new();
    for row in 0..nrows {
        let mut texts: Vec<&str> = (0..widths.len())
            .map(|col| words.get(row + nrows * col).copied().unwrap_or(""))
            .collect();
        while texts.last().is_some_and(|t| t.is_empty()) {
            texts.pop();
        }
        let cells: Vec<String> = texts
            .iter()
            .enumerate()
            .map(|(col, t)| format!("{:<w$}", t, w = widths.get(col).copied().unwrap_or(0)))
            .collect();
        lines.push(cells.join("  "));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: &str, s: &str, d: &str) -> StatusRow {
        StatusRow {
            namespec: n.into(),
            statename: s.into(),
            description: d.into(),
        }
    }

    #[test]
    fn status_columns() {
        let lines = status_lines(&[
            row("sleeper", "RUNNING", "pid 435, uptime 0:00:01"),
            row("grp:a", "STARTING", ""),
        ]);
        assert_eq!(
            lines[0],
            "sleeper                          RUNNING   pid 435, uptime 0:00:01"
        );
        assert_eq!(lines[1], "grp:a                            STARTING  ");
        let long = "g:".to_string() + &"x".repeat(40);
        let lines = status_lines(&[row(&long, "STOPPED", "Not started"), row("a", "FATAL", "")]);
        assert_eq!(lines[0], format!("{long}   STOPPED   Not started"));
        assert_eq!(lines[1], format!("a{}FATAL     ", " ".repeat(44)));
        // Non-ASCII names pad by characters, like Python.
        let lines = status_lines(&[row("é", "RUNNING", "x")]);
        assert_eq!(lines[0], format!("é{}RUNNING   x", " ".repeat(32)));
    }

    #[test]
    fn avail_columns() {
        assert_eq!(
            avail_line("grp:a", true, true, "999:999"),
            "grp:a                            in use    auto      999:999"
        );
        assert_eq!(
            avail_line("idle", false, false, "1:-5"),
            "idle                             avail     manual    1:-5"
        );
    }

    #[test]
    fn reread_order_and_precedence() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            reread_lines(&s(&["b", "z"]), &s(&["a", "z"]), &s(&["c"])),
            vec!["a: changed", "b: available", "c: disappeared", "z: changed"]
        );
        assert_eq!(
            reread_lines(&[], &[], &[]),
            vec!["No config updates to processes"]
        );
    }

    #[test]
    fn namespecs() {
        assert_eq!(make_namespec("a", "a"), "a");
        assert_eq!(make_namespec("g", "a"), "g:a");
        assert_eq!(split_namespec("a"), ("a".into(), Some("a".into())));
        assert_eq!(split_namespec("g:*"), ("g".into(), None));
        assert_eq!(split_namespec("g:"), ("g".into(), None));
        assert_eq!(split_namespec("g:a:b"), ("g".into(), Some("a:b".into())));
    }

    #[test]
    fn python_reprs() {
        assert_eq!(py_repr_str("bogus"), "'bogus'");
        assert_eq!(py_repr_str("it's"), "\"it's\"");
        assert_eq!(py_repr_str("a\tb\x01"), "'a\\tb\\x01'");
        assert_eq!(py_str(&Value::Int(7)), "7");
        assert_eq!(py_str(&Value::from("x")), "x");
        assert_eq!(py_str(&Value::Bool(true)), "True");
        assert_eq!(py_str(&Value::Double(3.0)), "3.0");
        assert_eq!(
            py_str(&Value::array([Value::from("a"), Value::Int(1)])),
            "['a', 1]"
        );
        assert_eq!(
            py_str(&Value::structure([("k", Value::Nil)])),
            "{'k': None}"
        );
    }

    #[test]
    fn python_int() {
        assert_eq!(py_int("100"), Some(100));
        assert_eq!(py_int("-5"), Some(-5));
        assert_eq!(py_int("+5"), Some(5));
        assert_eq!(py_int("1_000"), Some(1000));
        assert_eq!(py_int("1__0"), None);
        assert_eq!(py_int("x"), None);
        assert_eq!(py_int(""), None);
        assert_eq!(py_int("-"), None);
    }

    #[test]
    fn columnize_like_cmd() {
        let words = [
            "add", "avail", "clear", "exit", "fg", "maintail", "open", "pid", "quit", "reload",
            "remove", "reread", "restart", "shutdown", "signal", "start", "status", "stop", "tail",
            "update", "version",
        ];
        assert_eq!(
            columnize(&words, 79),
            vec![
                "add    exit      open  reload  restart   start   tail   ",
                "avail  fg        pid   remove  shutdown  status  update ",
                "clear  maintail  quit  reread  signal    stop    version",
            ]
        );
        assert_eq!(columnize(&["one"], 79), vec!["one"]);
        assert_eq!(columnize(&[], 79), vec!["<empty>"]);
        assert_eq!(columnize(&["aaaa", "bbbb"], 5), vec!["aaaa", "bbbb"]);
    }
}
