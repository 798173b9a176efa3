//! The eventlistener protocol, as a pure state machine over the bytes a
//! listener writes on its stdout (Supervisor's `PEventListenerDispatcher`).
//!
//! A listener starts ACKNOWLEDGED, says `READY\n` (-> READY), gets an event
//! (-> BUSY), answers `RESULT <len>\n<body>`: `OK` accepts the event, any
//! other body rejects it (it is re-queued), then -> ACKNOWLEDGED.  Anything
//! unexpected puts the listener in UNKNOWN, where it gets no more events.

/// Listener states with Supervisor's codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerState {
    Ready = 10,
    Busy = 20,
    Acknowledged = 30,
    Unknown = 40,
}

impl ListenerState {
    pub fn name(self) -> &'static str {
        match self {
            ListenerState::Ready => "READY",
            ListenerState::Busy => "BUSY",
            ListenerState::Acknowledged => "ACKNOWLEDGED",
            ListenerState::Unknown => "UNKNOWN",
        }
    }
}

/// What the bytes meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// The state changed (log it at debug; UNKNOWN also warns).
    Changed {
        from: ListenerState,
        to: ListenerState,
    },
    /// The event in flight was accepted (`RESULT 2\nOK`).
    Accepted,
    /// The event in flight was rejected (any other body): re-queue it.
    Rejected { body: Vec<u8> },
    /// A malformed RESULT line: the event in flight is re-queued.
    BadResultLine { line: String },
}

const READY: &[u8] = b"READY\n";
const RESULT: &[u8] = b"RESULT ";

/// One listener's protocol state.
#[derive(Debug, Clone)]
pub struct Protocol {
    pub state: ListenerState,
    buffer: Vec<u8>,
    result: Vec<u8>,
    resultlen: Option<usize>,
}

impl Default for Protocol {
    fn default() -> Self {
        Protocol::new()
    }
}

