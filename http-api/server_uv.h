// The HTTP/1.1 server shell on libuv: accepts connections, feeds bytes to RequestParser, hands
// each complete request to the handler with a Responder, writes responses in order. Responses
// may come later (blocking queries wait for minutes): a Responder is a handle that outlives the
// call and becomes a no-op once its connection is gone. One request in flight per connection.
#pragma once

#include <uv.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "http-api/endpoint_group.h"
#include "http-api/request.h"
#include "http-api/request_parser.h"
#include "http-api/responder.h"
#include "loop/histogram.h"
#include "loop/listener.h"
#include "loop/tls_context.h"

namespace hearsay::http {

struct ServerConfig {
  ParserLimits limits;
  // A connection with no request in flight for this long is closed (a parked blocking query
  // is in flight, so it is not cut).
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(90)};
  std::size_t max_connections = 4096;
  // Output backpressure: while more than this many bytes of a connection's answers are in
  // writes not yet completed (the client does not read), its next pipelined request waits
  // unparsed, so a client that never reads costs about this much (plus the kernel's socket
  // buffer), not one answer per request it sent.
  std::size_t max_unsent_output = 64 * 1024;
  // Asked once per accepted connection with the client's address: a ticket the connection
  // keeps until it closes, or null to refuse it (answered 429 if the socket takes it at once,
  // then closed, as Consul's connection limit does). Unset: every connection is admitted.
  std::function<std::shared_ptr<void>(const sockaddr_storage& peer)> admit;
  // HTTPS: every connection speaks TLS with this server context (client certificates when it
  // verifies incoming ones); null: plain HTTP. set_tls() swaps it for new connections.
  std::shared_ptr<const loop::TlsContext> tls;
};

struct ServerStats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_refused = 0;  // over max_connections, or refused by `admit`
  std::uint64_t output_pauses = 0;        // parsing stopped because answers were not being read
  std::uint64_t requests = 0;
  std::uint64_t parse_errors = 0;
  std::uint64_t responses_2xx = 0, responses_4xx = 0, responses_5xx = 0;
  std::uint64_t callback_errors = 0;  // exceptions caught in libuv callbacks
  loop::TlsCounters tls;              // HTTPS handshakes and their failures
  // From the request's dispatch to its answer, by endpoint group and status class.
  std::array<std::array<loop::Histogram, kStatusClasses.size()>, kEndpointGroups> latency{};
};

class Connection;

using Handler = std::function<void(Request, Responder)>;

class Server {
 public:
  Server(uv_loop_t* loop, ServerConfig config, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // 0, or a libuv error code (bad address, port in use). host is an IPv4 or IPv6 literal.
  int listen(const std::string& host, int port);
  int bound_port() const;
  // HTTPS: connections accepted from now on use `tls` (a reloaded certificate); open ones keep
  // theirs. Before listen(), the same as ServerConfig::tls.
  void set_tls(std::shared_ptr<const loop::TlsContext> tls);
  // Stops listening and closes every connection; `done` runs once the listener has closed.
  void close(std::function<void()> done);

  const ServerStats& stats() const { return stats_; }
  std::size_t connection_count() const { return connections_.size(); }

 private:
  friend class Connection;
  void accepted(std::shared_ptr<loop::Connection> connection, std::shared_ptr<void> ticket);

  uv_loop_t* loop_;
  ServerConfig config_;
  Handler handler_;
  std::unique_ptr<loop::Listener> listener_;
  bool closing_ = false;
  std::function<void()> on_closed_;
  std::set<std::shared_ptr<Connection>> connections_;
  ServerStats stats_;
};

}  // namespace hearsay::http
