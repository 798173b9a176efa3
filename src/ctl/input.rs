//! Where supervisorctl's typed input comes from: the shell's command
//! lines, the y/N questions, `fg`'s stdin, and credentials after a 401.
//!
//! On a terminal (stdin and stdout both ttys) lines are read with the
//! line editor of [`super::lineedit`]: editing, tab completion, and a
//! history kept in `history_file` (plain lines, as readline).  Otherwise,
//! as Python's `input()` does, the prompt is written to stdout and a line
//! is read from stdin; that read waits in slices so Ctrl-C ends it.

use std::io::{self, IsTerminal, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::client::Client;
use super::lineedit::{Outcome, RawMode, Terminal};
use crate::rpc::Value;

/// Longest line accepted from a pipe (a longer one is cut there).
const MAX_LINE: usize = 1 << 20;

/// One answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// The line, without its newline.
    Text(String),
    /// End of input (Ctrl-D).
    Eof,
    /// Ctrl-C.
    Interrupted,
}

/// A source of lines.
pub trait Input {
    /// Show `prompt` and read one line.
    fn read_line(&mut self, prompt: &str) -> Line;
    /// Read a password without echoing it, like Python's `getpass`.
    fn read_password(&mut self, prompt: &str) -> Line {
        read_password_tty(prompt).unwrap_or_else(|| {
            let _ = writeln!(io::stderr(), "Warning: Password input may be echoed.");
            let _ = write!(io::stderr(), "{prompt}");
            let _ = io::stderr().flush();
            self.read_line("")
        })
    }
    /// Save the history, if this input keeps one.
    fn save_history(&mut self) {}
    /// The server that tab completion asks for process names; called
    /// before each prompt of the shell, which also forgets the names
    /// learnt for the previous line.
    fn set_completion_server(&mut self, _client: Option<Client>) {}
}

/// The input for this process: the line editor on a terminal, else plain
/// reads.
/// `actions` are the command names tab completion offers (given by the
/// caller so that this module does not depend on `commands`).
pub fn for_terminal(
    history: Option<PathBuf>,
    interrupted: Arc<AtomicBool>,
    actions: &'static [&'static str],
) -> Box<dyn Input> {
    if io::stdin().is_terminal() && io::stdout().is_terminal() && RawMode::available() {
        return Box::new(EditorInput::new(history, actions, interrupted));
    }
    Box::new(PlainInput::new(interrupted))
}

/// Lines read from stdin; the prompt goes to stdout.
pub struct PlainInput {
    interrupted: Arc<AtomicBool>,
    pending: Vec<u8>,
    eof: bool,
}

impl PlainInput {
    pub fn new(interrupted: Arc<AtomicBool>) -> PlainInput {
        PlainInput {
            interrupted,
            pending: Vec::new(),
            eof: false,
        }
    }

    fn take_line(&mut self) -> Option<String> {
        let pos = self.pending.iter().position(|&b| b == b'\n')?;
        let rest = self.pending.split_off(pos + 1);
        let mut line = std::mem::replace(&mut self.pending, rest);
        line.pop();
        Some(String::from_utf8_lossy(&line).into_owned())
    }
}

impl Input for PlainInput {
    fn read_line(&mut self, prompt: &str) -> Line {
        if !prompt.is_empty() {
            let mut out = io::stdout();
            let _ = out.write_all(prompt.as_bytes()).and_then(|()| out.flush());
        }
        let stdin = io::stdin();
        loop {
            if let Some(l) = self.take_line() {
                return Line::Text(l);
            }
            if self.eof || self.pending.len() >= MAX_LINE {
                if self.pending.is_empty() {
                    return Line::Eof;
                }
                let line = std::mem::take(&mut self.pending);
                return Line::Text(String::from_utf8_lossy(&line).into_owned());
            }
            if self.interrupted.load(Ordering::Relaxed) {
                return Line::Interrupted;
            }
            let fd = stdin.as_fd();
            let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(100u16)) {
                Ok(0) => continue,
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => {
                    self.eof = true;
                    continue;
                }
            }
            let mut buf = [0u8; 4096];
            match nix::unistd::read(fd, &mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => self
                    .pending
                    .extend_from_slice(buf.get(..n).unwrap_or_default()),
                Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
                Err(_) => self.eof = true,
            }
        }
    }
}

/// The line editor on a terminal.
pub struct EditorInput {
    terminal: Terminal,
    completion: Completion,
    history: Option<PathBuf>,
    interrupted: Arc<AtomicBool>,
}

