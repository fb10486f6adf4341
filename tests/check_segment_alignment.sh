#!/usr/bin/env bash
# Every loadable segment of the static agent must sit at an address congruent to its file offset
# modulo 2 MiB (cmake/static_link.cmake, hearsay_order_hot_symbols, says why: otherwise each
# page fault in its text maps two page-cache folios instead of one).
# Usage: check_segment_alignment.sh HEARSAY_BINARY
set -euo pipefail
bin=$1
align=$((0x200000))
loads=$(readelf -lW "$bin" | awk '$1 == "LOAD" { print $2, $3 }')
[ -n "$loads" ] || { echo "$bin: no LOAD segments found by readelf"; exit 1; }
bad=0
while read -r offset vaddr; do
  if (( (vaddr - offset) % align != 0 )); then
    printf '%s: segment at offset %s, address %s: not congruent modulo 2 MiB\n' "$bin" "$offset" "$vaddr"
    bad=1
  fi
done <<<"$loads"
exit $bad
