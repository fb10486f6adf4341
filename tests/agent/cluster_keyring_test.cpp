// Cluster keyring operations over a real Membership and Serf: our own answer, the members' answers, the
// time-out, Consul's failure texts, and our answers to other members' key queries.
#include <catch2/catch.hpp>

#include <chrono>

#include "agent/cluster_keyring.h"
#include "gossip/wire/codec.h"
#include "gossip/wire/framing.h"
#include "gossip/wire/keyring.h"

using namespace hearsay;
using namespace hearsay::gossip;
using namespace std::chrono_literals;
using hearsay::agent::ClusterKeyring;
using http::KeyringOp;

namespace {

const std::string kKeyA = "zRc5r7sJ5M4wi5uys6iYXrlDqlf6ww9HsgS0c5pGLYI=";
const std::string kKeyB = "k2xb+kTDnSFlKz+WfpPzCTP6rigqxR3GfvDrFevsIgM=";

Bytes key_bytes(const std::string& base64) {
  std::string error;
  return *decode_key(base64, error);
}

// An agent "h1" that knows two other alive members, "s1" and "h2", and holds a keyring.
struct Fixture {
  Membership membership = [] {
    MembershipConfig config;
    config.name = "h1";
    config.advertise = Address{Bytes{127, 0, 0, 1}, 7946};
    return Membership(config, 1, Clock::time_point{});
  }();
  Serf serf{membership, 1};
  Keyring ring;
  bool encrypted = true;
  std::vector<std::pair<KeyringOp, Bytes>> applied;
  ClusterKeyring cluster{serf, "dc1",
                         [this](KeyringOp op, const Bytes& key) {
                           applied.emplace_back(op, key);
                           return op == KeyringOp::install ? ring.add(key) : op == KeyringOp::use ? ring.use(key)
                                                                                                  : ring.remove(key);
                         },
                         [this]() -> std::optional<http::KeyringInfo> {
                           if (!encrypted) return std::nullopt;
                           http::KeyringInfo info;
                           for (const Bytes& k : ring.keys()) info.keys.push_back(encode_key(k));
                           info.primary = info.keys.front();
                           return info;
                         }};
  std::optional<http::OpResult> result;
  http::KeyringReport report;

  Fixture() {
    ring.add(key_bytes(kKeyA));
    PushPull state;
    for (auto [name, last] : {std::pair{"s1", 2}, std::pair{"h2", 3}}) {
      state.nodes.push_back(PushNodeState{name, Bytes{127, 0, 0, static_cast<std::uint8_t>(last)}, 7946, {}, 1,
                                          NodeState::alive, kVersions});
    }
    membership.push_pull_reply(state, Clock::time_point{});
    membership.take_events();
  }
  ClusterKeyring::Done done() {
    return [this](http::OpResult r, http::KeyringReport rep) {
      result = r;
      report = rep;
    };
  }
  // The query we gossiped, read back from the packets of a few gossip rounds.
  SerfQuery sent_query() {
    for (int round = 1; round <= 5; ++round) {
      membership.tick(Clock::time_point{} + round * 200ms);
      for (const OutgoingPacket& p : membership.take_packets()) {
        UnwrappedPacket packet = unwrap_packet(p.packet.data(), p.packet.size());
        for (const ByteView& m : packet.messages) {
          DecodeResult r = decode(m.data(), m.size());
          const auto* user = r.message ? std::get_if<UserMessage>(&*r.message) : nullptr;
          if (!user) continue;
          if (auto q = decode_serf_query(user->payload)) return *q;
        }
      }
    }
    FAIL("no query was gossiped");
    return {};
  }
  void answer_from(const std::string& member, const SerfQuery& q, const KeyResponse& answer) {
    cluster.on_response(SerfQueryResponse{q.ltime, q.id, member, 0, encode_key_response(answer)});
  }
};

}  // namespace

TEST_CASE("a key installed through one agent is done when every alive member has answered", "[unit]") {
  Fixture f;
  f.cluster.start(KeyringOp::install, kKeyB, ClusterKeyring::Clock::time_point{}, f.done());
  REQUIRE(f.applied.size() == 1);  // our own keyring first
  CHECK(f.ring.keys().size() == 2);
  const SerfQuery q = f.sent_query();
  CHECK(q.name == kInstallKeyQuery);
  CHECK(decode_key_request(q.payload) == key_bytes(kKeyB));
  f.answer_from("s1", q, {true, "", {}, ""});
  CHECK_FALSE(f.result);
  f.answer_from("s1", q, {true, "", {}, ""});  // a duplicate counts once
  CHECK_FALSE(f.result);
  f.cluster.on_response(SerfQueryResponse{q.ltime, q.id + 1, "h2", 0, encode_key_response({true, "", {}, ""})});
  CHECK_FALSE(f.result);  // another query's answer
  f.answer_from("h2", q, {true, "", {}, ""});
  REQUIRE(f.result);
  CHECK(f.result->succeeded());
  CHECK(f.report.num_nodes == 3);
  CHECK(f.report.num_responses == 3);
  CHECK_FALSE(f.cluster.next_deadline());
}

