//! The INI scanner: config text into raw, position-keeping sections, read as Supervisor's Python `RawConfigParser` reads it.
//!
//! The dialect is configparser's as Supervisor configures it
//! (`inline_comment_prefixes=(';', '#')`, `strict=False`): inline comments
//! only after whitespace, continuation lines, repeated sections merged,
//! lower-cased option names, `[DEFAULT]` as a fallback, no quotes and no
//! escapes.  Plus the decoding of a file's bytes (reads are in `os`).
//!
//! Why hand-written: a config must mean here what it means to Supervisor,
//! and rust-ini (checked against its 0.21.3 source and by running it, with
//! the default `ParseOption`) reads the same text differently.  It
//! interprets quotes and backslashes in values, so `command="/bin/my prog"
//! -c 'echo \t hi'` comes back as `/bin/my prog -c 'echo <TAB> hi'` and
//! shlex then makes another argv (configparser keeps the text verbatim).  A
//! repeated `[program:x]` stays two sections and `section()` returns the
//! first only, so a later `autostart=false` is lost (configparser merges).
//! An indented continuation line is dropped unless
//! `enabled_indented_mutiline_value` is set; an indented `; comment` line
//! becomes part of the next key; `a = b ;c` keeps `;c` without the
//! `inline-comment` feature; keys keep their case; `[DEFAULT]` is a section
//! like any other; and entries carry no line numbers, which every
//! diagnostic here reports.

use super::datatypes::py_isspace;

/// Largest config file we read (Supervisor has no bound; see Part C).
pub const MAX_FILE_BYTES: u64 = 16 << 20;
/// Largest single value, continuation lines included.
pub const MAX_VALUE_BYTES: usize = 1 << 20;

/// One `key = value` with where its first line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Lower-cased option name.
    pub key: String,
    pub value: String,
    /// Index into [`RawConfig::files`].
    pub file: usize,
    pub line: usize,
}

/// One section, merged over every `[name]` header with that name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    /// Where the section was first seen.
    pub file: usize,
    pub line: usize,
    /// In order of first appearance; a repeated key keeps its place and takes
    /// the later value and position.
    pub entries: Vec<Entry>,
}

impl Section {
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }
}

/// Everything read so far: sections in order of first appearance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawConfig {
    pub files: Vec<std::path::PathBuf>,
    pub sections: Vec<Section>,
    /// `[DEFAULT]`: fallback values for every section (Python's configparser).
    pub defaults: Option<Section>,
}

impl RawConfig {
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// A section's own value, else the `[DEFAULT]` one.
    pub fn get<'a>(&'a self, section: &'a Section, key: &str) -> Option<&'a Entry> {
        section
            .get(key)
            .or_else(|| self.defaults.as_ref().and_then(|d| d.get(key)))
    }
}

/// A problem found while scanning: line (1-based) and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanError {
    pub line: usize,
    pub message: String,
}

