// The remote side's link (remote/link.h), driven by hand: attempts and backoff over shuffled
// relays, the handshake, keepalive and RTT, death, stale attempts, and stop.
#include <catch2/catch.hpp>

#include <set>

#include "remote/link.h"
#include "hand_driven.h"

using namespace hearsay::remote;
using namespace std::chrono_literals;
using hearsay::remote::test::frames_of;
using Kind = LinkEvent::Kind;

namespace {

LinkConfig config(std::uint64_t seed = 1) {
  LinkConfig c;
  c.dead_after = std::chrono::milliseconds(6000);  // the figures the cases below count with
  c.handshake_timeout = std::chrono::milliseconds(5000);
  c.relays = {"r1:8302", "r2:8302", "r3:8302"};
  c.node = "laptop";
  c.node_id = "0b6f0a2e-1111-4222-8333-444455556666";
  c.token = "tok";
  c.started_us = 1234;
  c.seed = seed;
  return c;
}

struct Harness {
  Clock::time_point now = Clock::time_point{} + 1h;
  Link link;
  explicit Harness(LinkConfig c = config()) : link(std::move(c), now) {}

  void feed(std::uint64_t attempt, const Frame& f) {
    const Bytes b = encode_frame(f);
    link.received(attempt, b.data(), b.size(), now);
  }
  void advance(Duration d) { test::advance(link, now, d); }
  // start() or a tick: the next Connect, connected, hello checked, welcome fed.
  Link::Connect establish(std::uint64_t session = 7, std::uint32_t keepalive_ms = 2000) {
    auto c = link.take_connect();
    REQUIRE(c);
    link.connected(c->attempt, now);
    auto sent = frames_of(link.take_writes());
    REQUIRE(sent.size() == 1);
    REQUIRE(std::holds_alternative<Hello>(sent[0]));
    feed(c->attempt, Welcome{"relay-" + c->relay, session, keepalive_ms});
    REQUIRE(link.established());
    return *c;
  }
  std::vector<Kind> kinds() {
    std::vector<Kind> out;
    for (const LinkEvent& e : link.take_events()) out.push_back(e.kind);
    return out;
  }
  // Runs until the next Connect; the time it took.
  Duration until_connect(Duration limit = 60s) {
    const auto start = now;
    while (now - start <= limit) {
      link.tick(now);
      if (link.status().state == LinkState::connecting) {
        return std::chrono::duration_cast<Duration>(now - start);
      }
      const auto next = link.next_deadline();
      REQUIRE(next != Clock::time_point::max());
      now = std::max(now + 1ms, next);
    }
    FAIL("no attempt within the limit");
    return {};
  }
};

}  // namespace

TEST_CASE("the first attempt goes at once, to each relay in a shuffled order", "[remote][link]") {
  std::set<std::vector<std::string>> orders;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    Harness h(config(seed));
    CHECK(h.link.status().state == LinkState::idle);
    CHECK_FALSE(h.link.take_connect());
    h.link.start(h.now);
    std::vector<std::string> order;
    for (int i = 0; i < 6; ++i) {
      auto c = h.link.take_connect();
      REQUIRE(c);
      CHECK(h.link.status().state == LinkState::connecting);
      CHECK(h.link.status().relay == c->relay);
      order.push_back(c->relay);
      h.link.connect_failed(c->attempt, "refused", h.now);
      CHECK(h.link.status().state == LinkState::waiting);
      h.until_connect();
    }
    // The next relay at each attempt: all three, then the same order again.
    CHECK(std::set<std::string>(order.begin(), order.begin() + 3).size() == 3);
    CHECK(std::vector<std::string>(order.begin(), order.begin() + 3) ==
          std::vector<std::string>(order.begin() + 3, order.end()));
    orders.insert(std::vector<std::string>(order.begin(), order.begin() + 3));
  }
  CHECK(orders.size() > 1);  // shuffled, not the configured order every time
}

TEST_CASE("backoff: first retry within first_retry, doubling to max_backoff with jitter, reset by a session",
          "[remote][link]") {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    Harness h(config(seed));
    h.link.start(h.now);
    std::vector<Duration> waits;
    for (int i = 0; i < 10; ++i) {
      auto c = h.link.take_connect();
      REQUIRE(c);
      h.link.connect_failed(c->attempt, "no route", h.now);
      waits.push_back(h.until_connect());
    }
    CHECK(waits[0] <= 100ms);
    CHECK(waits[0] >= 50ms);
    for (std::size_t i = 0; i < waits.size(); ++i) {
      const Duration base = std::min<Duration>(100ms * (1 << i), 5000ms);
      INFO("attempt " << i << " waited " << waits[i].count());
      CHECK(waits[i] <= base);
      CHECK(waits[i] >= base / 2);
    }
    CHECK(waits.back() >= 2500ms);
    CHECK(h.link.status().attempts_failed == 10);
    CHECK(h.kinds() == std::vector<Kind>(10, Kind::attempt_failed));
    // An established session resets the backoff.
    auto c = h.establish();
    h.link.closed(c.attempt, "eof", h.now);
    CHECK(h.kinds() == std::vector<Kind>{Kind::established, Kind::lost});
    CHECK(h.until_connect() <= 100ms);
  }
}

