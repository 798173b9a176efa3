//! Configuration: read `supervisord.conf` (+ includes), expand, convert and
//! validate every option, reporting every problem with file, line, section
//! and option.  The result is the typed [`Config`].

mod build;
pub mod datatypes;
pub mod diagnostic;
pub mod expand;
pub mod glob;
pub mod options;
mod os;
#[cfg(test)]
mod proptests;
pub mod shlex;
pub mod source;
#[cfg(test)]
mod tests;
pub mod types;
pub use types::*;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use build::Ctx;
use os::ReadError;
use source::RawConfig;

#[cfg(test)]
use build::EVENT_TYPES;
pub use diagnostic::{Diagnostic, Severity};
pub use options::{LoadOptions, Loaded, Overrides};
use source::MAX_FILE_BYTES;

/// Load and validate a supervisord config.  On failure every diagnostic
/// (errors and warnings) is returned; nothing is partially applied.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Loaded, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut infos = Vec::new();
    let cwd = os::current_dir();
    let home = home_of(opts);
    let root = datatypes::normalize_path(&path.to_string_lossy(), &cwd, home.as_deref());
    let here = datatypes::dirname(&root).to_string();
    let mut raw = RawConfig::default();
    if !read_into(&mut raw, Path::new(&root), path, true, &mut diags) {
        return Err(diags);
    }
    let mut files_read = vec![PathBuf::from(&root)];

    let has_include = raw.section("include").is_some();
    if has_include {
        files_read.extend(includes(&mut raw, &here, opts, &mut diags, &mut infos));
        // `%(here)s` is replaced textually by the directory of the file that
        // defines the value (Supervisor's `expand_here`).
        let dirs: Vec<String> = raw
            .files
            .iter()
            .map(|f| datatypes::dirname(&f.to_string_lossy()).to_string())
            .collect();
        let all = raw.sections.iter_mut().chain(raw.defaults.as_mut());
        for sec in all {
            for e in &mut sec.entries {
                if e.value.contains("%(here)s")
                    && let Some(d) = dirs.get(e.file)
                {
                    e.value = e.value.replace("%(here)s", d);
                }
            }
        }
    }

    let mut ctx = Ctx::new(&raw, opts, here);
    if raw.section("supervisord").is_none() {
        ctx.diags.push(Diagnostic {
            severity: Severity::Error,
            file: Some(PathBuf::from(&root)),
            line: None,
            section: None,
            option: None,
            value: None,
            message: ".ini file does not include supervisord section".into(),
        });
    }
    let supervisord = ctx.supervisord();
    let rpcinterfaces = ctx.rpcinterfaces();
    let groups = ctx.groups();
    ctx.check_depends(&groups);
    let (unix_http_servers, inet_http_servers) = ctx.servers();
    let health_server = ctx.health_server();
    // supervisord does not read [supervisorctl]: its problems are warnings here.
    let supervisorctl = raw.section("supervisorctl").map(|sec| {
        let before = ctx.diags.len();
        let ctl = ctx.ctl(sec);
        for d in ctx.diags.iter_mut().skip(before) {
            d.severity = Severity::Warning;
        }
        ctl
    });
    ctx.ctlplugins();
    ctx.unknown_sections();
    diags.append(&mut ctx.diags);
    infos.append(&mut ctx.infos);
    let diags = dedupe(diags);
    if diags.iter().any(|d| d.severity == Severity::Error) {
        return Err(diags);
    }
    Ok(Loaded {
        config: Config {
            file: PathBuf::from(&root),
            supervisord,
            unix_http_servers,
            inet_http_servers,
            health_server,
            supervisorctl,
            groups,
            rpcinterfaces,
            files_read,
        },
        warnings: diags,
        infos,
    })
}

