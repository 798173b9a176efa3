//! Base64 (RFC 4648, standard alphabet), hand-written because XML-RPC's `<base64>` must decode as Python's `binascii` does (skipping bytes outside the alphabet, stopping at a complete padding), which the `base64` crate refuses (`DecodeError::InvalidByte`).
//!
//! Used by the XML-RPC codec (`<base64>` values, written as Python's
//! `base64.encodebytes` writes them and read as `base64.decodebytes` reads
//! them), by the server's Basic auth check and by supervisorctl's
//! `Authorization` header.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Bytes of input per line of [`encode_lines`] (76 characters out).
const LINE_BYTES: usize = 57;

/// Standard base64 with `=` padding and no line breaks (RFC 4648 §4), as
/// an `Authorization: Basic` header carries it.
pub fn encode(data: &[u8]) -> String {
    let mut out = Vec::with_capacity(data.len().div_ceil(3) * 4);
    encode_into(data, &mut out);
    // Only alphabet bytes and `=` were written.
    out.into_iter().map(char::from).collect()
}

/// Python's `base64.encodebytes`: lines of 76 characters (57 bytes of
/// input), each ending in `\n`; nothing at all for no data.
pub fn encode_lines(data: &[u8], out: &mut Vec<u8>) {
    out.reserve(data.len().div_ceil(LINE_BYTES) * 77 + 4);
    for line in data.chunks(LINE_BYTES) {
        encode_into(line, out);
        out.push(b'\n');
    }
}

fn encode_into(data: &[u8], out: &mut Vec<u8>) {
    let sym = |n: u32, shift: u32| ALPHABET[(n >> shift) as usize & 63];
    for chunk in data.chunks(3) {
        let b1 = chunk.get(1).copied();
        let b2 = chunk.get(2).copied();
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(b1.unwrap_or(0)) << 8)
            | u32::from(b2.unwrap_or(0));
        out.push(sym(n, 18));
        out.push(sym(n, 12));
        out.push(if b1.is_some() { sym(n, 6) } else { b'=' });
        out.push(if b2.is_some() { sym(n, 0) } else { b'=' });
    }
}

/// The 6-bit value of an alphabet byte.
fn value(c: u8) -> Option<u8> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    })
}

/// Turns 6-bit values into bytes, a quantum of four values at a time.
struct Quads {
    out: Vec<u8>,
    /// Values seen of the current quantum (0..=3).
    pos: u8,
    /// Bits of the current quantum not yet written.
    left: u8,
}

impl Quads {
    fn new(capacity: usize) -> Quads {
        Quads {
            out: Vec::with_capacity(capacity),
            pos: 0,
            left: 0,
        }
    }

    fn push(&mut self, v: u8) {
        match self.pos {
            0 => self.left = v,
            1 => {
                self.out.push((self.left << 2) | (v >> 4));
                self.left = v & 0x0f;
            }
            2 => {
                self.out.push((self.left << 4) | (v >> 2));
                self.left = v & 0x03;
            }
            _ => self.out.push((self.left << 6) | v),
        }
        self.pos = (self.pos + 1) % 4;
    }
}

/// Strict decoding for credentials: only alphabet bytes, then optionally
/// nothing but `=`; padding may be missing.  `None` for anything else
/// (a space, a line break, data after the padding), where binascii would
/// skip or stop: a password is not an XML-RPC payload, and an
/// `Authorization` header that is not exactly base64 is refused.
pub fn decode_strict(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut q = Quads::new(bytes.len() / 4 * 3 + 2);
    for (i, &c) in bytes.iter().enumerate() {
        if c == b'=' {
            if bytes[i..].iter().all(|&b| b == b'=') {
                break;
            }
            return None;
        }
        q.push(value(c)?);
    }
    Some(q.out)
}