TEST_CASE("hello carries the config, welcome establishes", "[remote][link]") {
  Harness h;
  h.link.start(h.now);
  auto c = h.link.take_connect();
  REQUIRE(c);
  CHECK(h.link.take_writes().empty());  // nothing before the connection is up
  h.link.connected(c->attempt, h.now);
  auto sent = frames_of(h.link.take_writes());
  REQUIRE(sent.size() == 1);
  const Hello& hello = std::get<Hello>(sent[0]);
  CHECK(hello.protocol == kProtocolVersion);
  CHECK(hello.node == "laptop");
  CHECK(hello.node_id == "0b6f0a2e-1111-4222-8333-444455556666");
  CHECK(hello.token == "tok");
  CHECK(hello.started_us == 1234);
  CHECK(hello.attempt == c->attempt);
  CHECK(h.link.status().state == LinkState::connecting);
  CHECK_FALSE(h.link.send(ReplicationFrame{}));  // not yet established
  h.feed(c->attempt, Welcome{"relay-a", 99, 2000});
  CHECK(h.link.established());
  auto events = h.link.take_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == Kind::established);
  CHECK(events[0].relay == "relay-a");  // the welcome's name; the address stays in status()
  CHECK(h.link.status().relay == c->relay);
  CHECK(h.link.status().relay_name == "relay-a");
  CHECK(events[0].session == 99);
  CHECK(h.link.status().session == 99);
  CHECK(h.link.status().sessions == 1);
  CHECK(h.link.status().reconnects == 0);
  CHECK(h.link.status().last_contact == h.now);
}

TEST_CASE("a refusal closes the attempt, one that says retrying cannot help waits max_backoff", "[remote][link]") {
  const bool retry = GENERATE(true, false);
  Harness h;
  h.link.start(h.now);
  auto c = h.link.take_connect();
  h.link.connected(c->attempt, h.now);
  h.link.take_writes();
  h.feed(c->attempt, Refuse{"unknown token", retry});
  auto events = h.link.take_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == Kind::refused);
  CHECK(events[0].reason.find("unknown token") != std::string::npos);
  CHECK(h.link.take_close());
  CHECK_FALSE(h.link.established());
  CHECK(h.link.status().last_error.find("unknown token") != std::string::npos);
  const Duration waited = h.until_connect();
  if (retry) CHECK(waited <= 100ms);
  else CHECK(waited == 5000ms);
}

TEST_CASE("keepalive: a ping every keepalive when idle, pong gives the RTT, pings answered", "[remote][link]") {
  Harness h;
  h.link.start(h.now);
  auto c = h.establish(7, 2000);
  h.link.take_writes();
  // Idle: the relay's own pings keep us alive; ours go every 2 s.
  std::vector<Clock::time_point> pings;
  for (int i = 0; i < 200; ++i) {
    h.advance(50ms);
    for (const Frame& f : frames_of(h.link.take_writes())) {
      if (auto* p = std::get_if<Ping>(&f)) {
        const Clock::time_point sent_at{std::chrono::microseconds(p->sent_us)};
        pings.push_back(sent_at);
        // Echoed 30 ms after it went (or at once, when that is past).
        h.now = std::max(h.now, sent_at + 30ms);
        h.feed(c.attempt, Pong{p->sent_us});
        CHECK(h.link.status().rtt >= 30ms);
        CHECK(h.link.status().rtt <= 50ms);
      }
    }
    if (i % 20 == 0) {
      h.feed(c.attempt, Ping{1});  // the relay's keepalive, answered at once
      auto answer = frames_of(h.link.take_writes());
      REQUIRE(answer.size() == 1);
      CHECK(std::get<Pong>(answer[0]).echo_us == 1);
    }
  }
  REQUIRE(pings.size() >= 4);
  for (std::size_t i = 1; i < pings.size(); ++i) {
    CHECK(pings[i] - pings[i - 1] >= 2000ms);
    CHECK(pings[i] - pings[i - 1] <= 2100ms);
  }
  CHECK(h.link.established());
  // Sending keeps us from pinging (the frames themselves keep the relay's side alive).
  h.link.take_writes();
  for (int i = 0; i < 10; ++i) {
    REQUIRE(h.link.send(ReplicationFrame{0, false, 0, Bytes{1}}));
    h.advance(500ms);
    h.feed(c.attempt, Pong{0});  // anything from the relay
  }
  int count = 0;
  for (const Frame& f : frames_of(h.link.take_writes())) count += std::holds_alternative<Ping>(f) ? 1 : 0;
  CHECK(count == 0);
  // ...unless what we wrote is stuck in the shell's queue.
  h.link.set_unsent_bytes(100000);
  for (int i = 0; i < 10; ++i) {
    REQUIRE(h.link.send(ReplicationFrame{0, false, 0, Bytes{1}}));
    h.advance(500ms);
    h.feed(c.attempt, Pong{0});
  }
  count = 0;
  for (const Frame& f : frames_of(h.link.take_writes())) count += std::holds_alternative<Ping>(f) ? 1 : 0;
  CHECK(count >= 2);
}

