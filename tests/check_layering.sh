#!/usr/bin/env bash
# Enforces the dependency star of DESIGN.md and the sans-I/O rule of STYLE.md, on includes and
# on the CMake link edges:
#   agent/ may use every folder; http-api/ catalog/ and acl/; dns/, acl/ only catalog/; remote/
#   only gossip/; catalog/, gossip/ none. A loop/ folder (the libuv foundation), if present, may
#   be used by anyone and uses no project folder.
#   Includes are checked in both forms ("catalog/model.h" and <catalog/model.h>); a relative
#   include ("../agent/config.h") may not leave its folder. Links: hearsay_* names in each
#   folder's hearsay_library(... LIBS ...) and target_link_libraries(...).
#   Pure files (outside *_uv.*, *_sqlite.*, agent/, loop/; so remote/'s shells are its *_uv.*)
#   use no libuv, SQLite, wall or monotonic clock, or randomness source, and include no *_uv.h
#   or *_sqlite.h shell header.
#   Inside gossip/: wire/ uses no other part; membership/ uses wire/; serf/ and replication/
#   use membership/ and wire/; the node (gossip/node.*) all of those; shell/ anything.
# Usage: check_layering.sh [ROOT]   prints one line per violation; exit 1 on any.
#        check_layering.sh --self-test [ROOT]   feeds it a tree with one violation of each kind
#          (each must be named) and a clean one (nothing may be); then checks ROOT, if given.
set -u