TEST_CASE("listing counts each key over the members and failures and silence give Consul's errors", "[unit]") {
  Fixture f;
  f.cluster.start(KeyringOp::list, "", ClusterKeyring::Clock::time_point{}, f.done());
  SerfQuery q = f.sent_query();
  CHECK(q.name == kListKeysQuery);
  f.answer_from("s1", q, {true, "", {kKeyA, kKeyB}, kKeyA});
  f.answer_from("h2", q, {true, "", {kKeyA}, kKeyA});
  REQUIRE(f.result);
  CHECK(f.result->succeeded());
  CHECK(f.report.keys == std::map<std::string, int>{{kKeyA, 3}, {kKeyB, 1}});
  CHECK(f.report.primary_keys == std::map<std::string, int>{{kKeyA, 3}});

  // One member fails: 500, naming it.
  f.result.reset();
  f.cluster.start(KeyringOp::use, kKeyA, ClusterKeyring::Clock::time_point{}, f.done());
  q = f.sent_query();
  f.answer_from("s1", q, {false, "No keyring to modify (encryption not enabled)", {}, ""});
  f.answer_from("h2", q, {true, "", {}, ""});
  REQUIRE(f.result);
  CHECK(f.result->status == 500);
  CHECK(f.result->error ==
        "2 errors occurred:\n\t* dc1 (LAN) error: 1/3 nodes reported failure\n"
        "\t* s1: No keyring to modify (encryption not enabled)\n\n");

  // Nobody else answers: at the time-out, 500 with how many succeeded.
  f.result.reset();
  const ClusterKeyring::Clock::time_point start{};
  f.cluster.start(KeyringOp::remove, kKeyB, start, f.done());
  q = f.sent_query();
  REQUIRE(f.cluster.next_deadline() == start + q.timeout);
  f.cluster.expire(start + q.timeout - 1ms);
  CHECK_FALSE(f.result);
  f.cluster.expire(start + q.timeout);
  REQUIRE(f.result);
  CHECK(f.result->error == "1 error occurred:\n\t* dc1 (LAN) error: 1/3 nodes reported success\n\n");
  CHECK(f.ring.keys().size() == 1);  // removed here all the same, as serf does
}

TEST_CASE("a bad key or an agent without encryption is refused before any query", "[unit]") {
  Fixture f;
  f.cluster.start(KeyringOp::install, "not base64!", ClusterKeyring::Clock::time_point{}, f.done());
  REQUIRE(f.result);
  CHECK(f.result->status == 400);
  f.encrypted = false;
  f.result.reset();
  f.cluster.start(KeyringOp::list, "", ClusterKeyring::Clock::time_point{}, f.done());
  REQUIRE(f.result);
  CHECK(f.result->status == 500);
  CHECK(f.applied.empty());
  CHECK_FALSE(f.cluster.next_deadline());
}

TEST_CASE("other members' key queries are applied here and answered to the asker", "[unit]") {
  Fixture f;
  SerfQuery q;
  q.ltime = 7;
  q.id = 9;
  q.addr = Bytes{127, 0, 0, 2};
  q.port = 7946;
  q.source_node = "s1";
  q.name = kInstallKeyQuery;
  q.payload = encode_key_request(key_bytes(kKeyB));
  f.cluster.answer(q);
  CHECK(f.ring.keys().size() == 2);
  auto read_answer = [&] {
    auto packets = f.serf.take_packets();  // answers go straight to the asker
    REQUIRE(packets.size() == 1);
    CHECK(packets[0].to == (Address{Bytes{127, 0, 0, 2}, 7946}));
    UnwrappedPacket packet = unwrap_packet(packets[0].packet.data(), packets[0].packet.size());
    DecodeResult r = decode(packet.messages.at(0).data(), packet.messages.at(0).size());
    auto response = decode_serf_query_response(std::get<UserMessage>(*r.message).payload);
    REQUIRE(response);
    CHECK(response->from == "h1");
    return *decode_key_response(response->payload);
  };
  CHECK(read_answer().result);
  q.name = kListKeysQuery;
  q.payload.clear();
  f.cluster.answer(q);
  KeyResponse listed = read_answer();
  CHECK(listed.keys == std::vector<std::string>{kKeyA, kKeyB});
  CHECK(listed.primary_key == kKeyA);
  q.name = kRemoveKeyQuery;
  q.payload = encode_key_request(key_bytes(kKeyA));  // the primary: refused, with the reason
  f.cluster.answer(q);
  KeyResponse refused = read_answer();
  CHECK_FALSE(refused.result);
  CHECK_FALSE(refused.message.empty());
  q.payload = {0xc1};  // garbage instead of a key request
  f.cluster.answer(q);
  CHECK(read_answer().message == "Failed to decode key request");
}
