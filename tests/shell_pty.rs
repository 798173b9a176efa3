//! supervisorctl's interactive shell in a real pseudo-terminal, against our
//! daemon: tab completion, editing keys, history recall, Ctrl-C and Ctrl-D,
//! and the history file (plain lines, as GNU readline writes it).
//!
//! Keys are only typed once the prompt is drawn (the editor has put the
//! terminal in raw mode by then), so nothing is echoed by the tty itself.

use crate::util::*;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PROMPT: &str = "supervisor> ";
const WAIT: Duration = Duration::from_secs(20);

const PROGRAMS: &str = "\
[program:sleeper]
command=/bin/sleep 100000
startsecs=0

[program:other]
command=/bin/sleep 100000
autostart=false
";

/// A process on the slave side of a pty; everything it writes is
/// collected from the master side.  Killed by pid when dropped.
struct PtyChild {
    child: Child,
    master: File,
    out: Arc<Mutex<Vec<u8>>>,
    /// Copies the master side into `out` until the slave side is closed.
    reader: std::thread::JoinHandle<()>,
    /// Where the next wait starts looking.
    seen: usize,
}

impl PtyChild {
    fn spawn(h: &Harness, program: &Path, args: &[&str]) -> PtyChild {
        let size = nix::pty::Winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(&size, None).unwrap_or_else(|e| panic!("openpty: {e}"));
        let slave = |fd: &OwnedFd| Stdio::from(fd.try_clone().unwrap_or_else(|e| panic!("{e}")));
        let mut c = h.command(program);
        c.args(args)
            .stdin(slave(&pty.slave))
            .stdout(slave(&pty.slave))
            .stderr(slave(&pty.slave));
        // SAFETY: setsid and ioctl are async-signal-safe.
        unsafe {
            c.pre_exec(|| {
                // A session of its own with the pty as controlling terminal,
                // as a login shell would have.
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = c
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        // Only the child keeps the slave open: EOF on the master when it ends.
        drop(c);
        drop(pty.slave);
        let master = File::from(pty.master);
        let out = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().unwrap_or_else(|e| panic!("{e}"));
        let sink = Arc::clone(&out);
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut o) = sink.lock() {
                    o.extend_from_slice(&buf[..n]);
                }
            }
        });
        PtyChild {
            child,
            master,
            out,
            reader,
            seen: 0,
        }
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().map(|o| o.clone()).unwrap_or_default())
            .into_owned()
    }

    fn send(&mut self, keys: &str) {
        self.master
            .write_all(keys.as_bytes())
            .unwrap_or_else(|e| panic!("write to the pty: {e}"));
    }

    /// Wait until `needle` appears after what earlier waits matched; the
    /// next wait starts after it.
    fn expect(&mut self, h: &Harness, needle: &str) {
        let from = self.seen;
        let mut at = None;
        let r = wait_until(WAIT, &format!("{needle:?} on the terminal"), || {
            let text = self.output();
            at = text
                .get(from..)
                .and_then(|t| t.find(needle))
                .map(|i| from + i + needle.len());
            at.is_some()
        });
        if let Err(e) = r {
            panic!(
                "{}: {e}\n--- terminal after the last match:\n{:?}\n{}",
                h.name,
                self.output().get(from..).unwrap_or(""),
                h.diagnostics()
            );
        }
        self.seen = at.unwrap_or(from);
    }

    /// The terminal output from `mark` to the last match.
    fn since(&self, mark: usize) -> String {
        self.output().get(mark..self.seen).unwrap_or("").to_string()
    }

    /// Wait for the process to end and for all it wrote; its exit code.
    fn exit_code(&mut self, h: &Harness) -> Option<i32> {
        let mut status = None;
        let r = wait_until(WAIT, "the shell to exit", || {
            status = status.or_else(|| self.child.try_wait().ok().flatten());
            status.is_some() && self.reader.is_finished()
        });
        if let Err(e) = r {
            panic!("{}: {e}\n--- terminal:\n{:?}", h.name, self.output());
        }
        status.and_then(|s| s.code())
    }
}

