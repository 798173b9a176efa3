//! A faithful port of Python's `getopt.getopt` (not `gnu_getopt`).
//!
//! Supervisor parses both `supervisord` and `supervisorctl` arguments with
//! it, and real Dockerfiles depend on its conventions: clustered flags
//! (`-nc FILE`), glued values (`-cFILE`), `--long=value` and `--long value`,
//! and unique-prefix abbreviations of long options (`--config=FILE`).
//! Scanning stops at the first argument that is not an option (a lone `-`
//! counts as a non-option) or right after `--`; the rest are returned as
//! positional arguments.  Error messages are the ones Python prints, because
//! users see them verbatim after `Error: `.
//!
//! Why hand-written: no crate parses like Python's `getopt`.  The `getopts`
//! crate (checked against its 0.2.24 source) finds a long option only by
//! its full name or a declared alias (`find_opt` compares names exactly),
//! so `--config=FILE`, which Supervisor takes for `--configuration`, is
//! refused; and by default (`ParsingStyle::FloatingFrees`) it goes on
//! reading options after the first positional argument, where Python stops,
//! so `supervisorctl status -h` would lose the `-h` meant for `status`.
//! Argument-parser crates such as clap word their own errors, and ours must
//! print Python's.
//!
//! One extension: a long option can be marked *exact*, so it is recognised
//! only when spelled in full and never takes part in prefix matching.  That
//! lets us add options of our own without making an abbreviation that the
//! reference accepts ambiguous.

use std::fmt;

/// One option found on the command line, in command-line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt {
    /// The option as Python reports it: `-c` or the full long name
    /// `--configuration`, even when an abbreviation was typed.
    pub name: String,
    /// `None` for options that take no argument.  An option that takes an
    /// argument may still have an empty one (`--configuration=`).
    pub value: Option<String>,
}

/// A usage error, worded as Python's `getopt.GetoptError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetoptError {
    /// The full message, e.g. `option -x not recognized`.
    pub msg: String,
    /// The option involved, without dashes (Python's `GetoptError.opt`).
    pub opt: String,
}

impl fmt::Display for GetoptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for GetoptError {}

