#!/usr/bin/env bash
# Install what the tests need (only what is missing: a second run is fast),
# then run every test: unit + integration tests, the static musl build and a
# check that it really is static, and the integration tests again against the
# static binary.
#
#   scripts/test.sh                  # install what is missing, run the tests
#   scripts/test.sh --install-only   # only the install step (no Rust needed)
#
# Works unattended (CI=true, no stdin). Installs, when missing:
#   - Debian packages procps (ps, also needed by superlance's memmon),
#     util-linux, a C linker, python3 and python3-venv, docker.io (a real
#     Docker engine for the container tests) and busybox-static (the example
#     image's programs) (apt, only when running as root; otherwise it says
#     what is missing)
#   - the Rust target x86_64-unknown-linux-musl (rustup)
#   - a virtualenv with the reference Python Supervisor (supervisor==4.3.0)
#     and superlance from PyPI (its stock event listeners, run unchanged by
#     the event tests), prometheus_client (its parser reads /metrics) and
#     kubernetes-validate (the Kubernetes schemas) in target/venv (or
#     $SUPERVISOR_REF_VENV)
#   - cargo-nextest (falls back to `cargo test` if it cannot be installed)
# A package that cannot be installed is reported, never an abort: the tests
# needing it fail or skip. With --install-only, cargo may be absent (the Rust
# parts are then skipped) and the exit status is 1 when something is still
# missing. As root with CI=true it also runs scripts/test-fresh-install.sh
# (this install step on a fresh minimal Debian) as a last stage.
# Lints are not run here; see README ("Checks before a commit").
set -euo pipefail

install_only=false
case "${1:-}" in
    "") ;;
    --install-only) install_only=true ;;
    *)
        echo "scripts/test.sh: unknown argument '$1' (the only option is --install-only)" >&2
        exit 2
        ;;
esac

cd "$(dirname "$0")/.."
repo=$(pwd)
musl=x86_64-unknown-linux-musl
venv=${SUPERVISOR_REF_VENV:-$repo/target/venv}
start_all=$SECONDS
# What the install step could not provide, said again at the end.
missing=()

step() { printf '\n==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
is_root() { [ "$(id -u)" = 0 ]; }
in_ci() { case "${CI:-}" in "" | 0 | [Ff][Aa][Ll][Ss][Ee]) return 1 ;; esac; }

# --- 1. Debian packages ----------------------------------------------------
# Checks, true when what a package provides is usable here.
has() { command -v "$1" >/dev/null 2>&1; }
# The Rust toolchain links with cc: it needs gcc and libc6-dev's crt files.
cc_links() {
    local out
    out=$(mktemp) || return 1
    printf 'int main(void) { return 0; }\n' | cc -x c -o "$out" - >/dev/null 2>&1
    local rc=$?
    rm -f "$out"
    return "$rc"
}
# Debian's python3 keeps ensurepip (which venv needs) in python3-venv;
# pyenv's python3 has it. False too when there is no python3.
py_venv() { python3 -c 'import venv, ensurepip' >/dev/null 2>&1; }
# The scratch image copies busybox: it must be the static build.
static_busybox() { has busybox && bash scripts/check-static.sh "$(command -v busybox)" >/dev/null 2>&1; }

# One line per Debian package the tests use, `want PACKAGE CHECK...`: the
# package is installed unless CHECK succeeds. Adding one is adding a line,
# e.g. `want chromium-driver has chromedriver`.
wanted_packages() {
    need=()
    # ps: the harness's diagnostics, and memmon (superlance) reads RSS with it.
    want procps has ps
    want util-linux has unshare
    want gcc has cc
    want libc6-dev cc_links
    want python3 has python3
    want python3-venv py_venv
    want docker.io has dockerd
    want busybox-static static_busybox
    # The web UI's browser tests drive headless Chromium through ChromeDriver.
    want chromium has chromium
    want chromium-driver has chromedriver
}
want() {
    local pkg=$1
    shift
    "$@" || need+=("$pkg")
}

step "system packages"
wanted_packages
if [ "${#need[@]}" -eq 0 ]; then
    note "nothing missing"
elif is_root && has apt-get; then
    note "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # A fresh image has no package lists, and old ones may name versions the
    # mirror no longer has: refresh them first.
    apt-get update -qq </dev/null || note "apt-get update failed: trying with the package lists there are"
    apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null \
        || note "apt-get install failed (see above)"
    wanted_packages
    if [ "${#need[@]}" -ne 0 ]; then
        note "still missing: ${need[*]} (tests needing them will fail or skip)"
        missing+=("${need[@]}")
    fi
else
    if is_root; then why="no apt-get: install them"; else why="not root: install them with apt-get"; fi
    note "missing: ${need[*]} ($why, tests needing them will fail or skip)"
    missing+=("${need[@]}")
fi

# --- 2. Rust musl target ---------------------------------------------------
step "rust target $musl"
if ! has cargo; then
    if ! $install_only; then
        echo "cargo not found: install Rust (rustup) first" >&2
        exit 1
    fi
    note "cargo not found: skipped (--install-only; the tests need Rust)"
