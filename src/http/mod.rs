//! A small blocking HTTP/1.1 server for the XML-RPC and log-tail endpoints.
//!
//! Why not tiny_http (0.12, read in its source): it never sets a read
//! timeout on the connections it accepts and its `ServerConfig` has no way
//! to (only an address and TLS), so a client that connects and sends half a
//! request holds a worker thread forever; and its task pool starts a new
//! thread whenever none is free, with no upper bound, so a burst of such
//! clients grows threads without limit (plus four started at once).  This
//! server is one accept thread per listener, blocked in `accept(2)`, and one
//! thread per connection, at most 256 (then 503), with a deadline on every
//! request and a 16 MiB body limit.  The threads never touch daemon state:
//! handlers pass messages to the loop.
//!
//! Request heads (request line and header fields) are parsed by `httparse`.
//! What is still ours, and why:
//! - the framing around it: reading with the idle timeout and the request
//!   deadline (408), finding where a head ends (scanned once as it arrives,
//!   then parsed once; 431 past `MAX_HEAD`), the `Content-Length` body
//!   (413 past [`MAX_BODY`], its buffer never grown past its length),
//!   keep-alive and close, refusing `Transfer-Encoding` (411): these limits
//!   and deadlines are the point of this server, and no parser keeps them;
//! - a request line without a version (`GET /x`, served as medusa serves
//!   it), which httparse refuses;
//! - the `Authorization: Basic` header split, and SHA-1 for `{SHA}`
//!   passwords (one function, compared in constant time; no dependency for
//!   sixty lines);
//! - writing responses (a status line, the headers given, a length).

pub mod url;

use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Largest request body accepted (413 above).
pub const MAX_BODY: usize = 16 * 1024 * 1024;
/// Largest request head (request line + headers).
const MAX_HEAD: usize = 64 * 1024;
/// Most header fields in a request (431 above), as Python's `http.server`
/// allows; supervisorctl sends six.
const MAX_HEADERS: usize = 100;
/// A request must arrive completely within this time (then 408).  A 16 MiB
/// body needs only ~2 MB/s; supervisorctl sends a call in one write.
const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// An idle keep-alive connection is closed after this.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Connections served at once; more get 503.
const MAX_CONNECTIONS: usize = 256;
/// Read buffer a connection keeps between requests.
const KEEP_BUF: usize = 8 * 1024;
/// Responses above this go out in two writes (head, then the shared body)
/// rather than being copied into one buffer.
const COPY_BODY_MAX: usize = 64 * 1024;
/// A request or answer above this is followed by returning freed memory to
/// the system (the same size as glibc's mmap threshold set below, so
/// ordinary answers, even for a thousand programs, do not pay for it).
const BIG_EXCHANGE: usize = 1 << 20;

/// A parsed request.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The path and query as sent (`/logtail/x/stderr`, `/index.html?x=1`).
    pub target: String,
    /// `HTTP/1.0`, `HTTP/1.1`, or `HTTP/0.9` for a request line without one.
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// First header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query string.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    fn wants_close(&self) -> bool {
        let conn = self.header("connection").map(|c| c.to_ascii_lowercase());
        match self.version.as_str() {
            "HTTP/1.1" => conn.as_deref() == Some("close"),
            "HTTP/1.0" => conn.as_deref() != Some("keep-alive"),
            _ => true,
        }
    }
}

/// A complete response.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Shared so a cached body goes out without a copy.
    pub body: Arc<Vec<u8>>,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Response {
        Response::shared(status, content_type, Arc::new(body))
    }

    pub fn shared(status: u16, content_type: &str, body: Arc<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
        }
    }

    /// A plain error page.
    pub fn error(status: u16) -> Response {
        let text = format!(
            "<html><head><title>Error response</title></head><body><h1>Error response</h1><p>Error code {status}.</p><p>Message: {}.</p></body></html>",
            reason(status)
        );
        Response::new(status, "text/html", text.into_bytes())
    }

    pub fn with_header(mut self, k: &str, v: &str) -> Response {
        self.headers.push((k.into(), v.into()));
        self
    }
}

/// What a handler returns: a complete response, or a stream it writes itself
/// (chunked), e.g. `tail -f` of a log.
pub enum Reply {
    Full(Response),
    Stream {
        status: u16,
        headers: Vec<(String, String)>,
        body: Box<dyn FnOnce(&mut ChunkWriter<'_>) + Send>,
    },
}

/// Writes a chunked response body.
pub struct ChunkWriter<'a> {
    out: &'a mut dyn Conn,
}

