#!/usr/bin/env bash
# Install what the tests need (only what is missing: a second run is fast),
# then run every test: unit + integration tests, the static musl build and a
# check that it really is static, and the integration tests again against the
# static binary.
#
#   scripts/test.sh
#
# Works unattended (CI=true, no stdin). Installs, when missing:
#   - the Rust target x86_64-unknown-linux-musl (rustup)
#   - Debian packages procps (ps, also needed by superlance's memmon),
#     util-linux, a C linker, python3-venv (apt, only when running as root;
#     otherwise it says what is missing)
#   - a virtualenv with the reference Python Supervisor (supervisor==4.3.0)
#     and superlance from PyPI (its stock event listeners, run unchanged by
#     the event tests) in target/venv (or $SUPERVISOR_REF_VENV)
#   - cargo-nextest (falls back to `cargo test` if it cannot be installed)
# Lints are not run here; see README ("Checks before a commit").
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd)
musl=x86_64-unknown-linux-musl
ref_pin="supervisor==4.3.0"
lance_pin="superlance==2.0.0"
# prometheus_client's text parser checks /metrics in the health tests.
prom_pin="prometheus_client==0.26.0"
venv=${SUPERVISOR_REF_VENV:-$repo/target/venv}
start_all=$SECONDS

step() { printf '\n==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
is_root() { [ "$(id -u)" = 0 ]; }

# --- 1. Debian packages ----------------------------------------------------
step "system packages"
need=()
# ps: the harness's diagnostics, and memmon (superlance) reads RSS with it.
command -v ps >/dev/null 2>&1 || need+=(procps)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    need+=(python3-venv)
fi
if [ "${#need[@]}" -eq 0 ]; then
    note "nothing missing"
elif is_root && command -v apt-get >/dev/null 2>&1; then
    note "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null
else
    note "missing: ${need[*]} (not root: install them with apt-get, tests needing them will fail or skip)"
fi

# --- 2. Rust musl target ---------------------------------------------------
step "rust target $musl"
if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not found: install Rust (rustup) first" >&2
    exit 1
fi
if command -v rustup >/dev/null 2>&1; then
    if rustup target list --installed | grep -x "$musl" >/dev/null; then
        note "already installed"
    else
        rustup target add "$musl"
    fi
else
    note "no rustup: assuming the toolchain already has $musl"
fi

# --- 3. Reference Supervisor and superlance in a virtualenv ------------------
step "reference supervisor ($ref_pin), $lance_pin and $prom_pin in $venv"
stamp="$venv/.supervisor-rs-pin"
pins="$ref_pin $lance_pin $prom_pin"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pins" ] \
    && "$venv/bin/python" -c 'import supervisor, superlance, prometheus_client' >/dev/null 2>&1; then
    note "already installed"
else
    mkdir -p "$(dirname "$venv")"
    # Reuse a working venv (only the missing pin gets installed); rebuild a
    # broken one.
    if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
        python3 -m venv --clear "$venv"
    fi
    # shellcheck disable=SC2086 # two pins, split on purpose
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input $pins </dev/null
    echo "$pins" > "$stamp"
fi
note "reference: supervisord $("$venv/bin/supervisord" --version), superlance $("$venv/bin/python" -c "from importlib.metadata import version; print(version('superlance'))")"
export SUPERVISOR_REF_VENV="$venv"

# --- 4. Test runner -----------------------------------------------------------
step "test runner"
runner=(cargo test --no-fail-fast)
if ! cargo nextest --version >/dev/null 2>&1; then
    note "cargo-nextest missing: installing it (once)"
    cargo install --locked cargo-nextest </dev/null || note "could not install cargo-nextest: using cargo test"
fi
if cargo nextest --version >/dev/null 2>&1; then
    runner=(cargo nextest run --config-file scripts/nextest.toml --profile ci)
fi
note "using: ${runner[*]}"
note "setup took $((SECONDS - start_all))s"

# --- 5. Tests -------------------------------------------------------------------
failed=()
run_stage() {
    local name=$1
    shift
    local t0=$SECONDS
    step "$name"
    if "$@"; then
        note "$name: ok ($((SECONDS - t0))s)"
    else
        note "$name: FAILED ($((SECONDS - t0))s)"
        failed+=("$name")
    fi
}

# nextest does not run doctests: run them first, so that the runner's
# summary is what the log ends with.
if [ "${runner[0]} ${runner[1]}" = "cargo nextest" ]; then
    run_stage "doctests" cargo test --doc --quiet
fi
run_stage "unit + integration tests" "${runner[@]}"

static_tests() {
    local bin
    bin=$(bash scripts/build-static.sh) || return 1
    bash scripts/check-static.sh "$bin" || return 1
    note "integration tests against SUPERVISORD_BIN=$bin"
    SUPERVISORD_BIN="$bin" "${runner[@]}" --test integration
}
run_stage "static musl binary" static_tests

step "done in $((SECONDS - start_all))s"
if [ "${#failed[@]}" -ne 0 ]; then
    note "FAILED stages: ${failed[*]}"
    exit 1
fi
note "all stages OK"