/// Python's `base64.decodebytes`, i.e. `binascii.a2b_base64` (not
/// strict): bytes outside the alphabet are skipped, a `=` counts only
/// after two values of a quantum, a padding that completes the quantum
/// ends the data (whatever follows), and a value between two `=` starts
/// the padding count again.  `None` where binascii raises (data ending in
/// an incomplete quantum: "Incorrect padding").
pub fn decode_lenient(data: &[u8]) -> Option<Vec<u8>> {
    let mut q = Quads::new(data.len() / 4 * 3);
    let mut pads = 0u8;
    for &c in data {
        if c == b'=' {
            if q.pos >= 2 {
                pads += 1;
                if q.pos + pads >= 4 {
                    return Some(q.out);
                }
            }
            continue;
        }
        let Some(v) = value(c) else { continue };
        pads = 0;
        q.push(v);
    }
    (q.pos == 0).then_some(q.out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lines(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_lines(data, &mut out);
        out
    }

    #[test]
    fn encodes_rfc4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("user:pass", "dXNlcjpwYXNz"),
        ] {
            assert_eq!(encode(plain.as_bytes()), coded);
            assert_eq!(decode_strict(coded).as_deref(), Some(plain.as_bytes()));
            assert_eq!(
                decode_lenient(coded.as_bytes()).as_deref(),
                Some(plain.as_bytes())
            );
        }
        assert_eq!(encode(&[0xfb, 0xff, 0xbf]), "+/+/");
    }

    #[test]
    fn encode_lines_is_python_encodebytes() {
        // base64.encodebytes(b"") == b""; 57 bytes fill exactly one line.
        assert_eq!(lines(b""), b"");
        assert_eq!(lines(b"a"), b"YQ==\n");
        let data = [b'x'; 58];
        let got = lines(&data);
        let text = std::str::from_utf8(&got).expect("ascii");
        let l: Vec<&str> = text.split_terminator('\n').collect();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].len(), 76);
        assert_eq!(l[1], "eA==");
    }

    #[test]
    fn strict_refuses_what_is_not_exactly_base64() {
        assert_eq!(
            decode_strict("dXNlcjpwYXNz==="),
            Some(b"user:pass".to_vec())
        );
        // Padding may be left out.
        assert_eq!(decode_strict("YQ"), Some(b"a".to_vec()));
        for bad in [
            "!!",
            " YQ==",
            "YQ ==",
            "YQ==\n",
            "dXNlcjpwYXNz===garbage",
            "dXNlcg==cGFzcw==",
        ] {
            assert_eq!(decode_strict(bad), None, "{bad:?}");
        }
    }

    /// Each vector checked against Python 3.11's `binascii.a2b_base64`.
    #[test]
    fn lenient_decodes_like_binascii() {
        let ok: &[(&str, &[u8])] = &[
            ("", b""),
            ("YQ==", b"a"),
            ("YWI=", b"ab"),
            ("YWJj", b"abc"),
            (" Y W\nJj \n", b"abc"),
            ("YQ==trailing", b"a"),
            ("Y!Q*==", b"a"),
            ("=YQ==", b"a"),
            ("====", b""),
            ("YWJj=", b"abc"),
            ("YWJj====YQ==", b"abca"),
            ("YQ=\n=", b"a"),
            ("YW=I=", b"ab"),
            // A value after one `=` starts the count again: binascii
            // reads on to the second quantum.
            ("YW=JjYW=Jj", b"abcabc"),
            ("\u{e9}YQ==", b"a"),
        ];
        for (text, want) in ok {
            assert_eq!(
                decode_lenient(text.as_bytes()).as_deref(),
                Some(*want),
                "{text:?}"
            );
        }
        for bad in ["Y", "YQ", "YQ=", "YWJjZ", "YWJjZA=", "Y===", "Y=Q="] {
            assert_eq!(decode_lenient(bad.as_bytes()), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn round_trips(data in prop::collection::vec(any::<u8>(), 0..300)) {
            let one = encode(&data);
            prop_assert_eq!(one.len(), data.len().div_ceil(3) * 4);
            prop_assert_eq!(decode_strict(&one), Some(data.clone()));
            prop_assert_eq!(decode_lenient(one.as_bytes()), Some(data.clone()));
            let split = lines(&data);
            prop_assert!(split.split(|&b| b == b'\n').all(|l| l.len() <= 76));
            prop_assert_eq!(decode_lenient(&split), Some(data.clone()));
            // Without its padding, the strict decoder still reads it.
            prop_assert_eq!(decode_strict(one.trim_end_matches('=')), Some(data));
        }

        #[test]
        fn lenient_skips_bytes_outside_the_alphabet(
            data in prop::collection::vec(any::<u8>(), 0..100),
            noise in prop::collection::vec(
                prop::sample::select(b" \t\r\n!*.-_~\x00\xff".to_vec()), 0..40),
            at in prop::collection::vec(any::<prop::sample::Index>(), 0..40),
        ) {
            let mut text = encode(&data).into_bytes();
            for (c, i) in noise.iter().zip(&at) {
                let i = i.index(text.len() + 1);
                text.insert(i, *c);
            }
            prop_assert_eq!(decode_lenient(&text), Some(data));
        }

        #[test]
        fn decoders_never_panic(text in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_lenient(&text);
            let _ = decode_strict(&String::from_utf8_lossy(&text));
        }
    }
}