impl ChunkWriter<'_> {
    /// True once the client has closed its side (checked without blocking),
    /// so a streaming handler with nothing to send can still notice.
    pub fn client_gone(&self) -> bool {
        self.out.peer_closed()
    }

    /// Send one chunk; an error means the client went away.
    pub fn send(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        write!(self.out, "{:x}\r\n", data.len())?;
        self.out.write_all(data)?;
        self.out.write_all(b"\r\n")?;
        self.out.flush()
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Request Entity Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Request handler shared by all connection threads of a listener.
pub type Handler = Arc<dyn Fn(Request) -> Reply + Send + Sync>;

/// A stream we can serve on: TCP or unix.
pub trait Conn: Read + Write + Send + 'static {
    fn set_timeout(&self, t: Option<Duration>) -> io::Result<()>;
    /// The peer closed the connection (EOF pending), checked without blocking.
    fn peer_closed(&self) -> bool {
        false
    }
}

fn fd_peer_closed(fd: std::os::fd::RawFd) -> bool {
    let mut b = [0u8; 1];
    // SAFETY: recv(2) into a valid one-byte buffer, non-blocking peek.
    let n = unsafe {
        libc::recv(
            fd,
            b.as_mut_ptr().cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n == 0 || (n < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EAGAIN))
}

impl Conn for std::net::TcpStream {
    fn set_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(t)?;
        self.set_write_timeout(t)
    }
    fn peer_closed(&self) -> bool {
        fd_peer_closed(std::os::fd::AsRawFd::as_raw_fd(self))
    }
}

impl Conn for std::os::unix::net::UnixStream {
    fn set_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(t)?;
        self.set_write_timeout(t)
    }
    fn peer_closed(&self) -> bool {
        fd_peer_closed(std::os::fd::AsRawFd::as_raw_fd(self))
    }
}

static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// After a big request: hand the pages that decoding and answering it
/// freed back to the system. glibc keeps free memory inside its heaps
/// (every thread's, and the daemon loop's where a call's answer was built)
/// until asked; musl returns it on free already.
fn release_freed_memory() {
    // SAFETY: malloc_trim only releases free memory.
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Make freed memory go back to the system. glibc's malloc raises its mmap
/// threshold to the size of each big block freed (up to 32 MiB), so after
/// one 16 MiB request the next big buffers come from heaps it keeps, with
/// a trim threshold raised alike. Fixed thresholds stop that: blocks of
/// 1 MiB and more are mapped and unmapped, and a heap keeps at most 1 MiB
/// free at its top (answers up to 1 MiB still reuse heap memory). musl's
/// malloc (the static build) already unmaps big blocks on free.
fn tune_allocator() {
    #[cfg(target_env = "gnu")]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        // SAFETY: mallopt only sets malloc parameters.
        ONCE.call_once(|| unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, BIG_EXCHANGE as libc::c_int);
            libc::mallopt(libc::M_TRIM_THRESHOLD, BIG_EXCHANGE as libc::c_int);
        });
    }
}

/// Serve a TCP listener on a background thread until `stop` is set (then
/// `shutdown(2)` the listening socket to wake the thread).
pub fn serve_tcp(listener: TcpListener, handler: Handler, stop: Arc<AtomicBool>) -> io::Result<()> {
    tune_allocator();
    std::thread::Builder::new()
        .name("http-accept".into())
        .spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                match stream {
                    Ok(s) => {
                        let _ = s.set_nodelay(true);
                        spawn_conn(s, Arc::clone(&handler));
                    }
                    Err(e) => backoff_on_accept_error(&e),
                }
            }
        })?;
    Ok(())
}

/// Serve a unix listener on a background thread until `stop` is set.
pub fn serve_unix(
    listener: UnixListener,
    handler: Handler,
    stop: Arc<AtomicBool>,
) -> io::Result<()> {
    tune_allocator();
    std::thread::Builder::new()
        .name("http-accept".into())
        .spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                match stream {
                    Ok(s) => spawn_conn(s, Arc::clone(&handler)),
                    Err(e) => backoff_on_accept_error(&e),
                }
            }
        })?;
    Ok(())
}

