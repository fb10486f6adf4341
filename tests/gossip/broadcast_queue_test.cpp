// The broadcast queue's order and limits (memberlist's TransmitLimitedQueue, as hearsay
// orders it: least transmitted first, newest first among equals).
#include <catch2/catch.hpp>

#include "gossip/membership/broadcast_queue.h"

using namespace hearsay::gossip;

namespace {

// A message of `size` bytes whose first byte names it.
Bytes message(std::uint8_t name, std::size_t size = 20) {
  Bytes b(size, 0);
  b[0] = name;
  return b;
}

std::vector<std::uint8_t> names(const std::vector<BroadcastQueue::Shared>& taken) {
  std::vector<std::uint8_t> out;
  for (const auto& m : taken) out.push_back((*m)[0]);
  return out;
}

}  // namespace

TEST_CASE("broadcasts go least transmitted first, newest first among equals", "[unit]") {
  BroadcastQueue q;
  q.push("a", message(1));
  q.push("b", message(2));
  // Room for one message (20 bytes + 2 overhead) at a time.
  CHECK(names(q.take(22, 2, 10)) == std::vector<std::uint8_t>{2});
  CHECK(names(q.take(22, 2, 10)) == std::vector<std::uint8_t>{1});
  q.push("c", message(3));
  CHECK(names(q.take(22, 2, 10)) == std::vector<std::uint8_t>{3});
  // All sent once now: newest first again.
  CHECK(names(q.take(100, 2, 10)) == std::vector<std::uint8_t>{3, 2, 1});
  CHECK(q.size() == 3);
}

TEST_CASE("a broadcast leaves the queue after `limit` transmissions", "[unit]") {
  BroadcastQueue q;
  q.push("a", message(1));
  for (int i = 0; i < 3; ++i) CHECK(names(q.take(100, 2, 3)) == std::vector<std::uint8_t>{1});
  CHECK(q.size() == 0);
  CHECK(q.take(100, 2, 3).empty());
}

TEST_CASE("a newer broadcast about a node replaces the queued one", "[unit]") {
  BroadcastQueue q;
  q.push("a", message(1));
  q.push("b", message(2));
  CHECK(names(q.take(100, 2, 10)) == std::vector<std::uint8_t>{2, 1});
  q.push("a", message(3));  // replaces 1, which had been sent once
  q.push("", message(4));   // about nobody: replaces nothing
  q.push("", message(5));
  CHECK(q.size() == 4);
  CHECK(names(q.take(1000, 2, 10)) == std::vector<std::uint8_t>{5, 4, 3, 2});
  // Many replacements leave no trace.
  for (std::uint8_t i = 0; i < 200; ++i) q.push("a", message(i));
  CHECK(q.size() == 4);
  CHECK(names(q.take(1000, 2, 10)) == std::vector<std::uint8_t>{199, 5, 4, 2});
}

TEST_CASE("what does not fit waits, and the rest of the room is still filled", "[unit]") {
  BroadcastQueue q;
  q.push("a", message(1, 10));
  q.push("b", message(2, 50));
  q.push("c", message(3, 10));
  // 40 bytes: 3 (12), not 2 (52), 1 (12).
  CHECK(names(q.take(40, 2, 10)) == std::vector<std::uint8_t>{3, 1});
  CHECK(names(q.take(60, 2, 10)) == std::vector<std::uint8_t>{2});
  CHECK(q.size() == 3);
}

TEST_CASE("prune drops the most sent, oldest first, and forgets their nodes", "[unit]") {
  BroadcastQueue q;
  q.push("a", message(1));
  q.push("b", message(2));
  q.take(22, 2, 10);  // b (newest) sent once
  q.push("c", message(3));
  q.push("d", message(4));
  q.push("c", message(5));  // replaces 3: a stale entry stays behind
  CHECK(q.size() == 4);
  CHECK(q.prune(2) == 2);  // b (sent once), then a (the oldest unsent)
  CHECK(q.size() == 2);
  CHECK(names(q.take(1000, 2, 10)) == std::vector<std::uint8_t>{5, 4});
  q.push("a", message(6));  // a's claim went with the pruned item
  CHECK(q.size() == 3);
  CHECK(q.prune(5) == 0);
}
