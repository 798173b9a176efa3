//! Capture mode (`*_capture_maxbytes > 0`): output between
//! `<!--XSUPERVISOR:BEGIN-->` and `<!--XSUPERVISOR:END-->` is diverted into a
//! bounded buffer and becomes a PROCESS_COMMUNICATION event at the end token
//! (Supervisor's `POutputDispatcher.record_output` / `BoundIO`).

pub const BEGIN_TOKEN: &[u8] = b"<!--XSUPERVISOR:BEGIN-->";
pub const END_TOKEN: &[u8] = b"<!--XSUPERVISOR:END-->";

/// What to do with a piece of output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Ordinary output (`captured == false`: to the channel log) or output
    /// inside capture tags (`captured == true`: kept for the event).  Both
    /// count as output for PROCESS_LOG events and the debug main log.
    Data { bytes: Vec<u8>, captured: bool },
    /// The end token was seen: emit a PROCESS_COMMUNICATION event.
    Comm(Vec<u8>),
}

/// One channel's capture state.
#[derive(Debug, Clone)]
pub struct Capture {
    maxbytes: usize,
    capturing: bool,
    pending: Vec<u8>,
    captured: Vec<u8>,
}

/// Length of the longest suffix of `data` that is a proper prefix of `token`
/// (Supervisor's `find_prefix_at_end`).
fn prefix_at_end(data: &[u8], token: &[u8]) -> usize {
    let max = token.len().saturating_sub(1).min(data.len());
    (1..=max)
        .rev()
        .find(|&n| data[data.len() - n..] == token[..n])
        .unwrap_or(0)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Capture {
    pub fn new(maxbytes: u64) -> Capture {
        Capture {
            maxbytes: maxbytes.min(usize::MAX as u64) as usize,
            capturing: false,
            pending: Vec::new(),
            captured: Vec::new(),
        }
    }

    /// Supervisor's BoundIO.write: past the bound, drop as many leading bytes
    /// as are being added.
    fn keep(&mut self, b: &[u8]) {
        if self.captured.len() + b.len() > self.maxbytes {
            let cut = b.len().min(self.captured.len());
            self.captured.drain(..cut);
        }
        self.captured.extend_from_slice(b);
    }

    fn emit(&mut self, bytes: Vec<u8>, out: &mut Vec<Piece>) {
        if bytes.is_empty() {
            return;
        }
        if self.capturing {
            self.keep(&bytes);
        }
        out.push(Piece::Data {
            bytes,
            captured: self.capturing,
        });
    }

    /// Feed what was read from the pipe.
    pub fn feed(&mut self, data: &[u8]) -> Vec<Piece> {
        let mut out = Vec::new();
        self.pending.extend_from_slice(data);
        loop {
            let token = if self.capturing {
                END_TOKEN
            } else {
                BEGIN_TOKEN
            };
            if self.pending.len() <= token.len() {
                break;
            }
            let buf = std::mem::take(&mut self.pending);
            match find(&buf, token) {
                Some(i) => {
                    self.emit(buf[..i].to_vec(), &mut out);
                    self.capturing = !self.capturing;
                    if !self.capturing {
                        out.push(Piece::Comm(std::mem::take(&mut self.captured)));
                    }
                    self.pending = buf[i + token.len()..].to_vec();
                    if self.pending.is_empty() {
                        break;
                    }
                }
                None => {
                    let keep = prefix_at_end(&buf, token);
                    let (now, later) = buf.split_at(buf.len() - keep);
                    self.pending = later.to_vec();
                    self.emit(now.to_vec(), &mut out);
                    break;
                }
            }
        }
        out
    }

    /// The process ended: whatever is pending is ordinary output.
    pub fn flush(&mut self) -> Vec<Piece> {
        let mut out = Vec::new();
        let rest = std::mem::take(&mut self.pending);
        self.emit(rest, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(p: &[Piece], captured: bool) -> Vec<u8> {
        p.iter()
            .filter_map(|x| match x {
                Piece::Data { bytes, captured: c } if *c == captured => Some(bytes.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    fn comms(p: &[Piece]) -> Vec<Vec<u8>> {
        p.iter()
            .filter_map(|x| match x {
                Piece::Comm(b) => Some(b.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn captures_between_tokens() {
        let mut c = Capture::new(100);
        let mut all =
            c.feed(b"before<!--XSUPERVISOR:BEGIN-->hello<!--XSUPERVISOR:END-->after and more");
        all.extend(c.flush());
        assert_eq!(data(&all, false), b"beforeafter and more");
        assert_eq!(data(&all, true), b"hello");
        assert_eq!(comms(&all), vec![b"hello".to_vec()]);
    }

    #[test]
    fn tokens_split_across_reads() {
        let input = b"xx<!--XSUPERVISOR:BEGIN-->payload<!--XSUPERVISOR:END-->yy".to_vec();
        for cut in 1..input.len() {
            let mut c = Capture::new(100);
            let mut all = c.feed(&input[..cut]);
            all.extend(c.feed(&input[cut..]));
            all.extend(c.flush());
            assert_eq!(comms(&all), vec![b"payload".to_vec()], "cut at {cut}");
            assert_eq!(data(&all, false), b"xxyy", "cut at {cut}");
        }
    }

    #[test]
    fn bound_like_boundio() {
        let mut c = Capture::new(5);
        let a = [b'a'; 30];
        let b = vec![b'b'; 30];
        let mut all = c.feed(&[BEGIN_TOKEN, &a[..]].concat());
        all.extend(c.feed(&b));
        all.extend(c.feed(b"<!--XSUPERVISOR:END-->x"));
        // BoundIO: past the bound, as many leading bytes go as are added.
        assert_eq!(comms(&all), vec![b.clone()]);
    }

    #[test]
    fn no_tokens_passes_everything() {
        let mut c = Capture::new(10);
        let mut all = c.feed(b"plain output that is long enough");
        all.extend(c.flush());
        assert_eq!(data(&all, false), b"plain output that is long enough");
    }
}