/// EMFILE and friends: wait a little instead of spinning.
fn backoff_on_accept_error(e: &io::Error) {
    if e.kind() != io::ErrorKind::Interrupted {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Connection threads kept waiting for the next connection (creating a
/// thread per connection cost a fifth of the daemon's time under load).
/// Idle workers block on a condition variable: no wake-ups while idle.
const MAX_IDLE_WORKERS: usize = 8;

type Job = (Box<dyn Conn>, Handler);

#[derive(Default)]
struct PoolState {
    queue: std::collections::VecDeque<Job>,
    idle: usize,
}

#[derive(Default)]
struct Pool {
    state: std::sync::Mutex<PoolState>,
    ready: std::sync::Condvar,
}

fn pool() -> &'static Pool {
    static POOL: std::sync::OnceLock<Pool> = std::sync::OnceLock::new();
    POOL.get_or_init(Pool::default)
}

fn spawn_conn<C: Conn>(mut conn: C, handler: Handler) {
    if ACTIVE.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
        ACTIVE.fetch_sub(1, Ordering::SeqCst);
        let _ = conn.set_timeout(Some(Duration::from_secs(1)));
        let _ = write_response(&mut conn, &Response::error(503), true);
        return;
    }
    let job: Job = (Box::new(conn), handler);
    let p = pool();
    {
        let mut st = p.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.idle > 0 {
            st.idle -= 1;
            st.queue.push_back(job);
            p.ready.notify_one();
            return;
        }
    }
    let spawned = std::thread::Builder::new()
        .name("http-conn".into())
        .spawn(move || worker(job));
    if spawned.is_err() {
        ACTIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serve connections: the first, then whatever the pool hands over, until
/// enough other workers are idle.
fn worker(mut job: Job) {
    let p = pool();
    loop {
        let (mut conn, handler) = job;
        // A panic in a handler must not take the daemon down: contain it here.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            serve_conn(&mut *conn, &handler)
        }));
        drop(conn);
        ACTIVE.fetch_sub(1, Ordering::SeqCst);
        let mut st = p.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.idle >= MAX_IDLE_WORKERS {
            return;
        }
        st.idle += 1;
        job = loop {
            if let Some(j) = st.queue.pop_front() {
                break j;
            }
            st = p.ready.wait(st).unwrap_or_else(|e| e.into_inner());
        };
    }
}

/// Why reading a request stopped.
#[derive(Debug)]
enum ReadErr {
    /// Clean close before a new request started.
    Closed,
    /// Answer with this status, then close.
    Status(u16),
}

fn serve_conn(conn: &mut dyn Conn, handler: &Handler) {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        // A long head grew the buffer: do not keep that for the whole life
        // of a keep-alive connection (up to MAX_CONNECTIONS of them).
        if buf.capacity() > KEEP_BUF {
            buf.shrink_to(KEEP_BUF);
        }
        let req = match read_request(conn, &mut buf) {
            Ok(r) => r,
            Err(ReadErr::Closed) => return,
            Err(ReadErr::Status(s)) => {
                let _ = write_response(conn, &Response::error(s), true);
                return;
            }
        };
        let close = req.wants_close();
        let head_only = req.method == "HEAD";
        let big_request = req.body.len() > BIG_EXCHANGE;
        match handler(req) {
            Reply::Full(mut resp) => {
                if head_only {
                    resp.body = Arc::new(Vec::new());
                }
                let big = big_request || resp.body.len() > BIG_EXCHANGE;
                let sent = write_response(conn, &resp, close);
                drop(resp);
                if big {
                    release_freed_memory();
                }
                if sent.is_err() || close {
                    return;
                }
            }
            Reply::Stream {
                status,
                headers,
                body,
            } => {
                let _ = conn.set_timeout(Some(REQUEST_DEADLINE));
                let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
                for (k, v) in &headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
                if conn
                    .write_all(head.as_bytes())
                    .and_then(|()| conn.flush())
                    .is_err()
                {
                    return;
                }
                let mut w = ChunkWriter { out: conn };
                body(&mut w);
                let _ = conn.write_all(b"0\r\n\r\n");
                return;
            }
        }
    }
}

/// Where a head may end in `buf`, looking from `from`: just after the
/// first empty line (LF LF or LF CR LF).  Only there is the head handed
/// to httparse, so a head that arrives in many small pieces is scanned
/// once rather than parsed again after every read.
fn blank_line_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(p) = buf.get(at..)?.iter().position(|&b| b == b'\n') {
        let lf = at + p;
        match buf.get(lf + 1..) {
            Some([b'\n', ..]) => return Some(lf + 2),
            Some([b'\r', b'\n', ..]) => return Some(lf + 3),
            _ => at = lf + 1,
        }
    }
    None
}

