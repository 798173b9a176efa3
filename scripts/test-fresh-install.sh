#!/usr/bin/env bash
# Test of the install step of scripts/test.sh on a fresh machine: a minimal
# Debian 12 made with debootstrap (--variant=minbase: no python3, procps, gcc,
# package lists), where `scripts/test.sh --install-only` runs in a chroot with
# /proc mounted. It checks, in order:
#   1. as a non-root user: what is missing is reported and the step ends
#      with its summary and exit status 1, not an abort;
#   2. as root: apt-get update, then every missing package gets installed,
#      and the venv with the reference Supervisor works (a real supervisord
#      runs a program, supervisorctl sees it RUNNING);
#   3. a second run installs nothing (no dpkg change, venv untouched);
#   4. Debian's python3 without python3-venv, with the pip-less venv that a
#      failed `python3 -m venv` leaves: python3-venv gets installed and the
#      venv made anew.
#
#   scripts/test-fresh-install.sh     # as root; about 2 minutes, 1 GB of disk
#
# The debootstrapped base is cached in target/fresh-install/, keyed on this
# script's content; each run unpacks a copy and removes it at the end, with
# its mounts and processes, also on failure. The mirror is the one apt uses
# here for bookworm (or $DEBIAN_MIRROR).
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd)
suite=bookworm
start_all=$SECONDS

step() { printf '\n==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
fail() {
    printf 'test-fresh-install: FAILED: %s\n' "$*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || fail "needs root (debootstrap, chroot, mount)"
if ! command -v debootstrap >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || fail "debootstrap is missing and there is no apt-get to install it"
    step "installing debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends debootstrap </dev/null \
        || { apt-get update -qq </dev/null && apt-get install -y -qq --no-install-recommends debootstrap </dev/null; } \
        || fail "could not install debootstrap"
fi

# The Debian mirror apt uses here for $suite: one-line (.list) or deb822
# (.sources) entries, first found first; deb.debian.org last.
debian_mirror() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        # deb [options] URI SUITE COMPONENT...
        awk -v s="$suite" '$1 == "deb" { l = $0; sub(/\[[^]]*\]/, "", l); split(l, f)
            if (f[3] == s) print f[2] }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # Paragraphs of "Field: value" lines: Types, URIs, Suites...
        awk -v s="$suite" 'BEGIN { RS = ""; FS = "\n" } {
            uri = ""; ok = 0; bin = 1
            for (j = 1; j <= NF; j++) {
                if ($j ~ /^URIs:/) { split($j, u, /[ \t]+/); uri = u[2] }
                if ($j ~ /^Suites:/) { n = split($j, w, /[ \t]+/); for (k = 2; k <= n; k++) if (w[k] == s) ok = 1 }
                if ($j ~ /^Types:/ && $j !~ /[ \t]deb([ \t]|$)/) bin = 0
            }
            if (ok && bin && uri != "") print uri }' "$f"
    done
    echo http://deb.debian.org/debian
}
mirror=${DEBIAN_MIRROR:-$(debian_mirror | sed -n 1p)}

cache_dir=$repo/target/fresh-install
key=$(sha256sum scripts/test-fresh-install.sh | cut -c1-16)
base=$cache_dir/$suite-minbase-$key.tar
mkdir -p "$cache_dir"
work=$(mktemp -d "$cache_dir/run.XXXXXX")
root=$work/root
sv_pidfile=$root/tmp/sv/supervisord.pid
program_pid=