/// Python's `repr()` of a bytes object (`b'...'`, or `b"..."` when that
/// avoids escaping), for messages and payloads with undecodable data.
pub fn bytes_repr(data: &[u8]) -> String {
    let quote = if data.contains(&b'\'') && !data.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut out = String::from("b");
    out.push(quote as char);
    for &b in data {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ if b == quote => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push(quote as char);
    out
}

impl Protocol {
    pub fn new() -> Protocol {
        Protocol {
            state: ListenerState::Acknowledged,
            buffer: Vec::new(),
            result: Vec::new(),
            resultlen: None,
        }
    }

    /// The daemon sent an event: READY -> BUSY.
    pub fn sent_event(&mut self) -> Signal {
        let from = self.state;
        self.state = ListenerState::Busy;
        Signal::Changed {
            from,
            to: ListenerState::Busy,
        }
    }

    /// The listener process (re)started: back to ACKNOWLEDGED, clean buffers.
    pub fn reset(&mut self) {
        *self = Protocol::new();
    }

    fn change(&mut self, to: ListenerState, out: &mut Vec<Signal>) {
        let from = self.state;
        self.state = to;
        out.push(Signal::Changed { from, to });
    }

    /// Feed bytes read from the listener's stdout.
    pub fn feed(&mut self, data: &[u8]) -> Vec<Signal> {
        let mut out = Vec::new();
        self.buffer.extend_from_slice(data);
        loop {
            if self.buffer.is_empty() {
                break;
            }
            match self.state {
                ListenerState::Unknown => {
                    self.buffer.clear();
                    break;
                }
                ListenerState::Acknowledged => {
                    if self.buffer.len() < READY.len() {
                        break;
                    }
                    if self.buffer.starts_with(READY) {
                        self.buffer.drain(..READY.len());
                        self.change(ListenerState::Ready, &mut out);
                    } else {
                        self.buffer.clear();
                        self.change(ListenerState::Unknown, &mut out);
                        break;
                    }
                }
                ListenerState::Ready => {
                    // Nothing may be said while waiting for an event.
                    self.buffer.clear();
                    self.change(ListenerState::Unknown, &mut out);
                    break;
                }
                ListenerState::Busy => match self.resultlen {
                    None => {
                        let Some(pos) = self.buffer.iter().position(|&c| c == b'\n') else {
                            break;
                        };
                        let line: Vec<u8> = self.buffer.drain(..=pos).collect();
                        let line = &line[..line.len() - 1];
                        let len = line
                            .get(RESULT.len()..)
                            .filter(|_| line.starts_with(RESULT))
                            .and_then(|n| std::str::from_utf8(n).ok())
                            .and_then(|n| n.trim().parse::<usize>().ok());
                        match len {
                            Some(n) => {
                                self.resultlen = Some(n);
                                if n == 0 {
                                    self.finish(&mut out);
                                }
                            }
                            None => {
                                let shown = match std::str::from_utf8(line) {
                                    Ok(s) => s.to_string(),
                                    Err(_) => format!("Undecodable: {}", bytes_repr(line)),
                                };
                                self.buffer.clear();
                                self.change(ListenerState::Unknown, &mut out);
                                out.push(Signal::BadResultLine { line: shown });
                                break;
                            }
                        }
                    }
                    Some(n) => {
                        let needed = n - self.result.len();
                        let take = needed.min(self.buffer.len());
                        self.result.extend(self.buffer.drain(..take));
                        if self.result.len() == n {
                            self.finish(&mut out);
                        } else {
                            break;
                        }
                    }
                },
            }
        }
        out
    }

    fn finish(&mut self, out: &mut Vec<Signal>) {
        let body = std::mem::take(&mut self.result);
        self.resultlen = None;
        if body == b"OK" {
            out.push(Signal::Accepted);
        } else {
            out.push(Signal::Rejected { body });
        }
        self.change(ListenerState::Acknowledged, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ListenerState::*;

    fn states(sig: &[Signal]) -> Vec<ListenerState> {
        sig.iter()
            .filter_map(|s| match s {
                Signal::Changed { to, .. } => Some(*to),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn ready_event_ok_cycle() {
        let mut p = Protocol::new();
        assert_eq!(p.state, Acknowledged);
        assert!(p.feed(b"REA").is_empty());
        assert_eq!(states(&p.feed(b"DY\n")), vec![Ready]);
        p.sent_event();
        assert_eq!(p.state, Busy);
        let s = p.feed(b"RESULT 2\nOKREADY\n");
        assert_eq!(s[0], Signal::Accepted);
        assert_eq!(states(&s), vec![Acknowledged, Ready]);
    }

    #[test]
    fn fail_rejects_and_split_reads_work() {
        let mut p = Protocol::new();
        p.feed(b"READY\n");
        p.sent_event();
        assert!(p.feed(b"RESU").is_empty());
        assert!(p.feed(b"LT 4\nFA").is_empty());
        let s = p.feed(b"IL");
        assert_eq!(
            s[0],
            Signal::Rejected {
                body: b"FAIL".to_vec()
            }
        );
        assert_eq!(p.state, Acknowledged);
    }

    #[test]
    fn protocol_violations_go_unknown() {
        let mut p = Protocol::new();
        assert_eq!(states(&p.feed(b"hello world\n")), vec![Unknown]);
        assert!(p.feed(b"READY\n").is_empty(), "UNKNOWN ignores everything");
        let mut p = Protocol::new();
        p.feed(b"READY\n");
        assert_eq!(states(&p.feed(b"x")), vec![Unknown], "output while READY");
        let mut p = Protocol::new();
        p.feed(b"READY\n");
        p.sent_event();
        let s = p.feed(b"RESULT x\n");
        assert_eq!(states(&s), vec![Unknown]);
        assert!(matches!(&s[1], Signal::BadResultLine { line } if line == "RESULT x"));
        let mut p = Protocol::new();
        p.feed(b"READY\n");
        p.sent_event();
        let s = p.feed(b"\xff\n");
        assert!(matches!(&s[1], Signal::BadResultLine { line } if line == "Undecodable: b'\\xff'"));
    }

    #[test]
    fn bytes_repr_like_python() {
        assert_eq!(bytes_repr(b"a\xffb"), "b'a\\xffb'");
        assert_eq!(bytes_repr(b"it's"), "b\"it's\"");
        assert_eq!(bytes_repr(b"'\""), "b'\\'\"'");
        assert_eq!(bytes_repr(b"\\\n"), "b'\\\\\\n'");
    }

    #[test]
    fn zero_length_result_is_a_rejection() {
        let mut p = Protocol::new();
        p.feed(b"READY\n");
        p.sent_event();
        let s = p.feed(b"RESULT 0\n");
        assert_eq!(s[0], Signal::Rejected { body: Vec::new() });
    }
}