/// A request head as httparse reads it, or the status to refuse it with;
/// `Ok(None)` when `head` holds only empty lines.
fn parse_head(head: &[u8]) -> Result<Option<(Request, usize)>, u16> {
    match parse_head_with(head) {
        Ok(parsed) => Ok(parsed),
        Err(httparse::Error::TooManyHeaders) => Err(431),
        Err(_) => parse_unusual(head),
    }
}

fn parse_head_with(head: &[u8]) -> Result<Option<(Request, usize)>, httparse::Error> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut fields);
    let httparse::Status::Complete(len) = parsed.parse(head)? else {
        return Ok(None);
    };
    // Complete: method, path and version are all there.
    let target = parsed.path.unwrap_or_default();
    if !target.starts_with('/') {
        // `*` and absolute URIs: we are no proxy.
        return Err(httparse::Error::Token);
    }
    let req = Request {
        method: parsed.method.unwrap_or_default().to_string(),
        target: target.to_string(),
        version: format!("HTTP/1.{}", parsed.version.unwrap_or_default()),
        headers: parsed
            .headers
            .iter()
            .map(|h| {
                let value = String::from_utf8_lossy(h.value).into_owned();
                (h.name.to_string(), value)
            })
            .collect(),
        body: Vec::new(),
    };
    Ok(Some((req, len)))
}

/// A head httparse refused: a request line without a version (`GET /x`),
/// which Supervisor's medusa serves, for someone typing into telnet, and
/// so do we (as `HTTP/0.9`, closing after); 505 for an HTTP version other
/// than 1.0 and 1.1; 400 for anything else.
fn parse_unusual(head: &[u8]) -> Result<Option<(Request, usize)>, u16> {
    let start = head
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(head.len());
    let rest = head.get(start..).unwrap_or_default();
    let line = rest.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    match parts.as_slice() {
        [_, _] => {
            let mut patched = Vec::with_capacity(rest.len() + 9);
            patched.extend_from_slice(line);
            patched.extend_from_slice(b" HTTP/1.0");
            patched.extend_from_slice(rest.get(line.len()..).unwrap_or_default());
            match parse_head_with(&patched) {
                Ok(Some((mut req, len))) => {
                    req.version = "HTTP/0.9".into();
                    Ok(Some((req, start + len - 9)))
                }
                Ok(None) => Ok(None),
                Err(httparse::Error::TooManyHeaders) => Err(431),
                Err(_) => Err(400),
            }
        }
        [_, _, v] if v.starts_with(b"HTTP/") && !matches!(*v, b"HTTP/1.0" | b"HTTP/1.1") => {
            Err(505)
        }
        _ => Err(400),
    }
}

