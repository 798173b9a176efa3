//! The web UI (SPEC A11 and Part C): Supervisor's page and action URLs as a
//! curl script sees them (side by side with the reference when it is
//! installed), auth, cross-site refusal, escaping and hostile queries; then
//! headless Chromium through ChromeDriver (`fixtures/webui_browser.py`):
//! live updates, actions without a reload, the live tail, JavaScript off,
//! phone width, keyboard, 500 programs, a hidden tab.

use crate::util::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

/// `web` echoes what the test puts in `{dir}/go-web` (ROTATE writes enough
/// to rotate its log); `evil` prints markup; `pool` has three processes.
const PROGRAMS: &str = "\
[program:web]
command=/bin/sh -c 'while :; do if [ -e {dir}/go-web ]; then m=$(cat {dir}/go-web); rm -f {dir}/go-web; if [ \"$m\" = ROTATE ]; then i=0; while [ $i -lt 300 ]; do echo \"filler line $i ..................................................\"; i=$((i+1)); done; else echo \"$m\"; fi; fi; sleep 0.05; done'
stdout_logfile={dir}/web.log
stdout_logfile_maxbytes=10KB
stdout_logfile_backups=2
startsecs=0

[program:other]
command=/bin/sleep 100000
startsecs=0

[program:evil]
command=/bin/sh -c 'echo \"<img src=x onerror=\\\"window.__xss=1\\\"><script>window.__xss=2</script>\"; exec sleep 100000'
startsecs=0

[program:pool]
command=/bin/sleep 100000
process_name=pool_%(process_num)s
numprocs=3
startsecs=0
";

/// A daemon with [`PROGRAMS`] (or `programs`) and an inet server; its URL.
fn daemon(name: &str, programs: &str, auth: bool) -> (Harness, String) {
    let mut h = Harness::new(name);
    let port = free_port();
    let creds = if auth { "username=u\npassword=p\n" } else { "" };
    h.write_standard_conf(&h.subst(&format!(
        "[inet_http_server]\nport=127.0.0.1:{port}\n{creds}\n{programs}"
    )));
    h.start(&[]);
    h.wait_for_socket(T);
    let url = format!("http://127.0.0.1:{port}");
    (h, url)
}

