//! Property tests of the request reader: no input makes it panic or answer
//! anything but HTTP, and well-formed requests (pipelined, arriving in
//! pieces of any size) come out with their method, target, headers and
//! body intact.
//!
//! Each property runs proptest's default number of cases (256), or
//! `PROPTEST_CASES` of them when that is set.

use super::*;
use proptest::prelude::*;

/// A connection whose input arrives at most `step` bytes per read.
struct Trickle {
    input: Vec<u8>,
    pos: usize,
    step: usize,
    output: Vec<u8>,
}

impl Trickle {
    fn new(input: Vec<u8>, step: usize) -> Trickle {
        Trickle {
            input,
            pos: 0,
            step: step.max(1),
            output: Vec::new(),
        }
    }
}

impl Read for Trickle {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        let n = b.len().min(self.step).min(self.input.len() - self.pos);
        b[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for Trickle {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Conn for Trickle {
    fn set_timeout(&self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
}

/// One well-formed request: what it should parse to, and its bytes.
#[derive(Debug, Clone)]
struct Sent {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Sent {
    fn bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} HTTP/1.1\r\n", self.method, self.target);
        for (k, v) in &self.headers {
            out.push_str(&format!("{k}:{v}\r\n"));
        }
        out.push_str("\r\n");
        let mut out = out.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

fn sent() -> impl Strategy<Value = Sent> {
    let token = "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}";
    // Values keep no whitespace at their ends (the reader trims it) but
    // may hold spaces, colons and Latin-1 letters inside.
    let value = "([!-~\u{a1}-\u{ff}]([ !-~\u{a1}-\u{ff}]{0,30}[!-~\u{a1}-\u{ff}])?)?";
    let header = (token, value).prop_filter("not a framing header", |(k, _)| {
        !k.eq_ignore_ascii_case("content-length") && !k.eq_ignore_ascii_case("transfer-encoding")
    });
    (
        token,
        "/[!-~\u{a1}-\u{10ffff}]{0,40}",
        prop::collection::vec(header, 0..8),
        prop::collection::vec(any::<u8>(), 0..300),
        any::<bool>(),
    )
        .prop_map(|(method, target, mut headers, body, with_len)| {
            if with_len || !body.is_empty() {
                headers.push(("Content-Length".into(), body.len().to_string()));
            }
            Sent {
                method,
                target,
                headers,
                body,
            }
        })
}

fn check(got: &Request, want: &Sent) -> Result<(), TestCaseError> {
    prop_assert_eq!(&got.method, &want.method);
    prop_assert_eq!(&got.target, &want.target);
    prop_assert_eq!(&got.version, "HTTP/1.1");
    prop_assert_eq!(&got.headers, &want.headers);
    prop_assert_eq!(&got.body, &want.body);
    Ok(())
}

proptest! {
    #[test]
    fn pipelined_requests_round_trip(a in sent(), b in sent(), step in 1usize..9000) {
        let mut input = a.bytes();
        input.extend_from_slice(&b.bytes());
        let mut conn = Trickle::new(input, step);
        let mut buf = Vec::new();
        for want in [&a, &b] {
            match read_request(&mut conn, &mut buf) {
                Ok(got) => check(&got, want)?,
                Err(e) => prop_assert!(false, "{want:?}: {e:?}"),
            }
        }
        prop_assert!(matches!(read_request(&mut conn, &mut buf), Err(ReadErr::Closed)));
    }

    #[test]
    fn arbitrary_bytes_get_http_or_nothing(
        input in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..600),
            // Mostly a plausible head, then anything.
            (sent(), prop::collection::vec(any::<u8>(), 0..200), any::<prop::sample::Index>())
                .prop_map(|(s, junk, at)| {
                    let mut b = s.bytes();
                    let at = at.index(b.len() + 1);
                    b.splice(at..at, junk);
                    b
                }),
        ],
        step in 1usize..9000,
    ) {
        let mut conn = Trickle::new(input, step);
        let h: Handler = Arc::new(|r: Request| {
            Reply::Full(Response::new(200, "text/plain", r.body))
        });
        serve_conn(&mut conn, &h);
        prop_assert!(
            conn.output.is_empty() || conn.output.starts_with(b"HTTP/1.1 "),
            "{:?}",
            String::from_utf8_lossy(&conn.output)
        );
    }
}
