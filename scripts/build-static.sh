#!/usr/bin/env bash
# Build the statically linked release binary (musl) and print its path.
#
#   scripts/build-static.sh            # build, print the path on stdout
#   BIN=$(scripts/build-static.sh)     # cargo's progress goes to stderr
#
# The one binary is supervisord, supervisorctl and echo_supervisord_conf,
# chosen by the name it is called by: install it once and symlink the others.
set -euo pipefail

target=x86_64-unknown-linux-musl
cd "$(dirname "$0")/.."

if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -x "$target" >/dev/null; then
    rustup target add "$target" >&2
fi

cargo build --release --locked --target "$target" --bin supervisord >&2

bin="$(pwd)/target/$target/release/supervisord"
[ -x "$bin" ] || { echo "build-static: $bin was not produced" >&2; exit 1; }
echo "$bin"
