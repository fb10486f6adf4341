// The replication engine on its own: message codec, merge rules, broadcast chains, anti-entropy
// exchanges, tombstones and generations. Two or three engines wired by hand; the many-node
// scenarios are in replication_sim_test.cpp.
#include <catch2/catch.hpp>

#include "gossip/wire/codec.h"
#include "gossip/replication/replication.h"

using namespace hearsay::gossip;
using namespace std::chrono_literals;

namespace {

Address addr(std::uint8_t i) { return Address{Bytes{10, 0, 0, i}, 7946}; }
Bytes val(const std::string& s) { return Bytes(s.begin(), s.end()); }

struct Pair {
  Clock::time_point now{};
  Replication a{ReplicationConfig{.name = "a"}, 1, now};
  Replication b{ReplicationConfig{.name = "b"}, 2, now};
  Pair() {
    a.set_peers({{"b", addr(2)}});
    b.set_peers({{"a", addr(1)}});
    a.take_streams();
    b.take_streams();
  }
  // Delivers every UDP packet `from` produced to `to` (memberlist framing stripped).
  void deliver_packets(Replication& from, Replication& to, const Address& source) {
    for (const OutgoingPacket& p : from.take_packets()) {
      DecodeResult d = decode(p.packet.data(), p.packet.size());
      REQUIRE(d.message);
      const Bytes& payload = std::get<UserMessage>(*d.message).payload;
      REQUIRE(payload.at(0) == kHearsayUserMessage);
      to.receive(source, payload.data() + 1, payload.size() - 1, now);
    }
  }
  // One anti-entropy round started by `initiator`, all three legs delivered.
  void sync(Replication& initiator, Replication& responder, const Address& initiator_addr, const Address& responder_addr) {
    initiator.sync_soon();
    initiator.tick(now);
    auto requests = initiator.take_streams();
    REQUIRE(requests.size() == 1);
    REQUIRE(requests[0].wants_reply);
    auto reply = responder.handle_stream(initiator_addr, requests[0].payload.data(), requests[0].payload.size(), now);
    REQUIRE(reply);
    REQUIRE_FALSE(initiator.handle_stream(responder_addr, reply->data(), reply->size(), now));
    for (const StreamSend& push : initiator.take_streams()) {
      REQUIRE_FALSE(push.wants_reply);
      responder.handle_stream(initiator_addr, push.payload.data(), push.payload.size(), now);
    }
  }
};

}  // namespace

TEST_CASE("replication messages round-trip and garbage is refused", "[unit]") {
  ReplicationMessage m;
  m.kind = ReplicationMessage::Kind::sync_reply;
  m.from = "a";
  m.digest = {{"a", 7, 42}, {"b", 1, 0}};
  m.blocks = {OwnerBlock{{"c", 3, 9}, true, {ReplicaEntry{"c", "k1", 3, 9, 0, false, val("v")},
                                              ReplicaEntry{"c", "k2", 3, 5, 0, true, {}}}}};
  const Bytes bytes = encode(m);
  DecodeError error = DecodeError::none;
  auto back = decode_replication(bytes.data(), bytes.size(), error);
  REQUIRE(back);
  CHECK(*back == m);

  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    CHECK_FALSE(decode_replication(bytes.data(), cut, error));
  }
  // A block entry of another owner, a tombstone with a value, prev >= version.
  ReplicationMessage bad = m;
  bad.blocks[0].entries[0].owner = "x";
  Bytes b1 = encode(bad);
  CHECK_FALSE(decode_replication(b1.data(), b1.size(), error));
  CHECK(error == DecodeError::foreign_block_entry);
  bad = m;
  bad.blocks[0].entries[1].value = val("zombie");
  Bytes b2 = encode(bad);
  CHECK_FALSE(decode_replication(b2.data(), b2.size(), error));
  CHECK(error == DecodeError::tombstone_with_value);
  ReplicationMessage chain{ReplicationMessage::Kind::broadcast, "a", {ReplicaEntry{"a", "k", 1, 5, 5, false, {}}}, {}, {}};
  Bytes b3 = encode(chain);
  CHECK_FALSE(decode_replication(b3.data(), b3.size(), error));
  CHECK(error == DecodeError::out_of_order);
  Bytes b4 = b3;
  b4.push_back(0xc0);
  CHECK_FALSE(decode_replication(b4.data(), b4.size(), error));
  CHECK(error == DecodeError::trailing_bytes);
  CHECK_FALSE(decode_replication(b3.data(), 1, error));
  CHECK(error == DecodeError::not_msgpack);
  CHECK(std::string(to_string(DecodeError::bad_mark)) == "bad_mark");
}

