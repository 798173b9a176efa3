//! Writing XML-RPC bodies byte for byte as Supervisor (Python's
//! `xmlrpc.client.dumps`) does, floats in Python's `repr()`.

use std::fmt;

use crate::rpc::faults::Fault;
use crate::rpc::value::Value;

const XML_HEADER: &[u8] = b"<?xml version='1.0'?>\n";

/// A `methodResponse` carrying `value`, as Supervisor would send it.
pub fn encode_response(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_response_into(value, &mut out);
    out
}

/// [`encode_response`] appending to `out` (reuse one buffer across calls).
pub fn encode_response_into(value: &Value, out: &mut Vec<u8>) {
    out.reserve(estimate(value) + 100);
    out.extend_from_slice(XML_HEADER);
    out.extend_from_slice(b"<methodResponse>\n<params>\n<param>\n");
    write_value(value, out);
    out.extend_from_slice(b"</param>\n</params>\n</methodResponse>\n");
}

/// Writing a response directly, without building a [`Value`] first: the
/// same bytes as [`encode_response`] of the equivalent value, for hot
/// replies (`getAllProcessInfo`) where allocating a tree per call shows.
pub mod direct {
    use super::{XML_HEADER, escape_into, write_i32};

    pub fn response_start(out: &mut Vec<u8>) {
        out.extend_from_slice(XML_HEADER);
        out.extend_from_slice(b"<methodResponse>\n<params>\n<param>\n");
    }
    pub fn response_end(out: &mut Vec<u8>) {
        out.extend_from_slice(b"</param>\n</params>\n</methodResponse>\n");
    }
    pub fn array_start(out: &mut Vec<u8>) {
        out.extend_from_slice(b"<value><array><data>\n");
    }
    pub fn array_end(out: &mut Vec<u8>) {
        out.extend_from_slice(b"</data></array></value>\n");
    }
    pub fn struct_start(out: &mut Vec<u8>) {
        out.extend_from_slice(b"<value><struct>\n");
    }
    pub fn struct_end(out: &mut Vec<u8>) {
        out.extend_from_slice(b"</struct></value>\n");
    }
    /// A member whose name needs no escaping (a literal key).
    pub fn member_int(out: &mut Vec<u8>, name: &str, v: i32) {
        out.extend_from_slice(b"<member>\n<name>");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"</name>\n<value><int>");
        write_i32(v, out);
        out.extend_from_slice(b"</int></value>\n</member>\n");
    }
    pub fn member_bool(out: &mut Vec<u8>, name: &str, v: bool) {
        out.extend_from_slice(b"<member>\n<name>");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(if v {
            b"</name>\n<value><boolean>1</boolean></value>\n</member>\n"
        } else {
            b"</name>\n<value><boolean>0</boolean></value>\n</member>\n"
        });
    }
    pub fn member_str(out: &mut Vec<u8>, name: &str, v: &str) {
        out.extend_from_slice(b"<member>\n<name>");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"</name>\n<value><string>");
        escape_into(v, out);
        out.extend_from_slice(b"</string></value>\n</member>\n");
    }
}

/// A `methodResponse` carrying a fault, as Supervisor would send it.
pub fn encode_fault(fault: &Fault) -> Vec<u8> {
    let mut out = Vec::new();
    encode_fault_into(fault, &mut out);
    out
}

/// [`encode_fault`] appending to `out`.
pub fn encode_fault_into(fault: &Fault, out: &mut Vec<u8>) {
    out.reserve(fault.string.len() + 300);
    out.extend_from_slice(XML_HEADER);
    out.extend_from_slice(
        b"<methodResponse>\n<fault>\n<value><struct>\n<member>\n<name>faultCode</name>\n",
    );
    write_value(&Value::Int(fault.code), out);
    out.extend_from_slice(b"</member>\n<member>\n<name>faultString</name>\n");
    out.extend_from_slice(b"<value><string>");
    escape_into(&fault.string, out);
    out.extend_from_slice(b"</string></value>\n");
    out.extend_from_slice(b"</member>\n</struct></value>\n</fault>\n</methodResponse>\n");
}

/// A `methodCall`, as Python's `xmlrpc.client` sends it. (Python leaves the
/// method name unescaped; we escape it, which differs only for names that
/// would otherwise be invalid XML.)
pub fn encode_call(method: &str, params: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        100 + method.len() + params.iter().map(|p| estimate(p) + 20).sum::<usize>(),
    );
    out.extend_from_slice(XML_HEADER);
    out.extend_from_slice(b"<methodCall>\n<methodName>");
    escape_into(method, &mut out);
    out.extend_from_slice(b"</methodName>\n<params>\n");
    for p in params {
        out.extend_from_slice(b"<param>\n");
        write_value(p, &mut out);
        out.extend_from_slice(b"</param>\n");
    }
    out.extend_from_slice(b"</params>\n</methodCall>\n");
    out
}

/// A rough size of the encoded value, to reserve once.
fn estimate(v: &Value) -> usize {
    match v {
        Value::Int(_) | Value::Bool(_) | Value::Nil => 40,
        Value::Double(_) => 60,
        Value::String(s) | Value::DateTime(s) => 36 + s.len(),
        Value::Base64(b) => 40 + b.len() / 3 * 4 + b.len() / 57 + 4,
        Value::Array(a) => 36 + a.iter().map(estimate).sum::<usize>(),
        Value::Struct(m) => {
            36 + m
                .iter()
                .map(|(k, v)| 36 + k.len() + estimate(v))
                .sum::<usize>()
        }
    }
}

