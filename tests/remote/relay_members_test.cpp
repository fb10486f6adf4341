// The remote's view of its relay's members (remote/relay_members.h), applied to a real
// Membership as the agent applies it: members the relay reaped leave the remote's list, and a
// frame that lacks a live member (a relay still joining, a failover) makes nobody flap.
#include "remote/relay_members.h"

#include <catch2/catch.hpp>

#include <algorithm>

#include "gossip/membership/membership.h"
#include "gossip/wire/codec.h"

using namespace hearsay;
using namespace hearsay::remote;
using namespace std::chrono_literals;
using gossip::NodeState;

namespace {

const gossip::Clock::time_point t0 = gossip::Clock::time_point{} + std::chrono::hours(1);

gossip::PushNodeState node(const std::string& name, NodeState state, std::uint32_t incarnation = 1) {
  const auto last = static_cast<std::uint8_t>(name.back());
  return gossip::PushNodeState{name, gossip::Bytes{10, 0, 0, last}, 7946, {}, incarnation, state, gossip::kVersions};
}

// A Members frame's state as a relay encodes it.
gossip::Bytes frame(std::vector<gossip::PushNodeState> nodes) {
  gossip::PushPull p;
  p.join = true;
  p.nodes = std::move(nodes);
  return gossip::encode_push_pull(p);
}

// The remote: a never-ticked Membership fed what RelayMembers says (agent_remote.cpp does this).
struct Remote {
  RelayMembers view{RelayMembersConfig{"laptop", 60s}};
  gossip::Membership membership{[] {
    gossip::MembershipConfig c;
    c.name = "laptop";
    c.advertise = gossip::Address{gossip::Bytes{127, 0, 0, 1}, 1};
    return c;
  }(), 1, t0};
  std::vector<gossip::MemberEvent> events;

  void apply(RelayMembers::Update u, gossip::Clock::time_point now) {
    const gossip::Address from{gossip::Bytes{0, 0, 0, 0}, 1};
    for (const gossip::Message& m : u.messages) {
      const gossip::Bytes b = gossip::encode(m);
      membership.receive_packet(from, b.data(), b.size(), now);
    }
    for (const std::string& name : u.forget) membership.forget(name);
    for (gossip::MemberEvent& e : membership.take_events()) events.push_back(std::move(e));
  }
  void receive(const gossip::Bytes& state, gossip::Clock::time_point now, const std::string& relay = "relay1") {
    apply(view.received(state, relay, now), now);
  }
  void tick(gossip::Clock::time_point now) { apply(view.tick(now), now); }
  // Listed: in the member table, or failed and kept (what `hearsay members` shows).
  bool lists(const std::string& name) const {
    return membership.members().contains(name) || membership.failed_members().contains(name);
  }
  std::optional<NodeState> state_of(const std::string& name) const {
    const gossip::Member* m = membership.members().find(name);
    return m ? std::optional<NodeState>(m->state) : std::nullopt;
  }
  std::size_t count(gossip::MemberEvent::Kind kind, const std::string& name) const {
    return static_cast<std::size_t>(std::count_if(events.begin(), events.end(), [&](const gossip::MemberEvent& e) {
      return e.kind == kind && e.member.name == name;
    }));
  }
};

}  // namespace

TEST_CASE("relay members: listed members join the remote's list with their state", "[unit][remote]") {
  Remote r;
  r.receive(frame({node("relay1", NodeState::alive), node("web2", NodeState::alive), node("db3", NodeState::dead),
                   node("old4", NodeState::alive)}),
            t0);
  CHECK(r.state_of("relay1") == NodeState::alive);
  CHECK(r.state_of("web2") == NodeState::alive);
  CHECK_FALSE(r.lists("db3"));  // dead and never seen alive here: nothing to show (as memberlist)
  r.receive(frame({node("relay1", NodeState::alive), node("web2", NodeState::suspect), node("old4", NodeState::left)}),
            t0 + 1s);
  CHECK(r.state_of("web2") == NodeState::alive);  // suspect is the relay's business; alive here
  CHECK(r.state_of("old4") == NodeState::left);
  CHECK(r.count(gossip::MemberEvent::Kind::left, "old4") == 1);
}

TEST_CASE("relay members: a member the relay reaped after its death or leave is forgotten at once", "[unit][remote]") {
  Remote r;
  r.receive(frame({node("relay1", NodeState::alive), node("web2", NodeState::alive), node("gone3", NodeState::alive)}),
            t0);
  r.receive(frame({node("relay1", NodeState::alive), node("web2", NodeState::dead), node("gone3", NodeState::left)}),
            t0 + 1s);
  CHECK(r.membership.failed_members().contains("web2"));
  CHECK(r.count(gossip::MemberEvent::Kind::failed, "web2") == 1);
  CHECK(r.state_of("gone3") == NodeState::left);
  // The relay reaps both (left after gossip_to_the_dead, failed after reconnect_timeout).
  r.receive(frame({node("relay1", NodeState::alive)}), t0 + 2s);
  CHECK_FALSE(r.lists("web2"));
  CHECK_FALSE(r.lists("gone3"));
  CHECK(r.lists("relay1"));
  CHECK(r.view.stats().forgotten == 2);
  // No second failure or leave reported for them: they are only gone from the list.
  CHECK(r.count(gossip::MemberEvent::Kind::failed, "web2") == 1);
  CHECK(r.count(gossip::MemberEvent::Kind::left, "gone3") == 1);
  // A later join under the same name is a join again.
  r.receive(frame({node("relay1", NodeState::alive), node("web2", NodeState::alive, 2)}), t0 + 3s);
  CHECK(r.state_of("web2") == NodeState::alive);
  CHECK(r.count(gossip::MemberEvent::Kind::joined, "web2") == 2);
}

