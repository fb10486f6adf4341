// The propagation-lag rule (agent/propagation_lag.h): which replicated changes are timed, and how.
#include <catch2/catch.hpp>

#include "agent/propagation_lag.h"

using hearsay::agent::propagation_lag_of;
using hearsay::gossip::ReplicaChange;
using std::chrono::microseconds;

namespace {

ReplicaChange change(std::uint64_t version, bool broadcast, bool deleted = false) {
  ReplicaChange c;
  c.owner = "p1";
  c.key = "k";
  c.version = version;
  c.broadcast = broadcast;
  c.deleted = deleted;
  return c;
}

}  // namespace

TEST_CASE("propagation lag: a broadcast write is timed from its version to our wall clock", "[unit]") {
  CHECK(propagation_lag_of(change(1'000'000, true), 1'250'000) == microseconds{250'000});
  CHECK(propagation_lag_of(change(1'000'000, true, true), 1'000'100) == microseconds{100});  // a tombstone too
}

TEST_CASE("propagation lag: anti-entropy repairs and derived removals are not fresh news", "[unit]") {
  CHECK_FALSE(propagation_lag_of(change(1'000'000, false), 1'250'000));
  CHECK_FALSE(propagation_lag_of(change(1'000'000, false, true), 1'250'000));
}

TEST_CASE("propagation lag: an owner clock ahead of ours counts as no lag", "[unit]") {
  CHECK(propagation_lag_of(change(2'000'000, true), 1'000'000) == microseconds{0});
  CHECK(propagation_lag_of(change(1'000'000, true), 1'000'000) == microseconds{0});
  CHECK(propagation_lag_of(change(UINT64_MAX, true), 0) == microseconds{0});
}
