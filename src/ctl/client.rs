//! A small blocking HTTP/1.1 client for supervisorctl: XML-RPC calls
//! (`POST /RPC2`) and the streaming log tails (`GET /logtail/...`,
//! `GET /mainlogtail`), over `unix://path` or `http://host:port`.
//!
//! Errors keep what supervisorctl needs to word them like the reference:
//! the errno of a failed connect (ECONNREFUSED and ENOENT have their own
//! messages and exit codes), the HTTP status of a refused request (401 asks
//! for credentials), and XML-RPC faults.  Everything a server sends is
//! untrusted: a malformed reply is an error value, never a panic.
//!
//! Every wait is sliced into short reads so that a Ctrl-C noticed by the
//! caller (see [`Client::with_cancel`]) ends it promptly, and an idle
//! server is given up on after the read timeout.
//!
//! Response heads are parsed by `httparse`, as leniently as Python's
//! `http.client` reads them.  Reading them (line by line, each line and
//! the line count bounded) and the body framing (`Content-Length`,
//! chunked, or to the close) stay ours, for those sliced reads.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::rpc::{Fault, Value, decode_response, encode_call};

/// How long a TCP connect may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request may take to send.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Granularity of the cancellation checks while waiting for the server.
const SLICE: Duration = Duration::from_millis(100);
/// Largest response body accepted (a `tail -N` with a huge N included).
const MAX_BODY: usize = 256 << 20;
/// Longest status or header line accepted.
const MAX_LINE: usize = 64 << 10;
/// Most header lines accepted (Python's `http.client` takes 100; our
/// server sends five).
const MAX_HEADERS: usize = 256;

/// Where the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp { host: String, port: u16 },
}

/// A parsed `serverurl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    /// As given; used in messages (`unix:///x no such file`).
    pub raw: String,
    pub endpoint: Endpoint,
}

impl ServerUrl {
    /// Parse `unix://PATH` or `http://HOST[:PORT][/...]`.  Anything else
    /// is the reference's `Unknown protocol for serverurl X` (a Python
    /// `ValueError`, like a bad port).
    pub fn parse(url: &str) -> Result<ServerUrl, CallError> {
        let endpoint = if let Some(path) = url.strip_prefix("unix://") {
            Endpoint::Unix(PathBuf::from(path))
        } else if let Some(rest) = url.strip_prefix("http://") {
            let netloc = rest.split(['/', '?', '#']).next().unwrap_or("");
            // Credentials in the URL are not used for the connection.
            let hostport = netloc.rsplit_once('@').map_or(netloc, |(_, h)| h);
            let (host, port) = split_host_port(hostport)?;
            Endpoint::Tcp { host, port }
        } else {
            return Err(CallError::py(
                "ValueError",
                format!("Unknown protocol for serverurl {url}"),
            ));
        };
        Ok(ServerUrl {
            raw: url.to_string(),
            endpoint,
        })
    }

    /// The `Host` header for requests to this server.
    fn host_header(&self) -> String {
        match &self.endpoint {
            Endpoint::Unix(_) => "localhost".to_string(),
            Endpoint::Tcp { host, port } if host.contains(':') => format!("[{host}]:{port}"),
            Endpoint::Tcp { host, port } => format!("{host}:{port}"),
        }
    }
}

/// `host[:port]` or `[v6][:port]` → (lowercased host, port, default 80),
/// with the reference's errors for a bad port.
fn split_host_port(hostport: &str) -> Result<(String, u16), CallError> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, tail)) => (h, tail.strip_prefix(':')),
            None => {
                return Err(CallError::py("ValueError", "Invalid IPv6 URL"));
            }
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let port = match port {
        None | Some("") => 80,
        Some(p) => {
            let n: u32 = p
                .parse()
                .ok()
                .filter(|_| p.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| {
                    CallError::py(
                        "ValueError",
                        format!("Port could not be cast to integer value as '{p}'"),
                    )
                })?;
            u16::try_from(n)
                .map_err(|_| CallError::py("ValueError", "Port out of range 0-65535"))?
        }
    };
    Ok((host.to_ascii_lowercase(), port))
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The server answered with an XML-RPC fault.
    Fault(Fault),
    /// The server answered with an HTTP status other than 200.
    Http { status: u16, reason: String },
    /// A socket error (connect, read, write), with its errno when known.
    Os { errno: Option<i32>, message: String },
    /// Any other failure, named like the Python exception the reference
    /// would have raised (`ValueError`, `xml.parsers.expat.ExpatError`...).
    Py { class: String, message: String },
    /// Ctrl-C while waiting.
    Interrupted,
}

