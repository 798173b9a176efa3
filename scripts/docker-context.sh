#!/usr/bin/env bash
# Stage the build context of docker/Dockerfile.scratch and print its path:
# the static binary (built if needed), a static busybox, the example config
# and the Dockerfile itself.
#
#   scripts/docker-context.sh [BINARY [DIR]]
#
# BINARY defaults to the static build (scripts/build-static.sh), DIR to
# target/docker-context (emptied first). busybox comes from Debian's
# busybox-static package.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-}
if [ -z "$bin" ]; then
    bin=$(bash scripts/build-static.sh)
fi
busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ! bash scripts/check-static.sh "$busybox" >/dev/null 2>&1; then
    echo "docker-context: a static busybox is needed (apt-get install busybox-static)" >&2
    exit 1
fi
if ! bash scripts/check-static.sh "$bin" >/dev/null 2>&1; then
    echo "docker-context: $bin is not a static binary (use scripts/build-static.sh)" >&2
    exit 1
fi
ctx=${2:-target/docker-context}
rm -rf "$ctx"
mkdir -p "$ctx"
ctx=$(cd "$ctx" && pwd)
cp "$bin" "$ctx/supervisord"
cp "$busybox" "$ctx/busybox"
cp docker/supervisord.conf docker/Dockerfile.scratch "$ctx/"
echo "$ctx"
