#!/usr/bin/env bash
# Installs every Debian package that hearsay's build, tests and benchmarks need.
# Idempotent: packages already present are skipped, and apt is not touched at all
# when nothing is missing. Needs root (CI and the dev machines run as root).
set -euo pipefail

# Build: compiler, CMake, and the libraries named in DEVELOPERS.md.
build_packages=(
  build-essential cmake ninja-build pkg-config lld
  libuv1-dev libmsgpack-cxx-dev libmbedtls-dev libsqlite3-dev
  libcxxopts-dev libspdlog-dev libfmt-dev rapidjson-dev libhttp-parser-dev libknot-dev libre2-dev zlib1g-dev
  catch2
)
# Tests: sanitizer/fuzzer runtime for clang, real clients and peers; iproute2 (`ip netns`) and
# iputils-ping for the link emulator's namespaces (tests/netem/README.md).
test_packages=(
  clang libclang-rt-14-dev
  python3-consul curl sqlite3 openssl ca-certificates
  bind9-dnsutils knot-dnsutils iproute2 iputils-ping util-linux prometheus serf
  chromium chromium-driver python3-selenium  # the web page's browser test (tests/integration/test_ui_browser.py)
  systemd  # systemd-analyze verify checks packaging/hearsay.service
  # make deb and its test (tests/check_deb.sh): the package build, lintian, the package's own dependency
  debhelper dpkg-dev bash-completion lintian adduser
)
# Benchmarks: the peers we measure against in the same run.
bench_packages=(
  wrk nginx-light etcd-server etcd-client dnsperf knot
  python3-msgpack  # bench/lib/relay_sessions.py speaks the remote frames (msgpack bodies)
  valgrind  # link/profile_hot_symbols.sh, which `make bench` runs first
)

want=("${build_packages[@]}" "${test_packages[@]}")
if [ "${1:-}" = "--with-bench" ] || [ "${HEARSAY_BENCH_DEPS:-0}" = 1 ]; then
  want+=("${bench_packages[@]}")
fi

missing=()
for p in "${want[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Services from these packages (nginx, etcd, knot, prometheus) must not start on install:
# the benchmarks start their own instances on loopback.
policy_created=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  policy_created=1
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
[ $policy_created -eq 0 ] || $SUDO rm -f /usr/sbin/policy-rc.d