TEST_CASE("the keepalive of the welcome, when shorter, is the one used", "[remote][link]") {
  Harness h;
  h.link.start(h.now);
  h.establish(7, 500);
  h.link.take_writes();
  h.advance(600ms);
  auto sent = frames_of(h.link.take_writes());
  REQUIRE(sent.size() == 1);
  CHECK(std::holds_alternative<Ping>(sent[0]));
}

TEST_CASE("no frame for dead_after: lost, closed, not established, reconnect", "[remote][link]") {
  Harness h;
  h.link.start(h.now);
  auto c = h.establish();
  h.kinds();
  const auto since = h.now;
  // Pings go out, nothing comes back.
  while (h.link.established()) {
    h.advance(10ms);
    CHECK(h.now - since <= 6000ms);  // never established beyond dead_after without a frame
  }
  CHECK(h.now - since >= 6000ms);
  CHECK(h.kinds() == std::vector<Kind>{Kind::lost});
  CHECK(h.link.take_close());
  CHECK(h.link.status().state == LinkState::waiting);
  CHECK(h.link.status().session == 0);
  CHECK(h.link.status().last_error.find("nothing received") != std::string::npos);
  // Late bytes of the dead session are ignored.
  CHECK(h.link.take_writes().empty());
  h.feed(c.attempt, Ping{1});
  CHECK(h.link.take_writes().empty());
  CHECK(h.until_connect() <= 100ms);
  auto next = h.link.take_connect();
  REQUIRE(next);
  CHECK(next->attempt > c.attempt);
  CHECK(next->relay != c.relay);
}

TEST_CASE("handshake_timeout bounds connecting, with or without the TCP connection", "[remote][link]") {
  const bool connected = GENERATE(false, true);
  Harness h;
  h.link.start(h.now);
  auto c = h.link.take_connect();
  if (connected) h.link.connected(c->attempt, h.now);
  h.advance(4999ms);
  CHECK(h.link.status().state == LinkState::connecting);
  h.advance(1ms);
  CHECK(h.link.status().state == LinkState::waiting);
  CHECK(h.kinds() == std::vector<Kind>{Kind::attempt_failed});
  CHECK(h.link.take_close());
  CHECK(h.link.status().attempts_failed == 1);
  // The attempt took longer than the backoff: the next one goes at once, and again after the
  // next timeout, even once the backoff has grown to its cap.
  for (int i = 0; i < 6; ++i) {
    CHECK(h.until_connect() <= 1ms);
    auto next = h.link.take_connect();
    REQUIRE(next);
    h.advance(5000ms);
    CHECK(h.link.status().state == LinkState::waiting);
  }
}

TEST_CASE("events of stale attempts are ignored", "[remote][link]") {
  Harness h;
  h.link.start(h.now);
  auto first = h.link.take_connect();
  h.link.connect_failed(first->attempt, "timeout", h.now);
  h.until_connect();
  auto second = h.link.take_connect();
  REQUIRE(second->attempt != first->attempt);
  h.kinds();
  // The first attempt's connection shows up late: nothing happens.
  h.link.connected(first->attempt, h.now);
  CHECK(h.link.take_writes().empty());
  h.feed(first->attempt, Welcome{"r", 1, 2000});
  CHECK_FALSE(h.link.established());
  h.link.closed(first->attempt, "eof", h.now);
  h.link.connect_failed(first->attempt, "eof", h.now);
  CHECK(h.link.status().state == LinkState::connecting);
  CHECK(h.kinds().empty());
  // The current one works.
  h.link.connected(second->attempt, h.now);
  h.link.take_writes();
  h.feed(second->attempt, Welcome{"r", 2, 2000});
  CHECK(h.link.established());
  // A close reported twice counts once.
  h.link.closed(second->attempt, "eof", h.now);
  h.link.closed(second->attempt, "eof", h.now);
  CHECK(h.kinds() == std::vector<Kind>{Kind::established, Kind::lost});
}

