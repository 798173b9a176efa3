//! The native XML-RPC client and load generator: HTTP/1.1 POST /RPC2 over a
//! unix socket or TCP, a new connection per request (as supervisorctl does)
//! or one keep-alive connection per client.

use crate::sys;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use supervisor_rs::rpc::{self, Value};

#[derive(Clone, Debug)]
pub enum Addr {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl Addr {
    pub fn kind(&self) -> &'static str {
        match self {
            Addr::Unix(_) => "unix",
            Addr::Tcp(_) => "inet",
        }
    }
}

pub enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Conn {
    pub fn open(addr: &Addr) -> io::Result<Conn> {
        let c = match addr {
            Addr::Unix(p) => Conn::Unix(UnixStream::connect(p)?),
            Addr::Tcp(a) => {
                let s = TcpStream::connect(a)?;
                s.set_nodelay(true)?;
                Conn::Tcp(s)
            }
        };
        let t = Some(Duration::from_secs(60));
        match &c {
            Conn::Unix(s) => s.set_read_timeout(t)?,
            Conn::Tcp(s) => s.set_read_timeout(t)?,
        }
        Ok(c)
    }
}

impl Read for Conn {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.read(b),
            Conn::Tcp(s) => s.read(b),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.write(b),
            Conn::Tcp(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A complete request for `body`.
pub fn request_bytes(body: &[u8], keep_alive: bool) -> Vec<u8> {
    let mut r = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nUser-Agent: supervisor-bench\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n{}\r\n",
        body.len(),
        if keep_alive { "" } else { "Connection: close\r\n" }
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

fn find(h: &[u8], needle: &[u8]) -> Option<usize> {
    h.windows(needle.len()).position(|w| w == needle)
}

/// Read one response; `buf` is reused.  Returns (status, body range in buf,
/// whether the server keeps the connection open).
pub fn read_response(
    conn: &mut Conn,
    buf: &mut Vec<u8>,
) -> io::Result<(u16, std::ops::Range<usize>, bool)> {
    buf.clear();
    let mut chunk = [0u8; 65536];
    let head_end = loop {
        if let Some(p) = find(buf, b"\r\n\r\n") {
            break p + 4;
        }
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed before headers",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let http10 = head.starts_with("http/1.0");
    let header = |name: &str| {
        head.lines().find_map(|l| {
            l.strip_prefix(name)
                .map(|v| v.trim_start_matches(':').trim().to_string())
        })
    };
    let close = match header("connection") {
        Some(v) if v == "close" => true,
        Some(v) if v == "keep-alive" => false,
        _ => http10,
    };
    if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        while buf.len() < head_end + len {
            let n = conn.read(&mut chunk)?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short body"));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        return Ok((status, head_end..head_end + len, !close));
    }
    if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        // Decode in place after the head.
        let mut out = Vec::new();
        let mut pos = head_end;
        loop {
            let line_end = loop {
                if let Some(p) = find(&buf[pos..], b"\r\n") {
                    break pos + p;
                }
                let n = conn.read(&mut chunk)?;
                if n == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short chunk"));
                }
                buf.extend_from_slice(&chunk[..n]);
            };
            let size_text = String::from_utf8_lossy(&buf[pos..line_end]).to_string();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            let data = line_end + 2;
            while buf.len() < data + size + 2 {
                let n = conn.read(&mut chunk)?;
                if n == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short chunk"));
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            if size == 0 {
                break;
            }
            out.extend_from_slice(&buf[data..data + size]);
            pos = data + size + 2;
        }
        buf.truncate(head_end);
        buf.extend_from_slice(&out);
        return Ok((status, head_end..buf.len(), !close));
    }
    // Neither: the body runs to EOF.
    loop {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok((status, head_end..buf.len(), false))
}

/// One call on a new connection; the decoded result.
pub fn call(addr: &Addr, method: &str, params: &[Value]) -> Result<Value, String> {
    let body = rpc::encode_call(method, params);
    let mut conn = Conn::open(addr).map_err(|e| format!("connect: {e}"))?;
    conn.write_all(&request_bytes(&body, false))
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::new();
    let (status, range, _) =
        read_response(&mut conn, &mut buf).map_err(|e| format!("read: {e}"))?;
    if status != 200 {
        return Err(format!("HTTP {status}"));
    }
    match rpc::decode_response(&buf[range]) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(f)) => Err(format!("fault {f:?}")),
        Err(e) => Err(format!("decode: {e:?}")),
    }
}

/// States of every process, by `getAllProcessInfo`.
pub fn states(addr: &Addr) -> Result<Vec<String>, String> {
    let v = call(addr, "supervisor.getAllProcessInfo", &[])?;
    Ok(v.as_array()
        .unwrap_or(&[])
        .iter()
        .map(|p| {
            p.get("statename")
                .and_then(|s| s.as_str())
                .unwrap_or("?")
                .to_string()
        })
        .collect())
}

pub struct LoadResult {
    pub requests: u64,
    pub errors: u64,
    pub elapsed_s: f64,
    pub latencies_ms: Vec<f64>,
    pub daemon_cpu_s: f64,
}

impl LoadResult {
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed_s
    }
    pub fn cpu_us_per_req(&self) -> f64 {
        self.daemon_cpu_s * 1e6 / self.requests.max(1) as f64
    }
}

/// `clients` threads calling `method` for `duration`; a response counts when
/// it is HTTP 200 with a complete, non-fault methodResponse.
pub fn load(
    addr: &Addr,
    method: &str,
    clients: usize,
    duration: Duration,
    keep_alive: bool,
    daemon_pid: i32,
) -> LoadResult {
    let req = request_bytes(&rpc::encode_call(method, &[]), keep_alive);
    drive(
        addr,
        vec![req],
        clients,
        duration,
        keep_alive,
        Expect::Rpc { faults_ok: false },
        daemon_pid,
    )
}

/// `clients` threads sending `GET target` on new connections for
/// `duration`; an answer counts when it is HTTP 200.
pub fn load_get(
    addr: &Addr,
    target: &str,
    clients: usize,
    duration: Duration,
    daemon_pid: i32,
) -> LoadResult {
    let req = format!(
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: supervisor-bench\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    drive(
        addr,
        vec![req],
        clients,
        duration,
        false,
        Expect::Ok200,
        daemon_pid,
    )
}

/// What counts as an answer.
#[derive(Clone, Copy)]
enum Expect {
    /// HTTP 200 with a complete methodResponse; a fault counts if `faults_ok`.
    Rpc { faults_ok: bool },
    /// HTTP 200, any body.
    Ok200,
}

/// `clients` threads, each cycling through `calls` (method, params) for
/// `duration`, one new connection per call.  Any complete methodResponse
/// counts as an answer (a fault is an answer too: `start` of a running
/// program is ALREADY_STARTED); only transport errors are errors.
pub fn load_mixed(
    addr: &Addr,
    calls: &[(String, Vec<Value>)],
    clients: usize,
    duration: Duration,
    daemon_pid: i32,
) -> LoadResult {
    let reqs = calls
        .iter()
        .map(|(m, p)| request_bytes(&rpc::encode_call(m, p), false))
        .collect();
    drive(
        addr,
        reqs,
        clients,
        duration,
        false,
        Expect::Rpc { faults_ok: true },
        daemon_pid,
    )
}

/// The load engine: each client thread cycles through `reqs` (starting at
/// its own index), timing each answer, until `duration` is over.
fn drive(
    addr: &Addr,
    reqs: Vec<Vec<u8>>,
    clients: usize,
    duration: Duration,
    keep_alive: bool,
    expect: Expect,
    daemon_pid: i32,
) -> LoadResult {
    let reqs = Arc::new(reqs);
    let stop = Arc::new(AtomicBool::new(false));
    let go = Arc::new(std::sync::Barrier::new(clients + 1));
    let mut handles = Vec::new();
    for client in 0..clients {
        let (addr, reqs, stop, go) = (addr.clone(), reqs.clone(), stop.clone(), go.clone());
        handles.push(std::thread::spawn(move || {
            let mut lat = Vec::with_capacity(1 << 16);
            let mut errors = 0u64;
            let mut buf = Vec::with_capacity(1 << 16);
            let mut conn: Option<Conn> = None;
            let mut i = client;
            go.wait();
            while !stop.load(Ordering::Relaxed) {
                let req = &reqs[i % reqs.len()];
                i += 1;
                let t = Instant::now();
                let ok = (|| -> io::Result<bool> {
                    if conn.is_none() {
                        conn = Some(Conn::open(&addr)?);
                    }
                    let c = conn.as_mut().expect("connection");
                    c.write_all(req)?;
                    let (status, range, open) = read_response(c, &mut buf)?;
                    if !(keep_alive && open) {
                        conn = None;
                    }
                    let body = &buf[range];
                    Ok(status == 200
                        && match expect {
                            Expect::Ok200 => true,
                            Expect::Rpc { faults_ok } => {
                                body.ends_with(b"</methodResponse>\n")
                                    && (faults_ok
                                        || find(&body[..body.len().min(200)], b"<fault>").is_none())
                            }
                        })
                })();
                match ok {
                    Ok(true) => lat.push(t.elapsed().as_secs_f64() * 1e3),
                    _ => {
                        errors += 1;
                        conn = None;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            }
            (lat, errors)
        }));
    }
    let cpu0 = sys::cpu_s(daemon_pid).unwrap_or(f64::NAN);
    let t0 = Instant::now();
    go.wait();
    sys::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    let mut latencies_ms = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (l, e) = h.join().expect("client thread");
        latencies_ms.extend(l);
        errors += e;
    }
    let elapsed_s = t0.elapsed().as_secs_f64();
    let cpu1 = sys::cpu_s(daemon_pid).unwrap_or(f64::NAN);
    LoadResult {
        requests: latencies_ms.len() as u64,
        errors,
        elapsed_s,
        latencies_ms,
        daemon_cpu_s: cpu1 - cpu0,
    }
}
