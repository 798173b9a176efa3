//! ANSI escape stripping (`strip_ansi=true`), byte for byte what
//! Supervisor's `dispatchers.stripEscapes` does: from each `ESC [` up to and
//! including the next terminator byte (`HfABCDRsuJKhlpm`) everything is
//! dropped; a lone `ESC` not followed by `[` is kept.
//!
//! Supervisor strips each read chunk on its own, so a sequence split across
//! two reads leaks its tail into the log.  [`AnsiStripper`] carries the state
//! across chunks instead; on a single chunk both give the same bytes.

const ESC: u8 = 0x1b;

fn is_terminator(b: u8) -> bool {
    matches!(
        b,
        b'H' | b'f'
            | b'A'
            | b'B'
            | b'C'
            | b'D'
            | b'R'
            | b's'
            | b'u'
            | b'J'
            | b'K'
            | b'h'
            | b'l'
            | b'p'
            | b'm'
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    /// Copying bytes through.
    #[default]
    Text,
    /// The previous chunk ended with `ESC`; held back until we see whether
    /// `[` follows.
    HeldEsc,
    /// Inside `ESC [ ...`, dropping bytes up to a terminator.
    Sequence,
}

/// Streaming ANSI stripper: feed it consecutive chunks of one stream.
#[derive(Debug, Clone, Default)]
pub struct AnsiStripper {
    state: State,
}

impl AnsiStripper {
    pub fn new() -> AnsiStripper {
        AnsiStripper::default()
    }

    /// True when `data` would come out unchanged (no escape byte and no
    /// sequence in progress): the caller can skip copying.
    pub fn passthrough(&self, data: &[u8]) -> bool {
        self.state == State::Text && !data.contains(&ESC)
    }

    /// Append the stripped form of `data` to `out`.
    pub fn strip_into(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        if self.state == State::HeldEsc && !data.is_empty() {
            if data[0] == b'[' {
                self.state = State::Sequence;
                i = 1;
            } else {
                out.push(ESC);
                self.state = State::Text;
            }
        }
        while i < data.len() {
            match self.state {
                State::Text => {
                    let Some(off) = data[i..].iter().position(|&b| b == ESC) else {
                        out.extend_from_slice(&data[i..]);
                        return;
                    };
                    let p = i + off;
                    out.extend_from_slice(&data[i..p]);
                    match data.get(p + 1) {
                        None => {
                            self.state = State::HeldEsc;
                            return;
                        }
                        Some(b'[') => {
                            self.state = State::Sequence;
                            i = p + 2;
                        }
                        Some(_) => {
                            out.push(ESC);
                            i = p + 1;
                        }
                    }
                }
                State::Sequence => match data[i..].iter().position(|&b| is_terminator(b)) {
                    None => return,
                    Some(off) => {
                        self.state = State::Text;
                        i += off + 1;
                    }
                },
                // Only possible on entry, handled above.
                State::HeldEsc => return,
            }
        }
    }

    /// End of stream: return a held-back trailing `ESC`, if any.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.state == State::HeldEsc {
            out.push(ESC);
        }
        self.state = State::Text;
    }
}

/// Strip one buffer exactly like Supervisor's `stripEscapes`.
pub fn strip_ansi(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut s = AnsiStripper::new();
    s.strip_into(data, &mut out);
    s.finish(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct transcription of Supervisor's algorithm, as an oracle.
    fn reference(s: &[u8]) -> Vec<u8> {
        let mut result = Vec::new();
        let mut show = true;
        let mut i = 0;
        while i < s.len() {
            if !show && is_terminator(s[i]) {
                show = true;
            } else if show {
                let n = s[i..].windows(2).position(|w| w == b"\x1b[").map(|p| p + i);
                match n {
                    None => {
                        result.extend_from_slice(&s[i..]);
                        return result;
                    }
                    Some(n) => {
                        result.extend_from_slice(&s[i..n]);
                        i = n;
                        show = false;
                    }
                }
            }
            i += 1;
        }
        result
    }

    #[test]
    fn strips_colours_and_cursor_moves() {
        assert_eq!(strip_ansi(b"\x1b[31mred\x1b[0m plain"), b"red plain");
        assert_eq!(strip_ansi(b"a\x1b[2Jb\x1b[10;20Hc\x1b[Kd"), b"abcd");
        assert_eq!(strip_ansi(b"no escapes\n"), b"no escapes\n");
        assert_eq!(strip_ansi(b""), b"");
    }

    #[test]
    fn lone_escape_is_kept_and_unterminated_sequence_dropped() {
        assert_eq!(strip_ansi(b"a\x1bb"), b"a\x1bb");
        assert_eq!(strip_ansi(b"a\x1b"), b"a\x1b");
        assert_eq!(strip_ansi(b"a\x1b[12;3"), b"a");
        assert_eq!(strip_ansi(b"\x1b\x1b[1mX"), b"\x1bX");
        // Supervisor's terminator list is short: `ESC [ ? 25 l` ends at `l`,
        // but an OSC (`ESC ]`) is not a CSI and passes through.
        assert_eq!(strip_ansi(b"\x1b[?25lX"), b"X");
        assert_eq!(strip_ansi(b"\x1b]0;t\x07X"), b"\x1b]0;t\x07X");
        // Bytes inside a sequence are dropped up to a terminator, whatever they are.
        assert_eq!(strip_ansi(b"\x1b[1;\x1b[32mX"), b"X");
    }

    #[test]
    fn matches_supervisor_on_many_inputs() {
        let alphabet: &[u8] = b"\x1b[m;1aH\nxK";
        let mut seed = 0x1234_5678_u64;
        for _ in 0..5000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 24) as usize;
            let mut input = Vec::with_capacity(len);
            let mut x = seed;
            for _ in 0..len {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                input.push(alphabet[((x >> 33) as usize) % alphabet.len()]);
            }
            assert_eq!(strip_ansi(&input), reference(&input), "input {input:?}");
        }
    }

    #[test]
    fn streaming_handles_sequences_split_across_chunks() {
        let input = b"ab\x1b[31mcd\x1b[0mef\x1bg\x1b";
        let whole = strip_ansi(input);
        for split in 0..=input.len() {
            let mut s = AnsiStripper::new();
            let mut out = Vec::new();
            s.strip_into(&input[..split], &mut out);
            s.strip_into(&input[split..], &mut out);
            s.finish(&mut out);
            assert_eq!(out, whole, "split at {split}");
        }
        // Byte by byte.
        let mut s = AnsiStripper::new();
        let mut out = Vec::new();
        for b in input {
            s.strip_into(std::slice::from_ref(b), &mut out);
        }
        s.finish(&mut out);
        assert_eq!(out, whole);
    }

    #[test]
    fn passthrough_detection() {
        let mut s = AnsiStripper::new();
        assert!(s.passthrough(b"plain"));
        assert!(!s.passthrough(b"x\x1b"));
        let mut out = Vec::new();
        s.strip_into(b"\x1b[3", &mut out);
        assert!(!s.passthrough(b"plain"));
        s.strip_into(b"1m", &mut out);
        assert!(s.passthrough(b"plain"));
    }
}
