//! `log_prefix` and `log_format` (SPEC Part B): how each line of a
//! program's output, and of the daemon's own log, is written.

use super::ctx::Ctx;
use crate::config::expand::{Expansions, Val, expand, py_repr_short};
use crate::config::source::Section;
use crate::config::types::{LineFormat, LogFormat};

/// `log_format`: `text` or `json` (any case).
pub fn log_format(s: &str) -> Result<LogFormat, String> {
    match s.trim().to_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(format!("{} is not one of text, json", py_repr_short(s))),
    }
}

/// A value in double quotes loses them, so that a prefix may end with a
/// space (the config reader strips spaces around values).
fn unquote(v: &str) -> &str {
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
}

impl<'a> Ctx<'a> {
    /// `[supervisord] log_format`, reported when wrong.
    pub(super) fn sd_log_format(&mut self, sec: &'a Section, exp: &Expansions) -> LogFormat {
        self.conv(sec, "log_format", "text", exp, log_format)
            .unwrap_or_default()
    }

    /// A program's default `log_format`: `[supervisord]`'s, read again
    /// quietly (its errors are reported with that section).
    fn default_log_format(&self) -> LogFormat {
        let Some(sec) = self.raw.section("supervisord") else {
            return LogFormat::Text;
        };
        let Some(raw) = self.get_raw(sec, "log_format") else {
            return LogFormat::Text;
        };
        let mut exp = self.env_exp.clone();
        exp.insert("here".into(), Val::Str(self.here.clone()));
        expand(&raw, &exp, "supervisord.log_format")
            .ok()
            .and_then(|v| log_format(&v).ok())
            .unwrap_or_default()
    }

    /// One process's `log_prefix` (in optional double quotes, expanded
    /// with the program's names, `%(process_name)s` and `%(channel)s`) and
    /// `log_format`.  Errors are reported once per
    /// section even when `numprocs` builds many processes.
    pub(super) fn line_format(&mut self, sec: &'a Section, exp: &Expansions) -> LineFormat {
        let before = self.diags.len();
        let format = match self.entry(sec, "log_format") {
            Some(_) => self
                .conv(sec, "log_format", "text", exp, log_format)
                .unwrap_or_default(),
            None => self.default_log_format(),
        };
        let prefix = self.get_raw(sec, "log_prefix").and_then(|raw| {
            let raw = unquote(&raw);
            let mut exp = exp.clone();
            // The name as process.rs builds it (its errors are reported there).
            let name_raw = self
                .get_raw(sec, "process_name")
                .unwrap_or_else(|| "%(program_name)s".into());
            if let Ok(name) = expand(name_raw.trim(), &exp, "process_name") {
                exp.insert("process_name".into(), Val::Str(name));
            }
            let mut both = [String::new(), String::new()];
            for (slot, channel) in both.iter_mut().zip(["stdout", "stderr"]) {
                exp.insert("channel".into(), Val::Str(channel.into()));
                let at = self.at(sec, "log_prefix");
                match expand(raw, &exp, "log_prefix") {
                    Ok(v) if v.contains(['\n', '\r']) => {
                        self.error(
                            at,
                            Some("log_prefix"),
                            "log_prefix must not contain a line break (each line of output gets it)"
                                .into(),
                        );
                        return None;
                    }
                    Ok(v) => *slot = v,
                    Err(msg) => {
                        self.error(at, Some("log_prefix"), msg);
                        return None;
                    }
                }
            }
            Some(both)
        });
        self.drop_repeated_diags(before);
        LineFormat { prefix, format }
    }

    /// Forget the diagnostics pushed since `before` that repeat an earlier
    /// one (the same problem found again for the next process of a program).
    fn drop_repeated_diags(&mut self, before: usize) {
        let (old, new) = self.diags.split_at(before.min(self.diags.len()));
        let fresh: Vec<_> = new
            .iter()
            .filter(|d| {
                !old.iter()
                    .any(|o| o.line == d.line && o.file == d.file && o.message == d.message)
            })
            .cloned()
            .collect();
        self.diags.truncate(before);
        self.diags.extend(fresh);
    }
}

#[cfg(test)]
#[path = "lines_tests.rs"]
mod tests;
