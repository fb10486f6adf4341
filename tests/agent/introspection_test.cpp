// The members list without an event loop: a real Membership fed alive and dead messages as
// from the network; Consul's serf status codes, decoded tags, the order by name, and a left
// member still listed.
#include <catch2/catch.hpp>

#include "agent/introspection.h"
#include "gossip/wire/codec.h"
#include "gossip/serf/serf_tags.h"

using namespace hearsay;
using gossip::Bytes;

namespace {

gossip::Address addr_of(std::uint8_t i) { return gossip::Address{Bytes{10, 0, 0, i}, 8301}; }

struct Fixture {
  gossip::Clock::time_point now{};
  gossip::Membership membership{[] {
                                  gossip::MembershipConfig c;
                                  c.name = "self";
                                  c.advertise = addr_of(1);
                                  c.meta = *gossip::encode_tags({{"role", "node"}, {"dc", "dc1"}});
                                  return c;
                                }(),
                                1, now};

  void deliver(std::uint8_t from, const gossip::Message& m) {
    const Bytes bytes = gossip::encode(m);
    membership.receive_packet(addr_of(from), bytes.data(), bytes.size(), now);
    (void)membership.take_events();
  }
  void alive(const std::string& name, std::uint8_t i) {
    gossip::Alive a;
    a.incarnation = 1;
    a.node = name;
    a.addr = addr_of(i).ip;
    a.port = 8301;
    a.meta = *gossip::encode_tags({{"role", "serf"}});
    deliver(i, gossip::Message{a});
  }
};

}  // namespace

TEST_CASE("members list: serf status codes, tags and the order by name", "[unit]") {
  Fixture f;
  f.alive("zeta", 3);
  f.alive("alpha", 2);
  f.deliver(2, gossip::Message{gossip::Dead{1, "alpha", "alpha"}});  // alpha leaves

  const auto members = agent::member_list(f.membership);
  REQUIRE(members.size() == 3);
  CHECK(members[0].name == "alpha");
  CHECK(members[0].status == 3);  // left
  CHECK(members[1].name == "self");
  CHECK(members[1].status == 1);  // alive
  CHECK(members[1].addr == "10.0.0.1");
  CHECK(members[1].port == 8301);
  CHECK(members[1].tags.at("dc") == "dc1");
  CHECK(members[2].name == "zeta");
  CHECK(members[2].tags.at("role") == "serf");
}
