#!/usr/bin/env bash
# check-static.sh BINARY
#
# Fails unless BINARY is a static x86-64 ELF: no PT_INTERP program header (no
# dynamic loader) and no DT_NEEDED entry (no shared library). A static-PIE
# binary has a PT_DYNAMIC segment for its own relocations; that is fine.
# Reads the ELF headers with od, so it needs neither `file` nor `ldd`.
set -euo pipefail

f=${1:?usage: check-static.sh BINARY}
[ -f "$f" ] || { echo "check-static: no such file: $f" >&2; exit 1; }

# read_u OFFSET SIZE: unsigned little-endian integer (x86-64 host order).
read_u() { od -An -v -t "u$2" -j "$1" -N "$2" "$f" | tr -d ' \n'; }

magic=$(od -An -v -t x1 -N 4 "$f" | tr -d ' \n')
[ "$magic" = 7f454c46 ] || { echo "check-static: $f is not an ELF file" >&2; exit 1; }
[ "$(read_u 4 1)" = 2 ] || { echo "check-static: $f is not a 64-bit ELF" >&2; exit 1; }
[ "$(read_u 5 1)" = 1 ] || { echo "check-static: $f is not little-endian" >&2; exit 1; }

phoff=$(read_u 32 8)
phentsize=$(read_u 54 2)
phnum=$(read_u 56 2)

dyn_off=""
dyn_size=""
for ((i = 0; i < phnum; i++)); do
    ph=$((phoff + i * phentsize))
    type=$(read_u "$ph" 4)
    case "$type" in
        3) echo "check-static: $f has a PT_INTERP header: it is dynamically linked" >&2; exit 1 ;;
        2) dyn_off=$(read_u $((ph + 8)) 8); dyn_size=$(read_u $((ph + 32)) 8) ;;
    esac
done

if [ -n "$dyn_off" ]; then
    # Elf64_Dyn entries: 8-byte tag, 8-byte value; DT_NULL (0) ends them.
    for ((o = dyn_off; o < dyn_off + dyn_size; o += 16)); do
        tag=$(read_u "$o" 8)
        [ "$tag" = 0 ] && break
        if [ "$tag" = 1 ]; then
            echo "check-static: $f has a DT_NEEDED entry: it needs shared libraries" >&2
            exit 1
        fi
    done
fi
echo "check-static: $f is statically linked"
