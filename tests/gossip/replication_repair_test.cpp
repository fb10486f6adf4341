// How anti-entropy repairs replicas that diverged from their owner: a delete whose tombstone
// was lost in a restart travels past the first hop, and an owner that meets a peer holding a
// state it never made (a write that did not survive its crash) replaces it with a new generation.
// Three engines wired by hand; each sync goes to the one peer named.
#include <catch2/catch.hpp>

#include <memory>

#include "gossip/wire/codec.h"
#include "gossip/replication/replication.h"

using namespace hearsay::gossip;
using namespace std::chrono_literals;

namespace {

Bytes val(const std::string& s) { return Bytes(s.begin(), s.end()); }

struct Trio {
  Clock::time_point now{};
  std::vector<std::unique_ptr<Replication>> nodes;
  std::vector<std::uint64_t> generation{1, 1, 1};

  Trio() {
    for (std::size_t i = 0; i < 3; ++i) nodes.push_back(fresh(i));
  }
  static std::string name(std::size_t i) { return "n" + std::to_string(i); }
  static Address addr(std::size_t i) { return Address{Bytes{10, 0, 0, static_cast<std::uint8_t>(i + 1)}, 7946}; }
  Replication& operator[](std::size_t i) { return *nodes[i]; }

  std::unique_ptr<Replication> fresh(std::size_t i) {
    auto r = std::make_unique<Replication>(ReplicationConfig{.name = name(i)}, i + 1, now);
    r->set_own_state(generation[i], 0);
    r->set_peers(all_but(i));
    return r;
  }
  static std::vector<ReplicationPeer> all_but(std::size_t i) {
    std::vector<ReplicationPeer> peers;
    for (std::size_t j = 0; j < 3; ++j) {
      if (j != i) peers.push_back({name(j), addr(j)});
    }
    return peers;
  }

  // Node i restarts from what was durable: its own values up to `durable_version` (later writes
  // never committed), everything it held of other owners, no tombstones, no queued broadcasts.
  void restart(std::size_t i, std::uint64_t durable_version) {
    Replication& old = *nodes[i];
    auto r = fresh(i);
    std::vector<OwnerMark> marks = old.digest();
    for (const OwnerMark& m : marks) {
      old.for_each_of(m.owner, [&](const std::string& key, const Replication::Value& v) {
        if (v.deleted || (m.owner == name(i) && v.version > durable_version)) return;
        r->restore(ReplicaEntry{m.owner, key, m.generation, v.version, 0, false, v.value}, now);
      });
      if (m.owner != name(i)) r->restore_mark(m);
    }
    r->set_own_state(old.generation_of(name(i)), durable_version);
    nodes[i] = std::move(r);
  }

  // Node `from`'s queued broadcasts go out now, all to node `to` (or are lost).
  void broadcast(std::size_t from, std::optional<std::size_t> to) {
    now += 250ms;
    nodes[from]->tick(now);
    for (const OutgoingPacket& p : nodes[from]->take_packets()) {
      if (!to) continue;
      DecodeResult d = decode(p.packet.data(), p.packet.size());
      REQUIRE(d.message);
      const Bytes& payload = std::get<UserMessage>(*d.message).payload;
      nodes[*to]->receive(addr(from), payload.data() + 1, payload.size() - 1, now);
    }
    nodes[from]->take_streams();
  }

  // Node `from`'s queued broadcasts, every retransmission of them, are lost.
  void drain(std::size_t from) {
    for (int i = 0; i < 30; ++i) broadcast(from, std::nullopt);
  }

  // One anti-entropy exchange, initiator -> responder, all three legs delivered.
  void sync(std::size_t initiator, std::size_t responder) {
    Replication& a = *nodes[initiator];
    Replication& b = *nodes[responder];
    a.set_peers({{name(responder), addr(responder)}});
    a.sync_soon();
    a.tick(now);
    auto requests = a.take_streams();
    REQUIRE(requests.size() == 1);
    auto reply = b.handle_stream(addr(initiator), requests[0].payload.data(), requests[0].payload.size(), now);
    REQUIRE(reply);
    a.handle_stream(addr(responder), reply->data(), reply->size(), now);
    for (const StreamSend& push : a.take_streams()) {
      b.handle_stream(addr(initiator), push.payload.data(), push.payload.size(), now);
    }
    a.take_packets();
    b.take_packets();
    b.take_streams();
    a.set_peers(all_but(initiator));
  }

  bool holds_live(std::size_t i, std::size_t owner, const std::string& key) {
    const Replication::Value* v = nodes[i]->find(name(owner), key);
    return v && !v->deleted;
  }
};

}  // namespace

TEST_CASE("a delete lost in the owner's restart reaches peers two hops away", "[unit]") {
  Trio t;
  t[0].publish("x", 1, val("x"), t.now);
  t[0].publish("y", 2, val("y"), t.now);
  t.broadcast(0, std::nullopt);
  t.sync(1, 0);
  t.sync(2, 0);
  REQUIRE(t.holds_live(2, 0, "x"));

  // The delete commits, but n0 is killed before its broadcast goes out: the tombstone is gone.
  t[0].publish_delete("x", 3, t.now);
  t.restart(0, 3);
  REQUIRE(t[0].find("n0", "x") == nullptr);

  t.sync(1, 0);  // n1 is behind n0's lost tombstone: full state
  CHECK_FALSE(t.holds_live(1, 0, "x"));
  t.sync(2, 1);  // n2 never meets n0; n1 has no tombstone to send, so a full state again
  CHECK_FALSE(t.holds_live(2, 0, "x"));
  CHECK(t.holds_live(2, 0, "y"));
  CHECK(t[0].stats().generations_started == 0);  // repaired without the owner's authority
}

