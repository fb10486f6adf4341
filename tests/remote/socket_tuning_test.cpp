// The session sockets' tuning for lossy links (remote/client_uv.h): on a kernel that knows
// TCP_RTO_MAX_MS (Linux 6.15 and later, as on CI), the retransmission timeout stops at 1 s.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>

#include "remote/client_uv.h"

using namespace hearsay::remote;

namespace {

bool kernel_at_least(int major, int minor) {
  utsname u{};
  int ma = 0, mi = 0;
  return uname(&u) == 0 && std::sscanf(u.release, "%d.%d", &ma, &mi) == 2 && (ma > major || (ma == major && mi >= minor));
}

}  // namespace

TEST_CASE("a session socket has no Nagle delay and retransmission timeouts of at most 1 s", "[remote][socket]") {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  tune_socket_for_lossy_links(fd);
  int value = 0;
  socklen_t size = sizeof(value);
  REQUIRE(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, &size) == 0);
  CHECK(value != 0);
  if (kernel_at_least(6, 15)) {
    size = sizeof(value);
    REQUIRE(getsockopt(fd, IPPROTO_TCP, kTcpRtoMaxMs, &value, &size) == 0);
    CHECK(value == 1000);
  } else {
    WARN("kernel before 6.15: no TCP_RTO_MAX_MS, only thin-stream linear timeouts");
  }
  ::close(fd);
}
