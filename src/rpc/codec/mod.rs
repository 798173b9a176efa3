//! XML-RPC bodies: `methodCall` in, `methodResponse` out (and the reverse
//! for our own client). No I/O.
//!
//! **Encoding** reproduces, byte for byte, what Supervisor sends: its
//! `xmlrpc_marshal` is Python's `xmlrpc.client.dumps(..., methodresponse=1)`,
//! so the layout (newlines after most closing tags, none after `<nil/>`),
//! the escaping (only `&`, `<`, `>`; everything else raw UTF-8, control
//! characters included) and the `repr()` of floats are all Python's.
//!
//! **Decoding** follows Supervisor's request parser (an ElementTree
//! `iterparse` over the whole body) where it matters to clients:
//! a `<value>` with bare text is a string (whitespace kept); a `<value>`
//! holding an element takes that element and ignores the text around it;
//! `<params>` may be missing; `<boolean>` is true only for `1`; integers
//! take Python `int()` syntax (surrounding whitespace, sign, `_` between
//! digits); duplicate struct members keep the first position and the last
//! value, as a dict built from pairs does; CRLF becomes LF, as in expat.
//! Differences, all for input Supervisor mishandles: `<i8>` decodes as an
//! integer (Supervisor keeps its text), an unknown type tag is an error
//! (Supervisor keeps its text), a body carrying a DOCTYPE (and so any
//! entity declaration) is refused, `<array>` without `<data>` is an empty
//! array (Supervisor: HTTP 400), the root element must be `methodCall`, and
//! a dateTime's text is not validated.
//!
//! **Limits**, checked while parsing so a hostile body is refused before a
//! big tree exists: arrays and structs nest at most [`MAX_DEPTH`] deep, and
//! a request holds at most [`MAX_REQUEST_VALUES`] values. (Text cannot
//! grow past the body, whose size the HTTP layer bounds, since no entity
//! is ever expanded.)

//!
//! `encode` writes bodies, `decode` reads them (and owns the limits and
//! the error type).

mod decode;
mod encode;

pub use decode::{DecodeError, MAX_DEPTH, MAX_REQUEST_VALUES, decode_call, decode_response};
pub use encode::{
    direct, encode_call, encode_fault, encode_fault_into, encode_response, encode_response_into,
};

#[cfg(test)]
use crate::rpc::{faults::Fault, value::Value};
#[cfg(test)]
use {
    decode::{decode_base64, parse_double},
    encode::write_python_float,
};
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