impl Drop for PtyChild {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            send_signal(self.child.id() as i32, libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// A daemon of ours running `sleeper` (and `other`, stopped), with
/// `history_file={dir}/ctl.history` in `[supervisorctl]`.
fn daemon(name: &str) -> Harness {
    let mut h = Harness::new(name);
    let conf = BASE_CONF.replace(
        "[supervisorctl]\n",
        "[supervisorctl]\nhistory_file={dir}/ctl.history\n",
    );
    h.write_conf(&format!("{conf}{PROGRAMS}"));
    h.start(&[]);
    h.wait_for_socket(WAIT);
    h.eventually(WAIT, "sleeper RUNNING", || {
        String::from_utf8_lossy(&h.ctl(&["status", "sleeper"]).stdout).contains("RUNNING")
    });
    h
}

fn our_shell(h: &Harness) -> PtyChild {
    let conf = h.conf_path();
    let link = h.bin_link("supervisorctl");
    PtyChild::spawn(h, &link, &["-c", conf.to_str().unwrap_or_default()])
}

#[test]
fn ctl_shell_pty_completes_edits_recalls_and_keeps_history() {
    let h = daemon("ctl_shell_pty_keys");
    let mut sh = our_shell(&h);
    // The shell starts with `status`.
    sh.expect(&h, "sleeper");
    sh.expect(&h, "RUNNING");
    sh.expect(&h, PROMPT);

    // Two candidates: the first Tab changes nothing (bell), the second
    // lists them; then one more letter makes the completion unique.
    sh.send("sta\t");
    sh.expect(&h, "\x07");
    sh.send("\t");
    sh.expect(&h, "\r\nstart   status\r");
    sh.expect(&h, &format!("{PROMPT}sta\x1b[K"));
    sh.send("t\t");
    sh.expect(&h, &format!("{PROMPT}status \x1b[K"));
    sh.send("\r");
    sh.expect(&h, "\r\n");
    sh.expect(&h, "other");
    sh.expect(&h, "STOPPED");
    sh.expect(&h, "sleeper");
    sh.expect(&h, "RUNNING");
    sh.expect(&h, PROMPT);

    sh.send("version\r");
    sh.expect(&h, "4.3.0\r\n");
    sh.expect(&h, PROMPT);

    // Up twice recalls `status `; the typo X is removed with Left and
    // Backspace, and the command run is the edited one.
    sh.send("\x1b[A");
    sh.expect(&h, &format!("{PROMPT}version\x1b[K"));
    sh.send("\x1b[A");
    sh.expect(&h, &format!("{PROMPT}status \x1b[K"));
    sh.send("slXeeper");
    sh.expect(&h, &format!("{PROMPT}status slXeeper\x1b[K"));
    sh.send("\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x7f");
    sh.expect(&h, &format!("{PROMPT}status sleeper\x1b[K"));
    let mark = sh.seen;
    sh.send("\r");
    sh.expect(&h, "RUNNING");
    sh.expect(&h, PROMPT);
    let answer = sh.since(mark);
    assert!(
        answer.contains("sleeper") && !answer.contains("other"),
        "only sleeper's status was asked for: {answer:?}"
    );

    // Ctrl-D on the empty line ends the shell, status 0.
    sh.send("\x04");
    assert_eq!(sh.exit_code(&h), Some(0), "{:?}", sh.output());
    assert_eq!(
        h.read("ctl.history"),
        "status \nversion\nstatus sleeper\n",
        "the history file holds the typed commands as plain lines"
    );
}

/// Ctrl-C at the prompt: the reference's shell ends (KeyboardInterrupt
/// leaves its cmdloop) with a blank line and status 0; ours too.  An old
/// rustyline history file (`#V2` header) is read, and saved as plain lines.
#[test]
fn ctl_shell_pty_ctrl_c_ends_the_shell_like_the_reference() {
    let h = daemon("ctl_shell_pty_ctrl_c");
    h.write_file("ctl.history", "#V2\nstatus sleeper\nversion\n");
    let mut sh = our_shell(&h);
    sh.expect(&h, "RUNNING");
    sh.expect(&h, PROMPT);
    sh.send("\x10\x10");
    sh.expect(&h, &format!("{PROMPT}status sleeper\x1b[K"));
    sh.send("\x15abc");
    sh.expect(&h, &format!("{PROMPT}abc\x1b[K"));
    sh.send("\x03");
    assert_eq!(sh.exit_code(&h), Some(0), "{:?}", sh.output());
    assert!(
        sh.output().ends_with("\r\n"),
        "a blank line after ^C: {:?}",
        sh.output()
    );
    assert_eq!(h.read("ctl.history"), "status sleeper\nversion\n");

    // SIGINT from elsewhere ends it the same way.
    let mut sh = our_shell(&h);
    sh.expect(&h, "RUNNING");
    sh.expect(&h, PROMPT);
    assert!(send_signal(sh.child.id() as i32, libc::SIGINT));
    assert_eq!(sh.exit_code(&h), Some(0), "{:?}", sh.output());
    assert!(sh.output().ends_with("\r\n"), "{:?}", sh.output());

    let Some(venv) = reference_venv() else {
        skip_unless(
            false,
            "SUPERVISOR_REF_VENV is not set: the reference's Ctrl-C is not checked",
        );
        return;
    };
    let conf = h.conf_path();
    let mut theirs = PtyChild::spawn(
        &h,
        &venv.join("bin").join("supervisorctl"),
        &["-c", conf.to_str().unwrap_or_default()],
    );
    theirs.expect(&h, "RUNNING");
    theirs.expect(&h, PROMPT);
    theirs.send("abc");
    theirs.expect(&h, "abc");
    theirs.send("\x03");
    assert_eq!(theirs.exit_code(&h), Some(0), "{:?}", theirs.output());
    assert!(theirs.output().ends_with("\r\n"), "{:?}", theirs.output());
}
