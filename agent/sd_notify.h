// systemd's readiness protocol (sd_notify(3)) for a Type=notify unit: READY=1 once the
// listeners are up, RELOADING=1 ... READY=1 around a config reload, STOPPING=1 at shutdown.
// The protocol itself (one datagram to the AF_UNIX socket in $NOTIFY_SOCKET), not libsystemd:
// the agent is a static binary and Debian ships libsystemd as a shared library only.
#pragma once

#include <string>

namespace hearsay::agent {

// Sends `state` ("READY=1\nSTATUS=...") when run by systemd (NOTIFY_SOCKET set); otherwise,
// or when the send fails, does nothing but return the reason ("" on success or no socket).
std::string sd_notify(const std::string& state);

}  // namespace hearsay::agent