elif has rustup; then
    if rustup target list --installed | grep -x "$musl" >/dev/null; then
        note "already installed"
    elif ! rustup target add "$musl"; then
        note "could not add it: the static build will fail"
        missing+=("rust-target-$musl")
    fi
else
    note "no rustup: assuming the toolchain already has $musl"
fi

# --- 3. Reference Supervisor and superlance in a virtualenv ------------------
# One line per PyPI package the tests use, pinned; adding one is adding a line.
py_pins=(
    supervisor==4.3.0
    superlance==2.0.0
    prometheus_client==0.26.0
    kubernetes-validate==1.37.0
)
step "reference ${py_pins[*]} in $venv"
# True when the venv has every pin at its version.
pins_ok() {
    "$venv/bin/python" - "${py_pins[@]}" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import version
sys.exit(any(version(n) != v for n, _, v in (p.partition("==") for p in sys.argv[1:])))
PY
}
venv_pip() { "$venv/bin/python" -m pip --version >/dev/null 2>&1; }
if pins_ok; then
    note "already installed"
else
    # Reuse a venv that has pip (only the missing pins get installed); make
    # anew one that is absent or broken, e.g. left without pip by a
    # `python3 -m venv` that had no ensurepip.
    if ! venv_pip; then
        if ! py_venv; then
            note "cannot create it: no python3 with venv and ensurepip (see system packages)"
        elif ! { mkdir -p "$(dirname "$venv")" && python3 -m venv --clear "$venv"; }; then
            note "python3 -m venv $venv failed (see above)"
        fi
    fi
    if venv_pip; then
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${py_pins[@]}" </dev/null \
            || note "pip install failed (see above)"
    fi
    if ! pins_ok; then
        note "not installed: the tests comparing with the reference will fail or skip"
        missing+=("${py_pins[@]}")
    fi
fi
if pins_ok; then
    note "reference: supervisord $("$venv/bin/supervisord" --version), superlance $("$venv/bin/python" -c "from importlib.metadata import version; print(version('superlance'))")"
    export SUPERVISOR_REF_VENV="$venv"
fi

# --- 4. Test runner -----------------------------------------------------------
step "test runner"
runner=(cargo test --no-fail-fast)
if ! has cargo; then
    note "cargo not found: cargo-nextest skipped (--install-only)"
else
    if ! cargo nextest --version >/dev/null 2>&1; then
        note "cargo-nextest missing: installing it (once)"
        cargo install --locked cargo-nextest </dev/null || note "could not install cargo-nextest: using cargo test"
    fi
    if cargo nextest --version >/dev/null 2>&1; then
        runner=(cargo nextest run --config-file scripts/nextest.toml --profile ci)
    fi
    note "using: ${runner[*]}"
fi
note "setup took $((SECONDS - start_all))s"

if $install_only; then
    step "install done in $((SECONDS - start_all))s"
    if [ "${#missing[@]}" -ne 0 ]; then
        note "still missing: ${missing[*]}"
        exit 1
    fi
    note "nothing missing"
    exit 0
fi

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

# The install step above on a fresh minimal Debian (debootstrap, about two
# minutes): needs root; CI runs it so that a broken install fails CI.
if is_root && in_ci; then
    run_stage "fresh-machine install" bash scripts/test-fresh-install.sh
else
    step "fresh-machine install"
    note "skipped (runs as root with CI=true; by hand: scripts/test-fresh-install.sh)"
fi

# The static build comes first: the container tests put it in images.
static_bin=""
build_static() {
    static_bin=$(bash scripts/build-static.sh) && bash scripts/check-static.sh "$static_bin"
}
run_stage "static musl build" build_static
[ -n "$static_bin" ] && export SUPERVISORD_STATIC_BIN="$static_bin"

# nextest does not run doctests: run them first, so that the runner's
# summary is what the log ends with.
if [ "${runner[0]} ${runner[1]}" = "cargo nextest" ]; then
    run_stage "doctests" cargo test --doc --quiet
fi
run_stage "unit + integration tests" "${runner[@]}"

# The integration tests again, against the static binary (the container
# tests already used it above).
static_tests() {
    [ -n "$static_bin" ] || return 1
    note "integration tests against SUPERVISORD_BIN=$static_bin"
    if [ "${runner[0]} ${runner[1]}" = "cargo nextest" ]; then
        SUPERVISORD_BIN="$static_bin" "${runner[@]}" --test integration \
            -E 'not (test(/^docker::/) | test(/^k8s::/))'
    else
        SUPERVISORD_BIN="$static_bin" "${runner[@]}" --test integration -- \
            --skip docker:: --skip k8s::
    fi
}
run_stage "static musl binary" static_tests

step "done in $((SECONDS - start_all))s"
if [ "${#missing[@]}" -ne 0 ]; then
    note "setup left missing: ${missing[*]}"
fi
if [ "${#failed[@]}" -ne 0 ]; then
    note "FAILED stages: ${failed[*]}"
    exit 1
fi
note "all stages OK"
