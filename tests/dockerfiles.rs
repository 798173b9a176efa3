//! What the Dockerfiles name exists: files they COPY from the build
//! context, the binary, names and flags of ENTRYPOINT, the config it
//! points at (which passes `--check`), the health port of HEALTHCHECK,
//! the cargo target names and flags of the multi-stage build. (The
//! scratch image is also built and run under a real engine in docker.rs;
//! the multi-stage one needs a registry for its build stage.)

use crate::util::*;
use std::path::Path;

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo_root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Instructions with line continuations joined: (INSTRUCTION, rest).
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let t = line.trim();
        if cur.is_empty() && (t.starts_with('#') || t.is_empty()) {
            continue;
        }
        if let Some(body) = t.strip_suffix('\\') {
            cur.push_str(body);
            cur.push(' ');
            continue;
        }
        cur.push_str(t);
        let (ins, rest) = cur.split_once(' ').unwrap_or((&cur, ""));
        out.push((ins.to_uppercase(), rest.trim().to_string()));
        cur.clear();
    }
    out
}

/// A JSON-array instruction argument (`["a", "b"]`), as strings.
fn exec_form(s: &str) -> Vec<String> {
    let inner = s
        .trim()
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or_else(|| panic!("not exec form: {s}"));
    inner
        .split(',')
        .map(|x| x.trim().trim_matches('"').to_string())
        .collect()
}

/// ENTRYPOINT ["/usr/local/bin/supervisord", flags..., "-c", CONF]: the
/// flags parse and the config (the repo's copy of CONF) passes --check.
fn check_entrypoint(df: &str, conf_in_repo: &str) {
    let ins = instructions(&read(df));
    let ep = ins
        .iter()
        .rev()
        .find(|(i, _)| i == "ENTRYPOINT")
        .unwrap_or_else(|| panic!("{df}: no ENTRYPOINT"));
    let argv = exec_form(&ep.1);
    assert_eq!(argv[0], "/usr/local/bin/supervisord", "{df}");
    let h = Harness::new("dockerfile_entrypoint");
    let mut args: Vec<String> = argv[1..].to_vec();
    let ci = args
        .iter()
        .position(|a| a == "-c")
        .unwrap_or_else(|| panic!("{df}: ENTRYPOINT has no -c"));
    assert_eq!(args[ci + 1], "/etc/supervisord.conf", "{df}");
    args[ci + 1] = repo_root().join(conf_in_repo).display().to_string();
    args.push("--check".into());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = h.run(&refs);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{df}: {refs:?}\n{}",
        output_text(&o)
    );
    // HEALTHCHECK asks the health port of that config.
    let conf = read(conf_in_repo);
    let port = conf
        .split("[health_server]")
        .nth(1)
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("port=")))
        .and_then(|p| p.rsplit(':').next())
        .unwrap_or_else(|| panic!("{conf_in_repo}: no [health_server] port"))
        .trim()
        .to_string();
    let hc = ins
        .iter()
        .find(|(i, _)| i == "HEALTHCHECK")
        .unwrap_or_else(|| panic!("{df}: no HEALTHCHECK"));
    assert!(
        hc.1.contains(&format!("127.0.0.1:{port}/readyz")),
        "{df}: {}",
        hc.1
    );
    assert!(
        ins.iter().any(|(i, r)| i == "STOPSIGNAL" && r == "SIGTERM"),
        "{df}"
    );
}

#[test]
fn dockerfile_multistage_names_only_what_exists() {
    let df = "docker/Dockerfile";
    check_entrypoint(df, "docker/supervisord.conf");
    let ins = instructions(&read(df));
    // COPY sources from the context (the repository root) exist.
    for (_, rest) in ins
        .iter()
        .filter(|(i, r)| i == "COPY" && !r.starts_with("--from"))
    {
        let parts: Vec<&str> = rest.split_whitespace().collect();
        for src in &parts[..parts.len() - 1] {
            assert!(repo_root().join(src).exists(), "{df}: COPY {src}");
        }
    }
    // The final stage is scratch; the build stage maps TARGETARCH to
    // musl targets that exist, and builds with --locked a bin that exists.
    let froms: Vec<&str> = ins
        .iter()
        .filter(|(i, _)| i == "FROM")
        .map(|(_, r)| r.as_str())
        .collect();
    assert_eq!(froms.last().copied(), Some("scratch"), "{froms:?}");
    let text = read(df);
    for t in ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"] {
        assert!(text.contains(t), "{t}");
    }
    if let Ok(o) = std::process::Command::new("rustup")
        .args(["target", "list"])
        .output()
    {
        let list = String::from_utf8_lossy(&o.stdout);
        for t in ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"] {
            assert!(
                list.lines().any(|l| l.starts_with(t)),
                "rustup knows no {t}"
            );
        }
    }
    assert!(text.contains("--locked") && repo_root().join("Cargo.lock").exists());
    assert!(
        text.contains("--bin supervisord") && read("Cargo.toml").contains("name = \"supervisord\"")
    );
    // Every name it links is one the binary answers to.
    for n in ["supervisorctl", "echo_supervisord_conf", "pidproxy"] {
        assert!(text.contains(n), "{n}");
        assert!(read("src/cli/mod.rs").contains(&format!("\"{n}\"")), "{n}");
    }
    // The ignore file keeps target/ and .git out of the context.
    let ignore = read("docker/Dockerfile.dockerignore");
    assert!(ignore.lines().any(|l| l.trim() == "target"), "{ignore}");
}

#[test]
fn dockerfile_scratch_names_only_what_the_context_script_stages() {
    let df = "docker/Dockerfile.scratch";
    check_entrypoint(df, "docker/supervisord.conf");
    let script = read("scripts/docker-context.sh");
    for (_, rest) in instructions(&read(df)).iter().filter(|(i, _)| i == "COPY") {
        let parts: Vec<&str> = rest.split_whitespace().collect();
        for src in &parts[..parts.len() - 1] {
            let staged = script.contains(&format!("\"$ctx/{src}\""))
                || (Path::new("docker").join(src).exists()
                    && script.contains(&format!("docker/{src}")));
            assert!(
                staged,
                "{df}: COPY {src} is not staged by scripts/docker-context.sh"
            );
        }
    }
}
