#!/usr/bin/env bash
# `make fuzz`: runs every libFuzzer target of a -DHEARSAY_FUZZ=ON build for N seconds each,
# starting from a scratch copy of its committed corpus. New crashes are left as crash-* files
# in the build dir; copy a reproducer into tests/fuzz/corpus/<parser>/ once it is fixed.
set -euo pipefail
build=$(cd "${1:?usage: run_all.sh BUILD_DIR SECONDS}" && pwd)
seconds=${2:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
status=0
for bin in "$build"/tests/fuzz/*_fuzz; do
  name=$(basename "$bin" _fuzz)
  work=$(mktemp -d)
  cp -r "$root/tests/fuzz/corpus/$name/." "$work/" 2>/dev/null || true
  # The config target starts from the real-world configs of the unit tests too.
  [ "$name" = config ] && find "$root/tests/agent/consul_configs" -type f \( -name '*.hcl' -o -name '*.json' \) \
    -exec cp {} "$work/" \;
  echo "== fuzzing $name for ${seconds}s"
  # -entropic=0: with the libraries instrumented (tens of thousands of features), the entropic
  # scheduler spent ~90 % of membership_fuzz's time in UpdateFeatureFrequency (perf): 4-5 runs/s
  # against ~500 without it.
  if ! (cd "$build" && "$bin" -max_total_time="$seconds" -entropic=0 -rss_limit_mb=2048 -print_final_stats=1 "$work" 2>&1 | tail -12); then
    status=1
  fi
  rm -rf "$work"
done
exit $status
