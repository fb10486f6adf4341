#include "gossip/shell/icmp_errors_uv.h"

#if defined(__linux__)
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#include "gossip/shell/transport_uv.h"

namespace hearsay::gossip {

#if defined(__linux__)
namespace {

constexpr std::uint8_t kIcmpDestUnreachable = 3, kIcmpPortUnreachable = 3;    // RFC 792
constexpr std::uint8_t kIcmp6DestUnreachable = 1, kIcmp6PortUnreachable = 4;  // RFC 4443

bool is_port_unreachable(const sock_extended_err& e) {
  if (e.ee_origin == SO_EE_ORIGIN_ICMP) return e.ee_type == kIcmpDestUnreachable && e.ee_code == kIcmpPortUnreachable;
  if (e.ee_origin == SO_EE_ORIGIN_ICMP6) return e.ee_type == kIcmp6DestUnreachable && e.ee_code == kIcmp6PortUnreachable;
  return false;
}

}  // namespace

bool ask_for_port_unreachable(uv_udp_t* udp) {
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(udp), &fd) != 0) return false;
  sockaddr_storage bound{};
  int length = sizeof(bound);
  if (uv_udp_getsockname(udp, reinterpret_cast<sockaddr*>(&bound), &length) != 0) return false;
  const int on = 1;
  if (bound.ss_family == AF_INET6) return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof(on)) == 0;
  return setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof(on)) == 0;
}

std::vector<Address> take_port_unreachable(uv_udp_t* udp) {
  std::vector<Address> out;
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(udp), &fd) != 0) return out;
  for (;;) {
    sockaddr_storage offender{};
    alignas(cmsghdr) char control[512];
    char payload[64];  // the start of our own datagram, which the report carries; not needed
    iovec iov{payload, sizeof(payload)};
    msghdr msg{};
    msg.msg_name = &offender;
    msg.msg_namelen = sizeof(offender);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;  // empty (EAGAIN) or gone
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      const bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR;
      const bool v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR;
      if (!v4 && !v6) continue;
      const auto* e = reinterpret_cast<const sock_extended_err*>(CMSG_DATA(c));
      if (is_port_unreachable(*e) && msg.msg_namelen > 0) {
        out.push_back(from_sockaddr(reinterpret_cast<const sockaddr*>(&offender)));
      }
    }
  }
  return out;
}

bool is_earlier_datagrams_error(int uv_code) {
  // What the kernel makes of ICMP errors (icmp_err_convert, icmpv6_err_convert).
  switch (uv_code) {
    case UV_ECONNREFUSED:
    case UV_EHOSTUNREACH:
    case UV_ENETUNREACH:
    case UV_EHOSTDOWN:
    case UV_ENONET:
    case UV_EPROTO:
    case UV_EMSGSIZE:
      return true;
    default:
      return false;
  }
}

#else

bool ask_for_port_unreachable(uv_udp_t*) { return false; }
std::vector<Address> take_port_unreachable(uv_udp_t*) { return {}; }
bool is_earlier_datagrams_error(int) { return false; }

#endif

}  // namespace hearsay::gossip