/// Load `[supervisorctl]` for supervisorctl: the one file (supervisorctl reads
/// no includes), without requiring `[supervisord]`.  Returns the section and
/// warnings; a file without `[supervisorctl]` is an error, as in Supervisor.
pub fn load_ctl(
    path: &Path,
    opts: &LoadOptions,
) -> Result<(Option<Ctl>, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let cwd = os::current_dir();
    let home = home_of(opts);
    let root = datatypes::normalize_path(&path.to_string_lossy(), &cwd, home.as_deref());
    let here = datatypes::dirname(&root).to_string();
    let mut raw = RawConfig::default();
    if !read_into(&mut raw, Path::new(&root), path, true, &mut diags) {
        return Err(diags);
    }
    let Some(sec) = raw.section("supervisorctl") else {
        diags.push(Diagnostic {
            severity: Severity::Error,
            file: Some(PathBuf::from(&root)),
            line: None,
            section: None,
            option: None,
            value: None,
            message: ".ini file does not include supervisorctl section".into(),
        });
        return Err(diags);
    };
    let mut ctx = Ctx::new(&raw, opts, here);
    let ctl = ctx.ctl(sec);
    ctx.ctlplugins();
    diags.append(&mut ctx.diags);
    let diags = dedupe(diags);
    if diags.iter().any(|d| d.severity == Severity::Error) {
        return Err(diags);
    }
    Ok((Some(ctl), diags))
}

/// Supervisor's search order when `-c` is not given.
pub fn find_config_file(argv0: &Path, cwd: &Path) -> Option<PathBuf> {
    let a0 = argv0.to_string_lossy();
    let here = datatypes::dirname(datatypes::dirname(&a0)).to_string();
    let join = |base: &str, rest: &str| -> PathBuf {
        if base.is_empty() {
            PathBuf::from(rest)
        } else {
            Path::new(base).join(rest)
        }
    };
    let candidates = [
        join(&here, "etc/supervisord.conf"),
        join(&here, "supervisord.conf"),
        PathBuf::from("supervisord.conf"),
        PathBuf::from("etc/supervisord.conf"),
        PathBuf::from("/etc/supervisord.conf"),
        PathBuf::from("/etc/supervisor/supervisord.conf"),
    ];
    candidates
        .into_iter()
        .map(|p| if p.is_absolute() { p } else { cwd.join(p) })
        .find(|p| os::exists(p))
}

fn home_of(opts: &LoadOptions) -> Option<String> {
    opts.env
        .iter()
        .find(|(k, _)| k == "HOME")
        .map(|(_, v)| v.clone())
}

fn file_error(file: &Path, line: Option<usize>, message: String) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        file: Some(file.to_path_buf()),
        line,
        section: None,
        option: None,
        value: None,
        message,
    }
}

/// Read and scan one file into `raw`.  For the root (`root`), any failure
/// is an error; returns false when nothing could be read.
fn read_into(
    raw: &mut RawConfig,
    path: &Path,
    shown: &Path,
    root: bool,
    diags: &mut Vec<Diagnostic>,
) -> bool {
    let bytes = match os::read_file(path, !root, MAX_FILE_BYTES) {
        Ok(b) => b,
        Err(e) => {
            let msg = match e {
                ReadError::NotFound => format!("could not find config file {}", shown.display()),
                ReadError::NotRegular(kind) => {
                    format!(
                        "could not read config file {}: it is {kind}",
                        shown.display()
                    )
                }
                ReadError::TooLarge => format!(
                    "config file {} is larger than {} bytes (16 MiB), the most we read",
                    shown.display(),
                    MAX_FILE_BYTES
                ),
                ReadError::Io(why) => {
                    format!("could not read config file {}: {why}", shown.display())
                }
            };
            diags.push(file_error(path, None, msg));
            return false;
        }
    };
    let text = match source::decode(bytes) {
        Ok(t) => t,
        Err(e) => {
            diags.push(file_error(path, Some(e.line), e.message));
            return false;
        }
    };
    raw.files.push(path.to_path_buf());
    let idx = raw.files.len() - 1;
    for e in source::scan(&text, idx, raw) {
        diags.push(file_error(path, Some(e.line), e.message));
    }
    true
}

