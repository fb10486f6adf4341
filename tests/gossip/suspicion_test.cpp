// Lifeguard's suspicion timeouts (memberlist's table) and the timers that confirmations shorten.
#include <catch2/catch.hpp>

#include <chrono>

#include "gossip/membership/suspicion.h"

using namespace hearsay::gossip;
using namespace std::chrono_literals;

TEST_CASE("Lifeguard timing formulas match memberlist", "[unit]") {
  // min = mult * max(1, log10 n) * interval: 4 s up to 10 members, 8 s at 100, 12 s at 1000.
  CHECK(suspicion_min_timeout(4, 1, 1000ms) == 4000ms);
  CHECK(suspicion_min_timeout(4, 10, 1000ms) == 4000ms);
  CHECK(suspicion_min_timeout(4, 100, 1000ms) == 8000ms);
  CHECK(suspicion_min_timeout(4, 1000, 1000ms) == 12000ms);
  // Confirmations shrink the timeout from max towards min, never below.
  CHECK(suspicion_timeout(0, 2, 4000ms, 24000ms) == 24000ms);
  CHECK(suspicion_timeout(1, 2, 4000ms, 24000ms) == 11381ms);
  CHECK(suspicion_timeout(2, 2, 4000ms, 24000ms) == 4000ms);
  CHECK(suspicion_timeout(5, 2, 4000ms, 24000ms) == 4000ms);
  CHECK(suspicion_timeout(3, 0, 4000ms, 24000ms) == 4000ms);
}

TEST_CASE("a suspicion timer starts at its maximum and each new accuser brings it nearer the minimum", "[unit]") {
  const MembershipConfig config;  // LAN: mult 4, max 6 x min, probe interval 1 s
  const Clock::time_point t0{};
  Suspicions timers;
  CHECK_FALSE(timers.next_deadline());
  timers.start(3, "a", 10, config, t0);  // k = 2 confirmations expected
  CHECK(timers.running(3));
  CHECK(timers.next_deadline() == t0 + 24s);
  CHECK_FALSE(timers.confirm(3, "a"));  // the first accuser again
  CHECK(timers.confirm(3, "b"));
  CHECK(timers.next_deadline() == t0 + 11381ms);
  CHECK(timers.confirm(3, "c"));
  CHECK(timers.next_deadline() == t0 + 4s);
  CHECK_FALSE(timers.confirm(3, "d"));  // k reached: neither counted nor worth passing on
  CHECK_FALSE(timers.confirm(4, "b"));  // no timer for that member
  // In a cluster too small for independent confirmations the timer runs at the minimum.
  timers.start(1, "a", 3, config, t0 + 1s);
  CHECK(timers.take_due(t0 + 3500ms).empty());  // member 3 is due at 4 s, member 1 at 5 s
  const auto due = timers.take_due(t0 + 5s);
  REQUIRE(due.size() == 2);
  CHECK(due[0] == std::pair<MemberTable::Id, Clock::time_point>{1, t0 + 1s});
  CHECK(due[1] == std::pair<MemberTable::Id, Clock::time_point>{3, t0});
  CHECK_FALSE(timers.running(3));
  CHECK_FALSE(timers.next_deadline());
}

TEST_CASE("suspicion timers follow their members when the member table is compacted", "[unit]") {
  const MembershipConfig config;
  const Clock::time_point t0{};
  Suspicions timers;
  timers.start(1, "a", 3, config, t0);
  timers.start(2, "a", 3, config, t0 + 1s);
  timers.renumber({0, MemberTable::npos, 1});  // member 1 reaped, member 2 is now 1
  CHECK(timers.running(1));
  CHECK_FALSE(timers.running(2));
  CHECK(timers.next_deadline() == t0 + 5s);
  timers.clear(1);
  CHECK_FALSE(timers.next_deadline());
}
