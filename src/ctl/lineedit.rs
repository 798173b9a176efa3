//! The shell's line editor, hand-written: rustyline cost ~140 KiB of the 2 MB binary budget.
//!
//! ```text
//! bytes ── Decoder ──> Key ── Editor::key ──> Action ── Terminal::read_line
//!                                 (pure: no I/O)          (raw mode, fd 0/1)
//! ```
//!
//! The display is always one row: `\r`, prompt, the part of the line that
//! fits (scrolled sideways to keep the cursor in view), `ESC[K`, and a
//! cursor move.  History lines are stored one per line, as GNU readline's
//! `write_history_file` does.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::termios::{
    InputFlags, LocalFlags, SetArg, SpecialCharacterIndices, Termios, tcgetattr, tcsetattr,
};

/// Most history entries kept (the oldest go first).
pub const MAX_HISTORY: usize = 1000;
/// Longest escape sequence kept; longer ones are still swallowed whole.
const MAX_SEQ: usize = 16;
/// The first line of rustyline's history files.
const RUSTYLINE_HEADER: &str = "#V2";

/// A key, decoded from the terminal's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Backspace,
    Delete,
    Left,
    Right,
    Home,
    End,
    Up,
    Down,
    /// Ctrl-K
    KillToEnd,
    /// Ctrl-U
    KillToStart,
    /// Ctrl-W
    KillWord,
    /// Ctrl-Y: insert the text the last kill removed.
    Yank,
    /// Ctrl-T
    Transpose,
    /// Ctrl-L
    ClearScreen,
    /// Ctrl-C
    Interrupt,
    /// Ctrl-D: end of input on an empty line, else Delete.
    CtrlD,
    Enter,
    Tab,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Ground,
    /// After ESC.
    Esc,
    /// After `ESC [`.
    Csi,
    /// After `ESC O`.
    Ss3,
}

/// Turns bytes into keys; a key split across reads is kept until whole.
#[derive(Debug, Default)]
struct Decoder {
    state: State,
    /// Parameter and intermediate bytes of the CSI sequence being read.
    seq: Vec<u8>,
    /// Bytes of a UTF-8 char not complete yet, and how many it has.
    utf8: Vec<u8>,
    need: usize,
}

impl Decoder {
    fn push(&mut self, b: u8) -> Option<Key> {
        match self.state {
            State::Esc => {
                self.state = match b {
                    b'[' => {
                        self.seq.clear();
                        State::Csi
                    }
                    b'O' => State::Ss3,
                    0x1b => State::Esc,
                    // Alt-<key>: nothing is bound to it.
                    _ => State::Ground,
                };
                None
            }
            State::Csi => match b {
                0x20..=0x3f => {
                    if self.seq.len() < MAX_SEQ {
                        self.seq.push(b);
                    }
                    None
                }
                0x40..=0x7e => {
                    self.state = State::Ground;
                    csi_key(&self.seq, b)
                }
                // Not part of a sequence: drop what came so far.
                _ => {
                    self.state = State::Ground;
                    self.push(b)
                }
            },
            State::Ss3 => {
                self.state = State::Ground;
                match b {
                    b'A' => Some(Key::Up),
                    b'B' => Some(Key::Down),
                    b'C' => Some(Key::Right),
                    b'D' => Some(Key::Left),
                    b'H' => Some(Key::Home),
                    b'F' => Some(Key::End),
                    0x40..=0x7e => None,
                    _ => self.push(b),
                }
            }
            State::Ground => {
                if self.need > 0 {
                    if b & 0xc0 == 0x80 {
                        self.utf8.push(b);
                        if self.utf8.len() < self.need {
                            return None;
                        }
                        let c = std::str::from_utf8(&self.utf8)
                            .ok()
                            .and_then(|s| s.chars().next());
                        self.utf8.clear();
                        self.need = 0;
                        return c.filter(|c| !c.is_control()).map(Key::Char);
                    }
                    // A broken char is dropped; `b` starts afresh.
                    self.utf8.clear();
                    self.need = 0;
                }
                let need = match b {
                    0x00..=0x7f => return ascii_key(b, &mut self.state),
                    0xc2..=0xdf => 2,
                    0xe0..=0xef => 3,
                    0xf0..=0xf4 => 4,
                    _ => return None,
                };
                self.utf8.push(b);
                self.need = need;
                None
            }
        }
    }
}

fn ascii_key(b: u8, state: &mut State) -> Option<Key> {
    Some(match b {
        0x01 => Key::Home,
        0x02 => Key::Left,
        0x03 => Key::Interrupt,
        0x04 => Key::CtrlD,
        0x05 => Key::End,
        0x06 => Key::Right,
        0x08 | 0x7f => Key::Backspace,
        b'\t' => Key::Tab,
        b'\n' | b'\r' => Key::Enter,
        0x0b => Key::KillToEnd,
        0x0c => Key::ClearScreen,
        0x0e => Key::Down,
        0x10 => Key::Up,
        0x14 => Key::Transpose,
        0x15 => Key::KillToStart,
        0x17 => Key::KillWord,
        0x19 => Key::Yank,
        0x1b => {
            *state = State::Esc;
            return None;
        }
        0x20..=0x7e => Key::Char(char::from(b)),
        _ => return None,
    })
}