/// Process the root file's `[include]`; returns the files read.
fn includes(
    raw: &mut RawConfig,
    here: &str,
    opts: &LoadOptions,
    diags: &mut Vec<Diagnostic>,
    infos: &mut Vec<String>,
) -> Vec<PathBuf> {
    let mut read = Vec::new();
    let Some(sec) = raw.section("include") else {
        return read;
    };
    let root = raw.files.first().cloned().unwrap_or_default();
    let Some(entry) = raw.get(sec, "files").cloned() else {
        diags.push(Diagnostic {
            severity: Severity::Error,
            file: Some(root),
            line: Some(sec.line),
            section: Some("include".into()),
            option: None,
            value: None,
            message: ".ini file has [include] section, but no files setting".into(),
        });
        return read;
    };
    let mut exp = expand::Expansions::new();
    for (k, v) in &opts.env {
        exp.insert(format!("ENV_{k}"), expand::Val::Str(v.clone()));
    }
    exp.insert("here".into(), expand::Val::Str(here.to_string()));
    exp.insert(
        "host_node_name".into(),
        expand::Val::Str(opts.host_node_name.clone()),
    );
    let value = entry.value.replace("%(here)s", here);
    let files = match expand::expand(&value, &exp, "include.files") {
        Ok(v) => v,
        Err(msg) => {
            diags.push(Diagnostic {
                severity: Severity::Error,
                file: Some(root),
                line: Some(entry.line),
                section: Some("include".into()),
                option: Some("files".into()),
                value: Some(entry.value.chars().take(200).collect()),
                message: msg,
            });
            return read;
        }
    };
    for pattern in files.split(datatypes::py_isspace).filter(|p| !p.is_empty()) {
        let full = if pattern.starts_with('/') {
            pattern.to_string()
        } else if here.ends_with('/') {
            format!("{here}{pattern}")
        } else {
            format!("{here}/{pattern}")
        };
        let mut matches = glob::glob(&full);
        if matches.is_empty() {
            diags.push(Diagnostic {
                severity: Severity::Warning,
                file: Some(root.clone()),
                line: Some(entry.line),
                section: Some("include".into()),
                option: Some("files".into()),
                value: Some(pattern.to_string()),
                message: format!("No file matches via include \"{full}\""),
            });
            continue;
        }
        matches.sort();
        for m in matches {
            infos.push(format!("Included extra file \"{m}\" during parsing"));
            let p = PathBuf::from(&m);
            match os::read_file(&p, true, MAX_FILE_BYTES) {
                Ok(bytes) => match source::decode(bytes) {
                    Ok(text) => {
                        raw.files.push(p.clone());
                        let idx = raw.files.len() - 1;
                        for e in source::scan(&text, idx, raw) {
                            diags.push(file_error(&p, Some(e.line), e.message));
                        }
                        read.push(p);
                    }
                    Err(e) => diags.push(file_error(&p, Some(e.line), e.message)),
                },
                Err(e) => {
                    let why = match e {
                        ReadError::NotFound => "it does not exist".to_string(),
                        ReadError::NotRegular(kind) => format!("it is {kind}, not a regular file"),
                        ReadError::TooLarge => {
                            format!("it is larger than {MAX_FILE_BYTES} bytes (16 MiB)")
                        }
                        ReadError::Io(why) => why,
                    };
                    diags.push(Diagnostic {
                        severity: Severity::Warning,
                        file: Some(root.clone()),
                        line: Some(entry.line),
                        section: Some("include".into()),
                        option: Some("files".into()),
                        value: Some(m.clone()),
                        message: format!("included file \"{m}\" is skipped: {why}"),
                    });
                }
            }
        }
    }
    read
}

/// Drop repeated diagnostics (one per process of a numprocs program), and
/// keep only the first error for one option line (Supervisor stops at it).
fn dedupe(diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen = HashSet::new();
    let mut located = HashSet::new();
    diags
        .into_iter()
        .filter(|d| {
            if d.severity == Severity::Error && d.line.is_some() && d.option.is_some() {
                let key = (d.file.clone(), d.line, d.section.clone(), d.option.clone());
                if !located.insert(key) {
                    return false;
                }
            }
            let sev = if d.severity == Severity::Error {
                "E"
            } else {
                "W"
            };
            seen.insert(format!("{sev}{d}"))
        })
        .collect()
}
