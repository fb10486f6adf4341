// CatalogReplication without an event loop: a real Catalog, SQLite store, Membership and
// replication engine; peers' writes arrive as broadcasts to the engine, members as alive
// messages to Membership. Covers what the agent does with them: applying (a service waits for
// its node), the later-write rule between owners, refusals, serfHealth, leaves, and publishing
// our own changes (tombstones included).
#include <catch2/catch.hpp>

#include "../temp_dir.h"
#include "agent/catalog_replication.h"
#include "catalog/record_codec.h"
#include "gossip/wire/codec.h"
#include "gossip/serf/serf_tags.h"

using namespace hearsay;
using namespace std::chrono_literals;
using gossip::Bytes;

namespace {

gossip::Address addr_of(std::uint8_t i) { return gossip::Address{Bytes{10, 0, 0, i}, 8301}; }

catalog::Node node_record(const std::string& name, const std::string& address) {
  catalog::Node n;
  n.name = name;
  n.address = address;
  return n;
}

catalog::Service service_record(const std::string& node, const std::string& id, int port) {
  catalog::Service s;
  s.node = node;
  s.id = id;
  s.name = "web";
  s.port = port;
  return s;
}

template <typename Record>
Bytes value_of(const Record& r) {
  const std::string s = catalog::encode_record(r);
  return Bytes(s.begin(), s.end());
}

struct Fixture {
  test::TempDir dir{"hearsay-replication-test-"};
  gossip::Clock::time_point now{};
  catalog::Catalog catalog;
  std::unique_ptr<catalog::SqliteStore> store =
      catalog::SqliteStore::open(dir.path, catalog::SqliteStore::Durability::normal);
  gossip::Membership membership{[] {
                                  gossip::MembershipConfig c;
                                  c.name = "self";
                                  c.advertise = addr_of(1);
                                  return c;
                                }(),
                                1, now};
  gossip::Replication engine{gossip::ReplicationConfig{.name = "self"}, 2, now};
  std::uint64_t counter = 1000;
  agent::CatalogReplication bridge{catalog, *store, engine, membership, "self", [this] { return ++counter; }, 72h};
  std::map<std::string, std::uint64_t> last_version;  // per peer owner, for the broadcast chain

  Fixture() {
    engine.set_owner_filter([this](const std::string& owner) { return bridge.accepts(owner); });
    bridge.restore(1, counter, now);
  }

  // A member appears (or changes state) through Membership, as from the network.
  void member(const std::string& name, std::uint8_t i, bool hearsay = true, std::uint32_t incarnation = 1) {
    gossip::Alive a;
    a.incarnation = incarnation;
    a.node = name;
    a.addr = addr_of(i).ip;
    a.port = 8301;
    a.meta = *gossip::encode_tags(hearsay ? gossip::Tags{{gossip::kHearsayTag, "1"}} : gossip::Tags{{"role", "serf"}});
    deliver(i, gossip::Message{a});
  }
  void dead(const std::string& name, std::uint8_t i, bool left, std::uint32_t incarnation = 1) {
    deliver(i, gossip::Message{gossip::Dead{incarnation, name, left ? name : "someone"}});
  }
  void deliver(std::uint8_t from, const gossip::Message& m) {
    const Bytes bytes = gossip::encode(m);
    membership.receive_packet(addr_of(from), bytes.data(), bytes.size(), now);
    for (const auto& e : membership.take_events()) bridge.on_member_event(e, now);
    drain();
  }
  // A peer's write as a broadcast from that peer.
  void write(const std::string& owner, const std::string& key, std::uint64_t version, Bytes value, bool deleted = false) {
    gossip::ReplicationMessage m;
    m.from = owner;
    m.entries = {gossip::ReplicaEntry{owner, key, 1, version, last_version[owner], deleted, std::move(value)}};
    last_version[owner] = version;
    const Bytes bytes = gossip::encode(m);
    engine.receive(addr_of(9), bytes.data(), bytes.size(), now);
    drain();
  }
  std::uint64_t wall_us = 5'000'000'000;  // our wall clock, for the propagation lag
  void drain() { bridge.apply(engine.take_changes(), now, wall_us); }
  static std::string node_key(const std::string& n) { return std::string("n") + '\0' + n; }
  static std::string service_key(const std::string& n, const std::string& id) {
    return std::string("s") + '\0' + n + '\0' + id;
  }
  const catalog::Check* serf_health(const std::string& node) const {
    return catalog.check(node, std::string(catalog::kSerfHealthCheckId));
  }
};

}  // namespace

