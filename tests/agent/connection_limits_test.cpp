// ConnectionLimits: the per-client cap per listener, the total cap, tickets giving slots back,
// the refusal log throttle, and the total cap derived from the descriptor limit.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "agent/connection_limits.h"

using namespace hearsay::agent;
using Clock = ConnectionLimits::Clock;

namespace {
sockaddr_storage ip(const char* text, std::uint16_t port = 40000) {
  sockaddr_storage out{};
  auto* in = reinterpret_cast<sockaddr_in*>(&out);
  in->sin_family = AF_INET;
  in->sin_port = htons(port);
  REQUIRE(inet_pton(AF_INET, text, &in->sin_addr) == 1);
  return out;
}

ConnectionLimitsConfig small() {
  ConnectionLimitsConfig c;
  c.max_total = 10;
  c.per_client = {3, 2, 0};
  return c;
}
}  // namespace

TEST_CASE("the per-client cap counts one address on one listener, whatever the port", "[unit]") {
  ConnectionLimits limits(small());
  std::vector<std::shared_ptr<void>> held;
  for (std::uint16_t port = 1; port <= 3; ++port) held.push_back(limits.admit(Listener::http, ip("127.0.0.1", port)));
  for (const auto& t : held) CHECK(t);
  CHECK_FALSE(limits.admit(Listener::http, ip("127.0.0.1", 4)));
  CHECK(limits.stats(Listener::http).refused_per_client == 1);
  CHECK(limits.admit(Listener::http, ip("127.0.0.2")));  // another address
  CHECK(limits.admit(Listener::dns, ip("127.0.0.1")));   // another listener
  held.pop_back();                                        // one closes: its slot is free again
  CHECK(limits.admit(Listener::http, ip("127.0.0.1")));
  CHECK(limits.stats(Listener::http).open == 2);          // the two still held (the last ticket was dropped)
}

TEST_CASE("the total cap spans every listener, and a cap of 0 means none per client", "[unit]") {
  ConnectionLimits limits(small());
  std::vector<std::shared_ptr<void>> held;
  for (int i = 0; i < 10; ++i) held.push_back(limits.admit(Listener::gossip, ip("127.0.0.1")));  // no per-client cap
  for (const auto& t : held) CHECK(t);
  CHECK(limits.open_total() == 10);
  CHECK_FALSE(limits.admit(Listener::http, ip("127.0.0.3")));
  CHECK(limits.stats(Listener::http).refused_total == 1);
  CHECK(limits.peak_open() == 10);
  held.clear();
  CHECK(limits.open_total() == 0);
  CHECK(limits.stats(Listener::gossip).open == 0);
  limits.reset_peak();
  CHECK(limits.peak_open() == 0);
}

TEST_CASE("a ticket released after the limits are gone does no harm", "[unit]") {
  std::shared_ptr<void> ticket;
  {
    ConnectionLimits limits(small());
    ticket = limits.admit(Listener::http, ip("127.0.0.1"));
    REQUIRE(ticket);
  }
  ticket.reset();  // must not touch freed memory (ASan checks)
}

TEST_CASE("refusals are logged at most once per interval, with the count", "[unit]") {
  ConnectionLimitsConfig c = small();
  c.per_client = {1, 1, 1};
  ConnectionLimits limits(c);
  const Clock::time_point t0{};
  auto held = limits.admit(Listener::http, ip("127.0.0.1"));
  CHECK(limits.take_log_lines(t0).empty());  // nothing refused yet
  CHECK_FALSE(limits.admit(Listener::http, ip("127.0.0.1")));
  auto first = limits.take_log_lines(t0);
  REQUIRE(first.size() == 1);
  CHECK(first[0].find("http: refused 1 connection(s)") == 0);
  for (int i = 0; i < 5; ++i) CHECK_FALSE(limits.admit(Listener::http, ip("127.0.0.1")));
  CHECK(limits.take_log_lines(t0 + std::chrono::seconds(9)).empty());  // within the interval
  auto later = limits.take_log_lines(t0 + std::chrono::seconds(10));
  REQUIRE(later.size() == 1);
  CHECK(later[0].find("refused 5 connection(s)") != std::string::npos);
  CHECK(limits.take_log_lines(t0 + std::chrono::seconds(30)).empty());  // nothing new
}

TEST_CASE("the default total cap stays below the descriptor limit", "[unit]") {
  struct Row { std::uint64_t descriptors; std::size_t cap; };
  for (const Row& r : {Row{1024, 896}, Row{256, 128}, Row{20000, 16384}, Row{1048576, 16384}, Row{100, 64}}) {
    INFO(r.descriptors);
    CHECK(default_max_connections(r.descriptors) == r.cap);
  }
}