/// One value in the exact layout of Python's `Marshaller`.
fn write_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Int(i) => {
            out.extend_from_slice(b"<value><int>");
            write_i32(*i, out);
            out.extend_from_slice(b"</int></value>\n");
        }
        Value::Bool(b) => {
            out.extend_from_slice(if *b {
                b"<value><boolean>1</boolean></value>\n"
            } else {
                b"<value><boolean>0</boolean></value>\n"
            });
        }
        Value::String(s) => {
            out.extend_from_slice(b"<value><string>");
            escape_into(s, out);
            out.extend_from_slice(b"</string></value>\n");
        }
        Value::Double(d) => {
            out.extend_from_slice(b"<value><double>");
            write_python_float(*d, out);
            out.extend_from_slice(b"</double></value>\n");
        }
        Value::DateTime(s) => {
            out.extend_from_slice(b"<value><dateTime.iso8601>");
            escape_into(s, out);
            out.extend_from_slice(b"</dateTime.iso8601></value>\n");
        }
        Value::Base64(b) => {
            out.extend_from_slice(b"<value><base64>\n");
            crate::base64::encode_lines(b, out);
            out.extend_from_slice(b"</base64></value>\n");
        }
        Value::Array(items) => {
            out.extend_from_slice(b"<value><array><data>\n");
            for item in items {
                write_value(item, out);
            }
            out.extend_from_slice(b"</data></array></value>\n");
        }
        Value::Struct(members) => {
            out.extend_from_slice(b"<value><struct>\n");
            for (k, v) in members {
                out.extend_from_slice(b"<member>\n<name>");
                escape_into(k, out);
                out.extend_from_slice(b"</name>\n");
                write_value(v, out);
                out.extend_from_slice(b"</member>\n");
            }
            out.extend_from_slice(b"</struct></value>\n");
        }
        // Python writes no newline after <nil/>.
        Value::Nil => out.extend_from_slice(b"<value><nil/></value>"),
    }
}

/// Python's `xml.sax.saxutils.escape`-style escaping used by `xmlrpc.client`:
/// `&`, `<`, `>` only, copying unescaped runs in one go.
pub(crate) fn escape_into(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let rep: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(rep);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

pub(crate) fn write_i32(i: i32, out: &mut Vec<u8>) {
    let mut buf = [0u8; 11];
    let mut pos = buf.len();
    let mut n = i.unsigned_abs();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        pos -= 1;
        buf[pos] = b'-';
    }
    out.extend_from_slice(&buf[pos..]);
}

/// A small stack buffer for `core::fmt` output.
struct StackBuf {
    buf: [u8; 40],
    len: usize,
}

impl fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// `repr(float)` of Python 3: the shortest digits that round-trip, in
/// fixed notation when the decimal exponent is in `-4 <= exp < 16`,
/// otherwise `d.ddde+XX`; always a `.0` on integral fixed values.
pub(super) fn write_python_float(d: f64, out: &mut Vec<u8>) {
    use fmt::Write as _;
    if d.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if d.is_infinite() {
        out.extend_from_slice(if d < 0.0 { b"-inf" } else { b"inf" });
        return;
    }
    if d.is_sign_negative() {
        out.push(b'-');
    }
    // `{:e}` gives the shortest digits that round-trip. Python (David Gay's
    // dtoa) picks, among strings of that length, the one closest to the
    // true value, which is the correctly rounded one whenever it round-trips.
    let a = d.abs();
    let mut sb = StackBuf {
        buf: [0; 40],
        len: 0,
    };
    if write!(sb, "{a:e}").is_err() {
        // Cannot happen (at most 24 bytes), but never panic.
        out.extend_from_slice(format!("{a:e}").as_bytes());
        return;
    }
    let shortest_len = sb.buf[..sb.len]
        .iter()
        .take_while(|&&c| c != b'e')
        .filter(|c| c.is_ascii_digit())
        .count();
    if shortest_len > 1 {
        let mut rounded = StackBuf {
            buf: [0; 40],
            len: 0,
        };
        if write!(rounded, "{a:.prec$e}", prec = shortest_len - 1).is_ok()
            && std::str::from_utf8(&rounded.buf[..rounded.len])
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                == Some(a)
        {
            sb = rounded;
        }
    }
    let text = &sb.buf[..sb.len];
    let (mantissa, exp) = match text.iter().position(|&c| c == b'e') {
        Some(p) => (&text[..p], &text[p + 1..]),
        None => (text, &b"0"[..]),
    };
    let mut digits = [0u8; 24];
    let mut nd = 0;
    for &c in mantissa {
        if c.is_ascii_digit() && nd < digits.len() {
            digits[nd] = c;
            nd += 1;
        }
    }
    let digits = &digits[..nd];
    let mut e: i32 = 0;
    let (neg_exp, exp_digits) = match exp.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, exp),
    };
    for &c in exp_digits {
        e = e * 10 + i32::from(c.wrapping_sub(b'0'));
    }
    if neg_exp {
        e = -e;
    }
    // Python's decpt: the value is 0.DIGITS × 10^decpt.
    let decpt = e + 1;
    if decpt <= -4 || decpt > 16 {
        out.push(digits.first().copied().unwrap_or(b'0'));
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if e < 0 { b'-' } else { b'+' });
        let ae = e.unsigned_abs();
        if ae < 10 {
            out.push(b'0');
        }
        write_i32(ae as i32, out);
    } else if decpt <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', decpt.unsigned_abs() as usize));
        out.extend_from_slice(digits);
    } else {
        let decpt = decpt as usize;
        if decpt >= digits.len() {
            out.extend_from_slice(digits);
            out.extend(std::iter::repeat_n(b'0', decpt - digits.len()));
            out.extend_from_slice(b".0");
        } else {
            out.extend_from_slice(&digits[..decpt]);
            out.push(b'.');
            out.extend_from_slice(&digits[decpt..]);
        }
    }
}

// ---------------------------------------------------------------- decoding