folders=(catalog gossip dns http-api agent loop remote acl)
allowed() {  # from-folder, to-folder: may `from` use `to`?
  local from=$1 to=$2
  [ "$from" = "$to" ] && return 0
  [ "$to" = loop ] && [ "$from" != loop ] && return 0
  case "$from" in
    agent) return 0 ;;
    http-api) [ "$to" = catalog ] || [ "$to" = acl ] ;;
    dns | acl) [ "$to" = catalog ] ;;
    remote) [ "$to" = gossip ] ;;
    *) return 1 ;;
  esac
}
folder_of_lib() {  # hearsay_http -> http-api; empty for names that are not a folder's library
  case "$1" in
    hearsay_catalog) echo catalog ;; hearsay_gossip) echo gossip ;; hearsay_dns) echo dns ;;
    hearsay_http) echo http-api ;; hearsay_agent) echo agent ;; hearsay_loop) echo loop ;;
    hearsay_remote) echo remote ;;
    hearsay_acl) echo acl ;;
  esac
}
gossip_part() {  # gossip/wire/codec.h -> wire; gossip/node.h -> node
  local rest=${1#gossip/}
  [[ "$rest" == */* ]] && echo "${rest%%/*}" || echo node
}
gossip_allowed() {  # from-part, to-part inside gossip/
  local from=$1 to=$2
  [ "$from" = "$to" ] && return 0
  case "$from" in
    shell) return 0 ;;
    node) [ "$to" != shell ] ;;
    serf | replication) [ "$to" = membership ] || [ "$to" = wire ] ;;
    membership) [ "$to" = wire ] ;;
    *) return 1 ;;
  esac
}
is_folder() { local f; for f in "${folders[@]}"; do [ "$f" = "$1" ] && return 0; done; return 1; }
is_shell_file() {  # folder, path: files allowed to do I/O
  case "$1" in agent | loop) return 0 ;; esac
  [[ "$2" =~ _(uv|sqlite)\.(h|hpp|cpp|cc)$ ]]
}

check_tree() {
  local root=$1 fail=0 from f line text target to resolved
  cd "$root" || return 2
  for from in "${folders[@]}"; do
    [ -d "$from" ] || continue
    # Includes.
    while IFS= read -r f; do
      while IFS=: read -r line text; do
        target=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]+)[>"].*/\1/' <<<"$text")
        if [[ "$target" == ../* || "$target" == ./* || "$target" == */../* ]]; then
          resolved=$(realpath -m --relative-to=. "$(dirname "$f")/$target")
          to=${resolved%%/*}
          if [ "$to" != "$from" ]; then
            echo "relative include leaves $from/: $f:$line: $text"; fail=1
            if is_folder "$to" && ! allowed "$from" "$to"; then
              echo "forbidden include $from -> $to: $f:$line: $text"
            fi
          fi
          target=$resolved
        fi
        to=${target%%/*}
        if [ "$to" != "$target" ] && is_folder "$to" && ! allowed "$from" "$to"; then
          echo "forbidden include $from -> $to: $f:$line: $text"; fail=1
        fi
        if [ "$from" = gossip ] && [ "$to" = gossip ] &&
           ! gossip_allowed "$(gossip_part "$f")" "$(gossip_part "$target")"; then
          echo "forbidden include gossip/$(gossip_part "$f") -> gossip/$(gossip_part "$target"): $f:$line: $text"; fail=1
        fi
        if ! is_shell_file "$from" "$f"; then
          if [[ "$target" =~ _(uv|sqlite)\.(h|hpp)$ ]]; then
            echo "shell header in pure file: $f:$line: $text"; fail=1
          elif [[ "$target" == uv.h || "$target" == uv/* ]]; then
            echo "libuv in pure file: $f:$line: $text"; fail=1
          elif [[ "$target" == sqlite3.h || "$target" == sqlite3ext.h ]]; then
            echo "SQLite in pure file: $f:$line: $text"; fail=1
          fi
        fi
      done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' "$f")
    done < <(find "$from" -type f \( -name '*.h' -o -name '*.hpp' -o -name '*.cpp' -o -name '*.cc' \) | sort)

    # Calls in pure files (comments stripped: "at the time (...)" is not a call).
    while IFS= read -r f; do
      is_shell_file "$from" "$f" && continue
      scan() {  # message, regex
        local hits
        hits=$(sed -E 's://.*$::' "$f" | grep -nE "$2")
        [ -n "$hits" ] || return 0
        while IFS= read -r hit; do echo "$1 in pure file: $f:$hit"; done <<<"$hits"
        fail=1
      }
      scan libuv '(^|[^[:alnum:]_])uv_[a-z0-9_]+[[:space:]]*\('
      scan SQLite '(^|[^[:alnum:]_])sqlite3_[a-z0-9_]+[[:space:]]*\('
      scan clock '(system_clock|steady_clock|high_resolution_clock)::now|(^|[^[:alnum:]_.>])(time|gettimeofday|clock_gettime)[[:space:]]*\('
      scan randomness 'random_device|(^|[^[:alnum:]_.>])s?rand[[:space:]]*\('
    done < <(find "$from" -type f \( -name '*.h' -o -name '*.hpp' -o -name '*.cpp' -o -name '*.cc' \) | sort)

    # Link edges.
    if [ -f "$from/CMakeLists.txt" ]; then
      local calls call first lib
      calls=$(sed -E 's/#.*$//' "$from/CMakeLists.txt" | tr '\n' ' ' |
        grep -oE '(hearsay_library|target_link_libraries)[[:space:]]*\([^)]*\)')
      while IFS= read -r call; do
        [ -n "$call" ] || continue
        set -- $(sed -E 's/^[a-z_]+[[:space:]]*\(//; s/\)$//' <<<"$call")
        first=${1:-}; shift || true
        for lib in "$@"; do
          to=$(folder_of_lib "$lib")
          [ -n "$to" ] || continue
          [ "$lib" = "$first" ] && continue
          if ! allowed "$from" "$to"; then
            echo "forbidden link $from -> $to: $from/CMakeLists.txt: $lib"; fail=1
          fi
        done
      done <<<"$calls"
    fi
  done
  return $fail
}

self_test() {
  local tmp out status=0
  tmp=$(mktemp -d) || exit 2
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp"/{catalog,gossip,dns,http-api,agent,loop,remote,acl}
  # Allowed: none of these may be reported.
  printf '#include "catalog/model.h"\n#include <catalog/query.h>\n' > "$tmp/dns/ok.cpp"
  printf '#include <uv.h>\n#include "dns/forwarder_uv.h"\n#include "loop/loop_uv.h"\nvoid f() { uv_run(l, UV_RUN_DEFAULT); rand(); time(nullptr); }\n' > "$tmp/dns/server_uv.cpp"
  printf '#include <sqlite3.h>\nvoid f() { sqlite3_open(p, &db); }\n' > "$tmp/catalog/store_sqlite.cpp"
  printf '#include "http-api/server_uv.h"\n#include "gossip/wire.h"\n#include <uv.h>\nauto t = std::chrono::steady_clock::now();\n' > "$tmp/agent/ok.cpp"
  printf '#include "local.h"\n#include "sub/../local2.h"\n// at the time (of writing) rand(om) is gone\nint x = a.time() + b->rand() + wait_time(3) + operand(1);\n' > "$tmp/gossip/ok.cpp"
  printf 'hearsay_library(hearsay_dns LIBS hearsay_catalog hearsay_loop dep::uv)\n' > "$tmp/dns/CMakeLists.txt"
  printf 'hearsay_library(hearsay_agent LIBS hearsay_catalog hearsay_http\n  hearsay_dns hearsay_gossip dep::uv)\nadd_executable(agent main.cpp)\ntarget_link_libraries(agent PRIVATE hearsay_agent)\n' > "$tmp/agent/CMakeLists.txt"
  printf 'hearsay_library(hearsay_loop LIBS dep::uv)\n' > "$tmp/loop/CMakeLists.txt"
  printf '#include "gossip/replication/replication.h"\n#include "loop/buffer.h"\n#include "remote/frame.h"\n' > "$tmp/remote/ok.cpp"
  printf '#include <uv.h>\n#include "remote/client_uv.h"\n#include "loop/tls_uv.h"\nvoid f() { uv_run(l, UV_RUN_DEFAULT); auto t = std::chrono::steady_clock::now(); }\n' > "$tmp/remote/client_uv.cpp"
  printf 'hearsay_library(hearsay_remote LIBS hearsay_gossip hearsay_loop msgpack_cxx)\n' > "$tmp/remote/CMakeLists.txt"
  printf '#include "remote/link.h"\n#include "remote/client_uv.h"\n' > "$tmp/agent/remote.cpp"
  printf '#include "acl/authorizer.h"\n#include "catalog/model.h"\n' > "$tmp/http-api/acl_ok.cpp"
  printf '#include "catalog/hcl.h"\n' > "$tmp/acl/ok.cpp"
  printf 'hearsay_library(hearsay_acl LIBS hearsay_catalog)\n' > "$tmp/acl/CMakeLists.txt"
  if ! out=$(check_tree "$tmp"); then echo "self-test: the clean tree was refused:"; echo "$out"; exit 1; fi

  # One violation of each kind, each in its own file.
  echo '#include <gossip/membership/membership.h>' > "$tmp/catalog/angle.h"
  echo '#include "agent/config.h"' > "$tmp/http-api/quoted.cpp"
  echo '#include "../agent/config.h"' > "$tmp/dns/relative.cpp"
  echo '#include "http-api/server_uv.h"' > "$tmp/http-api/router.h"
  echo '#include <uv.h>' > "$tmp/gossip/uvinclude.cpp"
  echo '#include <sqlite3.h>' > "$tmp/catalog/sqliteinclude.cpp"
  echo 'void f(uv_loop_t* l) { uv_run(l, UV_RUN_DEFAULT); }' > "$tmp/gossip/uvcall.cpp"
  echo 'void f() { sqlite3_exec(db, q, 0, 0, 0); }' > "$tmp/catalog/sqlitecall.cpp"
  echo 'int r = rand();' > "$tmp/gossip/rand.cpp"
  echo 'void f() { srand(4); }' > "$tmp/dns/srand.cpp"
  echo 'auto t = time(nullptr);' > "$tmp/catalog/time.cpp"
  echo 'void f() { gettimeofday(&tv, nullptr); }' > "$tmp/gossip/gettimeofday.cpp"
  echo 'void f() { clock_gettime(CLOCK_MONOTONIC, &ts); }' > "$tmp/dns/clock_gettime.cpp"
  echo 'std::random_device rd;' > "$tmp/http-api/random_device.cpp"
  echo 'auto t = std::chrono::system_clock::now();' > "$tmp/catalog/system_clock.cpp"
  echo 'auto t = std::chrono::steady_clock::now();' > "$tmp/gossip/steady_clock.cpp"
  echo '#include "dns/resolver.h"' > "$tmp/loop/uses_dns.cpp"
  echo '#include "catalog/model.h"' > "$tmp/remote/uses_catalog.cpp"
  echo '#include "remote/link.h"' > "$tmp/gossip/uses_remote.cpp"
  echo '#include "remote/link.h"' > "$tmp/dns/uses_remote.cpp"
  echo '#include "remote/client_uv.h"' > "$tmp/remote/link.cpp"
  echo 'void f(uv_loop_t* l) { uv_run(l, UV_RUN_DEFAULT); }' > "$tmp/remote/uvcall.cpp"
  echo 'auto t = std::chrono::steady_clock::now();' > "$tmp/remote/steady_clock.cpp"
  echo 'std::random_device rd;' > "$tmp/remote/random_device.cpp"
  echo '#include "http-api/request.h"' > "$tmp/acl/uses_http.cpp"
  echo '#include "acl/authorizer.h"' > "$tmp/dns/uses_acl.cpp"
  mkdir -p "$tmp/gossip/wire" "$tmp/gossip/membership"
  echo '#include "gossip/membership/membership.h"' > "$tmp/gossip/wire/up.h"
  echo '#include "gossip/node.h"' > "$tmp/gossip/membership/up.cpp"
  echo 'hearsay_library(hearsay_gossip LIBS msgpack_cxx hearsay_catalog)' > "$tmp/gossip/CMakeLists.txt"
  printf 'hearsay_library(hearsay_http LIBS hearsay_catalog)\ntarget_link_libraries(hearsay_http PRIVATE\n  hearsay_dns)\n' > "$tmp/http-api/CMakeLists.txt"
  printf 'hearsay_library(hearsay_loop LIBS dep::uv hearsay_catalog)\n' > "$tmp/loop/CMakeLists.txt"
  printf 'hearsay_library(hearsay_remote LIBS hearsay_gossip hearsay_agent)\n' > "$tmp/remote/CMakeLists.txt"
  out=$(check_tree "$tmp")
  [ $? -eq 1 ] || { echo "self-test: a tree with violations passed"; status=1; }
  expect() {
    if ! grep -qF -- "$1" <<<"$out"; then echo "self-test: not reported: $1"; status=1; fi
  }
  expect "forbidden include catalog -> gossip: catalog/angle.h:1:"
  expect "forbidden include http-api -> agent: http-api/quoted.cpp:1:"
  expect "relative include leaves dns/: dns/relative.cpp:1:"
  expect "forbidden include dns -> agent: dns/relative.cpp:1:"
  expect "shell header in pure file: http-api/router.h:1:"
  expect "libuv in pure file: gossip/uvinclude.cpp:1:"
  expect "SQLite in pure file: catalog/sqliteinclude.cpp:1:"
  expect "libuv in pure file: gossip/uvcall.cpp:1:"
  expect "SQLite in pure file: catalog/sqlitecall.cpp:1:"
  expect "randomness in pure file: gossip/rand.cpp:1:"
  expect "randomness in pure file: dns/srand.cpp:1:"
  expect "clock in pure file: catalog/time.cpp:1:"
  expect "clock in pure file: gossip/gettimeofday.cpp:1:"
  expect "clock in pure file: dns/clock_gettime.cpp:1:"
  expect "randomness in pure file: http-api/random_device.cpp:1:"
  expect "clock in pure file: catalog/system_clock.cpp:1:"
  expect "clock in pure file: gossip/steady_clock.cpp:1:"
  expect "forbidden include loop -> dns: loop/uses_dns.cpp:1:"
  expect "forbidden include acl -> http-api: acl/uses_http.cpp:1:"
  expect "forbidden include dns -> acl: dns/uses_acl.cpp:1:"
  expect "forbidden include gossip/wire -> gossip/membership: gossip/wire/up.h:1:"
  expect "forbidden include gossip/membership -> gossip/node: gossip/membership/up.cpp:1:"
  expect "forbidden link gossip -> catalog: gossip/CMakeLists.txt: hearsay_catalog"
  expect "forbidden link http-api -> dns: http-api/CMakeLists.txt: hearsay_dns"
  expect "forbidden link loop -> catalog: loop/CMakeLists.txt: hearsay_catalog"
  expect "forbidden include remote -> catalog: remote/uses_catalog.cpp:1:"
  expect "forbidden include gossip -> remote: gossip/uses_remote.cpp:1:"
  expect "forbidden include dns -> remote: dns/uses_remote.cpp:1:"
  expect "shell header in pure file: remote/link.cpp:1:"
  expect "libuv in pure file: remote/uvcall.cpp:1:"
  expect "clock in pure file: remote/steady_clock.cpp:1:"
  expect "randomness in pure file: remote/random_device.cpp:1:"
  expect "forbidden link remote -> agent: remote/CMakeLists.txt: hearsay_agent"
  # Nothing from the clean files above.
  if grep -E ' (dns/ok|dns/server_uv|catalog/store_sqlite|agent/ok|agent/remote|gossip/ok|remote/ok|remote/client_uv|http-api/acl_ok|acl/ok)\.cpp:' <<<"$out"; then
    echo "self-test: allowed code reported"; status=1
  fi
  if grep -E '(dns|agent|acl)/CMakeLists.txt|link remote -> (gossip|loop)' <<<"$out"; then echo "self-test: allowed link reported"; status=1; fi
  if [ $status -ne 0 ]; then echo "--- output was:"; echo "$out"; exit $status; fi
  echo "layering self-test: ok"
  if [ -n "${1:-}" ]; then
    out=$(check_tree "$1") || { echo "self-test: the real tree fails:"; echo "$out"; exit 1; }
    echo "layering self-test: $1 passes"
  fi
  exit 0
}

if [ "${1:-}" = --self-test ]; then self_test "${2:-}"; fi
check_tree "${1:-.}"
status=$?
[ $status -eq 0 ] && echo "layering: ok"
exit $status
