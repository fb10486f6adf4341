// Opens a TUN device created inside a given network namespace, from a process that stays in its
// own namespace: the fd keeps working there, and the interface exists only in the target
// namespace (nothing appears in the root namespace, so names never clash between test runs).
#pragma once

#include <string>

namespace hearsay::netem {

// Creates TUN interface `name` (IFF_TUN | IFF_NO_PI: raw IP packets) in the namespace at
// `netns_path` (e.g. /run/netns/hs-123-1-lan) and returns its non-blocking fd, or -1 with `error`
// set. The calling thread is back in its own namespace on return, success or not.
[[nodiscard]] int open_tun_in_netns(const std::string& netns_path, const std::string& name, std::string& error);

}  // namespace hearsay::netem
