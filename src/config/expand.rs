//! Python `%`-formatting with a mapping (`value % dict`), the way Supervisor
//! expands `%(here)s`, `%(program_name)s`, `%(process_num)02d`, `%(ENV_X)s`.
//!
//! Supports named specs with flags (`-+ #0`), width, precision, the length
//! modifiers Python skips (`h l L`) and the conversions `s r a d i u o x X c
//! f F e E g G`, plus `%%`.  Errors carry Supervisor's exact wording.

use std::collections::BTreeMap;

/// A value available to expansion: strings, or integers (`process_num`, `numprocs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    Str(String),
    Int(i64),
}

/// Names available at one place of the config, sorted (as Supervisor lists them).
pub type Expansions = BTreeMap<String, Val>;

/// Why a format failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// `KeyError`: a name that is not available.
    Missing(String),
    /// Anything else Python would raise (`ValueError`/`TypeError`).
    Bad(String),
}

/// Largest field width or precision we format (Python has no bound; a
/// config never needs more).
const MAX_WIDTH: usize = 4096;
/// Largest expanded value, like the bound on raw values.
const MAX_OUTPUT: usize = 1 << 20;

/// Expand `s` as Supervisor's `expand(s, expansions, name)` does, with its
/// error messages.
pub fn expand(s: &str, map: &Expansions, name: &str) -> Result<String, String> {
    match format(s, map) {
        Ok(v) => Ok(v),
        Err(FormatError::Missing(key)) => {
            let names: Vec<&str> = map.keys().map(String::as_str).collect();
            Err(format!(
                "Format string {} for {} contains names ({}) which cannot be expanded. Available names: {}",
                py_repr_short(s),
                py_repr(name),
                py_repr(&key),
                names.join(", ")
            ))
        }
        Err(FormatError::Bad(why)) => Err(format!(
            "Format string {} for {} is badly formatted: {}",
            py_repr_short(s),
            py_repr(name),
            why
        )),
    }
}

/// `s % map` with Python semantics (mapping argument).
pub fn format(s: &str, map: &Expansions) -> Result<String, FormatError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        let Some(&next) = chars.get(i) else {
            return Err(FormatError::Bad("incomplete format".into()));
        };
        if next == '%' {
            out.push('%');
            i += 1;
            continue;
        }
        // Mapping key, with nested parentheses as Python counts them.
        let mut key: Option<String> = None;
        if next == '(' {
            let start = i + 1;
            let mut depth = 1usize;
            let mut j = start;
            while depth > 0 {
                match chars.get(j) {
                    Some('(') => depth += 1,
                    Some(')') => depth -= 1,
                    Some(_) => {}
                    None => break,
                }
                j += 1;
            }
            if depth > 0 {
                return Err(FormatError::Bad("incomplete format key".into()));
            }
            key = Some(
                chars
                    .get(start..j.saturating_sub(1))
                    .map(|k| k.iter().collect())
                    .unwrap_or_default(),
            );
            i = j;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.get(i) {
            match f {
                '-' => spec.left = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '#' => spec.alt = true,
                '0' => spec.zero = true,
                _ => break,
            }
            i += 1;
        }
        if chars.get(i) == Some(&'*') {
            return Err(FormatError::Bad(
                "not enough arguments for format string".into(),
            ));
        }
        spec.width = read_num(&chars, &mut i)?;
        if chars.get(i) == Some(&'.') {
            i += 1;
            if chars.get(i) == Some(&'*') {
                return Err(FormatError::Bad(
                    "not enough arguments for format string".into(),
                ));
            }
            spec.precision = Some(read_num(&chars, &mut i)?.unwrap_or(0));
        }
        while matches!(chars.get(i), Some('h' | 'l' | 'L')) {
            i += 1;
        }
        let Some(&conv) = chars.get(i) else {
            return Err(FormatError::Bad("incomplete format".into()));
        };
        let conv_index = i;
        i += 1;
        if !"sradiuoxXcfFeEgG".contains(conv) {
            return Err(FormatError::Bad(format!(
                "unsupported format character {} (0x{:x}) at index {}",
                py_repr(&conv.to_string()),
                conv as u32,
                conv_index
            )));
        }
        let Some(key) = key else {
            // Python would format the whole mapping here (`str(dict)`), which
            // is never what a config means: a lone `%` must be written `%%`.
            return Err(FormatError::Bad(format!(
                "'%{conv}' at index {} has no (name); write '%%' for a literal '%'",
                conv_index.saturating_sub(1)
            )));
        };
        let Some(val) = map.get(&key) else {
            return Err(FormatError::Missing(key));
        };
        out.push_str(&convert(val, conv, &spec)?);
        if out.len() > MAX_OUTPUT {
            return Err(FormatError::Bad(format!(
                "the expanded value is longer than {MAX_OUTPUT} bytes (1 MiB)"
            )));
        }
    }
    Ok(out)
}

