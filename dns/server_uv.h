// The DNS listeners on libuv: UDP datagrams and TCP connections with 2-byte length framing
// (RFC 1035 4.2.2), both answered through answer_query(). Bad input is counted in DnsStats.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>

#include "dns/forwarder_uv.h"
#include "dns/udp_listener_uv.h"
#include "dns/packet.h"
#include "dns/resolver.h"
#include "loop/histogram.h"
#include "loop/listener.h"

namespace hearsay::dns {

class Server {
 public:
  // With recursors, names outside the domain are forwarded to them (ServeConfig's
  // recursion_available is then set); without, they are REFUSED.
  Server(uv_loop_t* loop, const Resolver& resolver, ServeConfig config, std::vector<sockaddr_storage> recursors = {},
         std::chrono::milliseconds recursor_timeout = std::chrono::seconds(2));
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds UDP and TCP on the same address and port; 0 or a libuv error code.
  int listen(const std::string& host, int port);
  int bound_port() const { return port_; }
  void close();
  // A config reload: `config` from now on (recursion stays as the recursors set it), and the
  // cached answers go, since the resolver's config changed with it.
  void reconfigure(ServeConfig config);

  const DnsStats& stats() const { return stats_; }
  // From a query's bytes to its answer's (forwarded queries are not counted: their time is
  // the recursor's).
  const loop::Histogram& answer_latency() const { return answer_latency_; }

  // Asked once per TCP connection with the client's address: a ticket the connection keeps
  // until it closes, or null to refuse (close) it. Unset: every connection is admitted.
  using Admission = std::function<std::shared_ptr<void>(const sockaddr_storage& peer)>;
  void set_admission(Admission admit) { admit_ = std::move(admit); }
  // TCP connections refused by the admission check, and reads paused because the client did
  // not take its answers.
  std::uint64_t tcp_refused() const { return tcp_refused_; }
  std::uint64_t tcp_output_pauses() const { return tcp_output_pauses_; }
  std::size_t tcp_connection_count() const { return connections_.size(); }
  // Exceptions caught in the TCP connections' libuv callbacks.
  std::uint64_t tcp_callback_errors() const { return tcp_callback_errors_; }

 private:
  class TcpConnection;
  QueryOutcome answer(const std::uint8_t* data, std::size_t size, bool tcp);
  std::shared_ptr<const PreparedAnswer> prepare(const Question& question);
  void on_udp(const std::uint8_t* data, std::size_t size, const sockaddr_storage& from);
  // Forwards to the recursors; `deliver` gets their reply, or SERVFAIL when none answered.
  void forward(const std::uint8_t* query, std::size_t size, std::function<void(std::vector<std::uint8_t>)> deliver);
  void accepted(std::shared_ptr<loop::Connection> connection, std::shared_ptr<void> ticket);

  uv_loop_t* loop_;
  const Resolver& resolver_;
  ServeConfig config_;
  std::mt19937_64 rng_;
  UdpListener udp_;
  std::unique_ptr<loop::Listener> tcp_;
  int port_ = 0;
  std::set<std::shared_ptr<TcpConnection>> connections_;
  Admission admit_;
  std::uint64_t tcp_refused_ = 0, tcp_output_pauses_ = 0, tcp_callback_errors_ = 0;
  DnsStats stats_;
  loop::Histogram answer_latency_;
  std::unique_ptr<Forwarder> forwarder_;
  AnswerCache cache_;
  PrepareFn prepare_fn_;
  std::string cache_key_;  // reused buffer
};

}  // namespace hearsay::dns
