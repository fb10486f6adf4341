// CheckThresholds (agent/checks/check_thresholds.h): Consul's SuccessBeforePassing,
// FailuresBeforeWarning and FailuresBeforeCritical, run by run.
#include <catch2/catch.hpp>

#include <vector>

#include "agent/checks/check_thresholds.h"

using hearsay::agent::checks::CheckThresholds;
using hearsay::catalog::HealthStatus;
using Reported = std::optional<HealthStatus>;

namespace {

constexpr auto P = HealthStatus::passing;
constexpr auto W = HealthStatus::warning;
constexpr auto C = HealthStatus::critical;

// What the check shows after each run, starting from `shown`.
std::vector<HealthStatus> run(CheckThresholds t, HealthStatus shown, const std::vector<HealthStatus>& results) {
  std::vector<HealthStatus> out;
  for (HealthStatus r : results) {
    if (Reported s = t.on_result(r)) shown = *s;
    out.push_back(shown);
  }
  return out;
}

}  // namespace

TEST_CASE("check thresholds: all 0 (Consul's default) report every result at once", "[unit]") {
  CHECK(run(CheckThresholds(0, 0, 0), C, {P, C, W, P, C}) == std::vector{P, C, W, P, C});
}

TEST_CASE("check thresholds: critical only after FailuresBeforeCritical failures in a row", "[unit]") {
  // The first result counts at once (Consul's counters start at their thresholds).
  CHECK(run(CheckThresholds(0, 0, 3), C, {P, C, C, C, C}) == std::vector{P, P, P, C, C});
  // A success in between starts the count again.
  CHECK(run(CheckThresholds(0, 0, 3), C, {P, C, C, P, C, C, C}) == std::vector{P, P, P, P, P, P, C});
}

TEST_CASE("check thresholds: warning after FailuresBeforeWarning, critical after FailuresBeforeCritical", "[unit]") {
  CHECK(run(CheckThresholds(0, 1, 3), C, {P, C, C, C}) == std::vector{P, W, W, C});
  CHECK(run(CheckThresholds(0, 2, 4), C, {P, C, C, C, C, P}) == std::vector{P, P, W, W, C, P});
}

TEST_CASE("check thresholds: passing only after SuccessBeforePassing successes in a row", "[unit]") {
  CHECK(run(CheckThresholds(3, 0, 0), C, {C, P, P, P, P}) == std::vector{C, C, C, P, P});
  CHECK(run(CheckThresholds(2, 0, 0), C, {C, P, C, P, P}) == std::vector{C, C, C, C, P});
  // A warning result is a success: it counts, and shows as warning once the count is reached.
  CHECK(run(CheckThresholds(2, 0, 0), C, {C, W, W, P}) == std::vector{C, C, W, P});
}

TEST_CASE("check thresholds: the first result after a start is reported whatever it is", "[unit]") {
  CHECK(CheckThresholds(5, 0, 5).on_result(P) == Reported{P});
  CHECK(CheckThresholds(5, 0, 5).on_result(C) == Reported{C});
}

TEST_CASE("check thresholds: a long run of one result does not overflow the count", "[unit]") {
  CheckThresholds t(2, 0, 2);
  for (int i = 0; i < 100000; ++i) REQUIRE(t.on_result(P) == Reported{P});
  CHECK_FALSE(t.on_result(C));
  CHECK(t.on_result(C) == Reported{C});
}
