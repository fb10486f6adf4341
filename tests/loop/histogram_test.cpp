// loop::Histogram: each observation lands in the first bucket whose bound holds it.
#include <catch2/catch.hpp>

#include "loop/histogram.h"

using hearsay::loop::Histogram;

TEST_CASE("a histogram puts each observation in the first bucket that holds it", "[unit]") {
  Histogram h;
  h.observe_ns(0);
  h.observe_ns(50'000);   // on the bound: that bucket (Prometheus' le is <=)
  h.observe_ns(50'001);   // just above: the next
  h.observe(std::chrono::seconds(11));
  h.observe(std::chrono::nanoseconds(-5));  // a clock that went back counts as 0
  CHECK(h.bucket(0) == 3);
  CHECK(h.bucket(1) == 1);
  CHECK(h.bucket(Histogram::kBuckets - 1) == 1);
  CHECK(h.count() == 5);
  CHECK(h.sum_ns() == 50'000 + 50'001 + 11'000'000'000ULL);
}