TEST_CASE("a broadcast write reaches the peer and advances its watermark along the chain", "[unit]") {
  Pair p;
  p.a.publish("k1", 10, val("one"), p.now);
  p.a.publish("k2", 11, val("two"), p.now);
  p.now += 250ms;
  p.a.tick(p.now);
  p.deliver_packets(p.a, p.b, addr(1));
  auto changes = p.b.take_changes();
  REQUIRE(changes.size() == 2);  // newest first, as memberlist's queue sends them
  CHECK(changes[0].owner == "a");
  CHECK(changes[0].value == val("two"));
  CHECK(changes[1].value == val("one"));
  const auto digest = p.b.digest();
  auto mark = std::find_if(digest.begin(), digest.end(), [](const OwnerMark& m) { return m.owner == "a"; });
  REQUIRE(mark != digest.end());
  CHECK(mark->watermark == 11);
}

TEST_CASE("a lost broadcast leaves a gap that anti-entropy fills", "[unit]") {
  Pair p;
  p.a.publish("k1", 10, val("one"), p.now);
  p.now += 250ms;
  p.a.tick(p.now);
  p.a.take_packets();  // lost; it will be retransmitted, but say every copy is lost
  for (int i = 0; i < 20; ++i) {
    p.now += 250ms;
    p.a.tick(p.now);
    p.a.take_packets();
  }
  p.a.publish("k2", 11, val("two"), p.now);
  p.now += 250ms;
  p.a.tick(p.now);
  p.deliver_packets(p.a, p.b, addr(1));
  CHECK(p.b.take_changes().size() == 1);
  CHECK(p.b.find("a", "k1") == nullptr);
  auto mark_of_a = [&] {
    for (const auto& m : p.b.digest()) if (m.owner == "a") return m.watermark;
    return std::uint64_t{0};
  };
  CHECK(mark_of_a() == 0);  // k2 arrived, but k1 (before it) did not

  p.sync(p.b, p.a, addr(2), addr(1));
  REQUIRE(p.b.find("a", "k1"));
  CHECK(p.b.find("a", "k1")->value == val("one"));
  CHECK(mark_of_a() == 11);
}

TEST_CASE("anti-entropy goes both ways and carries tombstones", "[unit]") {
  Pair p;
  p.a.publish("x", 5, val("a's"), p.now);
  p.b.publish("y", 6, val("b's"), p.now);
  p.sync(p.a, p.b, addr(1), addr(2));
  REQUIRE(p.a.find("b", "y"));
  REQUIRE(p.b.find("a", "x"));
  p.a.take_changes();
  p.b.take_changes();

  p.a.publish_delete("x", 7, p.now);
  p.sync(p.b, p.a, addr(2), addr(1));
  auto changes = p.b.take_changes();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].deleted);
  CHECK(changes[0].key == "x");
  REQUIRE(p.b.find("a", "x"));
  CHECK(p.b.find("a", "x")->deleted);
}