/// `ESC [ <params> <last>`; modifiers (`1;5C`) are ignored.
fn csi_key(params: &[u8], last: u8) -> Option<Key> {
    match last {
        b'A' => Some(Key::Up),
        b'B' => Some(Key::Down),
        b'C' => Some(Key::Right),
        b'D' => Some(Key::Left),
        b'H' => Some(Key::Home),
        b'F' => Some(Key::End),
        b'~' => match params.split(|&b| b == b';').next() {
            Some(b"1" | b"7") => Some(Key::Home),
            Some(b"4" | b"8") => Some(Key::End),
            Some(b"3") => Some(Key::Delete),
            _ => None,
        },
        _ => None,
    }
}

/// What the terminal side has to do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing to show (part of a key, or a swallowed sequence).
    None,
    /// The line or the cursor changed.
    Redraw,
    /// Ring the bell (nothing to do for the key, or completion is
    /// ambiguous); the line may have changed too.
    Bell,
    /// Clear the screen, then redraw.
    ClearScreen,
    /// Tab: find the candidates for the line and cursor, and pass them to
    /// [`Editor::complete`].
    Complete,
    /// Show these candidates below the line, then redraw.
    List(Vec<String>),
    /// Enter: the line is done.
    Accept(String),
    /// Ctrl-D on an empty line.
    Eof,
    /// Ctrl-C.
    Interrupted,
}

/// The line being edited, its cursor, and the history.
#[derive(Debug, Default)]
pub struct Editor {
    line: String,
    /// Byte offset of the cursor, always on a char boundary.
    pos: usize,
    /// Byte offset of the first char shown.
    scroll: usize,
    history: Vec<String>,
    /// The history entry shown; `history.len()` is the new line.
    index: usize,
    /// The new line, kept while history entries are shown.
    draft: String,
    /// What the last Ctrl-K/U/W removed.
    killed: String,
    /// The last key was a Tab that left several candidates and changed
    /// nothing: the next Tab lists them.
    tabbed: bool,
    decoder: Decoder,
}

impl Editor {
    pub fn new() -> Editor {
        Editor::default()
    }

    /// Start a new, empty line (the history is kept, and so are the bytes
    /// of a key not complete yet).
    pub fn reset(&mut self) {
        self.line.clear();
        self.pos = 0;
        self.scroll = 0;
        self.index = self.history.len();
        self.draft.clear();
        self.tabbed = false;
    }

    pub fn line(&self) -> &str {
        &self.line
    }

    /// The cursor as a byte offset into [`Editor::line`].
    pub fn cursor(&self) -> usize {
        self.pos
    }

    pub fn history(&self) -> &[String] {
        &self.history
    }

    /// Add `line` to the history unless it is empty or the same as the
    /// last entry (readline's auto-add, as Python does it).
    pub fn add_history(&mut self, line: &str) {
        if line.is_empty() || self.history.last().is_some_and(|l| l == line) {
            return;
        }
        self.history.push(line.to_string());
        if self.history.len() > MAX_HISTORY {
            let extra = self.history.len() - MAX_HISTORY;
            self.history.drain(..extra);
        }
        self.index = self.history.len();
    }

    /// Replace the history with the lines of a history file: plain lines
    /// (readline's format), or rustyline's `#V2` format.
    pub fn load_history(&mut self, text: &str) {
        self.history.clear();
        let mut lines = text.lines().peekable();
        let v2 = lines
            .next_if(|l| l.trim_end() == RUSTYLINE_HEADER)
            .is_some();
        for l in lines {
            let l = if v2 { unescape_v2(l) } else { l.to_string() };
            // Control chars would upset the display; keys never insert them.
            let l: String = l.chars().filter(|c| !c.is_control()).collect();
            self.add_history(&l);
        }
        self.index = self.history.len();
    }

    /// The history file's contents: one entry per line.
    pub fn history_text(&self) -> String {
        let mut s = String::new();
        for l in &self.history {
            s.push_str(l);
            s.push('\n');
        }
        s
    }

    /// Feed one byte from the terminal.
    pub fn feed(&mut self, b: u8) -> Action {
        match self.decoder.push(b) {
            Some(k) => self.key(k),
            None => Action::None,
        }
    }

