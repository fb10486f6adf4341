#!/usr/bin/env bash
# serf query reach (issue 4's interop test): how often a serf query misses a member, in the
# interop test's mixed cluster (3 serf + 3 hearsay) against an all-serf cluster of six, both run
# at once. See lib/query_reach.py for the procedure.
#
# Usage: bench/query_reach.sh [QUERIES]   (default 600; ~0.3 s a query, 3.2 s one that misses)
source "$(dirname "$0")/lib/common.sh"
QUERIES=${1:-600}

[ -x "$AGENT_BIN" ] || { echo "build first: $AGENT_BIN missing" >&2; exit 1; }
command -v serf >/dev/null || { echo "missing serf (apt-get install serf)" >&2; exit 1; }
HEARSAY_AGENT=$AGENT_BIN exec /usr/bin/python3 "$BENCH_ROOT/bench/lib/query_reach.py" "$QUERIES"
