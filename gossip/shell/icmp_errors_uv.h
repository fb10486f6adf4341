// "Port unreachable" reports for the gossip UDP socket. When a member's process dies but its
// host stays up, the host answers each datagram sent to the dead port with an ICMP port
// unreachable. Linux hands those to an unconnected UDP socket only when IP_RECVERR is on, and
// then queues them on the socket's error queue, each with the destination of the datagram that
// caused it. Membership::port_unreachable turns that into a faster, still cautious, probe.
// Elsewhere (no IP_RECVERR) these do nothing and probes wait out their timeouts.
#pragma once

#include <uv.h>

#include <vector>

#include "gossip/wire/address.h"

namespace hearsay::gossip {

// Turns the reports on for a bound UDP handle (IPv4 or IPv6); false if the system refused.
bool ask_for_port_unreachable(uv_udp_t* udp);

// Reads the socket's error queue empty and returns the destinations reported unreachable
// (other reports, host or network unreachable, are read and dropped). Never blocks. The queue
// is charged to the socket's receive buffer, so the kernel bounds it.
std::vector<Address> take_port_unreachable(uv_udp_t* udp);

// With the reports on, an ICMP error also becomes the socket's pending error, which the next
// send returns once (libuv code), having sent nothing. True for the errors an ICMP report can
// leave there; such a send should be made again.
bool is_earlier_datagrams_error(int uv_code);

}  // namespace hearsay::gossip