TEST_CASE("a peer behind a dropped tombstone gets the owner's full state", "[unit]") {
  Clock::time_point now{};
  ReplicationConfig ca{.name = "a"};
  ca.tombstone_grace = 10s;
  Replication a(ca, 1, now);
  Replication b(ReplicationConfig{.name = "b"}, 2, now);
  a.set_peers({{"b", addr(2)}});
  b.set_peers({{"a", addr(1)}});
  a.publish("keep", 1, val("1"), now);
  a.publish("gone", 2, val("2"), now);
  // b learns both through a sync.
  auto sync = [&](Replication& from, Replication& to, const Address& fa, const Address& ta) {
    from.sync_soon();
    from.tick(now);
    auto req = from.take_streams();
    REQUIRE(req.size() == 1);
    auto reply = to.handle_stream(fa, req[0].payload.data(), req[0].payload.size(), now);
    from.handle_stream(ta, reply->data(), reply->size(), now);
    for (auto& push : from.take_streams()) to.handle_stream(fa, push.payload.data(), push.payload.size(), now);
  };
  sync(b, a, addr(2), addr(1));
  REQUIRE(b.find("a", "gone"));
  b.take_changes();
  a.take_packets();
  a.take_streams();

  a.publish_delete("gone", 3, now);
  a.take_packets();
  now += 2min;  // the tombstone expires at a
  a.tick(now);
  CHECK(a.find("a", "gone") == nullptr);
  CHECK(a.stats().tombstones_dropped == 1);
  a.take_streams();
  a.take_packets();

  const auto full_before = a.stats().full_states_sent;  // the first sync was one: b knew nothing of a
  sync(b, a, addr(2), addr(1));
  CHECK(a.stats().full_states_sent == full_before + 1);
  CHECK(b.find("a", "gone") == nullptr);
  REQUIRE(b.find("a", "keep"));
  auto changes = b.take_changes();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].deleted);
  CHECK(changes[0].key == "gone");
}

TEST_CASE("a new generation of an owner replaces everything older of it, in one step", "[unit]") {
  Pair p;
  ReplicationMessage m{ReplicationMessage::Kind::broadcast, "c", {ReplicaEntry{"c", "old", 1, 100, 99, false, val("o")}}, {}, {}};
  Bytes bytes = encode(m);
  p.b.receive(addr(3), bytes.data(), bytes.size(), p.now);
  REQUIRE(p.b.find("c", "old"));
  p.b.take_changes();
  // c's data dir was wiped: generation 2, counting again from 1. One broadcast of it would
  // leave b with one of c's records until the rest came: b waits for c's full state instead.
  m.entries = {ReplicaEntry{"c", "new", 2, 1, 0, false, val("n")}};
  bytes = encode(m);
  p.b.receive(addr(3), bytes.data(), bytes.size(), p.now);
  CHECK(p.b.find("c", "old"));
  CHECK(p.b.find("c", "new") == nullptr);
  CHECK(p.b.stats().entries_awaiting_full == 1);
  CHECK(p.b.take_changes().empty());
  // The full state comes by anti-entropy (b asks at once).
  ReplicationMessage push{ReplicationMessage::Kind::push, "c", {}, {},
                          {OwnerBlock{OwnerMark{"c", 2, 1, 0}, true, {ReplicaEntry{"c", "new", 2, 1, 0, false, val("n")}}}}};
  bytes = encode(push);
  p.b.handle_stream(addr(3), bytes.data(), bytes.size(), p.now);
  CHECK(p.b.find("c", "old") == nullptr);
  REQUIRE(p.b.find("c", "new"));
  auto changes = p.b.take_changes();
  REQUIRE(changes.size() == 2);
  CHECK((changes[0].key == "old" && changes[0].deleted));
  CHECK((changes[1].key == "new" && !changes[1].deleted));
  // And the old generation is stale from now on.
  m.entries = {ReplicaEntry{"c", "old", 1, 200, 100, false, val("o2")}};
  bytes = encode(m);
  p.b.receive(addr(3), bytes.data(), bytes.size(), p.now);
  CHECK(p.b.find("c", "old") == nullptr);
}