impl EditorInput {
    fn new(
        history: Option<PathBuf>,
        actions: &'static [&'static str],
        interrupted: Arc<AtomicBool>,
    ) -> EditorInput {
        let mut terminal = Terminal::default();
        // A missing or unreadable history file is not an error.
        if let Some(Ok(text)) = history.as_ref().map(std::fs::read) {
            terminal
                .editor
                .load_history(&String::from_utf8_lossy(&text));
        }
        EditorInput {
            terminal,
            completion: Completion {
                actions,
                client: None,
                names: None,
            },
            history,
            interrupted,
        }
    }
}

impl Input for EditorInput {
    fn read_line(&mut self, prompt: &str) -> Line {
        let completion = &mut self.completion;
        match self.terminal.read_line(
            prompt,
            |line: &str, pos| completion.complete(line, pos),
            &self.interrupted,
        ) {
            Outcome::Accepted(l) => Line::Text(l),
            Outcome::Eof => Line::Eof,
            Outcome::Interrupted => Line::Interrupted,
        }
    }

    fn save_history(&mut self) {
        if let Some(h) = &self.history {
            use std::os::unix::fs::OpenOptionsExt;
            // Mode 0600, as readline creates it.
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(h)
                .and_then(|mut f| f.write_all(self.terminal.editor.history_text().as_bytes()));
        }
    }

    fn set_completion_server(&mut self, client: Option<Client>) {
        self.completion.client = client;
        self.completion.names = None;
    }
}

/// Tab completion as in the reference's shell: action names first, then
/// group names (add, remove, update) or process names (the commands that
/// take one), fetched from the server once per line.
pub struct Completion {
    /// The command names (`help` is always offered too).
    actions: &'static [&'static str],
    client: Option<Client>,
    /// (group, name) of every process, once asked.
    names: Option<Vec<(String, String)>>,
}

impl Completion {
    /// Where the word before `pos` starts in `line`, and its candidates.
    fn complete(&mut self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let before = line.get(..pos).unwrap_or(line);
        // readline's word breaks, less `:`, `*` and `-` (as the reference).
        let start = before
            .rfind(|c: char| c.is_whitespace() || "\"\\'`@$><=;|&{(".contains(c))
            .map_or(0, |i| {
                i + before[i..].chars().next().map_or(1, char::len_utf8)
            });
        let text = before.get(start..).unwrap_or("");
        (
            start,
            candidates(line, text, self.actions, &mut || self.processes()),
        )
    }

    fn processes(&mut self) -> Vec<(String, String)> {
        if let Some(n) = &self.names {
            return n.clone();
        }
        let mut found = Vec::new();
        if let Some(Ok(Value::Array(infos))) = self
            .client
            .as_ref()
            .map(|c| c.call("supervisor.getAllProcessInfo", &[]))
        {
            for info in &infos {
                if let (Some(g), Some(n)) = (
                    info.get("group").and_then(Value::as_str),
                    info.get("name").and_then(Value::as_str),
                ) {
                    found.push((g.to_string(), n.to_string()));
                }
            }
        }
        self.names = Some(found.clone());
        found
    }
}

/// The candidates for `text` (the word being typed) on `line`; `actions`
/// are the command names besides `help`.
pub fn candidates(
    line: &str,
    text: &str,
    actions: &[&str],
    processes: &mut dyn FnMut() -> Vec<(String, String)>,
) -> Vec<String> {
    let actions = || -> Vec<String> {
        std::iter::once("help")
            .chain(actions.iter().copied())
            .filter(|a| a.starts_with(text))
            .map(|a| format!("{a} "))
            .collect()
    };
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some(action) = words.first() else {
        return actions();
    };
    if words.len() == 1 && !line.ends_with(char::is_whitespace) {
        return actions();
    }
    if "help".contains(action) {
        return actions();
    }
    let mut out: Vec<String> = Vec::new();
    match *action {
        "add" | "remove" | "update" => {
            for (g, _) in processes() {
                if !out.contains(&g) {
                    out.push(g);
                }
            }
        }
        "clear" | "fg" | "pid" | "restart" | "signal" | "start" | "status" | "stop" | "tail" => {
            for (g, n) in processes() {
                if text.contains(':') || g != n {
                    out.push(format!("{g}:{n}"));
                    let all = format!("{g}:*");
                    if !out.contains(&all) {
                        out.push(all);
                    }
                } else {
                    out.push(n);
                }
            }
        }
        _ => {}
    }
    out.into_iter()
        .filter(|c| c.starts_with(text))
        .map(|c| format!("{c} "))
        .collect()
}

