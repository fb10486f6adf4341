// How a handler answers a request: a Responder is a copyable handle on the connection (or any
// other ReplySink) that the request came from. Responses may come later (blocking queries wait
// for minutes), so a Responder outlives the call and becomes a no-op once its sink is gone.
// Pure: the libuv server implements ReplySink; the unit tests use a recording fake.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>

#include "http-api/request.h"

namespace hearsay::http {

// Where the answers of one connection go. `sequence` names the request being answered, so a
// late answer to an earlier request is ignored.
class ReplySink {
 public:
  virtual ~ReplySink() = default;
  // Sends the response for request `sequence`; only the first call for it counts.
  virtual void send(std::uint64_t sequence, Response response) = 0;
  // False once the client has gone (closed or half-closed) or request `sequence` was answered.
  virtual bool connected(std::uint64_t sequence) const = 0;
};

class Responder {
 public:
  Responder() = default;
  Responder(std::weak_ptr<ReplySink> sink, std::uint64_t sequence) : sink_(std::move(sink)), sequence_(sequence) {}
  // Sends the response for this request; only the first call counts.
  void send(Response response) const;
  // False once the client has gone (closed or half-closed) or the response was sent.
  bool connected() const;
  // A header every answer through this responder carries, whichever handler sends it (Consul's
  // X-Consul-Default-ACL-Policy on every API response). Static text only: kept as pointers.
  void add_header(const char* name, const char* value) {
    header_name_ = name;
    header_value_ = value;
  }

 private:
  std::weak_ptr<ReplySink> sink_;
  std::uint64_t sequence_ = 0;
  const char* header_name_ = nullptr;
  const char* header_value_ = nullptr;
};

}  // namespace hearsay::http