TEST_CASE("writes of refused owners, of ourselves and garbage are counted and dropped", "[unit]") {
  Pair p;
  p.b.set_owner_filter([](const std::string& owner) { return owner != "stranger"; });
  ReplicationMessage m{ReplicationMessage::Kind::broadcast, "x",
                       {ReplicaEntry{"stranger", "k", 1, 5, 0, false, val("v")}, ReplicaEntry{"b", "k", 1, 5, 0, false, val("v")}},
                       {}, {}};
  Bytes bytes = encode(m);
  p.b.receive(addr(3), bytes.data(), bytes.size(), p.now);
  CHECK(p.b.stats().entries_rejected == 2);
  CHECK(p.b.take_changes().empty());
  const Bytes junk{0x95, 0x01, 0xa1};
  p.b.receive(addr(3), junk.data(), junk.size(), p.now);
  CHECK(p.b.stats().messages_invalid == 1);
  CHECK(p.b.stats().invalid_by_kind[static_cast<std::size_t>(DecodeError::not_msgpack)] == 1);
  CHECK_FALSE(p.b.handle_stream(addr(3), junk.data(), junk.size(), p.now));
  CHECK(p.b.stats().messages_invalid == 2);
}

TEST_CASE("forgetting an owner reports its values as deleted", "[unit]") {
  Pair p;
  p.a.publish("k", 3, val("v"), p.now);
  p.sync(p.b, p.a, addr(2), addr(1));
  p.b.take_changes();
  p.b.forget_owner("a");
  auto changes = p.b.take_changes();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].deleted);
  CHECK(p.b.find("a", "k") == nullptr);
}

TEST_CASE("a value too large for a datagram goes to peers over TCP", "[unit]") {
  Pair p;
  p.a.publish("big", 1, Bytes(5000, 0x41), p.now);
  auto streams = p.a.take_streams();
  REQUIRE(streams.size() == 1);
  CHECK_FALSE(streams[0].wants_reply);
  p.b.handle_stream(addr(1), streams[0].payload.data(), streams[0].payload.size(), p.now);
  REQUIRE(p.b.find("a", "big"));
  CHECK(p.b.find("a", "big")->value.size() == 5000);
}

TEST_CASE("a bulk load overflows the broadcast queue into anti-entropy, which comes soon", "[unit]") {
  Clock::time_point now{};
  ReplicationConfig c{.name = "a"};
  c.max_queued_broadcasts = 10;
  Replication a(c, 1, now);
  Replication b(ReplicationConfig{.name = "b"}, 2, now);
  a.set_peers({{"b", addr(2)}});
  a.tick(now);
  a.take_streams();  // the sync on first seeing a peer
  for (std::uint64_t v = 1; v <= 50; ++v) a.publish("k" + std::to_string(v), v, val("x"), now);
  CHECK(a.stats().broadcasts_dropped >= 39);  // pruned in batches, down to 10 once over 11
  CHECK(a.next_deadline() <= now + c.sync_again);
  now += c.sync_again;
  a.tick(now);
  auto streams = a.take_streams();
  REQUIRE(streams.size() == 1);
  auto reply = b.handle_stream(addr(1), streams[0].payload.data(), streams[0].payload.size(), now);
  a.handle_stream(addr(2), reply->data(), reply->size(), now);
  for (auto& push : a.take_streams()) b.handle_stream(addr(1), push.payload.data(), push.payload.size(), now);
  CHECK(b.take_changes().size() == 50);
}

TEST_CASE("news goes out at once, but never more than one round per gossip interval", "[unit]") {
  Pair p;
  p.now += 5s;
  p.a.tick(p.now);
  p.a.take_streams();
  p.a.publish("k1", 1, val("1"), p.now);
  CHECK(p.a.next_deadline() == p.now);  // no round lately: now
  p.a.tick(p.now);
  CHECK(p.a.take_packets().size() == 1);
  p.now += 50ms;
  p.a.publish("k2", 2, val("2"), p.now);
  CHECK(p.a.next_deadline() == p.now + 150ms);  // a round went out 50 ms ago
  p.a.tick(p.now);
  CHECK(p.a.take_packets().empty());
}

