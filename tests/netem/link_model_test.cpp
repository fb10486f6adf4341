// The link emulator's model without TUN devices: order, delay, jitter, rate, queue, loss, cut
// and the memory bound, on a hand-driven clock.
#include "tests/netem/link_model.h"

#include <catch2/catch.hpp>

using namespace hearsay::netem;
using namespace std::chrono_literals;

namespace {

std::vector<uint8_t> packet(uint8_t tag, std::size_t size = 100) { return std::vector<uint8_t>(size, tag); }

// Delivers everything due by `now`, returning the first byte (the tag) of each packet.
std::vector<uint8_t> drain(Direction& dir, Clock::time_point now) {
  std::vector<uint8_t> tags;
  dir.deliver_due(now, 100000, [&](const std::vector<uint8_t>& p) { tags.push_back(p[0]); });
  return tags;
}

}  // namespace

TEST_CASE("netem: a packet is delivered after the delay, not before", "[unit]") {
  Direction dir(1);
  dir.configure(Impairment{.delay = 50ms});
  Clock::time_point t0{};
  dir.arrive(packet(7), t0);
  REQUIRE(dir.next_due() == t0 + 50ms);
  CHECK(drain(dir, t0 + 49ms).empty());
  CHECK(drain(dir, t0 + 50ms) == std::vector<uint8_t>{7});
  CHECK(dir.counters().delivered == 1);
  CHECK(!dir.next_due());
}

TEST_CASE("netem: without jitter the order is kept, also after the delay is lowered", "[unit]") {
  Direction dir(1);
  Clock::time_point t0{};
  dir.configure(Impairment{.delay = 100ms});
  dir.arrive(packet(1), t0);
  dir.configure(Impairment{.delay = 10ms});
  dir.arrive(packet(2), t0 + 1ms);
  CHECK(drain(dir, t0 + 200ms) == std::vector<uint8_t>{1, 2});
}

TEST_CASE("netem: jitter spreads the delay within its bounds", "[unit]") {
  Direction dir(3);
  dir.configure(Impairment{.delay = 50ms, .jitter = 20ms});
  Clock::time_point t0{};
  Clock::duration lo = 1h, hi{};
  for (int i = 0; i < 1000; ++i) {
    dir.arrive(packet(1), t0);
    auto due = *dir.next_due() - t0;  // only one packet in flight at a time
    lo = std::min(lo, due);
    hi = std::max(hi, due);
    CHECK(drain(dir, t0 + 1s).size() == 1);
  }
  CHECK(lo >= 30ms);
  CHECK(hi <= 70ms);
  CHECK(hi - lo > 30ms);  // 1000 uniform draws cover most of the 40 ms range
}

TEST_CASE("netem: the rate limit paces packets and tail-drops past its queue", "[unit]") {
  Direction dir(1);
  dir.configure(Impairment{.rate = 100'000, .queue = 1000});  // 1000 bytes take 10 ms on the wire
  Clock::time_point t0{};
  for (uint8_t i = 0; i < 5; ++i) dir.arrive(packet(i, 400), t0);
  // 400 B leaves after 4 ms; the second waits 4 ms (400 queued) + 4 ms; the third would make
  // 800 + 400 > 1000 queued bytes: dropped, and so are the rest.
  CHECK(dir.counters().queue_full == 3);
  CHECK(drain(dir, t0 + 3ms).empty());
  CHECK(drain(dir, t0 + 4ms) == std::vector<uint8_t>{0});
  CHECK(drain(dir, t0 + 8ms) == std::vector<uint8_t>{1});
  // Once the wire is idle again the full queue is available.
  dir.arrive(packet(9, 1000), t0 + 100ms);
  CHECK(drain(dir, t0 + 110ms) == std::vector<uint8_t>{9});
}

TEST_CASE("netem: loss drops the configured share, reproducibly for a seed", "[unit]") {
  auto lost = [](uint64_t seed) {
    Direction dir(seed);
    dir.configure(Impairment{.loss = 0.3});
    for (int i = 0; i < 10000; ++i) dir.arrive(packet(1), Clock::time_point{});
    return dir.counters().lost;
  };
  CHECK(lost(5) == lost(5));
  CHECK(lost(5) > 2800);
  CHECK(lost(5) < 3200);
}

TEST_CASE("netem: cut drops new packets and those in flight, and lifting it restores delivery", "[unit]") {
  Direction dir(1);
  Clock::time_point t0{};
  dir.configure(Impairment{.delay = 10ms});
  dir.arrive(packet(1), t0);
  dir.configure(Impairment{.delay = 10ms, .cut = true});
  dir.arrive(packet(2), t0);
  CHECK(drain(dir, t0 + 20ms).empty());
  CHECK(dir.counters().cut == 2);
  dir.configure(Impairment{.delay = 10ms});
  dir.arrive(packet(3), t0 + 20ms);
  CHECK(drain(dir, t0 + 30ms) == std::vector<uint8_t>{3});
}

TEST_CASE("netem: memory in flight is bounded", "[unit]") {
  Direction dir(1);
  dir.configure(Impairment{.delay = 10s});
  for (int i = 0; i < 1000; ++i) dir.arrive(packet(1, 60000), Clock::time_point{});
  CHECK(dir.in_flight_bytes() <= Direction::kMaxInFlightBytes);
  CHECK(dir.counters().overflow > 0);
}
