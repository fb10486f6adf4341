#include "gossip/config.h"

#include <algorithm>
#include <cmath>

namespace hearsay::gossip {

Duration suspicion_min_timeout(unsigned mult, std::size_t n, Duration probe_interval) {
  const double node_scale = std::max(1.0, std::log10(std::max<double>(1.0, static_cast<double>(n))));
  // As memberlist: the scale is truncated to thousandths before multiplying.
  return Duration(static_cast<std::int64_t>(mult) * static_cast<std::int64_t>(node_scale * 1000.0) *
                  probe_interval.count() / 1000);
}

Duration suspicion_timeout(std::size_t confirmations, std::size_t k, Duration min, Duration max) {
  if (k == 0) return min;
  const double frac = std::log(static_cast<double>(confirmations) + 1.0) / std::log(static_cast<double>(k) + 1.0);
  const double raw = static_cast<double>(max.count()) - frac * static_cast<double>((max - min).count());
  return std::max(min, Duration(static_cast<std::int64_t>(std::floor(raw))));
}

std::size_t retransmit_limit(unsigned mult, std::size_t n) {
  const auto scale = static_cast<std::size_t>(std::ceil(std::log10(static_cast<double>(n) + 1.0)));
  return mult * scale;
}

Duration push_pull_scale(Duration interval, std::size_t n) {
  constexpr std::size_t kThreshold = 32;
  if (n <= kThreshold) return interval;
  const auto multiplier = static_cast<std::int64_t>(std::ceil(std::log2(static_cast<double>(n)) - std::log2(kThreshold))) + 1;
  return interval * multiplier;
}

}  // namespace hearsay::gossip