    pub fn key(&mut self, key: Key) -> Action {
        if key != Key::Tab {
            self.tabbed = false;
        }
        let len = self.line.len();
        match key {
            Key::Char(c) => {
                self.line.insert(self.pos, c);
                self.pos += c.len_utf8();
            }
            Key::Backspace if self.pos > 0 => {
                let start = prev_boundary(&self.line, self.pos);
                self.line.replace_range(start..self.pos, "");
                self.pos = start;
            }
            Key::Delete | Key::CtrlD if self.pos < len => {
                let end = next_boundary(&self.line, self.pos);
                self.line.replace_range(self.pos..end, "");
            }
            Key::CtrlD if len == 0 => return Action::Eof,
            Key::Left if self.pos > 0 => self.pos = prev_boundary(&self.line, self.pos),
            Key::Right if self.pos < len => self.pos = next_boundary(&self.line, self.pos),
            Key::Home => self.pos = 0,
            Key::End => self.pos = len,
            Key::Up if self.index > 0 => {
                if self.index == self.history.len() {
                    self.draft = std::mem::take(&mut self.line);
                }
                self.index -= 1;
                self.line = self.history.get(self.index).cloned().unwrap_or_default();
                self.pos = self.line.len();
            }
            Key::Down if self.index < self.history.len() => {
                self.index += 1;
                self.line = match self.history.get(self.index) {
                    Some(l) => l.clone(),
                    None => std::mem::take(&mut self.draft),
                };
                self.pos = self.line.len();
            }
            Key::KillToEnd => self.killed = self.line.split_off(self.pos),
            Key::KillToStart => {
                self.killed = self.line.drain(..self.pos).collect();
                self.pos = 0;
            }
            Key::KillWord if self.pos > 0 => {
                let start = word_start(&self.line, self.pos);
                self.killed = self.line.drain(start..self.pos).collect();
                self.pos = start;
            }
            Key::Yank => {
                self.line.insert_str(self.pos, &self.killed);
                self.pos += self.killed.len();
            }
            Key::Transpose if self.pos > 0 && self.line.chars().nth(1).is_some() => {
                // As readline: at the end, swap the last two chars.
                let mid = if self.pos == len {
                    prev_boundary(&self.line, len)
                } else {
                    self.pos
                };
                let start = prev_boundary(&self.line, mid);
                let end = next_boundary(&self.line, mid);
                let (a, b) = (
                    self.line.get(start..mid).unwrap_or("").to_string(),
                    self.line.get(mid..end).unwrap_or("").to_string(),
                );
                self.line.replace_range(start..end, &format!("{b}{a}"));
                self.pos = end;
            }
            Key::ClearScreen => return Action::ClearScreen,
            Key::Interrupt => {
                self.pos = len;
                return Action::Interrupted;
            }
            Key::Enter => {
                self.pos = len;
                let line = self.line.clone();
                self.add_history(&line);
                return Action::Accept(line);
            }
            Key::Tab => return Action::Complete,
            // A move past either end, nothing to delete, no more history.
            _ => return Action::Bell,
        }
        Action::Redraw
    }

    /// Tab with the `candidates` for the word that starts at byte `start`
    /// and ends at the cursor, as readline completes in list mode: one
    /// candidate is inserted; several insert their longest common prefix
    /// and ring the bell, and a Tab that changed nothing is followed by a
    /// Tab that lists them.
    pub fn complete(&mut self, start: usize, candidates: &[String]) -> Action {
        let start = if start <= self.pos && self.line.is_char_boundary(start) {
            start
        } else {
            self.pos
        };
        let typed = self.line.get(start..self.pos).unwrap_or("").to_string();
        match candidates {
            [] => {
                self.tabbed = false;
                Action::Bell
            }
            [one] => {
                self.tabbed = false;
                self.replace_word(start, one);
                Action::Redraw
            }
            several if self.tabbed => Action::List(several.to_vec()),
            several => {
                let prefix = common_prefix(several);
                let grows = prefix.len() > typed.len() && prefix.starts_with(&typed);
                if grows {
                    self.replace_word(start, prefix);
                }
                self.tabbed = !grows;
                Action::Bell
            }
        }
    }

    fn replace_word(&mut self, start: usize, with: &str) {
        self.line.replace_range(start..self.pos, with);
        self.pos = start + with.len();
    }

    /// What to write to show the line after `prompt` on a terminal `cols`
    /// wide: one row, scrolled sideways so the cursor stays in view, with
    /// the last column left free.
    pub fn render(&mut self, prompt: &str, cols: usize) -> String {
        let room = cols.saturating_sub(str_width(prompt) + 1).max(1);
        let line = self.line.as_str();
        let width = |from: usize, to: usize| str_width(line.get(from..to).unwrap_or(""));
        if self.pos < self.scroll || !line.is_char_boundary(self.scroll) {
            self.scroll = self.pos;
        }
        while width(self.scroll, self.pos) > room {
            self.scroll = next_boundary(line, self.scroll);
        }
        // Use the room the end of the line leaves.
        while self.scroll > 0 && width(prev_boundary(line, self.scroll), line.len()) <= room {
            self.scroll = prev_boundary(line, self.scroll);
        }
        let mut shown = 0;
        let visible: String = line
            .get(self.scroll..)
            .unwrap_or("")
            .chars()
            .take_while(|&c| {
                shown += char_width(c);
                shown <= room
            })
            .collect();
        let column = str_width(prompt) + width(self.scroll, self.pos);
        let mut out = format!("\r{prompt}{visible}\x1b[K\r");
        if column > 0 {
            out.push_str(&format!("\x1b[{column}C"));
        }
        out
    }
}

/// The start of the char before `pos`, with the zero-width marks after it.
fn prev_boundary(s: &str, pos: usize) -> usize {
    let mut p = pos.min(s.len());
    while let Some(c) = s.get(..p).and_then(|h| h.chars().next_back()) {
        p -= c.len_utf8();
        if char_width(c) != 0 {
            break;
        }
    }
    p
}

/// The end of the char at `pos` and of the zero-width marks after it.
fn next_boundary(s: &str, pos: usize) -> usize {
    let mut chars = s.get(pos..).unwrap_or("").char_indices();
    let mut end = s.len();
    chars.next();
    for (i, c) in chars {
        if char_width(c) != 0 {
            end = pos + i;
            break;
        }
    }
    end
}

/// Where Ctrl-W's kill starts: back over blanks, then over non-blanks
/// (readline's unix-word-rubout).
fn word_start(s: &str, pos: usize) -> usize {
    let head = s.get(..pos).unwrap_or("");
    let word = head.trim_end_matches(char::is_whitespace);
    word.rfind(char::is_whitespace).map_or(0, |i| {
        i + word[i..].chars().next().map_or(1, char::len_utf8)
    })
}

