// Forwards queries for names outside our domain to upstream recursors over UDP, one at a time
// in the configured order (Consul's "sequential" strategy): each gets `timeout`, then the next
// is tried; when none answers the caller gets nullopt and replies SERVFAIL. The query goes out
// with a fresh random ID (so replies cannot be spoofed by guessing the client's ID) and the
// reply comes back with the client's ID restored.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace hearsay::dns {

// "10.0.0.1", "10.0.0.1:5353", "::1", "[::1]:5353" -> a socket address (port 53 by default).
std::optional<sockaddr_storage> parse_recursor(const std::string& text);

class Forwarder {
 public:
  using Done = std::function<void(std::optional<std::vector<std::uint8_t>> reply)>;

  Forwarder(uv_loop_t* loop, std::vector<sockaddr_storage> recursors, std::chrono::milliseconds timeout);
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // Sends `query` upstream; `done` runs exactly once, on the loop thread (not from inside this
  // call), unless close() came first.
  void forward(std::vector<std::uint8_t> query, Done done);
  void close();

  std::size_t pending() const { return pending_.size(); }

 private:
  struct Pending;
  struct Socket;
  void send_to_current(Pending& p);
  void on_reply(const std::uint8_t* data, std::size_t size, const sockaddr* from);
  void on_timeout(std::uint16_t id);
  void finish(std::uint16_t id, std::optional<std::vector<std::uint8_t>> reply);
  Socket* socket_for(int family);

  uv_loop_t* loop_;
  std::vector<sockaddr_storage> recursors_;
  std::chrono::milliseconds timeout_;
  std::mt19937 rng_;
  std::vector<std::unique_ptr<Socket>> sockets_;  // one per address family in use
  std::map<std::uint16_t, std::unique_ptr<Pending>> pending_;  // by upstream ID
  bool closed_ = false;
};

}  // namespace hearsay::dns