/// Split like Python's universal-newline text reading: `\n`, `\r\n`, `\r`.
fn lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes.get(i) {
            Some(b'\n') => {
                out.push(text.get(start..i).unwrap_or(""));
                start = i + 1;
            }
            Some(b'\r') => {
                out.push(text.get(start..i).unwrap_or(""));
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < bytes.len() {
        out.push(text.get(start..).unwrap_or(""));
    }
    out
}

/// Where an inline comment starts (a byte index), exactly as Python 3.11's
/// `_read` finds it: rounds over successive occurrences of `;` and `#`,
/// keeping the first round in which one of them is at the start or after
/// whitespace.
fn comment_start(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let find_from = |p: u8, from: usize| -> Option<usize> {
        bytes
            .get(from..)?
            .iter()
            .position(|&c| c == p)
            .map(|i| i + from)
    };
    let qualifies = |i: usize| {
        i == 0
            || line
                .get(..i)
                .and_then(|h| h.chars().next_back())
                .is_some_and(py_isspace)
    };
    let mut idx: Vec<(u8, Option<usize>)> = vec![(b';', None), (b'#', None)];
    loop {
        let mut next = Vec::new();
        let mut found: Option<usize> = None;
        for (p, last) in &idx {
            let from = last.map_or(0, |l| l + 1);
            let Some(i) = find_from(*p, from) else {
                continue;
            };
            next.push((*p, Some(i)));
            if qualifies(i) {
                found = Some(found.map_or(i, |f: usize| f.min(i)));
            }
        }
        if found.is_some() || next.is_empty() {
            return found;
        }
        idx = next;
    }
}

fn py_strip(s: &str) -> &str {
    s.trim_matches(py_isspace)
}

#[derive(Clone, Copy)]
enum Cur {
    Section(usize),
    Defaults,
}

#[derive(Clone, Copy)]
enum Opt {
    None,
    /// A bad option line whose continuations are swallowed.
    Sink,
    At(Cur, usize),
}

/// Scan one file's text into `cfg` (merging with what is there).
pub fn scan(text: &str, file: usize, cfg: &mut RawConfig) -> Vec<ScanError> {
    let mut errors = Vec::new();
    let mut cur: Option<Cur> = None;
    let mut opt = Opt::None;
    let mut indent_level = 0usize;
    let mut missing_header_reported = false;
    let mut oversize: Vec<(Cur, usize)> = Vec::new();
    let mut touched: Vec<(Cur, usize)> = Vec::new();

    for (n, line) in lines(text).into_iter().enumerate() {
        let lineno = n + 1;
        let mut cstart = comment_start(line);
        if [";", "#"].iter().any(|p| py_strip(line).starts_with(p)) {
            cstart = Some(0);
        }
        let value = py_strip(match cstart {
            Some(c) => line.get(..c).unwrap_or(line),
            None => line,
        });
        if value.is_empty() {
            if cstart.is_none()
                && cur.is_some()
                && let Opt::At(c, i) = opt
            {
                append(cfg, c, i, "", lineno, &mut oversize, &mut errors);
            }
            continue;
        }
        let indent = line.chars().take_while(|c| py_isspace(*c)).count();
        if cur.is_some() && !matches!(opt, Opt::None) && indent > indent_level {
            if let Opt::At(c, i) = opt {
                append(cfg, c, i, value, lineno, &mut oversize, &mut errors);
            }
            continue;
        }
        indent_level = indent;
        if let Some(header) = section_header(value) {
            cur = Some(
                if let Some(i) = cfg.sections.iter().position(|s| s.name == header) {
                    Cur::Section(i)
                } else if header == "DEFAULT" {
                    if cfg.defaults.is_none() {
                        cfg.defaults = Some(Section {
                            name: header.to_string(),
                            file,
                            line: lineno,
                            entries: Vec::new(),
                        });
                    }
                    Cur::Defaults
                } else {
                    cfg.sections.push(Section {
                        name: header.to_string(),
                        file,
                        line: lineno,
                        entries: Vec::new(),
                    });
                    Cur::Section(cfg.sections.len() - 1)
                },
            );
            opt = Opt::None;
            continue;
        }
        let Some(c) = cur else {
            if !missing_header_reported {
                missing_header_reported = true;
                errors.push(ScanError {
                    line: lineno,
                    message: format!(
                        "File contains no section headers: {} comes before any [section] header",
                        super::expand::py_repr_short(line)
                    ),
                });
            }
            continue;
        };
        match split_option(value) {
            Some((key, val)) if !key.is_empty() => {
                let key = key.to_lowercase();
                let Some(sec) = section_mut(cfg, c) else {
                    continue;
                };
                let entry = Entry {
                    key: key.clone(),
                    value: String::new(),
                    file,
                    line: lineno,
                };
                let idx = match sec.entries.iter().position(|e| e.key == key) {
                    Some(i) => {
                        if let Some(e) = sec.entries.get_mut(i) {
                            *e = entry;
                        }
                        i
                    }
                    None => {
                        sec.entries.push(entry);
                        sec.entries.len() - 1
                    }
                };
                oversize.retain(|(oc, oi)| !(same(*oc, c) && *oi == idx));
                touched.push((c, idx));
                opt = Opt::At(c, idx);
                append_first(cfg, c, idx, val, lineno, &mut oversize, &mut errors);
            }
            Some(_) => {
                errors.push(ScanError {
                    line: lineno,
                    message: format!(
                        "option line without a name: {}",
                        super::expand::py_repr_short(line)
                    ),
                });
                opt = Opt::Sink;
            }
            None => {
                errors.push(ScanError {
                    line: lineno,
                    message: format!(
                        "invalid line {} (expected 'name = value', 'name: value' or a [section] header)",
                        super::expand::py_repr_short(line)
                    ),
                });
            }
        }
    }
    // Python joins the lines of a value and strips trailing whitespace.
    for (c, i) in touched {
        if let Some(e) = section_mut(cfg, c).and_then(|s| s.entries.get_mut(i)) {
            let t = e.value.trim_end_matches(py_isspace).len();
            e.value.truncate(t);
        }
    }
    errors
}

fn same(a: Cur, b: Cur) -> bool {
    match (a, b) {
        (Cur::Defaults, Cur::Defaults) => true,
        (Cur::Section(x), Cur::Section(y)) => x == y,
        _ => false,
    }
}

fn section_mut(cfg: &mut RawConfig, c: Cur) -> Option<&mut Section> {
    match c {
        Cur::Section(i) => cfg.sections.get_mut(i),
        Cur::Defaults => cfg.defaults.as_mut(),
    }
}

fn append_first(
    cfg: &mut RawConfig,
    c: Cur,
    i: usize,
    text: &str,
    lineno: usize,
    oversize: &mut Vec<(Cur, usize)>,
    errors: &mut Vec<ScanError>,
) {
    push_part(cfg, c, i, text, false, lineno, oversize, errors);
}

fn append(
    cfg: &mut RawConfig,
    c: Cur,
    i: usize,
    text: &str,
    lineno: usize,
    oversize: &mut Vec<(Cur, usize)>,
    errors: &mut Vec<ScanError>,
) {
    push_part(cfg, c, i, text, true, lineno, oversize, errors);
}

#[allow(clippy::too_many_arguments)]
fn push_part(
    cfg: &mut RawConfig,
    c: Cur,
    i: usize,
    text: &str,
    newline: bool,
    _lineno: usize,
    oversize: &mut Vec<(Cur, usize)>,
    errors: &mut Vec<ScanError>,
) {
    if oversize.iter().any(|(oc, oi)| same(*oc, c) && *oi == i) {
        return;
    }
    let Some(e) = section_mut(cfg, c).and_then(|s| s.entries.get_mut(i)) else {
        return;
    };
    let add = text.len() + usize::from(newline);
    if e.value.len() + add > MAX_VALUE_BYTES {
        errors.push(ScanError {
            line: e.line,
            message: format!(
                "the value of '{}' is longer than {} bytes (1 MiB), the most we accept",
                e.key, MAX_VALUE_BYTES
            ),
        });
        e.value.clear();
        oversize.push((c, i));
        return;
    }
    if newline {
        e.value.push('\n');
    }
    e.value.push_str(text);
}

/// `\[(?P<header>.+)\]` matched at the start of the (stripped) line.
fn section_header(value: &str) -> Option<&str> {
    let rest = value.strip_prefix('[')?;
    let close = rest.rfind(']')?;
    if close == 0 {
        // `[]` alone: `.+` needs a character; a later `]` may still match.
        return None;
    }
    rest.get(..close)
}

/// `(?P<option>.*?)\s*[=:]\s*(?P<value>.*)$`: split at the first `=` or `:`.
fn split_option(value: &str) -> Option<(&str, &str)> {
    let pos = value.find(['=', ':'])?;
    let key = value.get(..pos)?.trim_end_matches(py_isspace);
    let val = py_strip(value.get(pos + 1..)?);
    Some((key, val))
}

/// Decode a file's bytes: NUL bytes and invalid UTF-8 are errors naming the line.
pub fn decode(bytes: Vec<u8>) -> Result<String, ScanError> {
    let line_of = |bytes: &[u8], pos: usize| -> usize {
        let head = bytes.get(..pos).unwrap_or(&[]);
        let mut n = 1;
        let mut prev = 0u8;
        for &b in head {
            if b == b'\n' && prev != b'\r' || b == b'\r' {
                n += 1;
            }
            prev = b;
        }
        n
    };
    if let Some(pos) = bytes.iter().position(|&b| b == 0) {
        return Err(ScanError {
            line: line_of(&bytes, pos),
            message: "the file contains a NUL byte".into(),
        });
    }
    if bytes.starts_with(&[0xef, 0xbb, 0xbf]) {
        return Err(ScanError {
            line: 1,
            message: "the file starts with a UTF-8 byte order mark, which Supervisor rejects; save it without one".into(),
        });
    }
    match String::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => {
            let pos = e.utf8_error().valid_up_to();
            let line = line_of(e.as_bytes(), pos);
            Err(ScanError {
                line,
                message: "the file is not valid UTF-8 (invalid byte sequence on this line)".into(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (RawConfig, Vec<ScanError>) {
        let mut cfg = RawConfig::default();
        cfg.files.push("/t.conf".into());
        let errs = scan(text, 0, &mut cfg);
        (cfg, errs)
    }

    fn val(cfg: &RawConfig, sec: &str, key: &str) -> Option<String> {
        cfg.section(sec)?.get(key).map(|e| e.value.clone())
    }

    #[test]
    fn inline_comments_need_whitespace() {
        let (c, e) = parse("[s]\na=b ;c\nb=b;c\nc=b #c\nd=b#c\ne= ;c\nf=x\t;y\n");
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(val(&c, "s", "a").as_deref(), Some("b"));
        assert_eq!(val(&c, "s", "b").as_deref(), Some("b;c"));
        assert_eq!(val(&c, "s", "c").as_deref(), Some("b"));
        assert_eq!(val(&c, "s", "d").as_deref(), Some("b#c"));
        assert_eq!(val(&c, "s", "e").as_deref(), Some(""));
        assert_eq!(val(&c, "s", "f").as_deref(), Some("x"));
    }

    #[test]
    fn python_comment_rounds() {
        // Round 1 sees the first `;` (no space before) and the first `#`
        // (space before): the comment starts at the `#` although ` ;c`
        // qualifies earlier.  Python 3.11 keeps `a;b ;c` here.
        assert_eq!(comment_start("a;b ;c #d"), Some(7));
        assert_eq!(comment_start("x;y #z ;w"), Some(4));
        assert_eq!(comment_start("a;b;c ;d  #e"), Some(10));
        assert_eq!(comment_start("abc"), None);
        assert_eq!(comment_start(";x"), Some(0));
    }

    #[test]
    fn full_line_comments_and_keys_before_sections() {
        let (c, e) = parse("; hello\n# there\n   ; indented\n[s]\nk=v\n");
        assert!(e.is_empty());
        assert_eq!(val(&c, "s", "k").as_deref(), Some("v"));
        let (_, e) = parse("\nk=v\nz=1\n[s]\n");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].line, 2);
        assert!(e[0].message.contains("no section headers"));
    }

    #[test]
    fn separators_case_and_empty_values() {
        let (c, e) = parse("[Sec]\nKey: value\nOther = x=y\nempty=\ncolon:a=b\n");
        assert!(e.is_empty());
        assert_eq!(val(&c, "Sec", "key").as_deref(), Some("value"));
        assert_eq!(val(&c, "Sec", "other").as_deref(), Some("x=y"));
        assert_eq!(val(&c, "Sec", "empty").as_deref(), Some(""));
        assert_eq!(val(&c, "Sec", "colon").as_deref(), Some("a=b"));
        assert!(c.section("sec").is_none());
    }

    #[test]
    fn continuation_lines() {
        let (c, e) = parse("[s]\nfiles = a\n  b ; comment\n\n\tc\n; full comment\n  d\nnext=1\n");
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(val(&c, "s", "files").as_deref(), Some("a\nb\n\nc\nd"));
        assert_eq!(val(&c, "s", "next").as_deref(), Some("1"));
        assert_eq!(c.section("s").unwrap().get("next").unwrap().line, 8);
        // Trailing blank lines are stripped.
        let (c, _) = parse("[s]\na=1\n  2\n\n\n[t]\n");
        assert_eq!(val(&c, "s", "a").as_deref(), Some("1\n2"));
    }

    #[test]
    fn duplicates_merge_and_last_wins() {
        let (c, e) = parse("[s]\na=1\nb=2\n[t]\nx=1\n[s]\na=3\n");
        assert!(e.is_empty());
        let s = c.section("s").unwrap();
        assert_eq!(s.entries.len(), 2);
        assert_eq!(s.entries[0].key, "a");
        assert_eq!(s.entries[0].value, "3");
        assert_eq!(s.entries[0].line, 7);
        assert_eq!(c.sections.len(), 2);
    }

    #[test]
    fn no_escapes_and_headers() {
        let (c, e) = parse("[program:x]  # trailing\ncommand=echo \\x \\n\n[a]b]\n[ sp ]\n");
        assert!(e.is_empty());
        assert_eq!(
            val(&c, "program:x", "command").as_deref(),
            Some("echo \\x \\n")
        );
        assert!(c.section("a]b").is_some());
        assert!(c.section(" sp ").is_some());
        let (_, e) = parse("[s]\n[]\nnovalue\n=x\n");
        assert_eq!(e.len(), 3);
        assert_eq!(e.iter().map(|e| e.line).collect::<Vec<_>>(), vec![2, 3, 4]);
    }

    #[test]
    fn crlf_and_cr() {
        let (c, e) = parse("[s]\r\na=1\r\nb=2\rc=3");
        assert!(e.is_empty());
        assert_eq!(val(&c, "s", "a").as_deref(), Some("1"));
        assert_eq!(val(&c, "s", "b").as_deref(), Some("2"));
        assert_eq!(val(&c, "s", "c").as_deref(), Some("3"));
    }

    #[test]
    fn defaults_section() {
        let (c, _) = parse("[DEFAULT]\nautostart=false\n[s]\n");
        let s = c.section("s").unwrap();
        assert_eq!(c.get(s, "autostart").unwrap().value, "false");
        assert!(c.section("DEFAULT").is_none());
    }

    #[test]
    fn huge_value_is_bounded() {
        let text = format!("[s]\nbig={}\nok=1\n", "x".repeat(MAX_VALUE_BYTES + 10));
        let (c, e) = parse(&text);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].line, 2);
        assert_eq!(val(&c, "s", "ok").as_deref(), Some("1"));
        let mut text = String::from("[s]\nbig=x\n");
        for _ in 0..3000 {
            text.push_str("  ");
            text.push_str(&"y".repeat(500));
            text.push('\n');
        }
        let (_, e) = parse(&text);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].line, 2);
    }

    #[test]
    fn decode_rejects_nul_and_bad_utf8() {
        let e = decode(b"[s]\na=1\nb=\0\n".to_vec()).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("NUL"));
        let e = decode(b"[s]\na=1\r\nb=\xff\n".to_vec()).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("UTF-8"));
        assert!(decode("[s]\nname=é\n".as_bytes().to_vec()).is_ok());
    }
}
