//! Unit tests of `log_prefix` and `log_format`: values, defaults,
//! expansions and every error, located at file:line, section and option.

use crate::config::{Config, Diagnostic, LoadOptions, LogFormat, Severity, load};

fn try_load(text: &str) -> Result<crate::config::Loaded, Vec<Diagnostic>> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("supervisord.conf");
    std::fs::write(&p, text).unwrap();
    let opts = LoadOptions::from_process(Default::default(), false);
    load(&p, &opts)
}

fn ok(text: &str) -> Config {
    match try_load(text) {
        Ok(l) => l.config,
        Err(d) => panic!("{:?}", d.iter().map(|d| d.to_string()).collect::<Vec<_>>()),
    }
}

fn errors(text: &str) -> Vec<String> {
    match try_load(text) {
        Ok(_) => panic!("no error for:\n{text}"),
        Err(d) => d
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| d.to_string())
            .collect(),
    }
}

/// Exactly one error for `text`, and it says `want`.
fn the_error(text: &str, want: &str) {
    let e = errors(text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains(want), "{e:?}");
}

#[test]
fn defaults_are_text_without_prefix() {
    let c = ok("[supervisord]\n[program:x]\ncommand=/bin/true\n");
    assert_eq!(c.supervisord.log_format, LogFormat::Text);
    let p = &c.groups[0].processes[0];
    assert_eq!(p.lines.format, LogFormat::Text);
    assert_eq!(p.lines.prefix, None);
    assert!(!p.lines.by_line());
}

#[test]
fn prefix_expands_program_names_and_channel_per_process() {
    let c = ok(
        "[supervisord]\n[program:web]\ncommand=/bin/true\nnumprocs=2\n\
                process_name=%(program_name)s_%(process_num)d\n\
                log_prefix=\"%(process_name)s/%(group_name)s/%(channel)s %(ENV_HOME)s| \"\n",
    );
    let home = std::env::var("HOME").unwrap_or_default();
    let p = &c.groups[0].processes;
    assert_eq!(
        p[1].lines.prefix,
        Some([
            format!("web_1/web/stdout {home}| "),
            format!("web_1/web/stderr {home}| ")
        ])
    );
    assert!(p[0].lines.by_line());
    assert_eq!(p[0].lines.format, LogFormat::Text);
}

#[test]
fn an_empty_prefix_asks_for_whole_lines() {
    for v in ["", "\"\""] {
        let c = ok(&format!(
            "[supervisord]\n[program:x]\ncommand=/bin/true\nlog_prefix={v}\n"
        ));
        let p = &c.groups[0].processes[0];
        assert_eq!(p.lines.prefix, Some([String::new(), String::new()]));
        assert!(p.lines.by_line());
    }
}

#[test]
fn program_log_format_defaults_to_supervisords() {
    let c = ok(
        "[supervisord]\nlog_format=JSON\n[program:a]\ncommand=/bin/true\n\
                [program:b]\ncommand=/bin/true\nlog_format=text\n",
    );
    assert_eq!(c.supervisord.log_format, LogFormat::Json);
    let a = c.groups.iter().find(|g| g.name == "a").unwrap();
    let b = c.groups.iter().find(|g| g.name == "b").unwrap();
    assert_eq!(a.processes[0].lines.format, LogFormat::Json);
    assert!(a.processes[0].lines.by_line());
    assert_eq!(b.processes[0].lines.format, LogFormat::Text);
    // And the other way round.
    let c = ok("[supervisord]\n[program:a]\ncommand=/bin/true\nlog_format=json\n");
    assert_eq!(c.supervisord.log_format, LogFormat::Text);
    assert_eq!(c.groups[0].processes[0].lines.format, LogFormat::Json);
}

#[test]
fn bad_log_format_is_located() {
    the_error(
        "[supervisord]\nlog_format=yaml\n",
        "supervisord.conf:2: [supervisord] log_format: 'yaml' is not one of text, json",
    );
    // Reported once, not per process.
    the_error(
        "[supervisord]\n[program:x]\ncommand=/bin/true\nnumprocs=3\n\
         process_name=x%(process_num)d\nlog_format=xml\n",
        ":6: [program:x] log_format: 'xml' is not one of text, json",
    );
}

#[test]
fn unknown_expansion_in_prefix_is_located() {
    let e = errors(
        "[supervisord]\n[program:x]\ncommand=/bin/true\nnumprocs=2\n\
         process_name=x%(process_num)d\nlog_prefix=%(nope)s \n",
    );
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains(":6: [program:x] log_prefix: Format string '%(nope)s'"),
        "{e:?}"
    );
    assert!(e[0].contains("'nope'") && e[0].contains("channel"), "{e:?}");
    the_error(
        "[supervisord]\n[program:x]\ncommand=/bin/true\nlog_prefix=%(program_name)\n",
        "is badly formatted",
    );
}

#[test]
fn a_line_break_in_the_prefix_is_an_error() {
    the_error(
        "[supervisord]\n[program:x]\ncommand=/bin/true\nlog_prefix=a\n  b\n",
        ":4: [program:x] log_prefix: log_prefix must not contain a line break",
    );
}

#[test]
fn keys_are_no_longer_reported_as_not_implemented() {
    let l = try_load(
        "[supervisord]\nlog_format=json\n[program:x]\ncommand=/bin/true\n\
         log_prefix=x \nlog_format=text\n",
    )
    .unwrap();
    let w: Vec<String> = l.warnings.iter().map(|d| d.to_string()).collect();
    assert!(!w.iter().any(|w| w.contains("log_")), "{w:?}");
}