/// One raw GET: status line, headers and body as text.
fn get(url: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let addr = url.trim_start_matches("http://");
    let mut extra = String::new();
    for (k, v) in headers {
        extra.push_str(&format!("{k}: {v}\r\n"));
    }
    let req = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n{extra}\r\n");
    let raw = http_raw(addr, req.as_bytes());
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

fn http_raw(addr: &str, req: &[u8]) -> String {
    use std::io::{Read, Write};
    // Not up yet (or gone): no answer, status 0.
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return String::new();
    };
    s.set_read_timeout(Some(T)).unwrap();
    s.write_all(req).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn location(head: &str) -> String {
    head.lines()
        .find_map(|l| l.strip_prefix("Location: "))
        .unwrap_or("")
        .to_string()
}

fn wait_state(h: &Harness, name: &str, state: &str) {
    h.eventually(T, &format!("{name} {state}"), || {
        let o = h.ctl(&["status", name]);
        String::from_utf8_lossy(&o.stdout).contains(state)
    });
}

#[test]
fn status_page_lists_processes_with_supervisors_classes_and_actions() {
    let (mut h, url) = daemon("webui_page", PROGRAMS, false);
    wait_state(&h, "pool:pool_2", "RUNNING");
    h.ctl(&["stop", "other"]);
    for path in ["/", "/index.html"] {
        let (status, head, body) = get(&url, path, &[]);
        assert_eq!(status, 200, "{head}");
        assert!(
            head.contains("Content-Type: text/html;charset=utf-8"),
            "{head}"
        );
        assert!(
            head.contains("Content-Security-Policy: default-src 'none'"),
            "{head}"
        );
        for name in [
            "web",
            "other",
            "evil",
            "pool:pool_0",
            "pool:pool_1",
            "pool:pool_2",
        ] {
            assert!(
                body.contains(&format!("data-name=\"{name}\"")),
                "{name}: {body}"
            );
        }
        // Running: Restart, Stop, Clear Log, the tails; stopped: Start.
        assert!(body.contains("<span class=\"statusrunning\">running</span>"));
        assert!(body.contains("<span class=\"statusnominal\">stopped</span>"));
        assert!(body.contains("href=\"index.html?processname=web&amp;action=restart\""));
        assert!(body.contains("href=\"index.html?processname=other&amp;action=start\""));
        assert!(!body.contains("processname=other&amp;action=stop"));
        assert!(body.contains("href=\"logtail/pool%3Apool_1/stderr\""));
        assert!(body.contains("href=\"tail.html?processname=pool%3Apool_1\">pool:pool_1</a>"));
        for b in ["Refresh", "Restart All", "Stop All"] {
            assert!(body.contains(&format!(">{b}</a>")), "{b}");
        }
        assert!(
            body.contains("<span class=\"count\">3 processes</span>"),
            "group heading"
        );
    }
    // Script and style sheet: gzip on the wire; under 40 KB with the page
    // even uncompressed.
    for asset in ["/ui/app.js", "/ui/app.css"] {
        let (status, head, body) = get(&url, asset, &[("Accept-Encoding", "gzip, deflate, br")]);
        assert_eq!(status, 200, "{head}");
        assert!(head.contains("Content-Encoding: gzip"), "{head}");
        assert!(body.starts_with('\u{1f}'), "gzip magic");
        assert_eq!(get(&url, asset, &[("Accept-Encoding", "identity")]).0, 406);
    }
    let src = repo_root().join("src/daemon/web");
    let js = std::fs::read(src.join("app.js")).unwrap().len();
    let css = std::fs::read(src.join("app.css")).unwrap().len();
    let (_, _, page) = get(&url, "/", &[]);
    let total = js + css + page.len();
    assert!(total < 40_000, "HTML, CSS and JS are {total} bytes");
    assert_eq!(get(&url, "/ok.html", &[]).2, "OK");
    h.stop(T);
}

#[test]
fn action_urls_redirect_with_supervisors_messages() {
    let (mut h, url) = daemon("webui_actions", PROGRAMS, false);
    wait_state(&h, "web", "RUNNING");
    let act = |q: &str| {
        let (status, head, _) = get(&url, &format!("/index.html?{q}"), &[]);
        assert_eq!(status, 301, "{q}: {head}");
        location(&head)
    };
    let base = format!("{url}/?message=");
    assert_eq!(
        act("processname=web&action=stop"),
        format!("{base}Process%20web%20stopped")
    );
    wait_state(&h, "web", "STOPPED");
    assert_eq!(
        act("processname=web&action=stop"),
        format!("{base}unexpected%20rpc%20fault%20%5B70%5D%20NOT_RUNNING%3A%20web")
    );
    assert_eq!(
        act("processname=web&action=start"),
        format!("{base}Process%20web%20started")
    );
    wait_state(&h, "web", "RUNNING");
    assert_eq!(
        act("processname=web&action=start"),
        format!("{base}ERROR%3A%20Process%20web%3A%20already%20started")
    );
    assert_eq!(
        act("processname=pool%3Apool_0&action=restart"),
        format!("{base}Process%20pool%3Apool_0%20restarted")
    );
    assert_eq!(
        act("processname=web&action=clearlog"),
        format!("{base}Log%20for%20web%20cleared")
    );
    assert_eq!(
        act("processname=nosuch&action=stop"),
        format!("{base}No%20such%20process%20named%20nosuch")
    );
    assert!(act("action=refresh").starts_with(&format!("{base}Page%20refreshed%20at%20")));
    assert!(act("action=stopall").starts_with(&format!("{base}All%20stopped%20at%20")));
    wait_state(&h, "pool:pool_1", "STOPPED");
    assert!(act("action=restartall").starts_with(&format!("{base}All%20restarted%20at%20")));
    wait_state(&h, "pool:pool_1", "RUNNING");
    // Where Supervisor answers 500, a message on the page.
    assert_eq!(
        act("action=bogus"),
        format!("{base}ERROR%3A%20unknown%20action%20%22bogus%22")
    );
    assert_eq!(
        act("action=start"),
        format!("{base}ERROR%3A%20the%20action%20start%20needs%20a%20processname")
    );
    // The message shows on the page, escaped.
    let (_, _, body) = get(&url, "/?message=%3Cb%3Ehi%3C/b%3E", &[]);
    assert!(body.contains("&lt;b&gt;hi&lt;/b&gt;"), "{body}");
    h.stop(T);
}

#[test]
fn action_urls_match_the_reference_side_by_side() {
    let Some(venv) = reference_venv() else {
        assert!(skip_unless(false, "no reference virtualenv"));
        return;
    };
    let (mut h, url) = daemon("webui_vs_ref", PROGRAMS, false);
    // The same programs under the reference, in its own dir and port.
    let r = Harness::new("webui_ref");
    let rport = free_port();
    r.write_standard_conf(&r.subst(&format!(
        "[inet_http_server]\nport=127.0.0.1:{rport}\n\n{PROGRAMS}"
    )));
    let mut rd = Command::new(venv.join("bin/supervisord"));
    rd.args(["-n", "-c"]).arg(r.conf_path());
    let mut r = r;
    r.start_command(rd);
    let rurl = format!("http://127.0.0.1:{rport}");
    r.eventually(T, "reference answers", || {
        get(&rurl, "/ok.html", &[]).0 == 200
    });
    wait_state(&h, "pool:pool_2", "RUNNING");
    r.eventually(T, "reference programs up", || {
        get(&rurl, "/", &[]).2.matches("statusrunning").count() >= 6
    });
    for q in [
        "processname=web&action=stop",
        "processname=web&action=stop",
        "processname=web&action=start",
        "processname=web&action=start",
        "processname=pool%3Apool_0&action=restart",
        "processname=evil&action=clearlog",
        "processname=nosuch&action=start",
        "processname=pool:nosuch&action=stop",
    ] {
        let ours = get(&url, &format!("/index.html?{q}"), &[]);
        let theirs = get(&rurl, &format!("/index.html?{q}"), &[]);
        assert_eq!(ours.0, theirs.0, "{q}");
        assert_eq!(
            location(&ours.1).replace(&url, ""),
            location(&theirs.1).replace(&rurl, ""),
            "{q}"
        );
    }
    for q in ["processname=nosuch", "processname=evil&limit=5", ""] {
        let text = |body: &str| {
            let start = body
                .find("<pre")
                .and_then(|i| body[i..].find('>').map(|j| i + j + 1));
            let end = body.find("</pre>");
            match (start, end) {
                (Some(s), Some(e)) => body[s..e].to_string(),
                _ => String::new(),
            }
        };
        let ours = text(&get(&url, &format!("/tail.html?{q}"), &[]).2);
        let theirs = text(&get(&rurl, &format!("/tail.html?{q}"), &[]).2);
        assert_eq!(ours, theirs, "tail.html?{q}");
    }
    r.stop(T);
    h.stop(T);
}

#[test]
fn pages_need_the_rpc_credentials() {
    let (mut h, url) = daemon("webui_auth", PROGRAMS, true);
    for path in [
        "/",
        "/index.html?processname=web&action=stop",
        "/tail.html?processname=web",
        "/ui/app.js",
    ] {
        let (status, head, _) = get(&url, path, &[]);
        assert_eq!(status, 401, "{path}: {head}");
    }
    let auth = ("Authorization", "Basic dTpw");
    assert_eq!(get(&url, "/", &[auth]).0, 200);
    let (status, head, _) = get(&url, "/index.html?processname=web&action=stop", &[auth]);
    assert_eq!(status, 301, "{head}");
    wait_state(&h, "web", "STOPPED");
    h.stop(T);
}

#[test]
fn cross_site_requests_are_refused_and_curl_still_works() {
    let (mut h, url) = daemon("webui_csrf", PROGRAMS, false);
    wait_state(&h, "web", "RUNNING");
    let host = url.trim_start_matches("http://").to_string();
    let stop = "/index.html?processname=web&action=stop";
    for hdrs in [
        vec![("Sec-Fetch-Site", "cross-site")],
        vec![("Sec-Fetch-Site", "same-site")],
        vec![("Origin", "http://evil.example")],
        vec![("Origin", "null")],
    ] {
        let (status, _, body) = get(&url, stop, &hdrs);
        assert_eq!(status, 403, "{hdrs:?}");
        assert!(
            body.contains("refused: this request came from another"),
            "{body}"
        );
    }
    // The RPC too: a form of another site can post text/plain XML.
    let call = "<?xml version=\"1.0\"?><methodCall><methodName>supervisor.stopProcess</methodName>\
                <params><param><value><string>web</string></value></param></params></methodCall>";
    let req = format!(
        "POST /RPC2 HTTP/1.0\r\nHost: {host}\r\nOrigin: http://evil.example\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{call}",
        call.len()
    );
    let answer = http_raw(&host, req.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 403 "), "{answer}");
    // A refresh is harmless and allowed; so is the page itself.
    assert_eq!(
        get(
            &url,
            "/index.html?action=refresh",
            &[("Sec-Fetch-Site", "cross-site")]
        )
        .0,
        301
    );
    wait_state(&h, "web", "RUNNING");
    // Same origin, a typed URL, and curl act.
    let own = format!("http://{host}");
    let (status, _, _) = get(
        &url,
        stop,
        &[("Sec-Fetch-Site", "same-origin"), ("Origin", &own)],
    );
    assert_eq!(status, 301);
    wait_state(&h, "web", "STOPPED");
    assert_eq!(
        get(
            &url,
            "/index.html?processname=web&action=start",
            &[("Sec-Fetch-Site", "none")]
        )
        .0,
        301
    );
    wait_state(&h, "web", "RUNNING");
    let o = h.ctl(&["-s", &url, "stop", "web"]);
    assert!(o.status.success(), "{}", output_text(&o));
    h.stop(T);
}

#[test]
fn hostile_queries_get_a_message_never_a_crash() {
    let (mut h, url) = daemon("webui_hostile", PROGRAMS, false);
    let long = format!("/index.html?processname={}&action=stop", "a".repeat(5000));
    let (status, _, body) = get(&url, &long, &[]);
    assert_eq!(status, 400);
    assert!(
        body.contains("ERROR: the query string is too long"),
        "{body}"
    );
    for q in [
        "/index.html?processname=%zz%&action=stop",
        "/index.html?processname=%C3%28&action=start",
        "/index.html?action=&processname=web",
        "/index.html?processname=%3Cscript%3Ealert(1)%3C/script%3E&action=stop",
        "/tail.html?processname=web&limit=-99999999999999999999",
        "/tail.html?processname=%3Cscript%3E",
        "/index.html?&&&==&=&action",
    ] {
        let (status, head, body) = get(&url, q, &[]);
        assert!(matches!(status, 200 | 301), "{q}: {head}");
        assert!(!body.contains("<script>alert"), "{q}: {body}");
    }
    let (_, _, body) = get(&url, "/tail.html?processname=%3Cscript%3E", &[]);
    assert!(body.contains("BAD_NAME: &lt;script&gt;"), "{body}");
    // Still up and serving.
    assert_eq!(get(&url, "/", &[]).0, 200);
    h.stop(T);
}

// ---------------------------------------------------------------- browser

fn browser_ready() -> bool {
    skip_unless(
        Path::new("/usr/bin/chromium").exists() && Path::new("/usr/bin/chromedriver").exists(),
        "Chromium and ChromeDriver are not installed",
    )
}

/// Run one scenario of the browser script; every check it reports must
/// pass and every name in `expect` must be among them.
fn browse(h: &Harness, scenario: &str, url: &str, extra: &[&str], expect: &[&str]) {
    let script = fixtures_dir().join("webui_browser.py");
    let mut c = Command::new("python3");
    c.arg(script).args([scenario, url]).arg(h.dir()).args(extra);
    let out = run_with_timeout(&mut c, Duration::from_secs(180)).unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut seen = Vec::new();
    for line in text.lines() {
        let Some(check) = line
            .split("\"check\": \"")
            .nth(1)
            .and_then(|r| r.split('"').next())
        else {
            continue;
        };
        assert!(
            line.contains("\"ok\": true"),
            "{scenario}: {check} failed: {line}\n{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            h.diagnostics()
        );
        seen.push(check.to_string());
    }
    for e in expect {
        assert!(
            seen.iter().any(|s| s == e),
            "{scenario}: no check {e:?}: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A daemon with [`PROGRAMS`], `ready` RUNNING, then one browser
/// scenario; the harness for what the test does next (None: skipped).
fn browser_run(
    name: &str,
    scenario: &str,
    ready: &str,
    extra: &[&str],
    expect: &[&str],
) -> Option<Harness> {
    if !browser_ready() {
        return None;
    }
    let (h, url) = daemon(name, PROGRAMS, false);
    wait_state(&h, ready, "RUNNING");
    browse(&h, scenario, &url, extra, expect);
    Some(h)
}

#[test]
fn browser_stop_start_restart_all_keyboard_and_escaping_without_a_reload() {
    if !browser_ready() {
        return;
    }
    let (mut h, url) = daemon("webui_browser_live", PROGRAMS, false);
    wait_state(&h, "pool:pool_2", "RUNNING");
    let ctl = h.bin_link("supervisorctl");
    browse(
        &h,
        "live",
        &url,
        &[ctl.to_str().unwrap()],
        &[
            "lists the processes",
            "Stop turns the row STOPPED without a reload",
            "the message is Supervisor's",
            "Start turns it RUNNING without a reload",
            "Restart All restarts everything",
            "a change made with supervisorctl appears without a reload",
            "an action is reachable with Tab and shows focus",
            "Enter on a focused action runs it",
            "markup in output shows as text",
        ],
    );
    h.stop(T);
}

#[test]
fn browser_tail_view_follows_output_and_rotation() {
    let Some(mut h) = browser_run(
        "webui_browser_tail",
        "tail",
        "web",
        &[],
        &[
            "new output appears live (0)",
            "new output appears live (2)",
            "the live view follows rotation",
        ],
    ) else {
        return;
    };
    h.stop(T);
}

#[test]
fn browser_without_javascript_still_stops_starts_and_filters() {
    let Some(mut h) = browser_run(
        "webui_browser_nojs",
        "nojs",
        "web",
        &[],
        &[
            "the page lists the processes without JavaScript",
            "scripts really are off",
            "Stop works without JavaScript",
            "Start works without JavaScript",
            "the filter works without JavaScript",
        ],
    ) else {
        return;
    };
    h.stop(T);
}

#[test]
fn browser_phone_width_has_no_horizontal_scroll_and_big_tap_targets() {
    let Some(mut h) = browser_run(
        "webui_browser_phone",
        "phone",
        "pool:pool_2",
        &[],
        &[
            "no horizontal scrolling at 375 px",
            "every tap target is at least 40 px high",
        ],
    ) else {
        return;
    };
    // Screenshots for the README, refreshed when asked to.
    if std::env::var_os("WEBUI_SCREENSHOTS").is_some() {
        for shot in ["desktop.png", "phone.png"] {
            std::fs::copy(
                h.path(shot),
                repo_root()
                    .join("examples/screenshots")
                    .join(format!("webui-{shot}")),
            )
            .expect("copy screenshot");
        }
    }
    h.stop(T);
}

#[test]
fn browser_cross_site_link_image_and_form_are_refused() {
    if !browser_ready() {
        return;
    }
    let (mut h, url) = daemon("webui_browser_csrf", PROGRAMS, false);
    wait_state(&h, "web", "RUNNING");
    // Another site: a plain file server on another port, named `localhost`.
    std::fs::create_dir_all(h.path("www")).unwrap();
    let port = free_port();
    let mut srv = Command::new("python3");
    srv.args([
        "-m",
        "http.server",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--directory",
    ])
    .arg(h.path("www"))
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    let mut srv = srv.spawn().expect("http.server");
    let other = format!("http://localhost:{port}");
    h.eventually(T, "file server", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    browse(
        &h,
        "crosssite",
        &url,
        &[&other],
        &[
            "a link from another site is refused with a message",
            "a form POST to /RPC2 from another site is refused",
            "web is still RUNNING",
            "the page's own actions still work",
        ],
    );
    let _ = srv.kill();
    let _ = srv.wait();
    h.stop(T);
}

#[test]
fn browser_renders_500_programs_in_under_a_second_and_filters_them() {
    if !browser_ready() {
        return;
    }
    let mut programs = String::new();
    for i in 0..500 {
        programs.push_str(&format!(
            "[program:p{i:04}]\ncommand=/bin/sleep 100000\nstartsecs=0\n\n"
        ));
    }
    let (mut h, url) = daemon("webui_browser_500", &programs, false);
    h.eventually(Duration::from_secs(60), "500 RUNNING", || {
        get(&url, "/", &[]).2.matches("statusrunning").count() == 500
    });
    browse(
        &h,
        "many",
        &url,
        &[],
        &[
            "500 programs render in under 1 s",
            "the filter shows only matching rows",
        ],
    );
    h.stop(Duration::from_secs(60));
}

#[test]
fn browser_hidden_tab_makes_no_requests() {
    if !browser_ready() {
        return;
    }
    let (mut h, url) = daemon("webui_browser_hidden", PROGRAMS, false);
    browse(
        &h,
        "hidden",
        &url,
        &[],
        &["the tab was hidden", "0 requests while hidden"],
    );
    h.stop(T);
}

#[test]
fn the_unix_socket_server_serves_the_page_and_its_actions_too() {
    use std::io::{Read, Write};
    let (mut h, _url) = daemon("webui_unix", PROGRAMS, false);
    wait_state(&h, "web", "RUNNING");
    let unix_get = |path: &str| {
        let mut s = std::os::unix::net::UnixStream::connect(h.socket_path()).expect("connect");
        s.set_read_timeout(Some(T)).unwrap();
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
            .unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    };
    let page = unix_get("/");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("data-name=\"pool:pool_1\""), "{page}");
    let stop = unix_get("/index.html?processname=web&action=stop");
    assert!(stop.starts_with("HTTP/1.1 301"), "{stop}");
    assert!(
        stop.contains("Location: http://localhost/?message=Process%20web%20stopped"),
        "{stop}"
    );
    wait_state(&h, "web", "STOPPED");
    h.stop(T);
}
