//! Property tests over command-line parsing: arbitrary argv never panics
//! Python-style getopt, supervisord's or supervisorctl's option parsing;
//! well-formed option lists parse back to what was written.  256 cases per
//! property by default; set `PROPTEST_CASES` for a long run.

use proptest::prelude::*;

use super::getopt::{Spec, getopt};
use super::{dispatch, parse_daemon_args, usage_error};

/// One argument: option-like pieces, daemon flags, arbitrary Unicode.
fn arg() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("-".to_string()),
        Just("--".to_string()),
        Just("-c".to_string()),
        Just("--configuration".to_string()),
        Just("--conf=x".to_string()),
        Just("-n".to_string()),
        Just("--minprocs=9223372036854775807".to_string()),
        Just("-a18446744073709551616".to_string()),
        "-[a-zA-Z:=?]{0,4}",
        "--[a-z_=-]{0,12}",
        "--[a-z]{1,8}=[^\\x00]{0,8}",
        any::<String>(),
    ]
}

fn argv() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(arg(), 0..8)
}

proptest! {
    #[test]
    fn getopt_never_panics(
        args in argv(),
        shortopts in "[a-zA-Z:?-]{0,10}",
        longopts in prop::collection::vec("[a-z-]{0,8}=?", 0..5),
        exact in "[a-z]{0,6}=?",
    ) {
        let long: Vec<&str> = longopts.iter().map(String::as_str).collect();
        let spec = Spec::new(&shortopts, &long).with_exact_long(&exact);
        if let Ok((opts, rest)) = getopt(&args, &spec) {
            // Positional arguments are a suffix of argv.
            prop_assert!(rest.len() <= args.len());
            prop_assert_eq!(&args[args.len() - rest.len()..], &rest[..]);
            prop_assert!(opts.len() <= args.len() * 8 + 1);
        }
    }

    #[test]
    fn daemon_and_ctl_parsing_never_panic(args in argv(), argv0 in "[a-z_/]{0,20}") {
        let _ = parse_daemon_args(&args);
        let _ = dispatch(&argv0, &args);
        let cwd = std::path::Path::new("/nonexistent-proptest-cwd");
        let _ = crate::ctl::options::parse(&args, std::path::Path::new(&argv0), cwd);
        let _ = usage_error(&argv0, &args.concat());
    }

    #[test]
    fn well_formed_options_parse_back(
        items in prop::collection::vec((0usize..4, "[a-zA-Z0-9/._-]{1,10}"), 0..6),
        positional in prop::collection::vec("[a-z0-9][a-z0-9._]{0,8}", 0..3),
    ) {
        // -c VALUE, -cVALUE, --configuration=VALUE, --configuration VALUE, -n
        let spec = Spec::new("c:n", &["configuration=", "nodaemon"]);
        let mut args = Vec::new();
        let mut want = Vec::new();
        for (form, v) in &items {
            match form {
                0 => args.extend(["-c".to_string(), v.clone()]),
                1 => args.push(format!("-c{v}")),
                2 => args.push(format!("--configuration={v}")),
                _ => args.extend(["--configuration".to_string(), v.clone()]),
            }
            let name = if *form < 2 { "-c" } else { "--configuration" };
            want.push((name.to_string(), Some(v.clone())));
            args.push("-n".into());
            want.push(("-n".to_string(), None));
        }
        args.extend(positional.iter().cloned());
        let (opts, rest) = getopt(&args, &spec).map_err(|e| TestCaseError::fail(e.msg))?;
        let got: Vec<(String, Option<String>)> =
            opts.into_iter().map(|o| (o.name, o.value)).collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(rest, positional);
    }
}
