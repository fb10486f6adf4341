// The relay's side of a remote session (remote/relay_session.h), driven by hand: the hello and
// its authorization, keepalive and death, and the check of every entry the remote sends up.
#include <catch2/catch.hpp>

#include "remote/relay_session.h"
#include "hand_driven.h"

using namespace hearsay::remote;
using namespace std::chrono_literals;
using hearsay::remote::test::frames_of;
using hearsay::gossip::OwnerBlock;
using hearsay::gossip::OwnerMark;
using hearsay::gossip::ReplicaEntry;
using hearsay::gossip::ReplicationMessage;
using Kind = RelayEvent::Kind;
using MKind = ReplicationMessage::Kind;

namespace {

Hello hello_of(const std::string& node = "laptop", const std::string& token = "good") {
  return Hello{kProtocolVersion, node, "id-1", token, 1000, 1};
}

ReplicaEntry entry(const std::string& owner, const std::string& key, std::uint64_t version) {
  return ReplicaEntry{owner, key, 1, version, version - 1, false, Bytes{1, 2}};
}

struct Harness {
  Clock::time_point now = Clock::time_point{} + 1h;
  std::vector<Hello> authorized;
  RelaySession session;

  static RelaySessionConfig config(std::vector<Hello>* seen) {
    RelaySessionConfig c;
    c.dead_after = std::chrono::milliseconds(6000);  // the figures the cases below count with
    c.hello_timeout = std::chrono::milliseconds(5000);
    c.relay = "relay-a";
    c.session = 77;
    c.authorize = [seen](const Hello& h) -> HelloVerdict {
      seen->push_back(h);
      if (h.token == "good") return {};
      if (h.token == "busy") return {"try later", true};
      return {"unknown token", false};
    };
    // Keys starting with "svc/dev-" or the remote's own node record.
    c.check_entry = [](const Hello& h, const ReplicaEntry& e) -> std::string {
      if (e.key == "node/" + h.node || e.key.rfind("svc/dev-", 0) == 0) return "";
      return "service not allowed by the token";
    };
    return c;
  }
  Harness() : session(config(&authorized), now) {}

  void feed(const Frame& f) {
    const Bytes b = encode_frame(f);
    session.received(b.data(), b.size(), now);
  }
  void advance(Duration d) { test::advance(session, now, d); }
  void open(const Hello& h = hello_of()) {
    feed(h);
    REQUIRE(session.open());
    auto events = session.take_events();
    REQUIRE(events.size() == 1);
    REQUIRE(events[0].kind == Kind::opened);
    session.take_writes();
  }
  std::uint64_t refused(RelayRefusal r) const { return session.stats().refused[static_cast<std::size_t>(r)]; }
  // Sends one replication message up; the message the engine gets, if any.
  std::optional<ReplicationMessage> up(const ReplicationMessage& m, std::uint64_t stream = 0, bool wants_reply = false) {
    feed(ReplicationFrame{stream, wants_reply, 0, hearsay::gossip::encode(m)});
    auto events = session.take_events();
    if (events.empty()) return std::nullopt;
    REQUIRE(events.size() == 1);
    REQUIRE(events[0].kind == Kind::replication);
    CHECK(events[0].replication.stream == stream);
    CHECK(events[0].replication.wants_reply == wants_reply);
    hearsay::gossip::DecodeError error;
    auto back = hearsay::gossip::decode_replication(events[0].replication.message.data(),
                                                    events[0].replication.message.size(), error);
    REQUIRE(back);
    return back;
  }
};

}  // namespace