#[derive(Default)]
struct Spec {
    left: bool,
    plus: bool,
    space: bool,
    alt: bool,
    zero: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

fn read_num(chars: &[char], i: &mut usize) -> Result<Option<usize>, FormatError> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.get(*i).and_then(|c| c.to_digit(10)) {
        let cur = n.unwrap_or(0);
        n = Some(
            cur.checked_mul(10)
                .and_then(|v| v.checked_add(d as usize))
                .filter(|v| *v <= MAX_WIDTH)
                .ok_or_else(|| FormatError::Bad("width too big".into()))?,
        );
        *i += 1;
    }
    Ok(n)
}

fn type_name(v: &Val) -> &'static str {
    match v {
        Val::Str(_) => "str",
        Val::Int(_) => "int",
    }
}

fn convert(val: &Val, conv: char, spec: &Spec) -> Result<String, FormatError> {
    match conv {
        's' | 'r' | 'a' => {
            let mut s = match (val, conv) {
                (Val::Str(s), 's') => s.clone(),
                (Val::Str(s), 'r') => py_repr(s),
                (Val::Str(s), _) => py_ascii(s),
                (Val::Int(n), _) => n.to_string(),
            };
            if let Some(p) = spec.precision {
                s = s.chars().take(p).collect();
            }
            Ok(pad(s, spec, false))
        }
        'c' => {
            let ch = match val {
                Val::Int(n) => u32::try_from(*n)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| FormatError::Bad("%c arg not in range(0x110000)".into()))?,
                Val::Str(s) => {
                    let mut it = s.chars();
                    match (it.next(), it.next()) {
                        (Some(c), None) => c,
                        _ => return Err(FormatError::Bad("%c requires int or char".into())),
                    }
                }
            };
            Ok(pad(ch.to_string(), spec, false))
        }
        _ => {
            let Val::Int(n) = val else {
                let what = if matches!(conv, 'd' | 'i' | 'u') {
                    format!(
                        "%{conv} format: a real number is required, not {}",
                        type_name(val)
                    )
                } else if matches!(conv, 'o' | 'x' | 'X') {
                    format!(
                        "%{conv} format: an integer is required, not {}",
                        type_name(val)
                    )
                } else {
                    "must be real number, not str".to_string()
                };
                return Err(FormatError::Bad(what));
            };
            let n = *n;
            let neg = n < 0;
            let abs = n.unsigned_abs();
            let mut digits = match conv {
                'd' | 'i' | 'u' => abs.to_string(),
                'o' => format!("{abs:o}"),
                'x' => format!("{abs:x}"),
                'X' => format!("{abs:X}"),
                'f' | 'F' => {
                    let p = spec.precision.unwrap_or(6);
                    if p == 0 {
                        abs.to_string()
                    } else {
                        format!("{abs}.{}", "0".repeat(p))
                    }
                }
                'e' | 'E' => {
                    let p = spec.precision.unwrap_or(6);
                    let s = format!("{:.*e}", p, abs as f64);
                    // Rust writes `5e0`; Python writes `5e+00`.
                    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
                    let exp: i32 = e.parse().unwrap_or(0);
                    let sign = if exp < 0 { '-' } else { '+' };
                    let t = format!("{m}e{sign}{:02}", exp.unsigned_abs());
                    if conv == 'E' { t.to_uppercase() } else { t }
                }
                _ => {
                    // 'g'/'G' for an integer: plain digits while they fit the
                    // precision (6 by default), else exponent form.
                    let p = spec.precision.unwrap_or(6).max(1);
                    let s = abs.to_string();
                    if s.len() <= p {
                        s
                    } else {
                        let e = format!("{:.*e}", p - 1, abs as f64);
                        let (m, ex) = e.split_once('e').unwrap_or((&e, "0"));
                        let m = if m.contains('.') {
                            m.trim_end_matches('0').trim_end_matches('.')
                        } else {
                            m
                        };
                        let exp: i32 = ex.parse().unwrap_or(0);
                        let t = format!("{m}e+{exp:02}");
                        if conv == 'G' { t.to_uppercase() } else { t }
                    }
                }
            };
            if matches!(conv, 'd' | 'i' | 'u' | 'o' | 'x' | 'X')
                && let Some(p) = spec.precision
                && digits.len() < p
            {
                digits = format!("{}{}", "0".repeat(p - digits.len()), digits);
            }
            let mut prefix = String::new();
            if neg {
                prefix.push('-');
            } else if spec.plus {
                prefix.push('+');
            } else if spec.space {
                prefix.push(' ');
            }
            if spec.alt {
                match conv {
                    'o' => prefix.push_str("0o"),
                    'x' => prefix.push_str("0x"),
                    'X' => prefix.push_str("0X"),
                    _ => {}
                }
            }
            let width = spec.width.unwrap_or(0);
            let len = prefix.chars().count() + digits.chars().count();
            if spec.zero && !spec.left && len < width {
                Ok(format!("{prefix}{}{digits}", "0".repeat(width - len)))
            } else {
                Ok(pad(format!("{prefix}{digits}"), spec, true))
            }
        }
    }
}