# Mount points under $work, deepest first.
mounts_under_work() { awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r; }
# pid_alive PID: true while PID runs (not a zombie).
pid_alive() { [ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
# kill_wait PID: SIGTERM, then SIGKILL when it has not gone after 10 s.
kill_wait() {
    pid_alive "$1" || return 0
    kill -TERM "$1" 2>/dev/null || true
    local deadline=$((SECONDS + 10))
    while pid_alive "$1" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    pid_alive "$1" && kill -KILL "$1" 2>/dev/null
    return 0
}
cleanup() {
    local rc=$? m
    set +e
    [ -f "$sv_pidfile" ] && kill_wait "$(cat "$sv_pidfile")"
    kill_wait "$program_pid"
    for m in $(mounts_under_work); do
        umount "$m" 2>/dev/null || umount -l "$m"
    done
    if [ -n "$(mounts_under_work)" ]; then
        echo "test-fresh-install: still mounted under $work, not removing it" >&2
    else
        rm -rf --one-file-system "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the base system ---------------------------------------------------------
step "minimal Debian $suite (debootstrap --variant=minbase)"
if [ -f "$base" ]; then
    note "cached: $base"
else
    t0=$SECONDS
    note "from $mirror"
    if ! debootstrap --variant=minbase "$suite" "$work/base" "$mirror" >"$work/debootstrap.log" 2>&1; then
        tail -n 20 "$work/debootstrap.log" >&2
        fail "debootstrap failed (log above)"
    fi
    # As a fresh image: no package lists (apt-get update is needed), no
    # downloaded packages. No service starts from a package's postinst.
    rm -rf "$work/base/var/lib/apt/lists/"* "$work/base/var/cache/apt/"*.bin
    find "$work/base/var/cache/apt/archives" -name '*.deb' -delete
    printf '#!/bin/sh\nexit 101\n' >"$work/base/usr/sbin/policy-rc.d"
    chmod +x "$work/base/usr/sbin/policy-rc.d"
    rm -f "$cache_dir"/"$suite"-minbase-*.tar
    tar -C "$work/base" -cf "$work/base.tar" .
    mv "$work/base.tar" "$base"
    rm -rf --one-file-system "$work/base"
    note "made in $((SECONDS - t0))s, cached as $base"
fi
mkdir "$root"
tar -C "$root" -xf "$base"
# The chroot shares this machine's network: its DNS, and its local CAs (a
# TLS-intercepting proxy's, say), which ca-certificates adds to the system
# bundle when the install step brings it in (Debian's pip trusts that one).
cp /etc/resolv.conf "$root/etc/resolv.conf"
if [ -d /usr/local/share/ca-certificates ]; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi
mount -t proc proc "$root/proc"
# Its own pty instance: apt wants one for its log, as on a real machine.
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts"
mkdir -p "$root/repo/scripts"
cp scripts/test.sh scripts/check-static.sh "$root/repo/scripts/"
chmod -R a+rX "$root/repo"

# in_root [chroot options] -- COMMAND...: COMMAND in the chroot, with a
# clean environment like CI's (no stdin) plus the proxy settings.
in_root() {
    local opts=()
    while [ "$1" != -- ]; do
        opts+=("$1")
        shift
    done
    shift
    local env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 CI=true)
    local v
    for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
        [ -n "${!v:-}" ] && env+=("$v=${!v}")
    done
    chroot "${opts[@]}" "$root" /usr/bin/env -i "${env[@]}" "$@" </dev/null
}
# install_step NAME [chroot options]: runs the install step, log in
# $work/NAME.log, shown without dpkg's per-package lines; exit status in $rc.
install_step() {
    local name=$1
    shift
    local t0=$SECONDS
    rc=0
    in_root "$@" -- bash /repo/scripts/test.sh --install-only >"$work/$name.log" 2>&1 || rc=$?
    grep -v -E '^(Selecting|Preparing to unpack|Unpacking|Setting up|\(Reading database) ' "$work/$name.log" \
        | sed 's/^/    | /'
    note "exit status $rc, $((SECONDS - t0))s"
}
log_has() { grep -q -e "$2" "$work/$1.log" || fail "$1: the output has no line matching '$2'"; }
log_lacks() { ! grep -q -e "$2" "$work/$1.log" || fail "$1: the output has a line matching '$2'"; }
# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
installed() { in_root -- dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
dpkg_log_lines() { if [ -f "$root/var/log/dpkg.log" ]; then wc -l <"$root/var/log/dpkg.log"; else echo 0; fi; }

# The reference Supervisor in the chroot's venv runs a program: supervisord
# starts, supervisorctl reports the program RUNNING, then shuts it down.
check_venv() {
    local v=/repo/target/venv
    local got
    got=$(in_root -- "$v/bin/supervisord" --version) || fail "$v/bin/supervisord does not run"
    [ "$got" = 4.3.0 ] || fail "supervisord --version printed '$got', expected 4.3.0"
    got=$(in_root -- "$v/bin/python" -c 'from importlib.metadata import version; print(version("superlance"))') \
        || fail "superlance is not in $v"
    [ "$got" = 2.0.0 ] || fail "superlance is $got, expected 2.0.0"
    mkdir -p "$root/tmp/sv"
    cat >"$root/tmp/sv/supervisord.conf" <<'CONF'
[unix_http_server]
file=/tmp/sv/supervisor.sock
[supervisord]
logfile=/tmp/sv/supervisord.log
pidfile=/tmp/sv/supervisord.pid
childlogdir=/tmp/sv
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix:///tmp/sv/supervisor.sock
[program:sleeper]
command=/bin/sleep 600
startsecs=1
CONF
    local ctl=("$v/bin/supervisorctl" -c /tmp/sv/supervisord.conf)
    in_root -- "$v/bin/supervisord" -c /tmp/sv/supervisord.conf || fail "supervisord did not start"
    local deadline=$((SECONDS + 30)) status=
    until [[ $status == *RUNNING* ]]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "sleeper not RUNNING after 30s: '$status'"
        sleep 0.2
        status=$(in_root -- "${ctl[@]}" status sleeper 2>&1) || true
    done
    program_pid=$(in_root -- "${ctl[@]}" pid sleeper)
    note "supervisord $(cat "$sv_pidfile") runs sleeper (pid $program_pid): $status"
    in_root -- "${ctl[@]}" shutdown >/dev/null || fail "supervisorctl shutdown failed"
    deadline=$((SECONDS + 30))
    while [ -f "$sv_pidfile" ] || pid_alive "$program_pid"; do
        [ "$SECONDS" -lt "$deadline" ] || fail "supervisord did not shut down within 30s"
        sleep 0.2
    done
    rm -rf "$root/tmp/sv"
}

# --- 1. not root --------------------------------------------------------------
step "1. install step as a non-root user (nobody)"
before=$(dpkg_log_lines)
install_step user --userspec=65534:65534
[ "$rc" = 1 ] || fail "user: exit status $rc, expected 1 (missing packages reported)"
log_has user "missing: .*procps.* (not root"
log_has user "missing: .*python3-venv"
log_has user "cannot create it: no python3"
log_has user "^==> install done in"
log_has user "still missing: "
[ "$(dpkg_log_lines)" = "$before" ] || fail "user: dpkg.log changed"
[ ! -e "$root/repo/target" ] || fail "user: something was created in /repo/target"

# --- 2. root, from nothing ----------------------------------------------------
step "2. install step as root on the fresh system"
install_step root
[ "$rc" = 0 ] || fail "root: exit status $rc, expected 0"
installing=$(sed -n 's/^    installing: //p' "$work/root.log")
for pkg in procps gcc libc6-dev python3 python3-venv; do
    [[ " $installing " == *" $pkg "* ]] || fail "root: $pkg is not in the installing line: '$installing'"
done
for pkg in $installing; do
    installed "$pkg" || fail "root: $pkg is not installed after the install step"
done
note "installed: $installing"
log_has root "reference: supervisord 4.3.0, superlance 2.0.0"
log_lacks root "still missing"
check_venv

# --- 3. a second run ----------------------------------------------------------
step "3. second run: installs nothing"
before=$(dpkg_log_lines)
touch "$work/before-again"
install_step again
[ "$rc" = 0 ] || fail "again: exit status $rc, expected 0"
log_has again "^    nothing missing"
log_has again "^    already installed"
log_lacks again "installing"
[ "$(dpkg_log_lines)" = "$before" ] || fail "again: dpkg.log grew: a package was installed or removed"
changed=$(find "$root/repo/target/venv" -newer "$work/before-again" -not -name '*.pyc' -not -name __pycache__)
[ -z "$changed" ] || fail "again: the venv changed: $changed"

# --- 4. Debian's python3 without python3-venv, and a pip-less venv ------------
step "4. python3 without python3-venv, pip-less venv left by a failed python3 -m venv"
versioned=$(in_root -- python3 -c 'import sys; print("python3.%d-venv" % sys.version_info[1])')
in_root -- apt-get purge -y -qq python3-venv "$versioned" >/dev/null || fail "could not remove python3-venv"
in_root -- sh -c 'rm -rf /var/lib/apt/lists/* /repo/target/venv'

if in_root -- python3 -m venv /repo/target/venv >/dev/null 2>&1; then
    fail "python3 -m venv worked without python3-venv: this case tests nothing"
fi
[ -x "$root/repo/target/venv/bin/python" ] || fail "the failed python3 -m venv left no venv behind"
install_step venv
[ "$rc" = 0 ] || fail "venv: exit status $rc, expected 0"
log_has venv "^    installing: python3-venv$"
installed python3-venv || fail "venv: python3-venv is not installed"
check_venv

step "fresh-machine install: ok in $((SECONDS - start_all))s"