TEST_CASE("a peer's service waits for its node, then both show with the owner's origin", "[unit]") {
  Fixture f;
  f.member("p1", 2);
  f.write("p1", Fixture::service_key("p1", "web1"), 11, value_of(service_record("p1", "web1", 80)));
  CHECK(f.catalog.service("p1", "web1") == nullptr);
  CHECK(f.bridge.stats().records_waiting == 1);
  f.write("p1", Fixture::node_key("p1"), 12, value_of(node_record("p1", "10.0.0.2")));
  REQUIRE(f.catalog.node("p1"));
  const catalog::Service* svc = f.catalog.service("p1", "web1");
  REQUIRE(svc);
  CHECK(svc->origin.owner == "p1");
  CHECK(svc->origin.version == 11);
  // Membership says p1 is alive: its serfHealth passes (derived here, never replicated).
  REQUIRE(f.serf_health("p1"));
  CHECK(f.serf_health("p1")->status == catalog::HealthStatus::passing);
}

TEST_CASE("writes of two owners to one key: the later shows, and the earlier returns when it goes", "[unit]") {
  Fixture f;
  f.member("p1", 2);
  f.member("p2", 3);
  f.write("p1", Fixture::node_key("ext"), 100, value_of(node_record("ext", "10.1.1.1")));
  f.write("p2", Fixture::node_key("ext"), 200, value_of(node_record("ext", "10.2.2.2")));
  REQUIRE(f.catalog.node("ext"));
  CHECK(f.catalog.node("ext")->address == "10.2.2.2");
  // An older write arriving late does not replace the newer one.
  f.write("p1", Fixture::node_key("ext"), 150, value_of(node_record("ext", "10.1.1.5")));
  CHECK(f.catalog.node("ext")->address == "10.2.2.2");
  CHECK(f.bridge.stats().conflicts_lost == 1);
  // p2 deletes its write: p1's (the newest left) shows again.
  f.write("p2", Fixture::node_key("ext"), 300, {}, true);
  REQUIRE(f.catalog.node("ext"));
  CHECK(f.catalog.node("ext")->address == "10.1.1.5");
}

TEST_CASE("refused: owners that left, another member's own node, records not matching their key", "[unit]") {
  Fixture f;
  f.member("p1", 2);
  f.member("p2", 3);
  f.member("gone", 4);
  f.dead("gone", 4, true);  // left
  f.write("gone", Fixture::node_key("gone"), 5, value_of(node_record("gone", "10.9.9.9")));
  CHECK(f.catalog.node("gone") == nullptr);
  CHECK(f.engine.stats().entries_rejected == 1);
  f.write("p1", Fixture::node_key("p2"), 6, value_of(node_record("p2", "6.6.6.6")));  // p2 is an agent
  CHECK(f.catalog.node("p2") == nullptr);
  f.write("p1", Fixture::node_key("x"), 7, value_of(node_record("y", "10.0.0.7")));  // key says x
  CHECK(f.catalog.node("x") == nullptr);
  CHECK(f.catalog.node("y") == nullptr);
  f.write("p1", Fixture::node_key("z"), 8, Bytes{0xc1, 0x00});  // not a record
  CHECK(f.catalog.node("z") == nullptr);
  CHECK(f.bridge.stats().records_invalid == 3);
}

TEST_CASE("membership drives serfHealth and a leave removes the member's records", "[unit]") {
  Fixture f;
  f.member("p1", 2);
  f.write("p1", Fixture::node_key("p1"), 10, value_of(node_record("p1", "10.0.0.2")));
  f.write("p1", Fixture::service_key("p1", "web1"), 11, value_of(service_record("p1", "web1", 80)));
  REQUIRE(f.serf_health("p1"));
  CHECK(f.serf_health("p1")->status == catalog::HealthStatus::passing);

  f.dead("p1", 3, false);  // failed
  CHECK(f.serf_health("p1")->status == catalog::HealthStatus::critical);
  CHECK(f.catalog.service("p1", "web1"));  // kept (critical) until -reap-after
  f.member("p1", 2, true, 2);  // back, refuting with a higher incarnation
  CHECK(f.serf_health("p1")->status == catalog::HealthStatus::passing);

  f.dead("p1", 2, true, 2);  // a graceful leave
  CHECK(f.catalog.node("p1") == nullptr);
  CHECK(f.catalog.service("p1", "web1") == nullptr);
  // Nothing of p1 is taken any more, not even from peers that have not heard yet.
  f.write("p1", Fixture::service_key("p1", "web2"), 12, value_of(service_record("p1", "web2", 81)));
  CHECK(f.catalog.service("p1", "web2") == nullptr);
}