TEST_CASE("an accepted hello gets a welcome and opens the session", "[remote][relay]") {
  Harness h;
  CHECK_FALSE(h.session.open());
  h.feed(hello_of());
  REQUIRE(h.authorized.size() == 1);
  CHECK(h.authorized[0] == hello_of());
  CHECK(h.session.open());
  CHECK(h.session.hello() == hello_of());
  auto sent = frames_of(h.session.take_writes());
  REQUIRE(sent.size() == 1);
  CHECK(std::get<Welcome>(sent[0]) == Welcome{"relay-a", 77, 2000});
  auto events = h.session.take_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == Kind::opened);
  CHECK_FALSE(h.session.close_reason());
  CHECK(h.session.send(ReplicationFrame{0, false, 0, Bytes{1}}));
  CHECK(h.session.send_ack(Ack{1, 5}));
  sent = frames_of(h.session.take_writes());
  REQUIRE(sent.size() == 2);
  CHECK(std::get<Ack>(sent[1]) == Ack{1, 5});
}

TEST_CASE("a refused hello gets a refuse frame, then the session closes", "[remote][relay]") {
  const std::string token = GENERATE(std::string("bad"), std::string("busy"));
  Harness h;
  h.feed(hello_of("laptop", token));
  CHECK_FALSE(h.session.open());
  auto sent = frames_of(h.session.take_writes());
  REQUIRE(sent.size() == 1);
  const Refuse& r = std::get<Refuse>(sent[0]);
  CHECK(r.retry == (token == "busy"));
  CHECK(r.reason == (token == "busy" ? "try later" : "unknown token"));
  REQUIRE(h.session.close_reason());
  CHECK(h.session.close_reason()->find(r.reason) != std::string::npos);
  CHECK(h.session.take_events().empty());
  CHECK_FALSE(h.session.send(ReplicationFrame{}));
  // Nothing more is read.
  h.feed(Ping{1});
  CHECK(h.session.take_writes().empty());
}

TEST_CASE("hellos refused before authorization: other protocol, no node name", "[remote][relay]") {
  Harness h;
  Hello hello = hello_of();
  hello.protocol = 2;
  SECTION("protocol") {}
  SECTION("node") { hello = hello_of(""); }
  h.feed(hello);
  CHECK(h.authorized.empty());
  auto sent = frames_of(h.session.take_writes());
  REQUIRE(sent.size() == 1);
  CHECK_FALSE(std::get<Refuse>(sent[0]).retry);
  CHECK(h.session.close_reason());
}

TEST_CASE("the hello must be the first frame, within hello_timeout", "[remote][relay]") {
  SECTION("another frame first") {
    Harness h;
    h.feed(Ping{1});
    REQUIRE(h.session.close_reason());
    CHECK(h.session.close_reason()->find("not a hello") != std::string::npos);
    CHECK(h.session.take_writes().empty());
    h.feed(hello_of());
    CHECK(h.authorized.empty());
  }
  SECTION("no hello in time") {
    Harness h;
    h.advance(4999ms);
    CHECK_FALSE(h.session.close_reason());
    h.advance(1ms);
    REQUIRE(h.session.close_reason());
    CHECK(h.session.close_reason()->find("no hello") != std::string::npos);
    CHECK(h.session.next_deadline() == Clock::time_point::max());
  }
  SECTION("a second hello") {
    Harness h;
    h.open();
    h.feed(hello_of());
    REQUIRE(h.session.close_reason());
    CHECK(h.session.close_reason()->find("second hello") != std::string::npos);
    CHECK(h.authorized.size() == 1);
  }
  SECTION("a frame only a relay sends") {
    Harness h;
    h.open();
    h.feed(Welcome{"x", 1, 1});
    CHECK(h.session.close_reason());
  }
  SECTION("garbage") {
    Harness h;
    h.open();
    const Bytes junk{0, 0, 0, 3, 6, 0xc1, 0xc1};
    h.session.received(junk.data(), junk.size(), h.now);
    CHECK(h.session.close_reason());
    CHECK(h.session.stats().frame_errors[static_cast<std::size_t>(FrameError::not_msgpack)] == 1);
  }
}