TEST_CASE("replication frames and acks become events, send only when established", "[remote][link]") {
  Harness h;
  h.link.start(h.now);
  auto c = h.establish();
  h.kinds();
  h.link.take_writes();
  h.feed(c.attempt, ReplicationFrame{3, true, 0, Bytes{9, 9}});
  h.feed(c.attempt, Ack{1, 42});
  auto events = h.link.take_events();
  REQUIRE(events.size() == 2);
  CHECK(events[0].kind == Kind::replication);
  CHECK(events[0].replication == ReplicationFrame{3, true, 0, Bytes{9, 9}});
  CHECK(events[1].kind == Kind::ack);
  CHECK(events[1].ack == Ack{1, 42});
  CHECK(h.link.send(ReplicationFrame{0, false, 3, Bytes{1}}));
  auto sent = frames_of(h.link.take_writes());
  REQUIRE(sent.size() == 1);
  CHECK(std::get<ReplicationFrame>(sent[0]).reply_to == 3);
  const LinkStatus& s = h.link.status();
  CHECK(s.frames_in == 3);  // welcome, replication, ack
  CHECK(s.frames_out == 2);  // hello, replication
  CHECK(s.bytes_in == encode_frame(Welcome{"relay-" + c.relay, 7, 2000}).size() +
                          encode_frame(ReplicationFrame{3, true, 0, Bytes{9, 9}}).size() +
                          encode_frame(Ack{1, 42}).size());
  CHECK(s.bytes_out > 0);
  h.link.closed(c.attempt, "eof", h.now);
  CHECK_FALSE(h.link.send(ReplicationFrame{}));
}

TEST_CASE("a broken frame stream from the relay is counted and closes the attempt", "[remote][link]") {
  Harness h;
  h.link.start(h.now);
  auto c = h.establish();
  h.kinds();
  const Bytes garbage{0, 0, 0, 2, 77, 0};  // type 77
  h.link.received(c.attempt, garbage.data(), garbage.size(), h.now);
  CHECK(h.link.status().frame_errors[static_cast<std::size_t>(FrameError::unknown_type)] == 1);
  CHECK(h.kinds() == std::vector<Kind>{Kind::lost});
  CHECK(h.link.take_close());
  CHECK(h.link.status().state == LinkState::waiting);
}

TEST_CASE("frames a relay never sends, or before its welcome, close the attempt", "[remote][link]") {
  Harness h;
  h.link.start(h.now);
  auto c = h.link.take_connect();
  h.link.connected(c->attempt, h.now);
  h.feed(c->attempt, ReplicationFrame{});
  CHECK(h.kinds() == std::vector<Kind>{Kind::attempt_failed});
  CHECK(h.link.take_close());
  h.until_connect();
  auto second = h.establish();
  h.kinds();
  h.feed(second.attempt, Hello{});
  CHECK(h.kinds() == std::vector<Kind>{Kind::lost});
}

TEST_CASE("stop(goodbye) sends a goodbye when established and makes no more attempts", "[remote][link]") {
  Harness h;
  h.link.start(h.now);
  h.establish();
  h.link.take_writes();
  h.link.stop(true, h.now);
  auto sent = frames_of(h.link.take_writes());
  REQUIRE(sent.size() == 1);
  CHECK(std::holds_alternative<Goodbye>(sent[0]));
  CHECK(h.link.take_close());
  CHECK(h.link.status().state == LinkState::stopped);
  CHECK_FALSE(h.link.established());
  CHECK(h.link.next_deadline() == Clock::time_point::max());
  h.advance(60s);
  CHECK_FALSE(h.link.take_connect());
  CHECK_FALSE(h.link.send(ReplicationFrame{}));

  // While waiting, or without a goodbye: nothing sent, no more attempts.
  Harness w;
  w.link.start(w.now);
  auto c = w.link.take_connect();
  w.link.connect_failed(c->attempt, "x", w.now);
  w.link.stop(true, w.now);
  CHECK(w.link.take_writes().empty());
  w.advance(60s);
  CHECK_FALSE(w.link.take_connect());
}

TEST_CASE("no relay configured: no attempt, said in the status", "[remote][link]") {
  LinkConfig c = config();
  c.relays.clear();
  Harness h(c);
  h.link.start(h.now);
  CHECK_FALSE(h.link.take_connect());
  CHECK(h.link.status().state == LinkState::waiting);
  CHECK(h.link.next_deadline() == Clock::time_point::max());
  CHECK_FALSE(h.link.status().last_error.empty());
}