/// Read one request (head and body) within the request deadline.
fn read_request(conn: &mut dyn Conn, buf: &mut Vec<u8>) -> Result<Request, ReadErr> {
    let mut chunk = [0u8; 8192];
    let mut started: Option<Instant> = if buf.is_empty() {
        None
    } else {
        Some(Instant::now())
    };
    // Bytes of `buf` before this cannot start an empty line still unseen.
    let mut scanned = 0;
    let (mut req, head_end) = 'head: loop {
        while let Some(end) = blank_line_end(buf, scanned) {
            match parse_head(buf.get(..end).unwrap_or_default()) {
                Ok(Some(parsed)) => break 'head parsed,
                // Only empty lines so far (a client may send one after a
                // body): drop them, so that a stream of them is not
                // parsed again and again.
                Ok(None) => {
                    buf.drain(..end);
                    scanned = 0;
                }
                Err(status) => return Err(ReadErr::Status(status)),
            }
        }
        scanned = scanned.max(buf.len().saturating_sub(2));
        if buf.len() > MAX_HEAD {
            return Err(ReadErr::Status(431));
        }
        let timeout = match started {
            None => IDLE_TIMEOUT,
            Some(t) => match REQUEST_DEADLINE.checked_sub(t.elapsed()) {
                Some(left) if !left.is_zero() => left,
                _ => return Err(ReadErr::Status(408)),
            },
        };
        let _ = conn.set_timeout(Some(timeout));
        match conn.read(&mut chunk) {
            Ok(0) => {
                return Err(if buf.is_empty() {
                    ReadErr::Closed
                } else {
                    ReadErr::Status(400)
                });
            }
            Ok(n) => {
                started.get_or_insert_with(Instant::now);
                buf.extend_from_slice(&chunk[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(if started.is_none() {
                    ReadErr::Closed
                } else {
                    ReadErr::Status(408)
                });
            }
            Err(_) => return Err(ReadErr::Closed),
        }
    };
    let started = started.unwrap_or_else(Instant::now);
    if req
        .header("transfer-encoding")
        .is_some_and(|t| !t.eq_ignore_ascii_case("identity"))
    {
        return Err(ReadErr::Status(411));
    }
    let len = match req.header("content-length") {
        None => 0,
        Some(v) => match v.parse::<usize>() {
            Ok(n) => n,
            Err(_) => return Err(ReadErr::Status(400)),
        },
    };
    if len > MAX_BODY {
        return Err(ReadErr::Status(413));
    }
    buf.drain(..head_end);
    // The body goes into its own buffer, never grown past `len` (nor
    // allocated at `len` before the bytes arrive); bytes after it belong
    // to the next request and stay in `buf`.
    let mut body = Vec::with_capacity(len.min(64 * 1024));
    let first = buf.len().min(len);
    body.extend_from_slice(&buf[..first]);
    buf.drain(..first);
    while body.len() < len {
        let left = match REQUEST_DEADLINE.checked_sub(started.elapsed()) {
            Some(l) if !l.is_zero() => l,
            _ => return Err(ReadErr::Status(408)),
        };
        let _ = conn.set_timeout(Some(left));
        match conn.read(&mut chunk) {
            Ok(0) => return Err(ReadErr::Status(400)),
            Ok(n) => {
                let take = n.min(len - body.len());
                if body.capacity() - body.len() < take {
                    body.reserve_exact(body.capacity().max(take).min(len - body.len()));
                }
                body.extend_from_slice(&chunk[..take]);
                buf.extend_from_slice(&chunk[take..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(ReadErr::Status(408));
            }
            Err(_) => return Err(ReadErr::Closed),
        }
    }
    req.body = body;
    Ok(req)
}

fn write_response<C: Write + ?Sized>(conn: &mut C, resp: &Response, close: bool) -> io::Result<()> {
    let mut out = Vec::with_capacity(resp.body.len().min(COPY_BODY_MAX) + 256);
    out.extend_from_slice(
        format!(
            "HTTP/1.1 {} {}\r\nServer: supervisor-rs\r\n",
            resp.status,
            reason(resp.status)
        )
        .as_bytes(),
    );
    for (k, v) in &resp.headers {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n", resp.body.len()).as_bytes());
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if resp.body.len() > COPY_BODY_MAX {
        conn.write_all(&out)?;
        conn.write_all(&resp.body)?;
    } else {
        out.extend_from_slice(&resp.body);
        conn.write_all(&out)?;
    }
    conn.flush()
}

/// HTTP Basic auth check.  `password` is plain text or `{SHA}` + hex SHA-1
/// (either case).  The name and password are both always compared, each
/// through `secret_eq`, so the time taken tells nothing of where a guess
/// went wrong.
pub fn check_basic_auth(header: Option<&str>, username: &str, password: &str) -> bool {
    let Some(h) = header else { return false };
    let Some((scheme, token)) = h.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Some(decoded) = crate::base64::decode_strict(token.trim()) else {
        return false;
    };
    let Ok(decoded) = String::from_utf8(decoded) else {
        return false;
    };
    let Some((user, pass)) = decoded.split_once(':') else {
        return false;
    };
    let user_ok = secret_eq(&sha1(user.as_bytes()), &sha1(username.as_bytes()));
    let given = sha1(pass.as_bytes());
    let pass_ok = match password.strip_prefix("{SHA}") {
        // A stored hash that is not 40 hex digits matches nothing.
        Some(hex) => hex_digest(hex).is_some_and(|want| secret_eq(&given, &want)),
        None => secret_eq(&given, &sha1(password.as_bytes())),
    };
    user_ok & pass_ok
}

/// The 20 bytes of a 40-digit hex SHA-1 (either case).
fn hex_digest(hex: &str) -> Option<[u8; 20]> {
    let b = hex.as_bytes();
    if b.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (o, pair) in out.iter_mut().zip(b.chunks(2)) {
        let digit = |c: u8| char::from(c).to_digit(16);
        *o = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(out)
}

/// Equality of two digests in a time that does not depend on where they
/// differ: every byte is looked at, with no early exit.  Both sides are
/// SHA-1 digests of the secrets (20 bytes each), so a secret's length
/// shows only as far as hashing it takes one 64-byte block more or less
/// (an accepted leak: a length in blocks, never a content).
fn secret_eq(a: &[u8; 20], b: &[u8; 20]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        // black_box keeps the optimiser from turning the loop into an
        // early-exit comparison.
        diff = std::hint::black_box(diff | (x ^ y));
    }
    diff == 0
}

/// SHA-1 (for `{SHA}` passwords, as Supervisor supports), hex-encoded.
pub fn sha1_hex(data: &[u8]) -> String {
    sha1(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-1 of `data` (FIPS 180-4).
fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut msg = data.to_vec();
    let bitlen = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bitlen.to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 80];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([
                block[4 * i],
                block[4 * i + 1],
                block[4 * i + 2],
                block[4 * i + 3],
            ]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let (mut a, mut b, mut c, mut d, mut e) = (h[0], h[1], h[2], h[3], h[4]);
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        h[0] = h[0].wrapping_add(a);
        h[1] = h[1].wrapping_add(b);
        h[2] = h[2].wrapping_add(c);
        h[3] = h[3].wrapping_add(d);
        h[4] = h[4].wrapping_add(e);
    }
    let mut out = [0u8; 20];
    for (o, word) in out.chunks_mut(4).zip(h) {
        o.copy_from_slice(&word.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_known_vectors() {
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            sha1_hex(b"thepassword"),
            "82ab876d1387bfafe46cc1c8a2ef074eae50cb1d"
        );
    }

    #[test]
    fn basic_auth_plain_and_sha() {
        let h = format!("Basic {}", crate::base64::encode(b"user:thepassword"));
        assert!(check_basic_auth(Some(&h), "user", "thepassword"));
        assert!(check_basic_auth(
            Some(&h),
            "user",
            "{SHA}82ab876d1387bfafe46cc1c8a2ef074eae50cb1d"
        ));
        assert!(check_basic_auth(
            Some(&h),
            "user",
            "{SHA}82AB876D1387BFAFE46CC1C8A2EF074EAE50CB1D"
        ));
        assert!(!check_basic_auth(Some(&h), "user", "other"));
        assert!(!check_basic_auth(Some(&h), "someone", "thepassword"));
        for bad in [
            "",
            "Basic",
            "Basic !!!",
            "Bearer x",
            "Basic dXNlcg==",
            "basic",
            "Basic dXNlcjp0aGVwYXNzd29yZA==garbage",
        ] {
            assert!(!check_basic_auth(Some(bad), "user", "thepassword"), "{bad}");
        }
        assert!(!check_basic_auth(None, "user", "x"));
    }

    #[test]
    fn secrets_compare_by_digest() {
        let h = |s: &str| sha1(s.as_bytes());
        assert!(secret_eq(&h("pw"), &h("pw")));
        assert!(!secret_eq(&h("pw"), &h("pW")));
        assert!(!secret_eq(&h("pw"), &h("pw ")));
        assert!(!secret_eq(&h(""), &h("x")));
        let mut near = h("pw");
        near[19] ^= 1;
        assert!(!secret_eq(&h("pw"), &near));
        assert_eq!(sha1_hex(b"pw").len(), 40);
        assert_eq!(hex_digest(&sha1_hex(b"pw")), Some(h("pw")));
        assert_eq!(hex_digest(&sha1_hex(b"pw").to_uppercase()), Some(h("pw")));
        for bad in ["", "abc", &"g".repeat(40), &"0".repeat(41), &"0".repeat(39)] {
            assert_eq!(hex_digest(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn basic_auth_compares_every_case() {
        let auth = |user: &str, pass: &str| {
            format!(
                "Basic {}",
                crate::base64::encode(format!("{user}:{pass}").as_bytes())
            )
        };
        let sha = format!("{{SHA}}{}", sha1_hex(b"secret"));
        for stored in ["secret", sha.as_str(), &sha.to_uppercase()] {
            assert!(
                check_basic_auth(Some(&auth("u", "secret")), "u", stored),
                "{stored}"
            );
            // Unequal, of the same length, longer, shorter, empty.
            for wrong in ["secreT", "secrets", "secre", ""] {
                assert!(
                    !check_basic_auth(Some(&auth("u", wrong)), "u", stored),
                    "{wrong} vs {stored}"
                );
            }
            // The right password under another name, or a longer/shorter one.
            for name in ["U", "uu", ""] {
                assert!(
                    !check_basic_auth(Some(&auth(name, "secret")), "u", stored),
                    "{name}"
                );
            }
        }
        // Colons after the first belong to the password.
        assert!(check_basic_auth(Some(&auth("u", "a:b")), "u", "a:b"));
        // A stored {SHA} that is not a digest matches nothing, not even itself.
        for stored in ["{SHA}", "{SHA}xyz", "{SHA}0000"] {
            let hex = stored.trim_start_matches("{SHA}");
            assert!(!check_basic_auth(Some(&auth("u", hex)), "u", stored));
            assert!(!check_basic_auth(Some(&auth("u", "")), "u", stored));
        }
        // An empty password is a password like any other.
        assert!(check_basic_auth(Some(&auth("u", "")), "u", ""));
    }

    struct Fake {
        input: io::Cursor<Vec<u8>>,
        output: Vec<u8>,
    }
    impl Read for Fake {
        fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
            self.input.read(b)
        }
    }
    impl Write for Fake {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.output.write(b)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl Conn for Fake {
        fn set_timeout(&self, _: Option<Duration>) -> io::Result<()> {
            Ok(())
        }
    }

    fn serve(input: &[u8]) -> String {
        let mut f = Fake {
            input: io::Cursor::new(input.to_vec()),
            output: Vec::new(),
        };
        let h: Handler = Arc::new(|r: Request| {
            Reply::Full(Response::new(
                200,
                "text/plain",
                format!("{} {} {}", r.method, r.target, r.body.len()).into_bytes(),
            ))
        });
        serve_conn(&mut f, &h);
        String::from_utf8_lossy(&f.output).into_owned()
    }

    #[test]
    fn keep_alive_and_bodies() {
        let out = serve(b"POST /RPC2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /x HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(out.contains("POST /RPC2 3"), "{out}");
        assert!(out.contains("GET /x 0"), "{out}");
        assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2);
    }

    #[test]
    fn limits_and_malformed_requests() {
        let big = format!(
            "POST /RPC2 HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        assert!(serve(big.as_bytes()).starts_with("HTTP/1.1 413"));
        assert!(
            serve(b"POST /RPC2 HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
                .starts_with("HTTP/1.1 400")
        );
        assert!(serve(b"garbage\r\n\r\n").starts_with("HTTP/1.1 400"));
        assert!(
            serve(b"POST /RPC2 HTTP/1.1\r\nContent-Length: x\r\n\r\n").starts_with("HTTP/1.1 400")
        );
        assert!(
            serve(b"POST /RPC2 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
                .starts_with("HTTP/1.1 411")
        );
        assert_eq!(serve(b""), "");
    }

    /// Status codes of the answers, in order.
    fn statuses(out: &str) -> Vec<&str> {
        out.match_indices("HTTP/1.1 ")
            .map(|(i, _)| &out[i + 9..i + 12])
            .collect()
    }

    #[test]
    fn pipelined_requests_in_one_read() {
        // A stray CRLF after a body (old browsers sent one) is skipped, as
        // medusa skips leading empty lines.
        let out = serve(
            b"POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nxy\r\n\
              GET /b HTTP/1.1\r\n\r\n\
              HEAD /c HTTP/1.0\r\nHost: h\r\n\r\n",
        );
        assert_eq!(statuses(&out), ["200", "200", "200"], "{out}");
        assert!(out.contains("POST /a 2"), "{out}");
        assert!(out.contains("GET /b 0"), "{out}");
        // HTTP/1.0 without keep-alive closes, and HEAD has no body.
        assert!(out.ends_with("Connection: close\r\n\r\n"), "{out}");
    }

    #[test]
    fn heads_end_at_the_first_empty_line() {
        assert_eq!(blank_line_end(b"GET / HTTP/1.1\r\n\r\n", 0), Some(18));
        assert_eq!(blank_line_end(b"GET / HTTP/1.1\n\nrest", 0), Some(16));
        assert_eq!(blank_line_end(b"a\r\nb\r\n\r", 0), None);
        assert_eq!(blank_line_end(b"a\r\nb\r\n\r\n", 5), Some(8));
        assert_eq!(blank_line_end(b"\n", 0), None);
        assert_eq!(blank_line_end(b"", 3), None);
        // Bare line feeds end lines too (RFC 9112 2.2 allows it).
        let out = serve(b"GET /lf HTTP/1.1\nHost: x\n\n");
        assert!(
            out.starts_with("HTTP/1.1 200") && out.contains("GET /lf 0"),
            "{out}"
        );
    }

    #[test]
    fn header_fields_are_checked() {
        let two = |h: &str| {
            serve(format!("GET /x HTTP/1.1\r\n{h}\r\nConnection: close\r\n\r\n").as_bytes())
        };
        // Obsolete line folding is refused (RFC 9112 5.2 allows that),
        // and so are a space before the colon, a line without one, and
        // control characters in a value.
        for bad in [
            "A: b\r\n c",
            "A: b\r\n\tc",
            "A : b",
            " A: b",
            "no colon",
            "A: b\x00c",
            "A: b\x7fc",
            "A: b\rc",
            "\u{e9}: b",
        ] {
            assert!(
                two(bad).starts_with("HTTP/1.1 400"),
                "{bad:?}: {}",
                two(bad)
            );
        }
        // Values are trimmed; bytes above 0x7f are kept (lossily as UTF-8).
        let mut f = Fake {
            input: io::Cursor::new(
                b"GET / HTTP/1.1\r\nA:  b c \t\r\nB: \xe9\xff\r\nC:\r\n\r\n".to_vec(),
            ),
            output: Vec::new(),
        };
        let r = read_request(&mut f, &mut Vec::new()).expect("a request");
        assert_eq!(r.header("a"), Some("b c"));
        assert_eq!(r.header("b"), Some("\u{fffd}\u{fffd}"));
        assert_eq!(r.header("c"), Some(""));
    }

    #[test]
    fn too_many_or_too_large_headers_are_431() {
        let with = |n: usize| {
            let mut req = String::from("GET /x HTTP/1.1\r\n");
            for i in 0..n {
                req.push_str(&format!("X-{i}: {i}\r\n"));
            }
            req.push_str("\r\n");
            serve(req.as_bytes())
        };
        assert!(with(MAX_HEADERS).starts_with("HTTP/1.1 200"));
        assert!(with(MAX_HEADERS + 1).starts_with("HTTP/1.1 431"));
        assert!(with(5000).starts_with("HTTP/1.1 431"));
        // A head that never ends, or ends past the limit: 431 too.
        let long = format!("GET /x HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD + 10));
        assert!(serve(long.as_bytes()).starts_with("HTTP/1.1 431"));
        // Empty lines are dropped as they come (the request deadline
        // still bounds them); then the close is clean.
        assert_eq!(serve("\r\n".repeat(MAX_HEAD).as_bytes()), "");
        assert_eq!(serve("\n".repeat(MAX_HEAD * 2).as_bytes()), "");
    }

    #[test]
    fn request_lines_are_checked() {
        for (line, want) in [
            ("GET /x HTTP/1.1", "200"),
            ("OPTIONS /x HTTP/1.0", "200"),
            // Medusa serves a line without a version, then closes.
            ("GET /x", "200"),
            ("GET /x HTTP/2.0", "505"),
            ("GET /x HTTP/1.2", "505"),
            ("GET /x HTTP/1.1 x", "400"),
            ("GET  /x HTTP/1.1", "400"),
            ("GET * HTTP/1.1", "400"),
            ("GET http://h/x HTTP/1.1", "400"),
            ("G(T /x HTTP/1.1", "400"),
            ("GET /\u{e9} HTTP/1.1", "200"),
            ("GET /x", "200"),
            ("/x", "400"),
            ("GET", "400"),
        ] {
            let out = serve(format!("{line}\r\nHost: h\r\n\r\n").as_bytes());
            assert_eq!(
                statuses(&out).first().copied(),
                Some(want),
                "{line:?}: {out}"
            );
        }
        // A target that is not UTF-8 (medusa fails to decode the head).
        assert!(serve(b"GET /\xff HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 400"));
        let out = serve(b"GET /old\r\n\r\nGET /next HTTP/1.1\r\n\r\n");
        assert_eq!(statuses(&out), ["200"], "{out}");
        assert!(
            out.contains("Connection: close") && out.contains("GET /old 0"),
            "{out}"
        );
    }
}
