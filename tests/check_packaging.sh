#!/usr/bin/env bash
# The service files in packaging/ against the built binary: the commented default config must
# validate (`hearsay validate`), and the systemd unit must pass `systemd-analyze verify` without
# a single complaint (it exits 0 on most of them, so any output fails). The unit's paths are
# pointed at this tree; its man page link is dropped (the page is installed by the package).
# The man page must format without a groff warning, and the bash completion must complete.
# Usage: check_packaging.sh SOURCE_ROOT HEARSAY_BINARY
set -euo pipefail
root=$1
bin=$2
"$bin" validate "$root/packaging/hearsay.d" || { echo "packaging/hearsay.d: does not validate"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed -e "s|/usr/bin/hearsay|$bin|g" -e "s|/etc/hearsay.d|$root/packaging/hearsay.d|g" -e '/^Documentation=/d' \
  "$root/packaging/hearsay.service" >"$work/hearsay.service"
out=$(systemd-analyze verify "$work/hearsay.service" 2>&1) || { echo "$out"; exit 1; }
if [ -n "$out" ]; then
  echo "systemd-analyze verify packaging/hearsay.service:"
  echo "$out"
  exit 1
fi
warnings=$(groff -man -ww -z "$root/packaging/hearsay.1" 2>&1)
[ -z "$warnings" ] || { echo "packaging/hearsay.1: $warnings"; exit 1; }
completed=$(bash -c 'source "$1"; COMP_WORDS=(hearsay val); COMP_CWORD=1; _hearsay; echo "${COMPREPLY[*]}"' _ \
  "$root/packaging/hearsay.bash-completion")
[ "$completed" = validate ] || { echo "bash completion of 'hearsay val': '$completed'"; exit 1; }
echo "packaging: config valid, unit verified, man page and completion fine"