TEST_CASE("relay members: a live member missing from a frame stays through the grace, no flap", "[unit][remote]") {
  Remote r;
  r.receive(frame({node("relay1", NodeState::alive), node("web2", NodeState::alive)}), t0);
  // A relay that has just joined (or another relay after a failover) lists only itself so far.
  r.receive(frame({node("relay1", NodeState::alive)}), t0 + 1s);
  r.tick(t0 + 30s);
  CHECK(r.state_of("web2") == NodeState::alive);
  CHECK(r.view.next_deadline() == t0 + 1s + 60s);
  // Listed again within the grace: nothing happened at all.
  r.receive(frame({node("relay1", NodeState::alive), node("web2", NodeState::alive)}), t0 + 40s);
  r.tick(t0 + 200s);
  CHECK(r.state_of("web2") == NodeState::alive);
  CHECK(r.count(gossip::MemberEvent::Kind::failed, "web2") == 0);
  CHECK(r.count(gossip::MemberEvent::Kind::joined, "web2") == 1);
  CHECK(r.view.stats().absences_cancelled == 1);
  CHECK(r.view.next_deadline() == gossip::Clock::time_point::max());
}

TEST_CASE("relay members: a live member missing past the grace is reported failed, then forgotten", "[unit][remote]") {
  Remote r;
  r.receive(frame({node("relay1", NodeState::alive), node("web2", NodeState::alive, 7)}), t0);
  // It died and was reaped while the remote was away (or on another relay).
  r.receive(frame({node("relay1", NodeState::alive)}), t0 + 5s, "relay1");
  r.tick(t0 + 5s + 59s);
  CHECK(r.lists("web2"));
  r.tick(t0 + 5s + 60s);
  CHECK_FALSE(r.lists("web2"));
  CHECK(r.count(gossip::MemberEvent::Kind::failed, "web2") == 1);  // health critical, as a LAN agent saw
  CHECK(r.view.stats().forgotten == 1);
  SECTION("also when the next frame comes after the grace, before any tick") {
    Remote s;
    s.receive(frame({node("relay1", NodeState::alive), node("web2", NodeState::alive)}), t0);
    s.receive(frame({node("relay1", NodeState::alive)}), t0 + 1s);
    s.receive(frame({node("relay1", NodeState::alive), node("new5", NodeState::alive)}), t0 + 61s);
    CHECK_FALSE(s.lists("web2"));
    CHECK(s.lists("new5"));
  }
}

TEST_CASE("relay members: a frame that is not the relay's full list or does not decode changes nobody",
          "[unit][remote]") {
  Remote r;
  r.receive(frame({node("relay1", NodeState::alive), node("web2", NodeState::alive), node("db3", NodeState::dead)}),
            t0);
  SECTION("a frame without its relay in it") {
    r.receive(frame({node("web2", NodeState::alive)}), t0 + 1s, "relay1");
    r.tick(t0 + 1h);
    CHECK(r.lists("relay1"));
    CHECK(r.view.stats().frames_partial == 1);
  }
  SECTION("bytes that are no push/pull state") {
    gossip::Bytes cut = frame({node("relay1", NodeState::alive)});
    cut.resize(cut.size() - 3);
    gossip::Bytes trailing = frame({node("relay1", NodeState::alive)});
    trailing.push_back(0xc0);
    gossip::Bytes wrong_type = frame({node("relay1", NodeState::alive)});
    wrong_type[0] = static_cast<std::uint8_t>(gossip::MessageType::alive);
    for (const gossip::Bytes& b : {cut, trailing, wrong_type, gossip::Bytes{}}) {
      r.receive(b, t0 + 1s);
    }
    CHECK(r.view.stats().frames_undecodable == 4);
    r.tick(t0 + 1h);
    CHECK(r.lists("relay1"));
    CHECK(r.lists("web2"));
  }
  CHECK(r.view.stats().forgotten == 0);
}

TEST_CASE("membership forget: only a dead or left member, never ourselves or a live one", "[unit][remote]") {
  Remote r;
  r.receive(frame({node("relay1", NodeState::alive), node("web2", NodeState::alive), node("db3", NodeState::alive),
                   node("app4", NodeState::alive)}),
            t0);
  r.receive(frame({node("relay1", NodeState::alive), node("web2", NodeState::alive), node("db3", NodeState::dead),
                   node("app4", NodeState::left)}),
            t0 + 1s, "");  // relay unknown: taken as a full list
  CHECK_FALSE(r.membership.forget("laptop"));
  CHECK_FALSE(r.membership.forget("web2"));
  CHECK_FALSE(r.membership.forget("nobody"));
  CHECK(r.membership.forget("db3"));
  CHECK(r.membership.forget("app4"));
  CHECK_FALSE(r.lists("db3"));
  CHECK_FALSE(r.lists("app4"));
  // The others keep their entries (ids moved under them).
  CHECK(r.state_of("web2") == NodeState::alive);
  CHECK(r.state_of("relay1") == NodeState::alive);
  CHECK(r.membership.members().at("laptop").name == "laptop");
  CHECK(r.membership.alive_count() == 3);
}
