// Lifeguard's suspicion timeout and its confirmations: memberlist's suspicion.go and
// suspicionTimeout (util.go), restated in memberlist-wire.md 7.3.
#include "gossip/membership/suspicion.h"

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

bool Suspicion::confirm(const std::string& accuser) {
  // As memberlist's suspicion.Confirm: once k confirmations are in, the timeout is at its
  // minimum and further ones are neither counted nor passed on. Without that cap every member
  // of a large cluster would re-gossip the suspicion once per accuser.
  const std::size_t confirmations = accusers.size() - 1;
  if (confirmations >= k) return false;
  if (std::find(accusers.begin(), accusers.end(), accuser) != accusers.end()) return false;
  accusers.push_back(accuser);
  fires_at = start + suspicion_timeout(confirmations + 1, k, min, max);
  return true;
}

void Suspicions::start(MemberTable::Id id, const std::string& accuser, std::size_t members,
                       const MembershipConfig& config, Clock::time_point now) {
  std::size_t k = config.suspicion_mult > 2 ? config.suspicion_mult - 2 : 0;
  if (members < k + 2) k = 0;  // too few members to expect independent confirmations
  Suspicion timer;
  timer.accusers.push_back(accuser);
  timer.k = k;
  timer.min = suspicion_min_timeout(config.suspicion_mult, members, config.probe_interval);
  timer.max = timer.min * config.suspicion_max_timeout_mult;
  timer.start = now;
  timer.fires_at = now + (k == 0 ? timer.min : timer.max);
  note_deadline(timer.fires_at);
  timers_[id] = std::move(timer);
}

bool Suspicions::confirm(MemberTable::Id id, const std::string& accuser) {
  auto it = timers_.find(id);
  if (it == timers_.end() || !it->second.confirm(accuser)) return false;
  note_deadline(it->second.fires_at);
  return true;
}

void Suspicions::clear(MemberTable::Id id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  if (next_ && it->second.fires_at <= *next_) next_.reset();  // recomputed when asked
  timers_.erase(it);
}

std::vector<std::pair<MemberTable::Id, Clock::time_point>> Suspicions::take_due(Clock::time_point now) {
  std::vector<std::pair<MemberTable::Id, Clock::time_point>> due;
  const auto first = next_deadline();
  if (!first || now < *first) return due;
  for (const auto& [id, s] : timers_) {
    if (now >= s.fires_at) due.emplace_back(id, s.start);
  }
  for (const auto& [id, started] : due) clear(id);
  return due;
}

void Suspicions::note_deadline(Clock::time_point fires_at) {
  // A deadline only moves earlier here (a new timer, or a confirmation), so the known minimum
  // stays right; an unknown one is recomputed when asked.
  if (next_) next_ = std::min(*next_, fires_at);
}

std::optional<Clock::time_point> Suspicions::next_deadline() const {
  if (timers_.empty()) return std::nullopt;
  if (!next_) {
    Clock::time_point first = Clock::time_point::max();
    for (const auto& [id, s] : timers_) first = std::min(first, s.fires_at);
    next_ = first;
  }
  return next_;
}

void Suspicions::renumber(const std::vector<MemberTable::Id>& new_ids) {
  std::map<MemberTable::Id, Suspicion> moved;
  for (auto& [id, s] : timers_) {
    if (new_ids[id] != MemberTable::npos) moved.emplace(new_ids[id], std::move(s));
  }
  timers_ = std::move(moved);
  next_.reset();
}

}  // namespace hearsay::gossip
