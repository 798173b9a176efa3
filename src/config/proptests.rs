//! Property tests over the config parsers: the INI scanner, every value
//! converter of `datatypes`, and `%`-expansion.  Arbitrary input never
//! panics; values a converter produces re-format and re-parse to the same
//! value.  Each property runs 256 cases by default (a few thousand in all);
//! set `PROPTEST_CASES` for a long run.

use proptest::prelude::*;

use super::datatypes as dt;
use super::expand::{Expansions, Val, expand, format, py_repr, py_repr_short};
use super::glob::{fnmatch, glob};
use super::shlex::shlex_split;
use super::source::{RawConfig, decode, scan};

/// Text biased towards what INI scanning and value parsing care about, mixed
/// with arbitrary Unicode.
fn ini_text() -> impl Strategy<Value = String> {
    let atoms = prop_oneof![
        Just("[".to_string()),
        Just("]".to_string()),
        Just("=".to_string()),
        Just(":".to_string()),
        Just(";".to_string()),
        Just("#".to_string()),
        Just(" ".to_string()),
        Just("\t".to_string()),
        Just("\n".to_string()),
        Just("\r".to_string()),
        Just("\r\n".to_string()),
        Just("%".to_string()),
        Just("%(".to_string()),
        Just(")s".to_string()),
        Just("[program:x]\n".to_string()),
        Just("[DEFAULT]\n".to_string()),
        Just("\u{1c}".to_string()),
        Just("\u{a0}".to_string()),
        "[a-z0-9_]{1,6}",
        any::<String>(),
    ];
    prop::collection::vec(atoms, 0..40).prop_map(|v| v.concat())
}

/// Strings for value converters: numbers, suffixes, names, junk.
fn value_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[-+ _0-9oOxXkKmMgGbB]{0,30}",
        any::<i64>().prop_map(|n| n.to_string()),
        "[0-9]{15,40}",
        "(SIG)?[A-Za-z0-9]{0,8}",
        "[a-z0-9.*:\\[\\]-]{0,20}",
        "[A-Za-z0-9_=,'\" #\n\\\\]{0,30}",
    ]
}

/// `PROPTEST_CASES` when set, else `default` (for the costlier properties).
fn cases(default: u32) -> ProptestConfig {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig::with_cases(n)
}

/// One generated section: a name, then unique keys with values, each value
/// one or more lines.
type GenSection = (String, Vec<(String, Vec<String>)>);

fn section_strategy() -> impl Strategy<Value = GenSection> {
    let value_line = "[A-Za-z0-9_./,+-][A-Za-z0-9_./,=:+ -]{0,15}[A-Za-z0-9_./,+-]|[A-Za-z0-9]";
    let entry = (
        "[a-z][a-z0-9_.]{0,10}",
        prop::collection::vec(value_line, 1..3),
    );
    (
        "[a-z][a-z0-9_:.-]{0,12}",
        prop::collection::vec(entry, 0..6),
    )
        .prop_map(|(name, mut entries)| {
            let mut seen = std::collections::HashSet::new();
            entries.retain(|(k, _)| seen.insert(k.clone()));
            (name, entries)
        })
}

fn render(sections: &[GenSection], sep: &str, eol: &str) -> String {
    let mut s = String::new();
    for (name, entries) in sections {
        s.push_str(&format!("[{name}]{eol}"));
        for (k, lines) in entries {
            s.push_str(&format!("{k}{sep}{}{eol}", lines.first().map_or("", |l| l)));
            for l in lines.iter().skip(1) {
                s.push_str(&format!("    {l}{eol}"));
            }
        }
        s.push_str(&format!("; a comment{eol}{eol}"));
    }
    s
}