TEST_CASE("a sync reply carries only the marks that differ: none between replicas in step", "[unit]") {
  Pair p;
  p.a.publish("k1", 5, val("a1"), p.now);
  p.b.publish("k2", 6, val("b2"), p.now);
  p.sync(p.a, p.b, addr(1), addr(2));  // now both hold both owners, at the same marks

  p.a.sync_soon();
  p.a.tick(p.now);
  auto requests = p.a.take_streams();
  REQUIRE(requests.size() == 1);
  DecodeError error = DecodeError::none;
  auto request = decode_replication(requests[0].payload.data(), requests[0].payload.size(), error);
  REQUIRE(request);
  CHECK(request->digest.size() == 2);
  auto reply = p.b.handle_stream(addr(1), requests[0].payload.data(), requests[0].payload.size(), p.now);
  REQUIRE(reply);
  auto decoded = decode_replication(reply->data(), reply->size(), error);
  REQUIRE(decoded);
  CHECK(decoded->digest.empty());
  CHECK(decoded->blocks.empty());
  REQUIRE_FALSE(p.a.handle_stream(addr(2), reply->data(), reply->size(), p.now));
  CHECK(p.a.take_streams().empty());  // nothing to push back

  // Both move on and both broadcasts are lost: the reply carries the two marks that differ, and
  // the push back still carries what b lacks.
  p.b.publish("k3", 7, val("b3"), p.now);
  p.b.take_packets();  // the broadcast is lost
  p.a.publish("k4", 8, val("a4"), p.now);
  p.a.take_packets();
  p.a.sync_soon();
  p.a.tick(p.now);
  requests = p.a.take_streams();
  REQUIRE(requests.size() == 1);
  reply = p.b.handle_stream(addr(1), requests[0].payload.data(), requests[0].payload.size(), p.now);
  REQUIRE(reply);
  decoded = decode_replication(reply->data(), reply->size(), error);
  REQUIRE(decoded);
  REQUIRE(decoded->digest.size() == 2);  // a's mark (b is behind on it) and b's (a is behind)
  REQUIRE_FALSE(p.a.handle_stream(addr(2), reply->data(), reply->size(), p.now));
  auto pushes = p.a.take_streams();
  REQUIRE(pushes.size() == 1);
  p.b.handle_stream(addr(1), pushes[0].payload.data(), pushes[0].payload.size(), p.now);
  CHECK(p.a.find("b", "k3"));
  CHECK(p.b.find("a", "k4"));
}

TEST_CASE("a datagram carries broadcasts only and a sync request by UDP is dropped and counted", "[unit]") {
  Pair p;
  ReplicationMessage request{ReplicationMessage::Kind::sync_request, "x", {}, {{"x", 1, 0}}, {}};
  const Bytes bytes = encode(request);
  p.b.receive(addr(3), bytes.data(), bytes.size(), p.now);
  CHECK(p.b.stats().messages_invalid == 1);
  CHECK(p.b.stats().datagrams_not_broadcast == 1);
  CHECK(p.b.take_streams().empty());
}

TEST_CASE("changes say whether they came by broadcast or by anti-entropy", "[unit]") {
  // The agent times broadcast arrivals only (propagation lag): a repair may carry an old write.
  Pair p;
  p.a.publish("k1", 10, val("one"), p.now);
  p.now += 250ms;
  p.a.tick(p.now);
  p.deliver_packets(p.a, p.b, addr(1));
  auto changes = p.b.take_changes();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].broadcast);

  Replication c{ReplicationConfig{.name = "c"}, 3, p.now};
  c.set_peers({{"a", addr(1)}});
  c.take_streams();
  p.sync(c, p.a, addr(3), addr(1));
  changes = c.take_changes();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].key == "k1");
  CHECK_FALSE(changes[0].broadcast);
  // Removals the engine derives (the owner forgotten) were never sent by anyone.
  c.forget_owner("a");
  changes = c.take_changes();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].deleted);
  CHECK_FALSE(changes[0].broadcast);
}