fn common_prefix(words: &[String]) -> &str {
    let Some(first) = words.first() else {
        return "";
    };
    let mut len = first.len();
    for w in words {
        let same = first
            .char_indices()
            .zip(w.chars())
            .take_while(|&((i, a), b)| i < len && a == b)
            .last()
            .map_or(0, |((i, a), _)| i + a.len_utf8());
        len = len.min(same);
    }
    first.get(..len).unwrap_or("")
}

/// Columns a char takes on a terminal: 2 for East Asian wide and emoji,
/// 0 for combining marks and zero-width chars, else 1.
pub fn char_width(c: char) -> usize {
    const TABLE: &[(u32, u32, u8)] = &[
        (0x0300, 0x036f, 0),
        (0x0483, 0x0489, 0),
        (0x0591, 0x05bd, 0),
        (0x0610, 0x061a, 0),
        (0x064b, 0x065f, 0),
        (0x1100, 0x115f, 2),
        (0x1160, 0x11ff, 0),
        (0x1ab0, 0x1aff, 0),
        (0x1dc0, 0x1dff, 0),
        (0x200b, 0x200f, 0),
        (0x20d0, 0x20ff, 0),
        (0x2e80, 0x303e, 2),
        (0x3041, 0x33ff, 2),
        (0x3400, 0x4dbf, 2),
        (0x4e00, 0x9fff, 2),
        (0xa000, 0xa4cf, 2),
        (0xac00, 0xd7a3, 2),
        (0xf900, 0xfaff, 2),
        (0xfe00, 0xfe0f, 0),
        (0xfe20, 0xfe2f, 0),
        (0xfe30, 0xfe4f, 2),
        (0xff00, 0xff60, 2),
        (0xffe0, 0xffe6, 2),
        (0x1f300, 0x1f64f, 2),
        (0x1f680, 0x1f6ff, 2),
        (0x1f900, 0x1f9ff, 2),
        (0x1fa70, 0x1faff, 2),
        (0x20000, 0x3fffd, 2),
        (0xe0100, 0xe01ef, 0),
    ];
    let c = u32::from(c);
    if c < 0x300 {
        return 1;
    }
    TABLE
        .iter()
        .find(|&&(lo, hi, _)| (lo..=hi).contains(&c))
        .map_or(1, |&(_, _, w)| usize::from(w))
}

pub fn str_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// Completion candidates as readline lists them: sorted, down the
/// columns, each column as wide as the widest plus two.
pub fn columns(candidates: &[String], cols: usize) -> Vec<String> {
    let mut items: Vec<&str> = candidates.iter().map(|c| c.trim_end()).collect();
    items.sort_unstable();
    items.dedup();
    let cell = items.iter().map(|i| str_width(i)).max().unwrap_or(0) + 2;
    let per_row = (cols / cell).max(1);
    let rows = items.len().div_ceil(per_row);
    (0..rows)
        .map(|r| {
            let cells: Vec<&str> = items.iter().skip(r).step_by(rows).copied().collect();
            let mut row = String::new();
            for (i, item) in cells.iter().enumerate() {
                row.push_str(item);
                if i + 1 < cells.len() {
                    row.push_str(&" ".repeat(cell - str_width(item)));
                }
            }
            row
        })
        .collect()
}

/// rustyline's `#V2` escapes: `\\` for a backslash, `\n` for a newline.
fn unescape_v2(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// The terminal width, asked of fd 1 each time (so resizes count); 80
/// when unknown.
pub fn terminal_width() -> usize {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ only writes the winsize it is given.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
    if ok && ws.ws_col > 0 {
        usize::from(ws.ws_col)
    } else {
        80
    }
}

/// Stdin's terminal in raw mode (no echo, no line buffering, no signal
/// keys; output processing kept) until dropped.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// `None` when stdin is not a terminal.
    pub fn enter() -> Option<RawMode> {
        let stdin = io::stdin();
        let saved = tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        raw.input_flags.remove(
            InputFlags::IGNBRK
                | InputFlags::BRKINT
                | InputFlags::PARMRK
                | InputFlags::ISTRIP
                | InputFlags::INLCR
                | InputFlags::IGNCR
                | InputFlags::ICRNL
                | InputFlags::IXON,
        );
        raw.local_flags.remove(
            LocalFlags::ECHO
                | LocalFlags::ECHONL
                | LocalFlags::ICANON
                | LocalFlags::ISIG
                | LocalFlags::IEXTEN,
        );
        raw.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        raw.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
        // TCSADRAIN, not FLUSH: what was typed ahead is still read.
        tcsetattr(&stdin, SetArg::TCSADRAIN, &raw).ok()?;
        Some(RawMode { saved })
    }

    /// Whether stdin is a terminal whose settings can be read.
    pub fn available() -> bool {
        tcgetattr(io::stdin()).is_ok()
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = tcsetattr(io::stdin(), SetArg::TCSADRAIN, &self.saved);
    }
}

/// How [`Terminal::read_line`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Accepted(String),
    Eof,
    Interrupted,
}

/// The editor on the process's terminal: reads fd 0, writes fd 1.
#[derive(Default)]
pub struct Terminal {
    pub editor: Editor,
    /// Bytes read but not used yet (typed or pasted after an Enter).
    unread: VecDeque<u8>,
}