impl CallError {
    pub fn py(class: &str, message: impl Into<String>) -> CallError {
        CallError::Py {
            class: class.to_string(),
            message: message.into(),
        }
    }

    /// The errno of a socket error.
    pub fn errno(&self) -> Option<i32> {
        match self {
            CallError::Os { errno, .. } => *errno,
            _ => None,
        }
    }

    /// The Python class the reference would show for this error.
    pub fn class(&self) -> String {
        match self {
            CallError::Fault(_) => "xmlrpc.client.Fault".into(),
            CallError::Http { .. } => "xmlrpc.client.ProtocolError".into(),
            CallError::Os { errno, .. } => os_error_class(*errno).into(),
            CallError::Py { class, .. } => class.clone(),
            CallError::Interrupted => "KeyboardInterrupt".into(),
        }
    }

    /// The exception's text as the reference shows it.
    pub fn message(&self) -> String {
        match self {
            CallError::Fault(f) => format!(
                "<Fault {}: {}>",
                f.code,
                super::format::py_repr_str(&f.string)
            ),
            CallError::Http { status, reason } => {
                format!("<ProtocolError for 127.0.0.1/RPC2: {status} {reason}>")
            }
            CallError::Os { message, .. } | CallError::Py { message, .. } => message.clone(),
            CallError::Interrupted => String::new(),
        }
    }

    fn from_io(e: &io::Error) -> CallError {
        match e.raw_os_error() {
            Some(n) => CallError::Os {
                errno: Some(n),
                message: format!("[Errno {n}] {}", nix::errno::Errno::from_raw(n).desc()),
            },
            None if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
            {
                CallError::py("TimeoutError", "timed out")
            }
            None if e.kind() == io::ErrorKind::UnexpectedEof => CallError::py(
                "http.client.RemoteDisconnected",
                "Remote end closed connection without response",
            ),
            None => CallError::Os {
                errno: None,
                message: e.to_string(),
            },
        }
    }
}

/// Python's OSError subclass for an errno.
fn os_error_class(errno: Option<i32>) -> &'static str {
    match errno {
        Some(libc::ENOENT) => "FileNotFoundError",
        Some(libc::ECONNREFUSED) => "ConnectionRefusedError",
        Some(libc::EACCES | libc::EPERM) => "PermissionError",
        Some(libc::ECONNRESET) => "ConnectionResetError",
        Some(libc::ECONNABORTED) => "ConnectionAbortedError",
        Some(libc::EPIPE | libc::ESHUTDOWN) => "BrokenPipeError",
        Some(libc::ETIMEDOUT) => "TimeoutError",
        Some(libc::EINTR) => "InterruptedError",
        Some(libc::ENOTDIR) => "NotADirectoryError",
        Some(libc::EISDIR) => "IsADirectoryError",
        _ => "OSError",
    }
}

/// How a streaming GET ended (other than by an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// The server finished the response or closed the connection.
    Done,
    /// Ctrl-C (or the caller's stop flag).
    Interrupted,
}

/// A connection to one supervisord.
#[derive(Debug, Clone)]
pub struct Client {
    pub url: ServerUrl,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Give up when the server sends nothing for this long (`None`: wait
    /// as long as the server takes, as the reference does).
    pub read_timeout: Option<Duration>,
    cancel: Option<Arc<AtomicBool>>,
}

impl Client {
    pub fn new(url: ServerUrl, username: Option<String>, password: Option<String>) -> Client {
        Client {
            url,
            username,
            password,
            read_timeout: None,
            cancel: None,
        }
    }

