// Membership timing and sizes. The defaults are memberlist's DefaultLANConfig with serf's
// overrides, which are also Consul's LAN values (memberlist-wire.md 7.1).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "gossip/wire/address.h"

namespace hearsay::gossip {

using Clock = std::chrono::steady_clock;
using Duration = std::chrono::milliseconds;

struct MembershipConfig {
  std::string name;   // unique node name
  Address advertise;  // what other members reach us at
  Bytes meta;         // node metadata (serf tags), at most 512 bytes

  Duration probe_interval{1000};      // one probe per interval, scaled by awareness
  Duration probe_timeout{500};        // wait for a direct ack before asking others
  std::size_t indirect_checks = 3;    // helpers asked when a direct probe fails
  bool tcp_pings = true;              // and the target itself over TCP (memberlist: !DisableTcpPings)
  unsigned suspicion_mult = 4;        // suspicion timeout = mult * log10(n) * probe interval
  unsigned suspicion_max_timeout_mult = 6;  // upper bound, shortened by confirmations
  unsigned awareness_max_multiplier = 8;    // a starved node probes at most 8x slower
  unsigned retransmit_mult = 4;       // a broadcast goes out mult * log10(n+1) times
  Duration gossip_interval{200};
  std::size_t gossip_nodes = 3;       // targets per gossip round
  Duration gossip_to_the_dead{30000}; // dead members still get gossip this long, then are reaped
  Duration push_pull_interval{30000}; // anti-entropy with one random member
  std::size_t udp_buffer_size = 1400; // compound packets are filled up to this
  // serf's reconnect: every interval, with probability failed/alive, push/pull with one failed
  // member, so a healed partition or a member back from a long pause rejoins by itself.
  Duration reconnect_interval{30000};
  Duration reconnect_timeout{24 * 3600 * 1000};  // stop trying after this long
};

// Lifeguard's suspicion timeout lives with its timers in gossip/membership/suspicion.h.
// How many times each broadcast is sent in a cluster of n: mult * ceil(log10(n + 1)).
std::size_t retransmit_limit(unsigned mult, std::size_t n);
// Push/pull happens less often in large clusters: interval scaled by ceil(log2(n) - 5) + 1 above 32.
Duration push_pull_scale(Duration interval, std::size_t n);

}  // namespace hearsay::gossip
