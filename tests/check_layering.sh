#!/usr/bin/env bash
# Enforces the dependency star of DESIGN.md and the sans-I/O rule of STYLE.md:
#   loop/ (the libuv foundation) includes no other project folder, and anyone may include it;
#   catalog/, gossip/ include no other project folder but loop/; dns/, http-api/ only catalog/ and loop/;
#   pure files (outside *_uv.*, *_sqlite.*, agent/) use no clock, randomness source, libuv or SQLite.
set -u
root=${1:-.}
cd "$root" || exit 2
fail=0
forbid() {  # folder, regex of forbidden includes
  local hits
  hits=$(grep -rnE "#include \"($2)/" "$1" --include='*.h' --include='*.cpp' 2>/dev/null)
  if [ -n "$hits" ]; then echo "forbidden include in $1/:"; echo "$hits"; fail=1; fi
}
forbid loop 'agent|gossip|dns|http-api|catalog'
forbid catalog 'agent|gossip|dns|http-api'
forbid gossip 'agent|catalog|dns|http-api'
forbid dns 'agent|gossip|http-api'
forbid http-api 'agent|gossip|dns'

pure_files=$(find catalog gossip dns http-api -name '*.h' -o -name '*.cpp' 2>/dev/null |
  grep -vE '_uv\.(h|cpp)$|_sqlite\.(h|cpp)$')
for f in $pure_files; do
  hits=$(grep -nE '(steady_clock|system_clock)::now\(|random_device|\buv_[a-z_]+\(|\bsqlite3_[a-z_]+\(' "$f")
  if [ -n "$hits" ]; then echo "I/O or clock in pure file $f:"; echo "$hits"; fail=1; fi
done
[ $fail -eq 0 ] && echo "layering: ok"
exit $fail