    /// Waits end early with [`CallError::Interrupted`] once `flag` is set.
    pub fn with_cancel(mut self, flag: Arc<AtomicBool>) -> Client {
        self.cancel = Some(flag);
        self
    }

    fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|f| f.load(Ordering::Relaxed))
    }

    /// `Authorization` value for XML-RPC calls: sent when both a username
    /// and a password are set, as the reference's transport does.
    fn rpc_auth(&self) -> Option<String> {
        match (&self.username, &self.password) {
            (Some(u), Some(p)) => Some(basic_auth(u, p)),
            _ => None,
        }
    }

    /// Call `method` with `params`.
    pub fn call(&self, method: &str, params: &[Value]) -> Result<Value, CallError> {
        let body = encode_call(method, params);
        let mut req = format!(
            "POST /RPC2 HTTP/1.1\r\nHost: {}\r\nAccept-Encoding: identity\r\n\
             User-Agent: supervisorctl (supervisor-rs {})\r\n\
             Content-Type: text/xml\r\nAccept: text/xml\r\n",
            self.url.host_header(),
            crate::SUPERVISOR_VERSION
        );
        if let Some(auth) = self.rpc_auth() {
            req.push_str(&format!("Authorization: Basic {auth}\r\n"));
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(&body);

        let conn = self.connect()?;
        let mut reader = BufReader::new(conn);
        reader
            .get_mut()
            .write_all(&bytes)
            .map_err(|e| self.io_error(&e))?;
        let head = self.read_head(&mut reader)?;
        if head.status != 200 {
            return Err(CallError::Http {
                status: head.status,
                reason: head.reason,
            });
        }
        let mut body = Vec::new();
        self.read_body(&mut reader, &head, &mut |chunk| {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(CallError::py(
                    "http.client.HTTPException",
                    "response body too large",
                ));
            }
            body.extend_from_slice(chunk);
            Ok(())
        })?;
        match decode_response(&body) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(f)) => Err(CallError::Fault(f)),
            Err(e) => Err(CallError::py("xml.parsers.expat.ExpatError", e.to_string())),
        }
    }

    /// `GET path` and copy the body to `out` as it arrives, until the
    /// server ends it or the cancel flag is set.  `Err` is the text the
    /// reference prints after the URL (`Cannot read, status code 404`).
    pub fn stream_get(&self, path: &str, out: &mut dyn Write) -> Result<StreamEnd, String> {
        let streaming = Client {
            read_timeout: None,
            ..self.clone()
        };
        match streaming.stream_inner(path, out) {
            Ok(()) => Ok(StreamEnd::Done),
            Err(StreamError::Interrupted) => Ok(StreamEnd::Interrupted),
            Err(StreamError::Status(code)) => Err(format!("Cannot read, status code {code}")),
            Err(StreamError::Connect(e)) => Err(format!(
                "Cannot connect, error: <class '{}'> ({})",
                e.class(),
                e.message()
            )),
        }
    }

    fn stream_inner(&self, path: &str, out: &mut dyn Write) -> Result<(), StreamError> {
        let mut req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept-Encoding: chunked\r\nAccept: */*\r\n\
             User-agent: supervisorctl (supervisor-rs {})\r\n",
            self.url.host_header(),
            crate::SUPERVISOR_VERSION
        );
        if let Some(p) = self.password.as_deref().filter(|p| !p.is_empty()) {
            let user = self.username.as_deref().unwrap_or("");
            req.push_str(&format!("Authorization: Basic {}\r\n", basic_auth(user, p)));
        }
        req.push_str("\r\n");
        let conn = self.connect().map_err(StreamError::from)?;
        let mut reader = BufReader::new(conn);
        reader
            .get_mut()
            .write_all(req.as_bytes())
            .map_err(|e| StreamError::from(self.io_error(&e)))?;
        let head = self.read_head(&mut reader).map_err(StreamError::from)?;
        if head.status != 200 {
            return Err(StreamError::Status(head.status));
        }
        let result = self.read_body(&mut reader, &head, &mut |chunk| {
            // A reader that went away ends the tail like Ctrl-C would.
            out.write_all(chunk)
                .and_then(|()| out.flush())
                .map_err(|_| CallError::Interrupted)
        });
        match result {
            Ok(()) => Ok(()),
            Err(CallError::Interrupted) => Err(StreamError::Interrupted),
            // The stream breaking off after it started is its end.
            Err(_) => Ok(()),
        }
    }

    fn io_error(&self, e: &io::Error) -> CallError {
        if self.cancelled() {
            CallError::Interrupted
        } else {
            CallError::from_io(e)
        }
    }

    fn connect(&self) -> Result<Conn<'_>, CallError> {
        let stream = match &self.url.endpoint {
            Endpoint::Unix(path) => {
                let s = UnixStream::connect(path).map_err(|e| {
                    if e.kind() == io::ErrorKind::InvalidInput {
                        CallError::Os {
                            errno: None,
                            message: "AF_UNIX path too long".into(),
                        }
                    } else {
                        CallError::from_io(&e)
                    }
                })?;
                Stream::Unix(s)
            }
            Endpoint::Tcp { host, port } => Stream::Tcp(connect_tcp(host, *port)?),
        };
        stream
            .set_write_timeout(Some(WRITE_TIMEOUT))
            .and_then(|()| stream.set_read_timeout(Some(SLICE)))
            .map_err(|e| CallError::from_io(&e))?;
        Ok(Conn {
            stream,
            client: self,
        })
    }

    /// Read the response head, past any 1xx interim ones.
    fn read_head<R: BufRead>(&self, r: &mut R) -> Result<Head, CallError> {
        loop {
            let head = self.read_one_head(r)?;
            if !(100..200).contains(&head.status) {
                return Ok(head);
            }
        }
    }

    /// Read one head line by line (each within [`MAX_LINE`], at most
    /// [`MAX_HEADERS`] of them) and parse it with httparse.  The status
    /// line is checked as soon as it is in, as Python's `http.client`
    /// does: a server that is not HTTP is told at once, not after a wait.
    fn read_one_head<R: BufRead>(&self, r: &mut R) -> Result<Head, CallError> {
        let mut head = read_line(self, r)?.ok_or_else(|| {
            CallError::py(
                "http.client.RemoteDisconnected",
                "Remote end closed connection without response",
            )
        })?;
        check_status_line(&head)?;
        let mut lines = 0;
        loop {
            let line = read_line(self, r)?.ok_or_else(|| {
                CallError::py("http.client.IncompleteRead", "connection closed in headers")
            })?;
            head.extend_from_slice(&line);
            if line == b"\r\n" || line == b"\n" {
                return parse_head(&head);
            }
            lines += 1;
            if lines > MAX_HEADERS {
                return Err(too_many_headers());
            }
        }
    }

    /// Feed the body to `sink` piece by piece.  The framing is ours, as
    /// lenient as Python's `http.client` (a chunk-size line may end in a
    /// bare LF or have spaces around it; empty lines between chunks are
    /// skipped) and reading in short slices, so Ctrl-C and the idle
    /// timeout end a `tail -f` promptly.
    fn read_body<R: BufRead>(
        &self,
        r: &mut R,
        head: &Head,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), CallError>,
    ) -> Result<(), CallError> {
        let mut buf = vec![0u8; 16 << 10];
        if head.chunked {
            loop {
                let line = read_line(self, r)?.ok_or_else(incomplete)?;
                let line = String::from_utf8_lossy(&line);
                let size_text = line.trim().split(';').next().unwrap_or("").trim();
                if size_text.is_empty() {
                    continue;
                }
                let size = usize::from_str_radix(size_text, 16).map_err(|_| {
                    CallError::py(
                        "http.client.IncompleteRead",
                        format!("bad chunk size {size_text:?}"),
                    )
                })?;
                if size == 0 {
                    // Trailers, up to the blank line; a close is fine too.
                    while let Some(l) = read_line(self, r)? {
                        if l.trim_ascii().is_empty() {
                            break;
                        }
                    }
                    return Ok(());
                }
                self.copy_exact(r, size, &mut buf, sink)?;
            }
        } else if let Some(len) = head.length {
            self.copy_exact(r, len, &mut buf, sink)
        } else {
            // No length: the body runs to the end of the connection.
            let _ = head.http10;
            loop {
                let n = r.read(&mut buf).map_err(|e| self.io_error(&e))?;
                if n == 0 {
                    return Ok(());
                }
                sink(buf.get(..n).unwrap_or_default())?;
            }
        }
    }

    /// Copy exactly `len` bytes from `r` to `sink`.
    fn copy_exact<R: BufRead>(
        &self,
        r: &mut R,
        mut len: usize,
        buf: &mut [u8],
        sink: &mut dyn FnMut(&[u8]) -> Result<(), CallError>,
    ) -> Result<(), CallError> {
        while len > 0 {
            let want = len.min(buf.len());
            let slice = buf.get_mut(..want).unwrap_or_default();
            let n = r.read(slice).map_err(|e| self.io_error(&e))?;
            if n == 0 {
                return Err(incomplete());
            }
            sink(slice.get(..n).unwrap_or_default())?;
            len -= n;
        }
        Ok(())
    }
}

fn incomplete() -> CallError {
    CallError::py("http.client.IncompleteRead", "connection closed mid-body")
}

fn too_many_headers() -> CallError {
    CallError::py(
        "http.client.HTTPException",
        format!("got more than {MAX_HEADERS} headers"),
    )
}

/// One line, with its line feed (or the rest before EOF); `None` at EOF.
fn read_line<R: BufRead>(client: &Client, r: &mut R) -> Result<Option<Vec<u8>>, CallError> {
    let mut line = Vec::new();
    let n = r
        .by_ref()
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut line)
        .map_err(|e| client.io_error(&e))?;
    if n == 0 {
        return Ok(None);
    }
    if !line.ends_with(b"\n") && line.len() >= MAX_LINE {
        return Err(CallError::py("http.client.LineTooLong", "header line"));
    }
    Ok(Some(line))
}

/// How httparse reads our server's answers: as leniently as Python's
/// `http.client` (which reads headers with the `email` parser), since
/// only the status, `Content-Length` and `Transfer-Encoding` matter here.
fn response_parser() -> httparse::ParserConfig {
    let mut config = httparse::ParserConfig::default();
    config
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .ignore_invalid_headers_in_responses(true);
    config
}

/// The reference's errors for a status line that is not `HTTP/1.x NNN`:
/// `BadStatusLine` (with the line), or `UnknownProtocol` for another
/// HTTP version.
fn check_status_line(line: &[u8]) -> Result<(), CallError> {
    let text = || String::from_utf8_lossy(line).trim_end().to_string();
    let mut resp = httparse::Response::new(&mut []);
    let code = match response_parser().parse_response(&mut resp, line) {
        // Partial: the headers are still to come (or the line's end).
        Ok(_) => resp.code,
        Err(httparse::Error::Version) if line.starts_with(b"HTTP/") => {
            let version = text().split(' ').next().unwrap_or("").to_string();
            return Err(CallError::py("http.client.UnknownProtocol", version));
        }
        Err(_) => None,
    };
    // Without its line feed the status line is not over yet: a close
    // follows (IncompleteRead), or more of it.
    let complete = line.ends_with(b"\n");
    match code {
        Some(c) if (100..1000).contains(&c) => Ok(()),
        None if !complete && resp.version.is_some() => Ok(()),
        _ => Err(CallError::py("http.client.BadStatusLine", text())),
    }
}

/// A complete head (status line to the empty line) → what the body
/// reader needs.  The first `Content-Length` counts, as in `http.client`.
fn parse_head(head: &[u8]) -> Result<Head, CallError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut fields);
    match response_parser().parse_response(&mut resp, head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(CallError::py(
                "http.client.IncompleteRead",
                "connection closed in headers",
            ));
        }
        Err(httparse::Error::TooManyHeaders) => return Err(too_many_headers()),
        Err(e) => {
            return Err(CallError::py(
                "http.client.HTTPException",
                format!("bad header: {e}"),
            ));
        }
    }
    let mut out = Head {
        status: resp.code.unwrap_or_default(),
        reason: resp.reason.unwrap_or_default().to_string(),
        chunked: false,
        length: None,
        http10: resp.version == Some(0),
    };
    for h in resp.headers.iter() {
        let value = String::from_utf8_lossy(h.value);
        let value = value.trim();
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            out.chunked = value.to_ascii_lowercase().contains("chunked");
        } else if h.name.eq_ignore_ascii_case("content-length") && out.length.is_none() {
            out.length = Some(value.parse().map_err(|_| {
                CallError::py(
                    "http.client.HTTPException",
                    format!("bad Content-Length {value:?}"),
                )
            })?);
        }
    }
    Ok(out)
}

struct Head {
    status: u16,
    reason: String,
    chunked: bool,
    length: Option<usize>,
    http10: bool,
}

enum StreamError {
    Connect(CallError),
    Status(u16),
    Interrupted,
}

impl From<CallError> for StreamError {
    fn from(e: CallError) -> StreamError {
        match e {
            CallError::Interrupted => StreamError::Interrupted,
            e => StreamError::Connect(e),
        }
    }
}

/// Base64 of `user:password` (RFC 7617), without line breaks.
pub fn basic_auth(user: &str, password: &str) -> String {
    crate::base64::encode(format!("{user}:{password}").as_bytes())
}

/// Connect to `host:port`: `localhost` and numeric addresses directly,
/// other names through the system resolver.  All addresses are tried in
/// order; the first error is reported if none accepts.
fn connect_tcp(host: &str, port: u16) -> Result<TcpStream, CallError> {
    let addrs: Vec<SocketAddr> = if host == "localhost" {
        vec![
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
        ]
    } else if let Ok(ip) = host.parse::<IpAddr>() {
        vec![SocketAddr::new(ip, port)]
    } else {
        match (host, port).to_socket_addrs() {
            Ok(a) => a.collect(),
            Err(_) => {
                return Err(CallError::py(
                    "socket.gaierror",
                    "[Errno -2] Name or service not known",
                ));
            }
        }
    };
    let mut first: Option<CallError> = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(s) => return Ok(s),
            Err(e) => {
                first.get_or_insert_with(|| CallError::from_io(&e));
            }
        }
    }
    Err(first.unwrap_or_else(|| {
        CallError::py("socket.gaierror", "[Errno -2] Name or service not known")
    }))
}

enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_read_timeout(t),
            Stream::Tcp(s) => s.set_read_timeout(t),
        }
    }

    fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_write_timeout(t),
            Stream::Tcp(s) => s.set_write_timeout(t),
        }
    }
}

/// A connection whose reads wait in short slices, checking for Ctrl-C and
/// for the client's idle timeout between them.
struct Conn<'a> {
    stream: Stream,
    client: &'a Client,
}

impl Read for Conn<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let start = Instant::now();
        loop {
            let r = match &mut self.stream {
                Stream::Unix(s) => s.read(buf),
                Stream::Tcp(s) => s.read(buf),
            };
            match r {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    if self.client.cancelled() {
                        return Err(io::Error::other("cancelled"));
                    }
                    if self
                        .client
                        .read_timeout
                        .is_some_and(|t| start.elapsed() >= t)
                    {
                        return Err(io::Error::from(io::ErrorKind::TimedOut));
                    }
                }
                other => return other,
            }
        }
    }
}

impl Write for Conn<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.stream {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_server_urls() {
        let u = ServerUrl::parse("unix:///tmp/s.sock").unwrap();
        assert_eq!(u.endpoint, Endpoint::Unix(PathBuf::from("/tmp/s.sock")));
        let u = ServerUrl::parse("http://127.0.0.1:9001").unwrap();
        assert_eq!(
            u.endpoint,
            Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port: 9001
            }
        );
        let u = ServerUrl::parse("http://LocalHost/RPC2").unwrap();
        assert_eq!(
            u.endpoint,
            Endpoint::Tcp {
                host: "localhost".into(),
                port: 80
            }
        );
        let u = ServerUrl::parse("http://[::1]:7/").unwrap();
        assert_eq!(
            u.endpoint,
            Endpoint::Tcp {
                host: "::1".into(),
                port: 7
            }
        );
        assert_eq!(u.host_header(), "[::1]:7");
        let e = ServerUrl::parse("foo://x").unwrap_err();
        assert_eq!(e.class(), "ValueError");
        assert_eq!(e.message(), "Unknown protocol for serverurl foo://x");
        let e = ServerUrl::parse("http://h:abc").unwrap_err();
        assert_eq!(
            e.message(),
            "Port could not be cast to integer value as 'abc'"
        );
        let e = ServerUrl::parse("http://h:70000").unwrap_err();
        assert_eq!(e.message(), "Port out of range 0-65535");
    }

    #[test]
    fn basic_auth_is_base64() {
        assert_eq!(basic_auth("user", "pass"), "dXNlcjpwYXNz");
        assert_eq!(basic_auth("a", ""), "YTo=");
        assert_eq!(basic_auth("ab", "c"), "YWI6Yw==");
    }

    fn client() -> Client {
        Client::new(
            ServerUrl::parse("unix:///nonexistent").expect("url"),
            None,
            None,
        )
    }

    /// A reader that hands out at most `step` bytes per read, as a socket
    /// may.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.step).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// Head and body of a response, read as `call` and `stream_get` read
    /// them, arriving `step` bytes at a time.
    fn response(raw: &[u8], step: usize) -> Result<(Head, Vec<u8>), CallError> {
        let c = client();
        let mut r = BufReader::with_capacity(7, Trickle { data: raw, step });
        let head = c.read_head(&mut r)?;
        let mut body = Vec::new();
        c.read_body(&mut r, &head, &mut |b| {
            body.extend_from_slice(b);
            Ok(())
        })?;
        Ok((head, body))
    }

    fn error(raw: &[u8]) -> (String, String) {
        match response(raw, 1000) {
            Ok((h, _)) => panic!(
                "{:?} parsed: status {}",
                String::from_utf8_lossy(raw),
                h.status
            ),
            Err(e) => (e.class(), e.message()),
        }
    }

    #[test]
    fn reads_responses_in_any_pieces() {
        let cases: &[(&[u8], u16, &str, &[u8])] = &[
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA", 200, "OK", b"hello"),
            // A tail -f stream: chunks (one with an extension), then the end.
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
                  3\r\nabc\r\n1;x=y\r\nd\r\nA \r\n0123456789\r\n0\r\nTrailer: t\r\n\r\n",
                200,
                "OK",
                b"abcd0123456789",
            ),
            // No length: to the end of the connection.
            (b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nall of it", 200, "OK", b"all of it"),
            // Interim 1xx answers are skipped.
            (
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nA: b\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
                404,
                "Not Found",
                b"",
            ),
            // Leniencies of http.client: bare LFs, no reason, odd header
            // lines (skipped), folded values, a space before a colon; the
            // first Content-Length counts.
            (
                b"HTTP/1.1 401\nWWW-Authenticate: Basic\n realm=x\nno colon here\nContent-Length : 2\nContent-Length: 9\n\nhi",
                401,
                "",
                b"hi",
            ),
            (b"HTTP/1.1  200  Fine  \r\ncontent-length:0\r\n\r\n", 200, "Fine  ", b""),
        ];
        for (raw, status, reason, body) in cases {
            for step in [1, 2, 3, 7, 4096] {
                let (head, got) = response(raw, step)
                    .unwrap_or_else(|e| panic!("{:?}: {e:?}", String::from_utf8_lossy(raw)));
                assert_eq!(head.status, *status);
                assert_eq!(head.reason, *reason);
                assert_eq!(
                    got,
                    *body,
                    "{:?} in steps of {step}",
                    String::from_utf8_lossy(raw)
                );
            }
        }
    }

    #[test]
    fn refuses_bad_responses_like_http_client() {
        let bad_status = "http.client.BadStatusLine";
        for (raw, class, message) in [
            (
                &b""[..],
                "http.client.RemoteDisconnected",
                "Remote end closed connection without response",
            ),
            (
                b"SSH-2.0-OpenSSH_9.6\r\n",
                bad_status,
                "SSH-2.0-OpenSSH_9.6",
            ),
            (b"HTTP/1.1 abc OK\r\n", bad_status, "HTTP/1.1 abc OK"),
            (b"HTTP/1.1 099 Low\r\n\r\n", bad_status, "HTTP/1.1 099 Low"),
            (b"HTTP/1.1 2000 OK\r\n", bad_status, "HTTP/1.1 2000 OK"),
            (b"\r\n", bad_status, ""),
            (
                b"HTTP/2 200 OK\r\n\r\n",
                "http.client.UnknownProtocol",
                "HTTP/2",
            ),
            (
                b"HTTP/1.1 200 OK\r\nA: b\r\n",
                "http.client.IncompleteRead",
                "connection closed in headers",
            ),
            (
                b"HTTP/1.1 200 OK",
                "http.client.IncompleteRead",
                "connection closed in headers",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
                "http.client.HTTPException",
                "bad Content-Length \"x\"",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort",
                "http.client.IncompleteRead",
                "connection closed mid-body",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                "http.client.IncompleteRead",
                "bad chunk size \"zz\"",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
                "http.client.IncompleteRead",
                "connection closed mid-body",
            ),
        ] {
            assert_eq!(
                error(raw),
                (class.to_string(), message.to_string()),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
        // A NUL in a header is not skipped like other odd lines.
        assert_eq!(
            error(b"HTTP/1.1 200 OK\r\nA: \x00\r\n\r\n").0,
            "http.client.HTTPException"
        );
        // Limits: header count and line length.
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(
            error(&many),
            (
                "http.client.HTTPException".into(),
                "got more than 256 headers".into()
            )
        );
        let long = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(MAX_LINE));
        assert_eq!(error(long.as_bytes()).0, "http.client.LineTooLong");
        // Just under the limits is fine.
        let mut fine = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..MAX_HEADERS - 1 {
            fine.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
        }
        fine.extend_from_slice(b"Content-Length: 1\r\n\r\n!");
        assert_eq!(response(&fine, 4096).map(|(_, b)| b), Ok(b"!".to_vec()));
    }

    #[test]
    fn errors_are_named_like_python() {
        let e = CallError::from_io(&io::Error::from_raw_os_error(libc::ECONNREFUSED));
        assert_eq!(e.class(), "ConnectionRefusedError");
        assert_eq!(e.message(), "[Errno 111] Connection refused");
        assert_eq!(e.errno(), Some(libc::ECONNREFUSED));
        let e = CallError::from_io(&io::Error::from_raw_os_error(libc::ENOENT));
        assert_eq!(e.class(), "FileNotFoundError");
        assert_eq!(e.message(), "[Errno 2] No such file or directory");
        let e = CallError::Http {
            status: 401,
            reason: "Unauthorized".into(),
        };
        assert_eq!(
            e.message(),
            "<ProtocolError for 127.0.0.1/RPC2: 401 Unauthorized>"
        );
        let e = CallError::Fault(Fault::raw(10, "BAD_NAME: x"));
        assert_eq!(e.message(), "<Fault 10: 'BAD_NAME: x'>");
    }
}
