// Admission for every TCP listener (HTTP, DNS over TCP, gossip streams): a cap per client
// address per listener (Consul's limits.http_max_conns_per_client) and one total cap across
// listeners, kept below RLIMIT_NOFILE so a flood cannot take the descriptors SQLite, gossip
// and check runners need. Sans-I/O (the log throttle takes `now`); the listeners hold the tickets.
#pragma once

#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace hearsay::agent {

enum class Listener { http, dns, gossip };
constexpr std::size_t kListenerCount = 3;
const char* listener_name(Listener listener);

struct ListenerLimitStats {
  std::uint64_t accepted = 0;
  std::uint64_t refused_per_client = 0;  // the client address already held per_client
  std::uint64_t refused_total = 0;       // every listener together held max_total
  std::uint64_t open = 0;
};

struct ConnectionLimitsConfig {
  std::size_t max_total = 4096;
  // Per client address, per listener; 0 disables that cap.
  std::array<std::size_t, kListenerCount> per_client{200, 100, 128};
  // Refusals are logged at most once per interval, with the count since the last line.
  std::chrono::milliseconds log_interval{std::chrono::seconds(10)};
};

// The total cap the agent uses for a descriptor limit: a reserve stays free for the store,
// the UDP sockets, outgoing gossip streams, check runners and accept(2) itself, and past
// 16,384 connections memory, not descriptors, is what runs out.
std::size_t default_max_connections(std::uint64_t open_files_limit);

class ConnectionLimits {
 public:
  using Clock = std::chrono::steady_clock;
  explicit ConnectionLimits(ConnectionLimitsConfig config);

  // A ticket the connection keeps until it closes, or null: refuse (close) the connection.
  // The ticket stays valid after this object is gone.
  std::shared_ptr<void> admit(Listener listener, const sockaddr_storage& peer);

  // Lines to log for refusals not yet reported, once log_interval has passed since the last.
  std::vector<std::string> take_log_lines(Clock::time_point now);

  const ListenerLimitStats& stats(Listener listener) const;
  std::size_t open_total() const;
  // The most connections open at once since the last reset_peak(); lets the agent return
  // memory to the system after a burst has closed.
  std::size_t peak_open() const;
  void reset_peak();
  const ConnectionLimitsConfig& config() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace hearsay::agent
