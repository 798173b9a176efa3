//! `k8s-examples/` checked as Kubernetes would: every manifest against the
//! Kubernetes schemas (kubernetes-validate, strict), and every Pod run on a
//! real Docker engine the way the kubelet would (see
//! tests/fixtures/k8s_simulate.py): volumes, command, args, env, probes
//! until they pass, then a stop within the grace period.

use crate::util::docker::{Engine, scratch_context, static_binary};
use crate::util::*;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// The Kubernetes version the manifests are validated against.
const K8S_VERSION: &str = "1.37.0";

fn manifests() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo_root().join("k8s-examples"))
        .expect("k8s-examples")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    v.sort();
    assert!(v.len() >= 2, "{v:?}");
    v
}

fn venv_tool(name: &str) -> Option<PathBuf> {
    let venv = reference_venv();
    if !skip_unless(venv.is_some(), "SUPERVISOR_REF_VENV is not set") {
        return None;
    }
    let tool = venv?.join("bin").join(name);
    skip_unless(
        tool.exists(),
        &format!("{name} is not installed in the test venv"),
    )
    .then_some(tool)
}

#[test]
fn k8s_manifests_pass_strict_schema_validation() {
    let Some(tool) = venv_tool("kubernetes-validate") else {
        return;
    };
    for m in manifests() {
        let mut c = Command::new(&tool);
        c.args(["--strict", "-k", K8S_VERSION]).arg(&m);
        let o = run_with_timeout(&mut c, Duration::from_secs(120)).expect("kubernetes-validate");
        let text = output_text(&o);
        assert!(o.status.success(), "{}: {text}", m.display());
        assert!(text.contains("passed"), "{}: {text}", m.display());
        assert!(!text.contains("WARN"), "{}: {text}", m.display());
    }
}

#[test]
fn k8s_pods_run_on_a_real_engine_as_the_kubelet_would() {
    let Some(python) = venv_tool("python") else {
        return;
    };
    let bin = static_binary();
    if !skip_unless(bin.is_some(), "no static build (scripts/build-static.sh)") {
        return;
    }
    let Some(e) = Engine::start("k8s") else {
        return;
    };
    let Some(ctx) = scratch_context(&bin.expect("checked"), &e.dir().join("ctx")) else {
        return;
    };
    // The examples name supervisor-rs:latest and, for the plain application
    // container, busybox: the scratch image has both roles' programs.
    let tag = "supervisor-rs:latest";
    e.build(&ctx.join("Dockerfile.scratch"), &ctx, tag);
    let (cli, host) = e.cli_and_host();
    for m in manifests() {
        let work = e.dir().join(m.file_stem().expect("name"));
        std::fs::create_dir_all(&work).expect("workdir");
        let mut c = Command::new(&python);
        c.arg(fixtures_dir().join("k8s_simulate.py"))
            .arg("--docker")
            .arg(&cli)
            .args(["--host", &host])
            .args(["--image", "supervisor-rs:latest=supervisor-rs:latest"])
            .args(["--image", "busybox:1.36=supervisor-rs:latest"])
            .arg("--workdir")
            .arg(&work)
            .arg(&m);
        let o = run_with_timeout(&mut c, Duration::from_secs(180)).expect("simulator");
        let text = output_text(&o);
        println!("{}:\n{text}", m.display());
        assert!(o.status.success(), "{}: {text}", m.display());
        assert!(text.contains("\nOK\n"), "{text}");
    }
}