/// Read a password from /dev/tty with echo off; `None` without a tty.
fn read_password_tty(prompt: &str) -> Option<Line> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    let saved = tcgetattr(&tty).ok()?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    quiet.local_flags.insert(LocalFlags::ECHONL);
    let _ = tty.write_all(prompt.as_bytes()).and_then(|()| tty.flush());
    tcsetattr(&tty, SetArg::TCSAFLUSH, &quiet).ok()?;
    let mut line = Vec::new();
    let mut result = Line::Eof;
    loop {
        let mut b = [0u8; 1];
        match std::io::Read::read(&mut tty, &mut b) {
            Err(e) => {
                if e.kind() == io::ErrorKind::Interrupted {
                    result = Line::Interrupted;
                }
                break;
            }
            Ok(0) => {
                if !line.is_empty() {
                    result = Line::Text(String::from_utf8_lossy(&line).into_owned());
                }
                break;
            }
            Ok(_) if b[0] == b'\n' => {
                result = Line::Text(String::from_utf8_lossy(&line).into_owned());
                break;
            }
            Ok(_) => {
                if line.len() < MAX_LINE {
                    line.push(b[0]);
                }
            }
        }
    }
    let _ = tcsetattr(&tty, SetArg::TCSAFLUSH, &saved);
    Some(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn procs() -> Vec<(String, String)> {
        vec![
            ("web".into(), "web".into()),
            ("grp".into(), "a".into()),
            ("grp".into(), "b".into()),
        ]
    }

    #[test]
    fn completes_like_the_reference() {
        // The shell's command names, as `commands::COMMANDS` has them.
        const ACTIONS: &[&str] = &[
            "add", "avail", "clear", "exit", "fg", "maintail", "open", "pid", "quit", "reload",
            "remove", "reread", "restart", "shutdown", "signal", "start", "status", "stop", "tail",
            "update", "version",
        ];
        let c = |line: &str, text: &str| candidates(line, text, ACTIONS, &mut procs);
        assert_eq!(c("", ""), {
            let mut v = vec!["help ".to_string()];
            v.extend(ACTIONS.iter().map(|a| format!("{a} ")));
            v
        });
        assert_eq!(c("st", "st"), vec!["start ", "status ", "stop "]);
        assert_eq!(
            c("help re", "re"),
            vec!["reload ", "remove ", "reread ", "restart "]
        );
        assert_eq!(c("start ", ""), vec!["web ", "grp:a ", "grp:* ", "grp:b "]);
        assert_eq!(c("start g", "g"), vec!["grp:a ", "grp:* ", "grp:b "]);
        assert_eq!(c("status web:", "web:"), vec!["web:web ", "web:* "]);
        assert_eq!(c("update ", ""), vec!["web ", "grp "]);
        assert_eq!(c("version ", ""), Vec::<String>::new());
    }

    #[test]
    fn completion_works_on_the_word_before_the_cursor() {
        let mut c = Completion {
            actions: &["start", "status", "stop"],
            client: None,
            names: Some(procs()),
        };
        assert_eq!(
            c.complete("sta", 3),
            (0, vec!["start ".into(), "status ".into()])
        );
        // `:`, `*` and `-` do not break words; blanks and `=` do.
        assert_eq!(
            c.complete("stop grp:", 9),
            (5, vec!["grp:a ".into(), "grp:* ".into(), "grp:b ".into()])
        );
        assert_eq!(c.complete("stop x=w", 8), (7, vec!["web ".into()]));
        assert_eq!(c.complete("stop\u{3000}w", 8), (7, vec!["web ".into()]));
        // The word ends at the cursor (the action is read from the whole
        // line, as the reference reads readline's line buffer).
        assert_eq!(c.complete("stop we x", 7), (5, vec!["web ".into()]));
    }

    #[test]
    fn plain_input_splits_lines_and_ends() {
        let mut p = PlainInput::new(Arc::new(AtomicBool::new(false)));
        p.pending = b"one\ntwo".to_vec();
        assert_eq!(p.take_line(), Some("one".to_string()));
        assert_eq!(p.take_line(), None);
        p.eof = true;
        assert_eq!(p.read_line(""), Line::Text("two".into()));
        assert_eq!(p.read_line(""), Line::Eof);
    }
}