fn pad(s: String, spec: &Spec, _numeric: bool) -> String {
    let width = spec.width.unwrap_or(0);
    let len = s.chars().count();
    if len >= width {
        return s;
    }
    let fill = " ".repeat(width - len);
    if spec.left {
        format!("{s}{fill}")
    } else {
        format!("{fill}{s}")
    }
}

/// Python's `repr()` of a `str`.
pub fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !is_printable(c) => {
                let n = c as u32;
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02x}"));
                } else if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `py_repr`, cut in the middle for huge values so messages stay readable.
pub fn py_repr_short(s: &str) -> String {
    const MAX: usize = 200;
    if s.chars().count() <= MAX {
        return py_repr(s);
    }
    let head: String = s.chars().take(MAX).collect();
    format!("{}...", py_repr(&head))
}

/// Python's `ascii()` of a `str`.
fn py_ascii(s: &str) -> String {
    let r = py_repr(s);
    let mut out = String::with_capacity(r.len());
    for c in r.chars() {
        let n = c as u32;
        if n < 0x80 {
            out.push(c);
        } else if n <= 0xff {
            out.push_str(&format!("\\x{n:02x}"));
        } else if n <= 0xffff {
            out.push_str(&format!("\\u{n:04x}"));
        } else {
            out.push_str(&format!("\\U{n:08x}"));
        }
    }
    out
}