TEST_CASE("an owner that meets its own write it never made starts a new generation that replaces it", "[unit]") {
  Trio t;
  t[0].publish("ghost", 5, val("g"), t.now);
  t.broadcast(0, 1);
  t[0].publish("ghost", 5, val("g"), t.now);  // queued again (the first copy went), for n2
  t.sync(2, 1);
  REQUIRE(t.holds_live(1, 0, "ghost"));
  REQUIRE(t.holds_live(2, 0, "ghost"));

  // n0 crashes before that write was durable, restarts, and writes on: its next broadcast
  // continues from version 4, which n1 (at 5) takes as the chain going on.
  t.restart(0, 4);
  t[0].publish("real", 6, val("r"), t.now);
  t.broadcast(0, 1);
  REQUIRE(t.holds_live(1, 0, "real"));
  REQUIRE(t.holds_live(1, 0, "ghost"));  // at n0's own mark, holding more than n0

  SECTION("the peer asks") { t.sync(1, 0); }
  SECTION("the owner asks") { t.sync(0, 1); }
  CHECK(t[0].stats().generations_started == 1);
  const std::uint64_t generation = t[0].generation_of("n0");
  CHECK(generation > 1);
  CHECK_FALSE(t.holds_live(1, 0, "ghost"));
  CHECK(t.holds_live(1, 0, "real"));
  CHECK(t[1].generation_of("n0") == generation);

  // n2 still holds the ghost in the old generation; any replica of the new one replaces it.
  t.sync(2, 1);
  CHECK_FALSE(t.holds_live(2, 0, "ghost"));
  CHECK(t.holds_live(2, 0, "real"));
  // And n0's new writes go on in the new generation.
  t[0].publish("later", 7, val("l"), t.now);
  t.broadcast(0, 2);
  CHECK(t.holds_live(2, 0, "later"));
}

TEST_CASE("a peer ahead of the owner's own mark makes the owner start a new generation", "[unit]") {
  Trio t;
  t[0].publish("a", 1, val("a"), t.now);
  t[0].publish("lost", 9, val("l"), t.now);
  t.broadcast(0, 1);
  REQUIRE(t.holds_live(1, 0, "lost"));
  t.restart(0, 1);  // version 9 never committed; n1 stands beyond n0's own watermark
  t.sync(1, 0);
  CHECK(t[0].stats().generations_started == 1);
  CHECK_FALSE(t.holds_live(1, 0, "lost"));
  CHECK(t.holds_live(1, 0, "a"));
}

TEST_CASE("two replicas at one mark that hold different things both sync with the owner next", "[unit]") {
  Trio t;
  t[0].publish("base", 4, val("b"), t.now);
  t.broadcast(0, 1);
  t[0].publish("base", 4, val("b"), t.now);
  t.broadcast(0, 2);
  t.drain(0);
  t[0].publish("ghost", 5, val("g"), t.now);
  t.broadcast(0, 1);  // only n1 has it
  t.drain(0);
  t.restart(0, 4);
  t[0].publish("real", 6, val("r"), t.now);
  t.broadcast(0, 1);
  t[0].publish("real", 6, val("r"), t.now);
  t.broadcast(0, 2);
  REQUIRE(t.holds_live(1, 0, "ghost"));
  REQUIRE_FALSE(t.holds_live(2, 0, "ghost"));
  auto mark = [&](std::size_t i) {
    for (const OwnerMark& m : t[i].digest()) if (m.owner == "n0") return m;
    return OwnerMark{};
  };
  REQUIRE(mark(1).watermark == 6);
  REQUIRE(mark(2).watermark == 6);
  REQUIRE(mark(1).checksum != mark(2).checksum);

  t.sync(1, 2);
  CHECK(t[1].stats().divergent_marks == 1);
  CHECK(t[2].stats().divergent_marks == 1);
  // n1's next exchange goes to n0, not to a random peer.
  t[1].tick(t.now + 2s);
  auto requests = t[1].take_streams();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].to == Trio::addr(0));
}

TEST_CASE("the checksum in a mark counts live values up to the watermark only", "[unit]") {
  Trio t;
  t[0].publish("k", 1, val("1"), t.now);
  t.broadcast(0, 1);
  auto mark = [&](std::size_t i) {
    for (const OwnerMark& m : t[i].digest()) if (m.owner == "n0") return m;
    return OwnerMark{};
  };
  CHECK(mark(1) == mark(0));
  // A value beyond a gap (its predecessor lost) is held but not yet counted.
  t[0].publish("lost", 2, val("2"), t.now);
  t.drain(0);
  t[0].publish("k", 3, val("3"), t.now);
  t.broadcast(0, 1);
  CHECK(mark(1).watermark == 1);
  CHECK(mark(1) != mark(0));
  t.sync(1, 0);
  CHECK(mark(1) == mark(0));
  // A delete takes the value out of the checksum: two replicas with and without the tombstone agree.
  t[0].publish_delete("lost", 4, t.now);
  t.sync(1, 0);
  CHECK(mark(1) == mark(0));
  CHECK(t[0].stats().generations_started == 0);
}
