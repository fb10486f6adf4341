#!/usr/bin/env bash
# The Debian package as an administrator gets it (issue 17): installed with dpkg -i, the
# installed unit verified by systemd-analyze, the installed agent started with the packaged
# config as the packaged user (on free loopback ports) and asked over HTTP and DNS, reloaded
# with SIGHUP as the unit's ExecReload does, stopped, then removed and purged with nothing left
# behind but the system user (Debian keeps system users: their uid must not pass to another).
# Usage: check_deb.sh DEB_DIR   (`make check-deb` builds the package first). Needs root.
set -euo pipefail
deb_dir=$1
fail() { echo "check_deb: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "needs root (dpkg -i)"
debs=("$deb_dir"/hearsay_*.deb)
if [ ${#debs[@]} -ne 1 ] || [ ! -f "${debs[0]}" ]; then fail "expected one hearsay_*.deb in $deb_dir, found: ${debs[*]}"; fi
deb=${debs[0]}
version=$(dpkg-deb -f "$deb" Version)
installed=$(dpkg-query -W -f='${Status}' hearsay 2>/dev/null || true)
if [ -n "$installed" ] && [ "$installed" != "unknown ok not-installed" ]; then
  fail "hearsay is already installed here; this test installs and purges it (dpkg --purge hearsay first)"
fi

# A user left by an earlier purge (on purpose, see above) would hide a postinst that no longer
# creates it: start without one, and leave the machine without one.
drop_user() {
  if getent passwd hearsay >/dev/null; then userdel hearsay; fi
  if getent group hearsay >/dev/null; then groupdel hearsay; fi
}
drop_user

work=$(mktemp -d)
pid=""
extra_conf=/etc/hearsay.d/zz-check-deb.hcl
cleanup() {
  [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
  rm -f "$extra_conf"
  if dpkg-query -W -f='${Status}' hearsay 2>/dev/null | grep -qv 'not-installed'; then
    dpkg --purge hearsay >/dev/null 2>&1 || echo "check_deb: could not purge hearsay" >&2
  fi
  drop_user || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- install ---------------------------------------------------------------------------------
dpkg -i "$deb" >"$work/dpkg-install.log" 2>&1 || { cat "$work/dpkg-install.log"; fail "dpkg -i $deb failed"; }
unit=$(dpkg -L hearsay | grep -E '/systemd/system/hearsay\.service$') || fail "the package has no hearsay.service"
for f in /usr/bin/hearsay /etc/hearsay.d/hearsay.hcl /usr/share/man/man1/hearsay.1.gz \
         /usr/share/bash-completion/completions/hearsay /usr/share/doc/hearsay/copyright; do
  [ -f "$f" ] || fail "$f not installed"
done
dpkg-query -W -f='${Conffiles}\n' hearsay | grep -q '^ /etc/hearsay.d/hearsay.hcl ' ||
  fail "/etc/hearsay.d/hearsay.hcl is not a conffile"
# Linked against the system's shared libraries, and depending on their packages.
# Output captured first: with pipefail, `ldd | grep -q` fails whenever grep exits before ldd
# has written everything (SIGPIPE), which made this check flaky.
linked=$(ldd /usr/bin/hearsay 2>&1)
grep -q 'libuv\.so\.1 => /' <<<"$linked" || fail "/usr/bin/hearsay does not load the system's libuv: $linked"
dpkg-query -W -f='${Depends}' hearsay | grep -q 'libuv1' || fail "Depends lacks libuv1: $(dpkg-query -W -f='${Depends}' hearsay)"
[ "$(/usr/bin/hearsay version | head -1)" = "hearsay v$version" ] ||
  fail "hearsay version says '$(/usr/bin/hearsay version | head -1)', the package is $version"

# The user, its home (the unit's StateDirectory) and the config directory's permissions.
getent passwd hearsay >/dev/null || fail "postinst did not create the user hearsay"
[ "$(getent passwd hearsay | cut -d: -f6)" = /var/lib/hearsay ] || fail "hearsay's home is not /var/lib/hearsay"
[ "$(id -u hearsay)" -lt 1000 ] || fail "hearsay is not a system user (uid $(id -u hearsay))"
[ "$(stat -c %U:%a /var/lib/hearsay)" = hearsay:750 ] || fail "/var/lib/hearsay is $(stat -c %U:%a /var/lib/hearsay)"
[ "$(stat -c %U:%G:%a /etc/hearsay.d)" = root:hearsay:750 ] || fail "/etc/hearsay.d is $(stat -c %U:%G:%a /etc/hearsay.d)"
# dh_installsystemd enabled the unit (the symlink is made even where systemd is not running).
[ -L /etc/systemd/system/multi-user.target.wants/hearsay.service ] || fail "hearsay.service is not enabled"

# --- the installed unit ----------------------------------------------------------------------
# verify exits 0 on most complaints, so any output fails. Documentation=man:hearsay(1) is
# checked too: the installed man page must be found.
out=$(systemd-analyze verify "$unit" 2>&1) || { echo "$out"; fail "systemd-analyze verify $unit failed"; }
[ -z "$out" ] || { echo "$out"; fail "systemd-analyze verify $unit complained"; }
# shellcheck disable=SC2016  # $MAINPID is systemd's, literally in the unit
for line in 'User=hearsay' 'StateDirectory=hearsay' 'AmbientCapabilities=CAP_NET_BIND_SERVICE' \
            'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ExecReload=/bin/kill -HUP $MAINPID'; do
  grep -qxF "$line" "$unit" || fail "$unit lacks $line"
done
start_pre=$(sed -n 's/^ExecStartPre=//p' "$unit")
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
[ -n "$exec_start" ] || fail "$unit has no ExecStart"

if [ -d /run/systemd/system ]; then
  # systemd runs here: postinst started the service; it must come up, then it makes way.
  for _ in $(seq 1 30); do systemctl is-active -q hearsay && break; sleep 1; done
  systemctl is-active -q hearsay || { journalctl -u hearsay --no-pager -n 50 || true; fail "hearsay.service did not start"; }
  systemctl stop hearsay
fi

# --- the installed agent, as the unit runs it ------------------------------------------------
as_hearsay() { setpriv --reuid=hearsay --regid=hearsay --init-groups -- "$@"; }
# ExecStartPre as the unit has it (`hearsay validate ... /etc/hearsay.d`), as the user.
# shellcheck disable=SC2086
as_hearsay $start_pre || fail "ExecStartPre ($start_pre) fails as user hearsay"

# Free loopback ports (the packaged config keeps Consul's 8500/8600, which may be in use).
read -r http_port dns_port serf_port < <(python3 - <<'EOF'
import socket
socks = []
for _ in range(3):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(*(s.getsockname()[1] for s in socks))
EOF
)
base="http://127.0.0.1:$http_port"
# ExecStart's command line with the ports and the gossip address added: loopback only. setpriv
# execs it, so $! is the agent itself.
# shellcheck disable=SC2086
setpriv --reuid=hearsay --regid=hearsay --init-groups -- $exec_start -bind 127.0.0.1 -http-port "$http_port" -dns-port "$dns_port" \
  -serf-lan-port "$serf_port" -node deb-check >"$work/agent.log" 2>&1 &
pid=$!
agent_fail() { echo "--- agent log"; tail -30 "$work/agent.log"; fail "$*"; }
for _ in $(seq 1 100); do
  curl -sf "$base/v1/agent/self" >"$work/self.json" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || agent_fail "the installed agent exited at start"
  sleep 0.2
done
curl -sf "$base/v1/agent/self" >"$work/self.json" || agent_fail "no answer on $base/v1/agent/self"
[ "$(ps -o user= -p "$pid")" = hearsay ] || agent_fail "the agent runs as $(ps -o user= -p "$pid")"
python3 - "$work/self.json" "$version" <<'EOF' || agent_fail "/v1/agent/self: wrong answer"
import json, sys
self = json.load(open(sys.argv[1]))
assert self["Config"]["NodeName"] == "deb-check", self["Config"]
assert self["Config"]["Version"] == sys.argv[2], (self["Config"]["Version"], sys.argv[2])
EOF

# Register a service over HTTP, find it over DNS.
curl -sf -X PUT --data '{"Name":"deb-web","Port":8080,"Address":"127.0.0.9"}' \
  "$base/v1/agent/service/register" >/dev/null || agent_fail "service registration refused"
answer=""
for _ in $(seq 1 50); do
  answer=$(dig +short +time=1 +tries=1 -p "$dns_port" @127.0.0.1 deb-web.service.consul SRV || true)
  [[ $answer == *" 8080 "* ]] && break
  sleep 0.2
done
[[ $answer == *" 8080 "* ]] || agent_fail "DNS: deb-web.service.consul SRV gave '$answer'"
[ "$(dig +short +time=1 +tries=1 -p "$dns_port" @127.0.0.1 deb-web.service.consul A)" = 127.0.0.9 ] ||
  agent_fail "DNS: deb-web.service.consul A is not 127.0.0.9"
# The agent keeps its state in the packaged data_dir, owned by its user.
[ -n "$(find /var/lib/hearsay -mindepth 1 -user hearsay -print -quit)" ] ||
  agent_fail "nothing written under /var/lib/hearsay by user hearsay"

# Reload (the unit's ExecReload: SIGHUP) picks up a service defined in a new config file.
printf 'service {\n  name = "deb-reloaded"\n  port = 9090\n}\n' >"$extra_conf"
kill -HUP "$pid"
found=0
for _ in $(seq 1 50); do
  if curl -sf "$base/v1/agent/services" | grep -q '"deb-reloaded"'; then found=1; break; fi
  kill -0 "$pid" 2>/dev/null || agent_fail "the agent exited on SIGHUP"
  sleep 0.2
done
[ $found -eq 1 ] || agent_fail "SIGHUP did not load $extra_conf"
rm -f "$extra_conf"

# Stop as systemd does (KillSignal=SIGTERM, TimeoutStopSec=15): a clean exit.
kill -TERM "$pid"
for _ in $(seq 1 75); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
kill -0 "$pid" 2>/dev/null && agent_fail "the agent did not stop within 15 s of SIGTERM"
status=0
wait "$pid" || status=$?
pid=""
[ $status -eq 0 ] || agent_fail "the agent exited with status $status on SIGTERM"

# --- remove, then purge ----------------------------------------------------------------------
files=$(dpkg -L hearsay)
dpkg --remove hearsay >"$work/dpkg-remove.log" 2>&1 || { cat "$work/dpkg-remove.log"; fail "dpkg --remove failed"; }
[ ! -e /usr/bin/hearsay ] || fail "dpkg --remove left /usr/bin/hearsay"
[ -f /etc/hearsay.d/hearsay.hcl ] || fail "dpkg --remove took the conffile (only purge may)"
dpkg --purge hearsay >"$work/dpkg-purge.log" 2>&1 || { cat "$work/dpkg-purge.log"; fail "dpkg --purge failed"; }
[ "$(dpkg-query -W -f='${Status}' hearsay 2>/dev/null || true)" = "" ] ||
  [ "$(dpkg-query -W -f='${Status}' hearsay)" = "unknown ok not-installed" ] ||
  fail "after purge dpkg still knows hearsay: $(dpkg-query -W -f='${Status}' hearsay)"
left=()
while read -r f; do
  case $f in /. | /etc | /usr | /usr/* | /lib | /lib/systemd | /lib/systemd/system) [ -d "$f" ] && continue ;; esac
  [ ! -e "$f" ] || left+=("$f")
done <<<"$files"
for f in /usr/bin/hearsay "$unit" /usr/share/doc/hearsay /etc/hearsay.d /var/lib/hearsay \
         /etc/systemd/system/multi-user.target.wants/hearsay.service; do
  [ ! -e "$f" ] && [ ! -L "$f" ] || left+=("$f")
done
[ ${#left[@]} -eq 0 ] || fail "purge left: ${left[*]}"
! dpkg-statoverride --list /etc/hearsay.d >/dev/null || fail "purge left the statoverride of /etc/hearsay.d"
getent passwd hearsay >/dev/null || fail "purge deleted the system user (Debian keeps it; postrm says why)"
echo "deb: $(basename "$deb") installed, unit verified, agent served HTTP and DNS as user hearsay, reloaded, stopped, purged"