TEST_CASE("ping gets a pong, keepalive pings when idle, silence for dead_after closes", "[remote][relay]") {
  Harness h;
  h.open();
  h.feed(Ping{123});
  auto sent = frames_of(h.session.take_writes());
  REQUIRE(sent.size() == 1);
  CHECK(std::get<Pong>(sent[0]).echo_us == 123);
  // Idle: a ping every keepalive (2 s) while the remote still sends something.
  int pings = 0;
  for (int i = 0; i < 200; ++i) {
    h.advance(50ms);
    for (const Frame& f : frames_of(h.session.take_writes())) {
      if (auto* p = std::get_if<Ping>(&f)) {
        ++pings;
        const Clock::time_point sent_at{std::chrono::microseconds(p->sent_us)};
        h.now = std::max(h.now, sent_at + 20ms);
        h.feed(Pong{p->sent_us});
        CHECK(h.session.rtt() >= 20ms);
        CHECK(h.session.rtt() <= 50ms);
      }
    }
  }
  CHECK(pings >= 4);
  CHECK(pings <= 5);
  CHECK_FALSE(h.session.close_reason());
  CHECK(h.session.last_contact() <= h.now);
  // Silence.
  const auto since = h.session.last_contact();
  while (!h.session.close_reason()) {
    h.advance(10ms);
    REQUIRE(h.now - since <= 6010ms);
  }
  CHECK(h.now - since >= 6000ms);
  CHECK(h.session.close_reason()->find("nothing received") != std::string::npos);
  CHECK_FALSE(h.session.open());
}

TEST_CASE("goodbye is an event and ends the session", "[remote][relay]") {
  Harness h;
  h.open();
  h.feed(Goodbye{});
  auto events = h.session.take_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == Kind::goodbye);
  CHECK(h.session.close_reason());
}

TEST_CASE("refuse() sends a refuse frame and closes (a revoked token)", "[remote][relay]") {
  Harness h;
  h.open();
  h.session.refuse("token revoked", false);
  auto sent = frames_of(h.session.take_writes());
  REQUIRE(sent.size() == 1);
  CHECK(std::get<Refuse>(sent[0]) == Refuse{"token revoked", false});
  REQUIRE(h.session.close_reason());
  CHECK_FALSE(h.session.open());
  h.session.refuse("again", false);
  CHECK(h.session.take_writes().empty());
}

TEST_CASE("broadcasts: foreign owners and entries the check refuses are removed and counted", "[remote][relay]") {
  Harness h;
  h.open();
  ReplicationMessage m{MKind::broadcast, "laptop", {}, {}, {}};
  m.entries = {entry("laptop", "node/laptop", 1), entry("lan-1", "node/lan-1", 5), entry("laptop", "svc/payments", 2),
               entry("laptop", "svc/dev-web", 3)};
  auto got = h.up(m);
  REQUIRE(got);
  CHECK(got->kind == MKind::broadcast);
  CHECK(got->entries == std::vector<ReplicaEntry>{entry("laptop", "node/laptop", 1), entry("laptop", "svc/dev-web", 3)});
  CHECK(h.refused(RelayRefusal::foreign_owner) == 1);
  CHECK(h.refused(RelayRefusal::not_allowed) == 1);
  CHECK(h.session.stats().entries_in == 2);
  CHECK_FALSE(h.session.close_reason());  // the session stays

  // Nothing refused: the message goes on as it came.
  ReplicationMessage ok{MKind::broadcast, "laptop", {entry("laptop", "svc/dev-api", 4)}, {}, {}};
  const Bytes bytes = hearsay::gossip::encode(ok);
  h.feed(ReplicationFrame{0, false, 0, bytes});
  auto events = h.session.take_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].replication.message == bytes);

  // All refused: no event at all.
  ReplicationMessage bad{MKind::broadcast, "laptop", {entry("other", "node/other", 1), entry("laptop", "kv/x", 6)}, {}, {}};
  CHECK_FALSE(h.up(bad));
  CHECK(h.refused(RelayRefusal::foreign_owner) == 2);
  CHECK(h.refused(RelayRefusal::not_allowed) == 2);
  CHECK(h.session.stats().entries_in == 3);
}

