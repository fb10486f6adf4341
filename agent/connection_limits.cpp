// Counts live in a shared State so a ticket released after the agent's teardown (a close
// callback run by the destructor's last uv_run) still has something to decrement.
#include "agent/connection_limits.h"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <optional>

namespace hearsay::agent {
namespace {

// The client's address without its port: IPv4 4 bytes, IPv6 16; the key of the per-client count.
std::string address_key(const sockaddr_storage& peer) {
  if (peer.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(peer);
    return std::string(reinterpret_cast<const char*>(&in.sin_addr), 4);
  }
  if (peer.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(peer);
    return std::string(reinterpret_cast<const char*>(&in6.sin6_addr), 16);
  }
  return {};
}

}  // namespace

const char* listener_name(Listener listener) {
  switch (listener) {
    case Listener::http: return "http";
    case Listener::dns: return "dns";
    case Listener::gossip: return "gossip";
  }
  return "?";
}

std::size_t default_max_connections(std::uint64_t open_files_limit) {
  const std::uint64_t reserve = std::max<std::uint64_t>(128, open_files_limit / 8);
  if (open_files_limit <= reserve + 64) return 64;  // a tiny limit still serves someone
  return static_cast<std::size_t>(std::min<std::uint64_t>(open_files_limit - reserve, 16384));
}

struct ConnectionLimits::State {
  ConnectionLimitsConfig config;
  std::size_t open = 0;
  std::size_t peak = 0;
  std::array<ListenerLimitStats, kListenerCount> stats{};
  std::array<std::map<std::string, std::size_t>, kListenerCount> per_client;
  // Refusals not yet logged, per listener, and when the last line went out.
  std::array<std::uint64_t, kListenerCount> unlogged_per_client{}, unlogged_total{};
  std::optional<Clock::time_point> last_log;
};

ConnectionLimits::ConnectionLimits(ConnectionLimitsConfig config) : state_(std::make_shared<State>()) {
  state_->config = config;
}

std::shared_ptr<void> ConnectionLimits::admit(Listener listener, const sockaddr_storage& peer) {
  State& s = *state_;
  const auto i = static_cast<std::size_t>(listener);
  if (s.open >= s.config.max_total) {
    ++s.stats[i].refused_total;
    ++s.unlogged_total[i];
    return nullptr;
  }
  std::string key = address_key(peer);
  const std::size_t cap = s.config.per_client[i];
  auto& counts = s.per_client[i];
  auto it = counts.find(key);
  if (cap != 0 && it != counts.end() && it->second >= cap) {
    ++s.stats[i].refused_per_client;
    ++s.unlogged_per_client[i];
    return nullptr;
  }
  if (it == counts.end()) it = counts.emplace(std::move(key), 0).first;
  ++it->second;
  ++s.open;
  s.peak = std::max(s.peak, s.open);
  ++s.stats[i].accepted;
  ++s.stats[i].open;
  // The ticket: a pointer to nothing in particular (non-null, so it tests true) whose deleter
  // gives the slot back.
  static char ticket_target;
  std::weak_ptr<State> weak = state_;
  return std::shared_ptr<void>(&ticket_target, [weak, i, key = it->first](void*) {
    auto st = weak.lock();
    if (!st) return;
    --st->open;
    --st->stats[i].open;
    auto found = st->per_client[i].find(key);
    if (found != st->per_client[i].end() && --found->second == 0) st->per_client[i].erase(found);
  });
}

std::vector<std::string> ConnectionLimits::take_log_lines(Clock::time_point now) {
  State& s = *state_;
  std::vector<std::string> lines;
  if (s.last_log && now - *s.last_log < s.config.log_interval) return lines;
  for (std::size_t i = 0; i < kListenerCount; ++i) {
    const char* name = listener_name(static_cast<Listener>(i));
    if (s.unlogged_per_client[i] != 0) {
      lines.push_back(std::string(name) + ": refused " + std::to_string(s.unlogged_per_client[i]) +
                      " connection(s): the client address already had " + std::to_string(s.config.per_client[i]) +
                      " open (per-client limit)");
    }
    if (s.unlogged_total[i] != 0) {
      lines.push_back(std::string(name) + ": refused " + std::to_string(s.unlogged_total[i]) +
                      " connection(s): " + std::to_string(s.config.max_total) +
                      " connections open in total (limits.max_connections)");
    }
    s.unlogged_per_client[i] = s.unlogged_total[i] = 0;
  }
  if (!lines.empty()) s.last_log = now;
  return lines;
}

const ListenerLimitStats& ConnectionLimits::stats(Listener listener) const {
  return state_->stats[static_cast<std::size_t>(listener)];
}
std::size_t ConnectionLimits::open_total() const { return state_->open; }
std::size_t ConnectionLimits::peak_open() const { return state_->peak; }
void ConnectionLimits::reset_peak() { state_->peak = state_->open; }
const ConnectionLimitsConfig& ConnectionLimits::config() const { return state_->config; }

}  // namespace hearsay::agent