TEST_CASE("our changes are published in version order and a removal becomes a tombstone", "[unit]") {
  Fixture f;
  catalog::Node own = node_record("self", "10.0.0.1");
  own.origin = {"self", ++f.counter, 1};
  f.catalog.upsert_node(own);
  catalog::Service svc = service_record("self", "web1", 80);
  svc.origin = {"self", ++f.counter, 1};
  f.catalog.upsert_service(svc);
  auto outgoing = f.bridge.prepare(f.catalog.take_dirty());
  CHECK(f.engine.find("self", Fixture::node_key("self")) == nullptr);  // nothing before the commit
  f.bridge.publish(std::move(outgoing), f.now);
  REQUIRE(f.engine.find("self", Fixture::node_key("self")));
  REQUIRE(f.engine.find("self", Fixture::service_key("self", "web1")));
  CHECK(f.engine.find("self", Fixture::service_key("self", "web1"))->version == svc.origin.version);

  f.catalog.remove_service("self", "web1");
  f.bridge.publish(f.bridge.prepare(f.catalog.take_dirty()), f.now);
  const auto* tomb = f.engine.find("self", Fixture::service_key("self", "web1"));
  REQUIRE(tomb);
  CHECK(tomb->deleted);
  CHECK(tomb->version == f.counter);  // the next value of the counter
  // The watermarks are staged for the commit, with the records.
  REQUIRE(f.store->commit(f.catalog, f.catalog.take_dirty()));
  REQUIRE(f.store->get_setting("replication_marks"));
  CHECK(f.store->get_setting("replication_marks")->find(" self\n") != std::string::npos);
}

// ---- Remote nodes (remote mode): owners that are not members, their health from relays' records.

namespace {
std::string session_key(const std::string& remote, const std::string& relay) {
  return std::string("r") + '\0' + remote + '\0' + relay;
}
Bytes session_value(const std::string& relay, std::uint64_t session, std::uint64_t started, bool left = false) {
  const std::string s = agent::encode_session_record(agent::SessionRecord{relay, session, 1, started, 1, left});
  return Bytes(s.begin(), s.end());
}
const catalog::Check* remote_health(const Fixture& f, const std::string& node) {
  return f.catalog.check(node, std::string(agent::kRemoteHealthCheckId));
}
}  // namespace

TEST_CASE("a remote's health follows its relays' session records: held, grace, critical, lease", "[unit]") {
  Fixture f;
  f.member("relay1", 2);
  f.member("relay2", 3);
  f.write("laptop", Fixture::node_key("laptop"), 10, value_of(node_record("laptop", "10.7.0.1")));
  f.write("laptop", Fixture::service_key("laptop", "dev-web"), 11, value_of(service_record("laptop", "dev-web", 80)));
  REQUIRE(f.catalog.service("laptop", "dev-web"));  // a remote: accepted though not a member
  CHECK(f.serf_health("laptop") == nullptr);         // never probed, so no serfHealth
  f.write("relay1", session_key("laptop", "relay1"), 20, session_value("relay1", 7, 100));
  REQUIRE(remote_health(f, "laptop"));
  CHECK(remote_health(f, "laptop")->status == catalog::HealthStatus::passing);
  CHECK(remote_health(f, "laptop")->output.find("relay1") != std::string::npos);

  // A relay writes only its own sessions.
  f.write("relay2", session_key("laptop", "relay1"), 21, session_value("relay1", 8, 200));
  CHECK(f.bridge.stats().records_invalid == 1);

  // The relay holding the session fails: passing through the grace, then critical.
  f.dead("relay1", 4, false);
  f.now += 44s;
  f.bridge.reap(f.now);
  CHECK(remote_health(f, "laptop")->status == catalog::HealthStatus::passing);
  f.now += 2s;
  f.bridge.reap(f.now);
  CHECK(remote_health(f, "laptop")->status == catalog::HealthStatus::critical);

  // Another relay takes the session: passing at once.
  f.write("relay2", session_key("laptop", "relay2"), 22, session_value("relay2", 1, 100));
  CHECK(remote_health(f, "laptop")->status == catalog::HealthStatus::passing);
  CHECK(remote_health(f, "laptop")->output.find("relay2") != std::string::npos);

  // It ends, and nobody holds one for the whole lease: the remote's records go, and stay gone.
  f.write("relay2", session_key("laptop", "relay2"), 23, {}, true);
  f.now += 14min;
  f.bridge.reap(f.now);
  CHECK(f.catalog.service("laptop", "dev-web"));
  f.now += 1min + 1s;
  f.bridge.reap(f.now);
  CHECK(f.catalog.node("laptop") == nullptr);
  CHECK(f.catalog.service("laptop", "dev-web") == nullptr);
  f.write("laptop", Fixture::service_key("laptop", "dev-api"), 30, value_of(service_record("laptop", "dev-api", 81)));
  CHECK(f.engine.find("laptop", Fixture::service_key("laptop", "dev-api")) == nullptr);

  // Until a relay holds a session with it again.
  f.write("relay2", session_key("laptop", "relay2"), 24, session_value("relay2", 2, 300));
  CHECK(f.bridge.accepts("laptop"));
}