TEST_CASE("a sync request passes unchanged, a sync reply and undecodable messages are bad_message",
          "[remote][relay]") {
  Harness h;
  h.open();
  ReplicationMessage req{MKind::sync_request, "laptop", {}, {OwnerMark{"lan-1", 1, 9, 3}, OwnerMark{"laptop", 1, 4, 8}}, {}};
  const Bytes bytes = hearsay::gossip::encode(req);
  h.feed(ReplicationFrame{5, true, 0, bytes});
  auto events = h.session.take_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].replication == ReplicationFrame{5, true, 0, bytes});

  ReplicationMessage reply{MKind::sync_reply, "laptop", {}, {}, {}};
  CHECK_FALSE(h.up(reply, 0, false));
  CHECK(h.refused(RelayRefusal::bad_message) == 1);
  h.feed(ReplicationFrame{0, false, 0, Bytes{1, 2, 3}});
  CHECK(h.session.take_events().empty());
  CHECK(h.refused(RelayRefusal::bad_message) == 2);
  // A message that says it comes from another agent.
  ReplicationMessage lie{MKind::broadcast, "lan-1", {entry("laptop", "node/laptop", 1)}, {}, {}};
  CHECK_FALSE(h.up(lie));
  CHECK(h.refused(RelayRefusal::foreign_owner) == 1);
  CHECK_FALSE(h.session.close_reason());
}

TEST_CASE("pushes: other owners' blocks removed, entries of the remote's blocks checked", "[remote][relay]") {
  Harness h;
  h.open();
  ReplicationMessage push{MKind::push, "laptop", {}, {}, {}};
  push.blocks = {
      OwnerBlock{OwnerMark{"lan-1", 1, 5, 0}, false, {entry("lan-1", "node/lan-1", 5)}},
      OwnerBlock{OwnerMark{"laptop", 1, 6, 0}, true,
                 {entry("laptop", "node/laptop", 1), entry("laptop", "svc/payments", 2), entry("laptop", "svc/dev-a", 6)}},
      OwnerBlock{OwnerMark{"lan-2", 1, 1, 0}, true, {}},
  };
  auto got = h.up(push, 9, false);
  REQUIRE(got);
  CHECK(got->kind == MKind::push);
  REQUIRE(got->blocks.size() == 1);
  CHECK(got->blocks[0].mark == OwnerMark{"laptop", 1, 6, 0});
  CHECK(got->blocks[0].full);
  CHECK(got->blocks[0].entries == std::vector<ReplicaEntry>{entry("laptop", "node/laptop", 1), entry("laptop", "svc/dev-a", 6)});
  CHECK(h.refused(RelayRefusal::foreign_owner) == 2);
  CHECK(h.refused(RelayRefusal::not_allowed) == 1);
  CHECK(h.session.stats().entries_in == 2);
  // Only foreign blocks: no event.
  ReplicationMessage foreign{MKind::push, "laptop", {}, {}, {OwnerBlock{OwnerMark{"lan-1", 1, 5, 0}, false, {}}}};
  CHECK_FALSE(h.up(foreign));
  CHECK(h.refused(RelayRefusal::foreign_owner) == 3);
  for (std::size_t r = 0; r < kRelayRefusals; ++r) {
    CHECK(std::string(relay_refusal_name(static_cast<RelayRefusal>(r))) != "unknown");
  }
}

TEST_CASE("replication before the hello closes the session, send before it is refused", "[remote][relay]") {
  Harness h;
  CHECK_FALSE(h.session.send(ReplicationFrame{}));
  CHECK_FALSE(h.session.send_ack(Ack{}));
  h.feed(ReplicationFrame{});
  CHECK(h.session.close_reason());
  CHECK(h.session.take_events().empty());
}

TEST_CASE("counters: frames and bytes both ways", "[remote][relay]") {
  Harness h;
  h.open();
  h.feed(Ping{1});
  const auto& s = h.session.stats();
  CHECK(s.frames_in == 2);
  CHECK(s.frames_out == 2);
  CHECK(s.bytes_in == encode_frame(hello_of()).size() + encode_frame(Ping{1}).size());
  CHECK(s.bytes_out == encode_frame(Welcome{"relay-a", 77, 2000}).size() + encode_frame(Pong{1}).size());
}