proptest! {
    #[test]
    fn scan_never_panics(text in ini_text()) {
        let mut cfg = RawConfig::default();
        let errors = scan(&text, 0, &mut cfg);
        // Every error points at a line of the text.
        let nlines = text.split(['\n', '\r']).count().max(1);
        for e in errors {
            prop_assert!(e.line >= 1 && e.line <= nlines, "{e:?} in {text:?}");
        }
    }

    #[test]
    fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(s) = decode(bytes.clone()) {
            prop_assert_eq!(s.as_bytes(), bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes));
        }
    }

    #[test]
    fn well_formed_file_parses_back(
        sections in prop::collection::vec(section_strategy(), 0..6),
        sep in prop_oneof![Just("="), Just(" = "), Just(":"), Just(" : ")],
        eol in prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
    ) {
        // Unique section names (a repeated header merges, tested elsewhere).
        let mut seen = std::collections::HashSet::new();
        let sections: Vec<GenSection> = sections
            .into_iter()
            .filter(|(n, _)| seen.insert(n.clone()))
            .collect();
        let text = render(&sections, sep, eol);
        let mut cfg = RawConfig::default();
        let errors = scan(&text, 0, &mut cfg);
        prop_assert!(errors.is_empty(), "{errors:?}\n{text}");
        prop_assert_eq!(cfg.sections.len(), sections.len());
        for (got, (name, entries)) in cfg.sections.iter().zip(&sections) {
            prop_assert_eq!(&got.name, name);
            let got_kv: Vec<(String, String)> = got
                .entries
                .iter()
                .map(|e| (e.key.clone(), e.value.clone()))
                .collect();
            let want_kv: Vec<(String, String)> = entries
                .iter()
                .map(|(k, lines)| (k.clone(), lines.join("\n")))
                .collect();
            prop_assert_eq!(got_kv, want_kv, "{}", text);
        }
    }

    #[test]
    fn fnmatch_and_glob_never_panic(name in value_text(), pat in value_text()) {
        let _ = fnmatch(&name, &pat);
        prop_assert!(fnmatch(&name, "*"));
        // A pattern without magic characters matches itself only.
        if !pat.contains(['*', '?', '[']) {
            prop_assert!(fnmatch(&pat, &pat));
        }
        // Relative patterns that cannot name anything on disk.
        let _ = glob(&format!("/nonexistent-proptest-dir/{pat}"));
    }

    #[test]
    fn value_converters_never_panic(s in value_text()) {
        let _ = dt::py_strip(&s);
        let _ = dt::py_int(&s, 10);
        let _ = dt::py_int(&s, 8);
        let _ = dt::integer(&s);
        let _ = dt::count(&s, u64::from(u32::MAX));
        let _ = dt::integer_noted(&s);
        let _ = dt::byte_size_noted(&s);
        let _ = dt::octal_noted(&s);
        let _ = dt::boolean(&s);
        let _ = dt::byte_size(&s);
        let _ = dt::octal(&s);
        let _ = dt::logging_level(&s);
        let _ = dt::signal_number(&s);
        let _ = dt::list_of_strings(&s);
        let _ = dt::list_of_exitcodes(&s);
        let _ = dt::auto_restart(&s);
        let _ = dt::logfile_name(&s);
        let _ = dt::inet_address(&s);
        let _ = dt::process_or_group_name(&s);
        let _ = dt::owner(&s);
        let _ = dt::dict_of_key_value_pairs(&s);
        let _ = shlex_split(&s);
        let _ = dt::expanduser(&s, Some("/home/u"));
        let _ = dt::normalize_path(&s, "/cwd", Some("/home/u"));
        let _ = dt::dirname(&s);
        let _ = py_repr(&s);
        let _ = py_repr_short(&s);
    }

    #[test]
    fn integers_round_trip(n in any::<i64>(), pad in 0usize..3) {
        let ws = " ".repeat(pad);
        prop_assert_eq!(dt::py_int(&format!("{ws}{n}{ws}"), 10), Ok(n));
        let octal = if n < 0 {
            format!("-{:o}", n.unsigned_abs())
        } else {
            format!("{n:o}")
        };
        prop_assert_eq!(dt::py_int(&octal, 8), Ok(n));
        prop_assert_eq!(dt::integer(&n.to_string()), Ok(n));
        // Digit-group underscores, as Python allows.
        let grouped: String = n
            .unsigned_abs()
            .to_string()
            .chars()
            .flat_map(|c| [c, '_'])
            .collect();
        let grouped = grouped.trim_end_matches('_');
        let sign = if n < 0 { "-" } else { "" };
        prop_assert_eq!(dt::py_int(&format!("{sign}{grouped}"), 10), Ok(n));
        // A count: negative acts as 0, beyond the bound is held there, and
        // only a changed value carries a note.
        let max = u64::from(u32::MAX);
        let (c, note) = dt::count(&n.to_string(), max).expect("an integer");
        let want = if n < 0 { 0 } else { (n as u64).min(max) };
        prop_assert_eq!(c, want);
        prop_assert_eq!(note.is_some(), n < 0 || n as u64 > max);
        prop_assert_eq!(dt::integer_noted(&n.to_string()), Ok((n, None)));
        // A mode keeps its low 12 bits, two's complement for negatives.
        let (m, note) = dt::octal_noted(&octal).expect("an octal integer");
        prop_assert_eq!(i64::from(m), n & 0o7777);
        prop_assert_eq!(note.is_some(), !(0..=0o7777).contains(&n));
    }

    #[test]
    fn integers_beyond_i64_are_errors_not_panics(digits in "[1-9][0-9]{19,60}", neg in any::<bool>()) {
        let s = if neg { format!("-{digits}") } else { digits };
        let fits = s.parse::<i64>().ok();
        match fits {
            Some(n) => prop_assert_eq!(dt::py_int(&s, 10), Ok(n)),
            None => prop_assert_eq!(dt::py_int(&s, 10), Err(dt::IntError::TooLarge)),
        }
    }

    #[test]
    fn booleans_round_trip(b in any::<bool>(), form in 0usize..4, upper in prop::collection::vec(any::<bool>(), 5)) {
        let words = if b { ["yes", "true", "on", "1"] } else { ["no", "false", "off", "0"] };
        let w: String = words[form]
            .chars()
            .zip(upper.iter().cycle())
            .map(|(c, &u)| if u { c.to_ascii_uppercase() } else { c })
            .collect();
        prop_assert_eq!(dt::boolean(&w), Ok(b));
        prop_assert_eq!(dt::boolean(&b.to_string()), Ok(b));
    }

    #[test]
    fn byte_sizes_round_trip(n in 0u64..(1 << 40), suffix in 0usize..7) {
        let (suf, mult) = [("", 1u64), ("KB", 1 << 10), ("mb", 1 << 20), ("GB", 1 << 30), ("k", 1 << 10), ("M", 1 << 20), ("g", 1 << 30)][suffix];
        let s = format!("{n}{suf}");
        let v = dt::byte_size(&s);
        match n.checked_mul(mult) {
            Some(want) if i64::try_from(want).is_ok() => {
                prop_assert_eq!(v.clone(), Ok(want));
                // The value re-formats as plain bytes and parses back.
                prop_assert_eq!(dt::byte_size(&want.to_string()), Ok(want));
            }
            _ => prop_assert!(v.is_err()),
        }
    }

    #[test]
    fn octal_modes_round_trip(m in 0u32..=0o7777, prefix in any::<bool>()) {
        let s = if prefix { format!("0o{m:o}") } else { format!("0{m:o}") };
        prop_assert_eq!(dt::octal(&s), Ok(m));
        prop_assert_eq!(dt::octal(&format!("{m:o}")), Ok(m));
    }

    #[test]
    fn signals_round_trip(i in 0usize..dt::SIGNALS.len(), sig_prefix in any::<bool>(), lower in any::<bool>()) {
        let (_, n) = dt::SIGNALS[i];
        let name = dt::signal_name(n).unwrap_or("");
        let mut s = if sig_prefix { format!("SIG{name}") } else { name.to_string() };
        if lower {
            s = s.to_lowercase();
        }
        prop_assert_eq!(dt::signal_number(&s), Ok(n));
        prop_assert_eq!(dt::signal_number(&n.to_string()), Ok(n));
    }

    #[test]
    fn exit_code_lists_round_trip(codes in prop::collection::vec(0i32..=255, 1..10), spaced in any::<bool>()) {
        let sep = if spaced { ", " } else { "," };
        let s = codes.iter().map(i32::to_string).collect::<Vec<_>>().join(sep);
        prop_assert_eq!(dt::list_of_exitcodes(&s), Ok(codes));
    }

    #[test]
    fn string_lists_round_trip(items in prop::collection::vec("[a-zA-Z0-9_:.*-]{1,10}", 1..8)) {
        prop_assert_eq!(dt::list_of_strings(&items.join(",")), items.clone());
        prop_assert_eq!(dt::list_of_strings(&items.join(" , ")), items);
    }

    #[test]
    fn inet_addresses_round_trip(host in "[a-z0-9.]{0,15}", port in 1u16..=65535) {
        prop_assert_eq!(dt::inet_address(&format!("{host}:{port}")), Ok((host.clone(), port)));
        prop_assert_eq!(dt::inet_address(&port.to_string()), Ok((String::new(), port)));
    }

    #[test]
    fn key_value_pairs_round_trip(pairs in prop::collection::vec(("[A-Z_][A-Z0-9_]{0,8}", "[a-zA-Z0-9 ,=:/.-]{0,12}"), 0..6)) {
        let mut want: Vec<(String, String)> = Vec::new();
        for (k, v) in &pairs {
            match want.iter_mut().find(|(wk, _)| wk == k) {
                Some(e) => e.1 = v.clone(),
                None => want.push((k.clone(), v.clone())),
            }
        }
        let s = pairs
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect::<Vec<_>>()
            .join(",");
        prop_assert_eq!(dt::dict_of_key_value_pairs(&s), Ok(want));
    }

    #[test]
    fn shlex_split_round_trips_quoted_words(words in prop::collection::vec(any::<String>(), 0..6)) {
        // Each word in single quotes, a `'` written as '"'"'.
        let quoted: Vec<String> = words
            .iter()
            .map(|w| format!("'{}'", w.replace('\'', "'\"'\"'")))
            .collect();
        prop_assert_eq!(shlex_split(&quoted.join(" ")), Ok(words));
    }

    #[test]
    fn normpath_is_idempotent(p in "[a-z./~]{0,30}") {
        let once = dt::normpath(&p);
        prop_assert_eq!(dt::normpath(&once), once.clone());
        prop_assert!(!once.is_empty());
        let abs = dt::normalize_path(&p, "/cwd", Some("/home/u"));
        prop_assert!(abs.starts_with('/'), "{}", abs);
    }

    #[test]
    fn names_are_stripped_and_checked(s in value_text()) {
        match dt::process_or_group_name(&s) {
            Ok(n) => {
                prop_assert!(!n.is_empty() && !n.contains([' ', ':', '/']));
                prop_assert_eq!(dt::process_or_group_name(&n), Ok(n.clone()));
            }
            Err(m) => prop_assert!(m.starts_with("Invalid name")),
        }
    }

    #[test]
    fn expansion_never_panics(s in ini_text(), n in any::<i64>(), v in any::<String>()) {
        let mut map = Expansions::new();
        map.insert("program_name".into(), Val::Str(v));
        map.insert("process_num".into(), Val::Int(n));
        map.insert("here".into(), Val::Str("/etc".into()));
        let _ = format(&s, &map);
        let _ = expand(&s, &map, "command");
    }

    #[test]
    fn expansion_specs_never_panic(
        flags in "[-+ #0]{0,3}",
        width in prop_oneof![Just(String::new()), "[0-9]{1,6}", Just("*".to_string())],
        prec in prop_oneof![Just(String::new()), "\\.[0-9]{0,6}"],
        conv in "[sradiuoxXcfFeEgGhlLz%]",
        key in prop_oneof![Just("n"), Just("s"), Just("missing")],
        n in any::<i64>(),
        s in any::<String>(),
    ) {
        let mut map = Expansions::new();
        map.insert("n".into(), Val::Int(n));
        map.insert("s".into(), Val::Str(s));
        let spec = format!("%({key}){flags}{width}{prec}{conv}");
        let _ = format(&spec, &map);
        let _ = expand(&spec, &map, "x");
    }

    #[test]
    fn expansion_round_trips(s in any::<String>(), n in any::<i64>()) {
        let map: Expansions = [
            ("n".to_string(), Val::Int(n)),
            ("s".to_string(), Val::Str(s.clone())),
        ]
        .into_iter()
        .collect();
        // `%%` is a literal `%`, and text without `%` is unchanged.
        prop_assert_eq!(format(&s.replace('%', "%%"), &map), Ok(s.clone()));
        prop_assert_eq!(format("%(n)d", &map), Ok(n.to_string()));
        prop_assert_eq!(format("%(s)s", &map), Ok(s.clone()));
        prop_assert_eq!(format("%(n)s", &map), Ok(n.to_string()));
    }
}