TEST_CASE("a remote's goodbye removes its records at once, and only the newest session's goodbye counts", "[unit]") {
  Fixture f;
  f.member("relay1", 2);
  f.member("relay2", 3);
  f.write("laptop", Fixture::node_key("laptop"), 10, value_of(node_record("laptop", "10.7.0.1")));
  f.write("relay1", session_key("laptop", "relay1"), 20, session_value("relay1", 1, 100));
  f.write("relay2", session_key("laptop", "relay2"), 21, session_value("relay2", 1, 200));  // newer process
  f.write("relay1", session_key("laptop", "relay1"), 22, session_value("relay1", 1, 100, true));  // old one's goodbye
  f.bridge.reap(f.now);
  REQUIRE(f.catalog.node("laptop"));
  CHECK(remote_health(f, "laptop")->status == catalog::HealthStatus::passing);
  f.write("relay2", session_key("laptop", "relay2"), 23, session_value("relay2", 1, 200, true));
  f.bridge.reap(f.now);
  CHECK(f.catalog.node("laptop") == nullptr);
}

TEST_CASE("a member whose node record arrives before its membership never gets a remoteHealth check", "[unit]") {
  // A mass join: p1's own node record reaches us by replication before the join's gossip.
  Fixture f;
  f.write("p1", Fixture::node_key("p1"), 10, value_of(node_record("p1", "10.0.0.2")));
  REQUIRE(f.catalog.node("p1"));
  CHECK(remote_health(f, "p1") == nullptr);  // no relay ever held it: nothing said yet
  f.member("p1", 2);
  f.now += 46s;  // past the grace
  f.bridge.reap(f.now);
  CHECK(remote_health(f, "p1") == nullptr);
  REQUIRE(f.serf_health("p1"));
  CHECK(f.serf_health("p1")->status == catalog::HealthStatus::passing);
  // A remote that no relay ever holds is still critical after the grace.
  f.write("laptop", Fixture::node_key("laptop"), 10, value_of(node_record("laptop", "10.7.0.1")));
  CHECK(remote_health(f, "laptop") == nullptr);
  f.now += 46s;
  f.bridge.reap(f.now);
  REQUIRE(remote_health(f, "laptop"));
  CHECK(remote_health(f, "laptop")->status == catalog::HealthStatus::critical);
}

TEST_CASE("session records round-trip and garbage is no record", "[unit]") {
  const agent::SessionRecord r{"relay1", 42, 1000, 2000, 3, true};
  CHECK(agent::decode_session_record(agent::encode_session_record(r)) == r);
  CHECK_FALSE(agent::decode_session_record(""));
  CHECK_FALSE(agent::decode_session_record(std::string("\x81\xa5Relay\x01", 8)));
  std::string trailing = agent::encode_session_record(r) + "x";
  CHECK_FALSE(agent::decode_session_record(trailing));
}

TEST_CASE("a peer's broadcast write is timed from its version to our wall clock, once", "[unit]") {
  Fixture f;
  f.member("p1", 2);
  // Versions are the owner's wall clock in microseconds: written 30 ms before it arrives.
  f.write("p1", Fixture::node_key("p1"), f.wall_us - 30'000, value_of(node_record("p1", "10.0.0.2")));
  const loop::Histogram& lag = f.bridge.propagation_lag();
  REQUIRE(lag.count() == 1);
  CHECK(lag.sum_ns() == 30'000'000);
  // The same write again (a peer passing it on) is no news: not timed twice.
  gossip::ReplicationMessage again;
  again.from = "p3";
  again.entries = {gossip::ReplicaEntry{"p1", Fixture::node_key("p1"), 1, f.wall_us - 30'000, 0, false,
                                        value_of(node_record("p1", "10.0.0.2"))}};
  const Bytes bytes = gossip::encode(again);
  f.engine.receive(addr_of(4), bytes.data(), bytes.size(), f.now);
  f.drain();
  CHECK(lag.count() == 1);
  // The owner's clock ahead of ours (skew): counted as no lag, not as a wrapped huge one.
  f.write("p1", Fixture::service_key("p1", "web1"), f.wall_us + 2'000'000, value_of(service_record("p1", "web1", 80)));
  CHECK(lag.count() == 2);
  CHECK(lag.sum_ns() == 30'000'000);
  CHECK(lag.bucket(0) == 1);
  // A removal by broadcast is news too: its tombstone's version is the owner's clock at the
  // delete (after the skewed write above, or it would be stale).
  f.wall_us += 3'000'000;
  f.write("p1", Fixture::service_key("p1", "web1"), f.wall_us - 5'000, {}, true);
  CHECK(lag.count() == 3);
  CHECK(lag.sum_ns() == 35'000'000);
}