fn error(msg: String, opt: &str) -> GetoptError {
    GetoptError {
        msg,
        opt: opt.to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct LongOpt {
    name: String,
    has_arg: bool,
    /// Recognised only when spelled in full.
    exact: bool,
}

/// The options a program accepts, in Python's notation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// `(letter, takes_argument)`, first occurrence first.
    short: Vec<(char, bool)>,
    long: Vec<LongOpt>,
}

impl Spec {
    /// `shortopts` is Python's string (`"c:nh"`: a letter followed by `:`
    /// takes an argument); each `longopts` entry is a name, followed by `=`
    /// if it takes an argument (`"configuration="`), without leading dashes.
    pub fn new(shortopts: &str, longopts: &[&str]) -> Spec {
        let chars: Vec<char> = shortopts.chars().collect();
        let mut short = Vec::new();
        for (i, &c) in chars.iter().enumerate() {
            // As in Python's short_has_arg, `:` itself is never an option.
            if c != ':' {
                short.push((c, chars.get(i + 1) == Some(&':')));
            }
        }
        let long = longopts.iter().map(|s| parse_long(s, false)).collect();
        Spec { short, long }
    }

    /// Add a long option (same notation as in [`Spec::new`]) that must be
    /// typed in full: it never matches, nor competes with, an abbreviation.
    pub fn with_exact_long(mut self, longopt: &str) -> Spec {
        self.long.push(parse_long(longopt, true));
        self
    }

    fn short_has_arg(&self, c: char) -> Result<bool, GetoptError> {
        self.short
            .iter()
            .find(|(letter, _)| *letter == c)
            .map(|&(_, has_arg)| has_arg)
            .ok_or_else(|| error(format!("option -{c} not recognized"), &c.to_string()))
    }

    /// Python's `long_has_args`: resolve a possibly abbreviated name to the
    /// full name and whether it takes an argument.
    fn long_has_arg(&self, opt: &str) -> Result<(bool, String), GetoptError> {
        let possibilities: Vec<&LongOpt> = self
            .long
            .iter()
            .filter(|o| {
                if o.exact {
                    o.name == opt
                } else {
                    o.name.starts_with(opt)
                }
            })
            .collect();
        if possibilities.is_empty() {
            return Err(error(format!("option --{opt} not recognized"), opt));
        }
        // An exact spelling wins over longer names it is a prefix of; the
        // argument-less form is checked first, as Python does.
        if possibilities.iter().any(|o| o.name == opt && !o.has_arg) {
            return Ok((false, opt.to_string()));
        }
        if possibilities.iter().any(|o| o.name == opt && o.has_arg) {
            return Ok((true, opt.to_string()));
        }
        match possibilities.as_slice() {
            [only] => Ok((only.has_arg, only.name.clone())),
            _ => Err(error(format!("option --{opt} not a unique prefix"), opt)),
        }
    }
}

fn parse_long(spec: &str, exact: bool) -> LongOpt {
    match spec.strip_suffix('=') {
        Some(name) => LongOpt {
            name: name.to_string(),
            has_arg: true,
            exact,
        },
        None => LongOpt {
            name: spec.to_string(),
            has_arg: false,
            exact,
        },
    }
}

/// Parse `args` (without the program name) the way Python's
/// `getopt.getopt(args, shortopts, longopts)` does.  Returns the options in
/// order and the remaining positional arguments.
pub fn getopt(args: &[String], spec: &Spec) -> Result<(Vec<Opt>, Vec<String>), GetoptError> {
    let mut opts = Vec::new();
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        if !arg.starts_with('-') || arg == "-" {
            break;
        }
        i += 1;
        if arg == "--" {
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (long, None),
            };
            let (has_arg, full) = spec.long_has_arg(name)?;
            let value = if has_arg {
                match inline {
                    Some(v) => Some(v.to_string()),
                    None => {
                        let next = args.get(i).ok_or_else(|| {
                            error(format!("option --{full} requires argument"), &full)
                        })?;
                        i += 1;
                        Some(next.clone())
                    }
                }
            } else if inline.is_some() {
                return Err(error(
                    format!("option --{full} must not have an argument"),
                    &full,
                ));
            } else {
                None
            };
            opts.push(Opt {
                name: format!("--{full}"),
                value,
            });
        } else {
            // A cluster of short options: `-nc FILE`, `-cFILE`.
            let cluster = &arg[1..];
            for (pos, c) in cluster.char_indices() {
                if !spec.short_has_arg(c)? {
                    opts.push(Opt {
                        name: format!("-{c}"),
                        value: None,
                    });
                    continue;
                }
                let rest = &cluster[pos + c.len_utf8()..];
                let value = if rest.is_empty() {
                    let next = args.get(i).ok_or_else(|| {
                        error(format!("option -{c} requires argument"), &c.to_string())
                    })?;
                    i += 1;
                    next.clone()
                } else {
                    rest.to_string()
                };
                opts.push(Opt {
                    name: format!("-{c}"),
                    value: Some(value),
                });
                break;
            }
        }
    }
    Ok((opts, args[i..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    fn spec() -> Spec {
        Spec::new(
            "hc:nv?",
            &[
                "help",
                "configuration=",
                "nodaemon",
                "version",
                "childlogdir=",
                "minfds=",
            ],
        )
    }

    /// Parse and render as Python's `(opts, args)` would print, for compact
    /// assertions: `-c=FILE -n | rest`.
    fn run(args: &[&str]) -> Result<String, String> {
        let (opts, rest) = getopt(&argv(args), &spec()).map_err(|e| e.msg)?;
        let mut out: Vec<String> = opts
            .into_iter()
            .map(|o| match o.value {
                Some(v) => format!("{}={}", o.name, v),
                None => o.name,
            })
            .collect();
        out.push("|".to_string());
        out.extend(rest);
        Ok(out.join(" "))
    }

    #[test]
    fn short_value_forms() {
        assert_eq!(run(&["-c", "f"]), Ok("-c=f |".into()));
        assert_eq!(run(&["-cf"]), Ok("-c=f |".into()));
        assert_eq!(run(&["-c/etc/s.conf"]), Ok("-c=/etc/s.conf |".into()));
        // The value is taken verbatim, even if it looks like an option.
        assert_eq!(run(&["-c", "-n"]), Ok("-c=-n |".into()));
        assert_eq!(run(&["-c", "--"]), Ok("-c=-- |".into()));
        assert_eq!(run(&["-c", ""]), Ok("-c= |".into()));
    }

    #[test]
    fn clustering() {
        assert_eq!(run(&["-nc", "f"]), Ok("-n -c=f |".into()));
        assert_eq!(run(&["-ncf"]), Ok("-n -c=f |".into()));
        assert_eq!(run(&["-nvh"]), Ok("-n -v -h |".into()));
        // Everything after a value-taking letter is its value.
        assert_eq!(run(&["-cnv"]), Ok("-c=nv |".into()));
        assert_eq!(run(&["-n?"]), Ok("-n -? |".into()));
    }

    #[test]
    fn long_value_forms() {
        assert_eq!(
            run(&["--configuration=f"]),
            Ok("--configuration=f |".into())
        );
        assert_eq!(
            run(&["--configuration", "f"]),
            Ok("--configuration=f |".into())
        );
        assert_eq!(run(&["--configuration="]), Ok("--configuration= |".into()));
        // Only the first `=` splits.
        assert_eq!(
            run(&["--configuration=a=b"]),
            Ok("--configuration=a=b |".into())
        );
        assert_eq!(run(&["--nodaemon"]), Ok("--nodaemon |".into()));
    }

    #[test]
    fn long_prefixes() {
        assert_eq!(run(&["--config=x"]), Ok("--configuration=x |".into()));
        assert_eq!(run(&["--co", "x"]), Ok("--configuration=x |".into()));
        assert_eq!(run(&["--ch=/d"]), Ok("--childlogdir=/d |".into()));
        assert_eq!(run(&["--nod"]), Ok("--nodaemon |".into()));
        assert_eq!(
            run(&["--c=x"]),
            Err("option --c not a unique prefix".into())
        );
        // `--=x` is the empty prefix: it matches every long option.
        assert_eq!(run(&["--=x"]), Err("option -- not a unique prefix".into()));
        assert_eq!(
            run(&["--config"]),
            Err("option --configuration requires argument".into())
        );
        assert_eq!(
            run(&["--nod=1"]),
            Err("option --nodaemon must not have an argument".into())
        );
    }

    #[test]
    fn exact_match_beats_longer_names() {
        let s = Spec::new("", &["foo", "foobar", "bar=", "barbaz"]);
        let (o, _) = getopt(&argv(&["--foo"]), &s).unwrap();
        assert_eq!(o[0].name, "--foo");
        let (o, _) = getopt(&argv(&["--bar", "v"]), &s).unwrap();
        assert_eq!(
            o[0],
            Opt {
                name: "--bar".into(),
                value: Some("v".into())
            }
        );
        assert_eq!(
            getopt(&argv(&["--fo"]), &s).unwrap_err().msg,
            "option --fo not a unique prefix"
        );
    }

    #[test]
    fn exact_only_long_options() {
        let s = Spec::new("", &["childlogdir="]).with_exact_long("check");
        // The added option does not make `--ch` ambiguous ...
        let (o, _) = getopt(&argv(&["--ch", "/d"]), &s).unwrap();
        assert_eq!(o[0].name, "--childlogdir");
        // ... is found when spelled in full ...
        let (o, _) = getopt(&argv(&["--check"]), &s).unwrap();
        assert_eq!(
            o[0],
            Opt {
                name: "--check".into(),
                value: None
            }
        );
        // ... and never by abbreviation.
        assert_eq!(
            getopt(&argv(&["--chec"]), &s).unwrap_err().msg,
            "option --chec not recognized"
        );
        assert_eq!(
            getopt(&argv(&["--check=1"]), &s).unwrap_err().msg,
            "option --check must not have an argument"
        );
    }

    #[test]
    fn errors_are_worded_like_python() {
        assert_eq!(run(&["-x"]), Err("option -x not recognized".into()));
        assert_eq!(run(&["-nx"]), Err("option -x not recognized".into()));
        assert_eq!(run(&["-c"]), Err("option -c requires argument".into()));
        assert_eq!(run(&["-nc"]), Err("option -c requires argument".into()));
        assert_eq!(
            run(&["--bogus"]),
            Err("option --bogus not recognized".into())
        );
        // `:` is never an option letter, even though it is in the string.
        assert_eq!(run(&["-:"]), Err("option -: not recognized".into()));
        let e = getopt(&argv(&["--bogus=1"]), &spec()).unwrap_err();
        assert_eq!(e.opt, "bogus");
        assert_eq!(e.to_string(), "option --bogus not recognized");
    }

    #[test]
    fn stops_at_first_non_option() {
        assert_eq!(run(&["foo", "-n"]), Ok("| foo -n".into()));
        assert_eq!(run(&["-n", "foo", "-v"]), Ok("-n | foo -v".into()));
        assert_eq!(run(&["-n", "-", "-v"]), Ok("-n | - -v".into()));
        assert_eq!(run(&["-n", "--", "-v"]), Ok("-n | -v".into()));
        // Only the first `--` is consumed.
        assert_eq!(run(&["--", "--"]), Ok("| --".into()));
        assert_eq!(run(&[]), Ok("|".into()));
        // An unknown option after the stop point is not an error.
        assert_eq!(run(&["x", "-z"]), Ok("| x -z".into()));
    }

    #[test]
    fn repeated_options_are_all_reported_in_order() {
        assert_eq!(
            run(&["-c", "a", "--configuration=b", "-n", "-n"]),
            Ok("-c=a --configuration=b -n -n |".into())
        );
    }

    #[test]
    fn non_ascii_letters_and_values() {
        let s = Spec::new("é:n", &["naïve"]);
        let (o, _) = getopt(&argv(&["-néval"]), &s).unwrap();
        assert_eq!(
            o[1],
            Opt {
                name: "-é".into(),
                value: Some("val".into())
            }
        );
        let (o, _) = getopt(&argv(&["--na"]), &s).unwrap();
        assert_eq!(o[0].name, "--naïve");
        assert_eq!(
            getopt(&argv(&["-ü"]), &s).unwrap_err().msg,
            "option -ü not recognized"
        );
        let (o, _) = getopt(&argv(&["-n", "--naïve"]), &s).unwrap();
        assert_eq!(o.len(), 2);
    }

    #[test]
    fn first_declaration_of_a_short_letter_wins() {
        let s = Spec::new("aa:", &[]);
        let (o, rest) = getopt(&argv(&["-a", "x"]), &s).unwrap();
        assert_eq!(
            o,
            vec![Opt {
                name: "-a".into(),
                value: None
            }]
        );
        assert_eq!(rest, vec!["x".to_string()]);
    }
}