proptest! {
    #![proptest_config(cases(64))]

    /// The whole load (scan, expansion, every converter, cross-checks) on
    /// files mixing valid options with arbitrary values.
    #[test]
    fn load_never_panics(
        values in prop::collection::vec(value_text(), 12),
        extra in ini_text(),
    ) {
        let keys = [
            "numprocs", "numprocs_start", "priority", "startsecs", "startretries",
            "stopwaitsecs", "stopsignal", "exitcodes", "umask", "stdout_logfile_maxbytes",
            "stderr_logfile_backups", "environment",
        ];
        let mut text = String::from("[supervisord]\nlogfile=/dev/null\n[program:x]\ncommand=/bin/true\n");
        for (k, v) in keys.iter().zip(&values) {
            // One line per value: an embedded newline would start a new option.
            let v: String = v.chars().map(|c| if c == '\n' || c == '\r' { ' ' } else { c }).collect();
            text.push_str(&format!("{k}={v}\n"));
        }
        text.push_str(&extra);
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let path = dir.path().join("supervisord.conf");
        std::fs::write(&path, &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let opts = super::LoadOptions {
            env: vec![("HOME".into(), "/root".into()), ("PATH".into(), "/bin".into())],
            host_node_name: "node1".into(),
            check_host: false,
            overrides: super::Overrides::default(),
        };
        if let Err(diags) = super::load(&path, &opts) {
            for d in diags {
                // Every error is located.
                prop_assert!(d.line.is_some() || d.file.is_some() || d.section.is_some(), "{d:?}");
            }
        }
    }
}
