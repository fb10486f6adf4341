// A latency histogram with fixed buckets, as Prometheus histograms are exported (cumulative
// `le` buckets, _sum, _count). Every folder fills one (HTTP requests, DNS answers, gossip probe
// round trips, group commits), so it lives here, below all of them; it is plain data (no
// libuv, no clock: callers hand in a duration). Observing is a short scan and two adds: no lock
// (one loop thread) and no allocation, cheap enough for the HTTP read path.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace hearsay::loop {

class Histogram {
 public:
  // Upper bounds in nanoseconds, from 50 µs (an answer from the cache) to 10 s (a stalled
  // fsync); one more bucket (+Inf) holds the rest. Roughly 1-2.5-5 steps, as Prometheus' defaults.
  static constexpr std::array<std::uint64_t, 17> kBoundsNs = {
      50'000,      100'000,     250'000,       500'000,       1'000'000,     2'500'000,
      5'000'000,   10'000'000,  25'000'000,    50'000'000,    100'000'000,   250'000'000,
      500'000'000, 1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};
  static constexpr std::size_t kBuckets = kBoundsNs.size() + 1;

  void observe_ns(std::uint64_t ns) {
    std::size_t i = 0;
    while (i < kBoundsNs.size() && ns > kBoundsNs[i]) ++i;
    ++counts_[i];
    sum_ns_ += ns;
  }
  void observe(std::chrono::nanoseconds d) { observe_ns(d.count() < 0 ? 0 : static_cast<std::uint64_t>(d.count())); }

  // Observations in bucket i alone (not cumulative); i == kBoundsNs.size() is +Inf.
  std::uint64_t bucket(std::size_t i) const { return counts_[i]; }
  std::uint64_t count() const {
    std::uint64_t n = 0;
    for (std::uint64_t c : counts_) n += c;
    return n;
  }
  std::uint64_t sum_ns() const { return sum_ns_; }

 private:
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t sum_ns_ = 0;
};

}  // namespace hearsay::loop