/// An approximation of `str.isprintable` for one character: control
/// characters, separators other than the ASCII space, and format characters
/// are not printable.
fn is_printable(c: char) -> bool {
    let n = c as u32;
    !(n < 0x20
        || (0x7f..=0xa0).contains(&n)
        || n == 0xad
        || (0x2000..=0x200f).contains(&n)
        || (0x2028..=0x202f).contains(&n)
        || (0x205f..=0x206f).contains(&n)
        || n == 0x3000
        || n == 0xfeff
        || (0xd800..=0xdfff).contains(&n)
        || (0xfff9..=0xfffb).contains(&n)
        || n == 0x1680
        || n == 0x180e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> Expansions {
        let mut m = Expansions::new();
        m.insert("a".into(), Val::Str("str".into()));
        m.insert("n".into(), Val::Int(5));
        m.insert("a(b)c".into(), Val::Str("nest".into()));
        m.insert("neg".into(), Val::Int(-3));
        m
    }

    fn f(s: &str) -> Result<String, FormatError> {
        format(s, &map())
    }

    #[test]
    fn python_cases() {
        let cases = [
            ("%(a)s", "str"),
            ("%(n)02d", "05"),
            ("%(n)-5d|", "5    |"),
            ("%(n)+d", "+5"),
            ("%(n) d", " 5"),
            ("%(n)#x", "0x5"),
            ("%(n)#o", "0o5"),
            ("%(n).3d", "005"),
            ("%(a).2s", "st"),
            ("%(a)5s|", "  str|"),
            ("%(a)-5s|", "str  |"),
            ("%(a)r", "'str'"),
            ("%(n)r", "5"),
            ("%(n)x", "5"),
            ("%(n)c", "\u{5}"),
            ("%(n)f", "5.000000"),
            ("%(n).2f", "5.00"),
            ("%(n)e", "5.000000e+00"),
            ("%(n)g", "5"),
            ("%(a(b)c)s", "nest"),
            ("%(n)ld", "5"),
            ("%%", "%"),
            ("%(n)05.3d", "00005"),
            ("%(n)i", "5"),
            ("%(n)u", "5"),
            ("%(a)a", "'str'"),
            ("%(n)-05d|", "5    |"),
            ("%(n)010.4x", "0000000005"),
            ("%(neg)04d", "-003"),
            ("100%% sure", "100% sure"),
            ("no specs", "no specs"),
        ];
        for (fmt, want) in cases {
            assert_eq!(f(fmt), Ok(want.to_string()), "{fmt}");
        }
    }

    #[test]
    fn python_errors() {
        let bad = |s: &str| match f(s) {
            Err(FormatError::Bad(m)) => m,
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(bad("%(a"), "incomplete format key");
        assert_eq!(bad("%(a)"), "incomplete format");
        assert_eq!(bad("%"), "incomplete format");
        assert_eq!(
            bad("%z"),
            "unsupported format character 'z' (0x7a) at index 1"
        );
        assert_eq!(
            bad("%(a)z"),
            "unsupported format character 'z' (0x7a) at index 4"
        );
        assert_eq!(
            bad("%(a)%"),
            "unsupported format character '%' (0x25) at index 4"
        );
        assert_eq!(
            bad("%(a)d"),
            "%d format: a real number is required, not str"
        );
        assert_eq!(bad("%(n)*d"), "not enough arguments for format string");
        assert_eq!(bad("%(a)c"), "%c requires int or char");
        assert!(bad("%s").contains("write '%%'"));
        assert_eq!(bad("%(a)5000s"), "width too big");
        let mut m = map();
        m.insert("big".into(), Val::Str("x".repeat(100_000)));
        let many = "%(big)s".repeat(20);
        assert!(matches!(format(&many, &m), Err(FormatError::Bad(e)) if e.contains("1 MiB")));
        assert_eq!(f("%( a)s"), Err(FormatError::Missing(" a".into())));
        assert_eq!(f("%()s"), Err(FormatError::Missing("".into())));
        // Left to right: the missing name comes before the trailing '%'.
        assert_eq!(f("x%(n)s%(zz)s%"), Err(FormatError::Missing("zz".into())));
    }

    #[test]
    fn supervisor_messages() {
        let mut m = Expansions::new();
        m.insert("here".into(), Val::Str("/etc".into()));
        m.insert("ENV_HOME".into(), Val::Str("/root".into()));
        let e = expand("%(nope)s", &m, "program:x.command").unwrap_err();
        assert_eq!(
            e,
            "Format string '%(nope)s' for 'program:x.command' contains names ('nope') \
             which cannot be expanded. Available names: ENV_HOME, here"
        );
        let e = expand("100%", &m, "environment").unwrap_err();
        assert_eq!(
            e,
            "Format string '100%' for 'environment' is badly formatted: incomplete format"
        );
    }

    #[test]
    fn repr_like_python() {
        assert_eq!(py_repr("a'b"), "\"a'b\"");
        assert_eq!(py_repr("a\"b"), "'a\"b'");
        assert_eq!(py_repr("a'\"b"), "'a\\'\"b'");
        assert_eq!(
            py_repr("\u{0}\u{7f}\u{80}\u{a0}\u{ad}\u{2028}é\t\n\\"),
            "'\\x00\\x7f\\x80\\xa0\\xad\\u2028é\\t\\n\\\\'"
        );
        assert!(py_repr_short(&"x".repeat(5000)).len() < 300);
    }
}