/// Write to stdout now; a terminal that went away is not our concern here.
fn show(s: &str) {
    let mut out = io::stdout();
    let _ = out.write_all(s.as_bytes()).and_then(|()| out.flush());
}

impl Terminal {
    /// Show `prompt` and edit a line until Enter, Ctrl-D on an empty line
    /// or Ctrl-C.  `complete(line, cursor)` gives the start of the word to
    /// complete and its candidates.  A SIGINT that sets `interrupted` ends
    /// the read as Ctrl-C does.
    pub fn read_line(
        &mut self,
        prompt: &str,
        mut complete: impl FnMut(&str, usize) -> (usize, Vec<String>),
        interrupted: &AtomicBool,
    ) -> Outcome {
        let Some(_raw) = RawMode::enter() else {
            return Outcome::Eof;
        };
        let ed = &mut self.editor;
        ed.reset();
        let mut dirty = true;
        loop {
            while let Some(b) = self.unread.pop_front() {
                let mut action = ed.feed(b);
                if action == Action::Complete {
                    let (start, found) = complete(ed.line(), ed.cursor());
                    action = ed.complete(start, &found);
                }
                match action {
                    Action::None | Action::Complete => {}
                    Action::Redraw => dirty = true,
                    Action::Bell => {
                        show("\x07");
                        dirty = true;
                    }
                    Action::ClearScreen => {
                        show("\x1b[H\x1b[2J");
                        dirty = true;
                    }
                    Action::List(found) => {
                        let rows = columns(&found, terminal_width());
                        show(&format!("\r\n{}\r\n", rows.join("\r\n")));
                        dirty = true;
                    }
                    Action::Accept(line) => {
                        show(&format!("{}\r\n", ed.render(prompt, terminal_width())));
                        return Outcome::Accepted(line);
                    }
                    Action::Eof => {
                        show(&ed.render(prompt, terminal_width()));
                        return Outcome::Eof;
                    }
                    Action::Interrupted => {
                        show(&ed.render(prompt, terminal_width()));
                        return Outcome::Interrupted;
                    }
                }
            }
            if dirty {
                show(&ed.render(prompt, terminal_width()));
                dirty = false;
            }
            if interrupted.load(Ordering::Relaxed) {
                return Outcome::Interrupted;
            }
            // Wait in slices: SIGINT from elsewhere (its handler restarts
            // reads) only sets `interrupted`, looked at between them.
            let stdin = io::stdin();
            let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(100u16)) {
                Ok(0) | Err(Errno::EINTR) => continue,
                Ok(_) => {}
                Err(_) => return Outcome::Eof,
            }
            let mut buf = [0u8; 256];
            match nix::unistd::read(stdin.as_fd(), &mut buf) {
                Ok(0) => return Outcome::Eof,
                Ok(n) => self.unread.extend(buf.get(..n).unwrap_or_default()),
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                Err(_) => return Outcome::Eof,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `bytes`, returning the actions that are not `None`.
    fn feed(ed: &mut Editor, bytes: &[u8]) -> Vec<Action> {
        bytes
            .iter()
            .map(|&b| ed.feed(b))
            .filter(|a| *a != Action::None)
            .collect()
    }

    fn typed(bytes: &[u8]) -> Editor {
        let mut ed = Editor::new();
        feed(&mut ed, bytes);
        ed
    }

    fn state(ed: &Editor) -> (&str, usize) {
        (ed.line(), ed.cursor())
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn printable_chars_are_inserted_at_the_cursor() {
        let mut ed = typed(b"ac");
        assert_eq!(
            feed(&mut ed, b"\x02b"),
            vec![Action::Redraw, Action::Redraw]
        );
        assert_eq!(state(&ed), ("abc", 2));
    }

    #[test]
    fn utf8_split_across_reads_is_kept_until_whole() {
        let mut ed = Editor::new();
        assert_eq!(ed.feed(0xc3), Action::None);
        assert_eq!(ed.feed(0xa9), Action::Redraw);
        let emoji = "😀".as_bytes();
        for &b in &emoji[..3] {
            assert_eq!(ed.feed(b), Action::None);
        }
        assert_eq!(ed.feed(emoji[3]), Action::Redraw);
        assert_eq!(state(&ed), ("é😀", 6));
        // Broken sequences and stray bytes are dropped; the byte that
        // broke a sequence still counts.
        feed(&mut ed, b"\xff\x80\xe6\x97x\xc0\xf5");
        assert_eq!(state(&ed), ("é😀x", 7));
        // C1 controls are not inserted.
        feed(&mut ed, "\u{85}".as_bytes());
        assert_eq!(ed.line(), "é😀x");
    }

    #[test]
    fn backspace_and_delete() {
        let mut ed = typed(b"abcd\x02\x7f");
        assert_eq!(state(&ed), ("abd", 2));
        feed(&mut ed, b"\x08");
        assert_eq!(state(&ed), ("ad", 1));
        assert_eq!(feed(&mut ed, b"\x1b[3~"), vec![Action::Redraw]);
        assert_eq!(state(&ed), ("a", 1));
        assert_eq!(feed(&mut ed, b"\x1b[3~"), vec![Action::Bell]);
        assert_eq!(
            feed(&mut ed, b"\x7f\x7f"),
            vec![Action::Redraw, Action::Bell]
        );
        assert_eq!(state(&ed), ("", 0));
    }

    #[test]
    fn left_right_home_end_in_every_spelling() {
        let mut ed = typed(b"abcd");
        for (keys, pos) in [
            (&b"\x1b[D"[..], 3),
            (b"\x02", 2),
            (b"\x1bOD", 1),
            (b"\x1b[C", 2),
            (b"\x06", 3),
            (b"\x1bOC", 4),
            (b"\x1b[1;5D", 3),
        ] {
            assert_eq!(feed(&mut ed, keys), vec![Action::Redraw], "{keys:?}");
            assert_eq!(ed.cursor(), pos, "{keys:?}");
        }
        let home: [&[u8]; 5] = [b"\x1b[H", b"\x1b[1~", b"\x1b[7~", b"\x1bOH", b"\x01"];
        let end: [&[u8]; 5] = [b"\x1b[F", b"\x1b[4~", b"\x1b[8~", b"\x1bOF", b"\x05"];
        for (h, e) in home.iter().zip(end) {
            feed(&mut ed, b"\x02\x02");
            assert_eq!(feed(&mut ed, h), vec![Action::Redraw], "{h:?}");
            assert_eq!(ed.cursor(), 0, "{h:?}");
            assert_eq!(feed(&mut ed, e), vec![Action::Redraw], "{e:?}");
            assert_eq!(ed.cursor(), 4, "{e:?}");
        }
        assert_eq!(feed(&mut ed, b"\x06"), vec![Action::Bell]);
        feed(&mut ed, b"\x01");
        assert_eq!(feed(&mut ed, b"\x02"), vec![Action::Bell]);
    }

    #[test]
    fn history_navigation_keeps_the_edited_line() {
        let mut ed = Editor::new();
        ed.add_history("one");
        ed.add_history("two");
        ed.reset();
        feed(&mut ed, b"dra");
        assert_eq!(feed(&mut ed, b"\x1b[A"), vec![Action::Redraw]);
        assert_eq!(state(&ed), ("two", 3));
        feed(&mut ed, b"\x1bOA");
        assert_eq!(ed.line(), "one");
        assert_eq!(feed(&mut ed, b"\x10"), vec![Action::Bell]);
        feed(&mut ed, b"\x1b[B");
        assert_eq!(ed.line(), "two");
        feed(&mut ed, b"\x1bOB");
        assert_eq!(state(&ed), ("dra", 3));
        assert_eq!(feed(&mut ed, b"\x0e"), vec![Action::Bell]);
        feed(&mut ed, b"\x10\x0e");
        assert_eq!(ed.line(), "dra");
        // An entry recalled and edited is accepted as edited.
        feed(&mut ed, b"\x10\x7fo");
        assert_eq!(ed.feed(b'\r'), Action::Accept("two".into()));
        assert_eq!(ed.history(), ["one", "two"]);
    }

    #[test]
    fn enter_accepts_and_adds_to_history_like_readline() {
        let mut ed = typed(b"status");
        assert_eq!(ed.feed(b'\r'), Action::Accept("status".into()));
        ed.reset();
        feed(&mut ed, b"status");
        assert_eq!(ed.feed(b'\n'), Action::Accept("status".into()));
        ed.reset();
        assert_eq!(ed.feed(b'\r'), Action::Accept(String::new()));
        ed.reset();
        feed(&mut ed, b"start x\x02\x02\r");
        assert_eq!(ed.history(), ["status", "start x"]);
        for i in 0..MAX_HISTORY + 5 {
            ed.add_history(&i.to_string());
        }
        assert_eq!(ed.history().len(), MAX_HISTORY);
        assert_eq!(ed.history().first().map(String::as_str), Some("5"));
    }

    #[test]
    fn kill_and_yank() {
        let mut ed = typed(b"start web:*  ");
        feed(&mut ed, b"\x17");
        assert_eq!(state(&ed), ("start ", 6));
        feed(&mut ed, b"\x19");
        assert_eq!(state(&ed), ("start web:*  ", 13));
        feed(&mut ed, b"\x01\x06\x06\x0b");
        assert_eq!(state(&ed), ("st", 2));
        feed(&mut ed, b"op\x02\x15");
        assert_eq!(state(&ed), ("p", 0));
        feed(&mut ed, b"\x19");
        assert_eq!(state(&ed), ("stop", 3));
        feed(&mut ed, b"\x01");
        assert_eq!(feed(&mut ed, b"\x17"), vec![Action::Bell]);
        // Ctrl-W stops at a wide blank too.
        let mut ed = typed("a\u{3000}bc".as_bytes());
        feed(&mut ed, b"\x17");
        assert_eq!(ed.line(), "a\u{3000}");
    }

    #[test]
    fn transpose_swaps_like_readline() {
        let mut ed = typed(b"sotp");
        feed(&mut ed, b"\x02\x02\x14");
        assert_eq!(state(&ed), ("stop", 3));
        let ed = typed(b"stpo\x14");
        assert_eq!(state(&ed), ("stop", 4));
        let mut ed = typed(b"ab\x01");
        assert_eq!(feed(&mut ed, b"\x14"), vec![Action::Bell]);
        let mut ed = typed(b"a");
        assert_eq!(feed(&mut ed, b"\x14"), vec![Action::Bell]);
    }

    #[test]
    fn control_keys_clear_interrupt_eof() {
        let mut ed = typed(b"abc");
        assert_eq!(ed.feed(0x0c), Action::ClearScreen);
        feed(&mut ed, b"\x02\x02");
        assert_eq!(ed.feed(0x03), Action::Interrupted);
        assert_eq!(
            ed.cursor(),
            3,
            "the cursor goes to the end before the newline"
        );
        feed(&mut ed, b"\x01");
        assert_eq!(ed.feed(0x04), Action::Redraw);
        assert_eq!(state(&ed), ("bc", 0));
        feed(&mut ed, b"\x05");
        assert_eq!(ed.feed(0x04), Action::Bell);
        let mut ed = Editor::new();
        assert_eq!(ed.feed(0x04), Action::Eof);
    }

    #[test]
    fn tab_completes_one_prefix_then_lists() {
        let mut ed = typed(b"sto");
        assert_eq!(ed.feed(b'\t'), Action::Complete);
        assert_eq!(ed.complete(0, &strings(&["stop "])), Action::Redraw);
        assert_eq!(state(&ed), ("stop ", 5));

        // Several: the common prefix, with a bell; it changed the line, so
        // the next Tab tries again and the one after lists.
        let mut ed = typed(b"help r");
        let found = strings(&["reload ", "remove ", "reread ", "restart "]);
        ed.feed(b'\t');
        assert_eq!(ed.complete(5, &found), Action::Bell);
        assert_eq!(state(&ed), ("help re", 7));
        ed.feed(b'\t');
        assert_eq!(ed.complete(5, &found), Action::Bell);
        ed.feed(b'\t');
        assert_eq!(ed.complete(5, &found), Action::List(found.clone()));
        ed.feed(b'\t');
        assert_eq!(ed.complete(5, &found), Action::List(found.clone()));
        // Any other key starts over.
        feed(&mut ed, b"x\x7f\t");
        assert_eq!(ed.complete(5, &found), Action::Bell);

        let mut ed = typed(b"xyz\x02");
        ed.feed(b'\t');
        assert_eq!(ed.complete(0, &[]), Action::Bell);
        // In the middle of the line, only the word before the cursor goes.
        assert_eq!(ed.complete(0, &strings(&["xyw"])), Action::Redraw);
        assert_eq!(state(&ed), ("xywz", 3));
        // A start that is no char boundary or past the cursor is the cursor.
        let mut ed = typed("é".as_bytes());
        assert_eq!(ed.complete(1, &strings(&["!"])), Action::Redraw);
        assert_eq!(ed.line(), "é!");
    }

    #[test]
    fn common_prefix_stops_at_chars() {
        assert_eq!(common_prefix(&strings(&["aé", "aè"])), "a");
        assert_eq!(
            common_prefix(&strings(&["grp:a ", "grp:* ", "grp:b "])),
            "grp:"
        );
        assert_eq!(common_prefix(&strings(&["x", "xy"])), "x");
        assert_eq!(common_prefix(&[]), "");
    }

    #[test]
    fn unknown_escape_sequences_are_swallowed_whole() {
        let mut ed = Editor::new();
        for seq in [
            &b"\x1b[2~"[..],
            b"\x1b[5~",
            b"\x1b[15~",
            b"\x1b[200~",
            b"\x1b[1;5Z",
            b"\x1bOP",
            b"\x1bx",
            b"\x1b\x1b",
            b"\x1b[99999999999999999999999999~",
            b"\x00\x1a\x1c",
        ] {
            assert_eq!(feed(&mut ed, seq), vec![], "{seq:?}");
        }
        feed(&mut ed, b"z");
        assert_eq!(state(&ed), ("z", 1));
        // A control byte inside a sequence ends it and counts.
        feed(&mut ed, b"\x1b[1\x01");
        assert_eq!(state(&ed), ("z", 0));
        feed(&mut ed, b"\x1bO\x05");
        assert_eq!(state(&ed), ("z", 1));
    }

    #[test]
    fn wide_and_combining_chars_have_their_width() {
        assert_eq!(char_width('a'), 1);
        assert_eq!(char_width('é'), 1);
        assert_eq!(char_width('日'), 2);
        assert_eq!(char_width('ｱ'), 1);
        assert_eq!(char_width('Ａ'), 2);
        assert_eq!(char_width('😀'), 2);
        assert_eq!(char_width('\u{301}'), 0);
        assert_eq!(char_width('\u{200d}'), 0);
        assert_eq!(str_width("e\u{301}日本"), 5);
        // The cursor steps over a char and its combining marks together.
        let mut ed = typed("e\u{301}x".as_bytes());
        feed(&mut ed, b"\x02");
        assert_eq!(ed.cursor(), 3);
        feed(&mut ed, b"\x7f");
        assert_eq!(state(&ed), ("x", 0));
    }

    #[test]
    fn render_is_one_row_with_the_cursor_placed() {
        let mut ed = typed(b"abc\x02");
        assert_eq!(ed.render("> ", 80), "\r> abc\x1b[K\r\x1b[4C");
        let mut ed = Editor::new();
        assert_eq!(ed.render("", 80), "\r\x1b[K\r");
        let mut ed = typed("日本".as_bytes());
        assert_eq!(ed.render("> ", 80), "\r> 日本\x1b[K\r\x1b[6C");
    }

    #[test]
    fn long_lines_scroll_to_keep_the_cursor_in_view() {
        // 10 columns, prompt 2, last column free: 7 for the line.
        let mut ed = typed(b"abcdefghijkl");
        assert_eq!(ed.render("> ", 10), "\r> fghijkl\x1b[K\r\x1b[9C");
        feed(&mut ed, b"\x01");
        assert_eq!(ed.render("> ", 10), "\r> abcdefg\x1b[K\r\x1b[2C");
        // Moving right inside the window does not scroll.
        feed(&mut ed, b"\x06\x06");
        assert_eq!(ed.render("> ", 10), "\r> abcdefg\x1b[K\r\x1b[4C");
        feed(&mut ed, b"\x05\x15");
        assert_eq!(ed.render("> ", 10), "\r> \x1b[K\r\x1b[2C");
        // Wide chars never straddle the edge.
        let mut ed = typed("日本語テキスト".as_bytes());
        assert_eq!(ed.render("> ", 10), "\r> キスト\x1b[K\r\x1b[8C");
        feed(&mut ed, b"\x01");
        assert_eq!(ed.render("> ", 10), "\r> 日本語\x1b[K\r\x1b[2C");
        // Deleting at the end brings back what fits.
        let mut ed = typed(b"abcdefghijkl");
        ed.render("> ", 10);
        feed(&mut ed, b"\x7f\x7f\x7f\x7f");
        assert_eq!(ed.render("> ", 10), "\r> bcdefgh\x1b[K\r\x1b[9C");
    }

    #[test]
    fn candidates_are_listed_down_the_columns() {
        let found = strings(&["stop ", "start ", "status "]);
        assert_eq!(columns(&found, 80), vec!["start   status  stop"]);
        assert_eq!(columns(&found, 16), vec!["start   stop", "status"]);
        assert_eq!(columns(&found, 3), vec!["start", "status", "stop"]);
        assert_eq!(columns(&[], 80), Vec::<String>::new());
    }

    #[test]
    fn history_files_are_plain_lines_and_old_v2_files_load() {
        let mut ed = Editor::new();
        // Blank lines and repeats in a row are skipped, control chars
        // dropped, CRLF ends a line too.
        ed.load_history("status\nstart web:*\n\nstart web:*\r\nbad\x07line\nstatus\n");
        assert_eq!(ed.history(), ["status", "start web:*", "badline", "status"]);
        assert_eq!(ed.history_text(), "status\nstart web:*\nbadline\nstatus\n");
        ed.load_history("#V2\nstatus\nsignal a\\\\b\nx\\ny\n");
        assert_eq!(ed.history(), ["status", "signal a\\b", "xy"]);
        ed.load_history("");
        assert!(ed.history().is_empty());
        // Up after loading shows the last entry.
        ed.load_history("one\ntwo\n");
        ed.reset();
        feed(&mut ed, b"\x10");
        assert_eq!(ed.line(), "two");
    }

    /// Input biased towards keys, escape sequences and split chars.
    fn key_bytes() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let atoms = prop_oneof![
            any::<u8>().prop_map(|b| vec![b]),
            proptest::collection::vec(any::<u8>(), 0..8),
            Just(b"\x1b[".to_vec()),
            Just(b"\x1bO".to_vec()),
            Just(b"\x1b[3~".to_vec()),
            Just(b"\x1b[A".to_vec()),
            Just(b"\x1b[B".to_vec()),
            Just(b"\x1b[D".to_vec()),
            Just(b"\x1b[C".to_vec()),
            Just("é日\u{301}😀\u{3000}".as_bytes().to_vec()),
            Just(b"\xe6\x97".to_vec()),
            Just(b"ab c".to_vec()),
            (0u8..0x20).prop_map(|b| vec![b]),
            Just(vec![0x7f]),
        ];
        proptest::collection::vec(atoms, 0..60).prop_map(|v| v.concat())
    }

    proptest::proptest! {
        /// Whatever arrives, nothing panics, the cursor stays on a char
        /// boundary of the line, and the redraw fits the terminal.
        #[test]
        fn any_input_keeps_the_cursor_on_a_char_boundary(
            bytes in key_bytes(),
            history in proptest::collection::vec(".{0,12}", 0..4),
            seed in 0usize..64,
            cols in 1usize..40,
        ) {
            let mut ed = Editor::new();
            for h in &history {
                ed.add_history(h);
            }
            ed.reset();
            for (i, &b) in bytes.iter().enumerate() {
                let mut action = ed.feed(b);
                if action == Action::Complete {
                    let found: Vec<String> = match (i + seed) % 4 {
                        0 => vec![],
                        1 => vec!["é日 ".into()],
                        _ => vec![format!("{}x", ed.line()), format!("{}é", ed.line())],
                    };
                    action = ed.complete(seed % (ed.line().len() + 2), &found);
                }
                if matches!(action, Action::Accept(_) | Action::Eof | Action::Interrupted) {
                    ed.reset();
                }
                let (line, pos) = (ed.line(), ed.cursor());
                proptest::prop_assert!(pos <= line.len() && line.is_char_boundary(pos));
                let shown = ed.render("> ", cols);
                let column = shown
                    .rsplit_once("\x1b[")
                    .and_then(|(_, c)| c.strip_suffix('C'))
                    .map_or(0, |c| c.parse::<usize>().unwrap_or(usize::MAX));
                if cols > 3 {
                    proptest::prop_assert!(column < cols, "{shown:?} in {cols} columns");
                }
            }
        }
    }
}
