//! XML-RPC: values, the codec, and Supervisor's fault codes.
//!
//! This module is pure data and bytes, with no I/O, so both the daemon's
//! server and our supervisorctl client can use it.
//!
//! * [`Value`] — the XML-RPC value model (32-bit ints, ordered structs).
//! * [`codec`] — `methodCall` / `methodResponse` bodies. Responses are
//!   byte-for-byte what Supervisor 4.3 (Python's `xmlrpc.client.dumps`)
//!   produces; requests are read with the tolerance of Supervisor's parser.
//! * [`faults`] — the fault table (`UNKNOWN_METHOD` = 1 … `CANT_REREAD` = 92)
//!   and [`Fault`], whose strings read `NAME` or `NAME: extra`.

pub mod codec;
pub mod faults;
pub mod value;

pub use codec::{
    DecodeError, MAX_DEPTH, decode_call, decode_response, encode_call, encode_fault,
    encode_fault_into, encode_response, encode_response_into,
};
pub use faults::Fault;
pub use value::{IntOutOfRange, Value};
