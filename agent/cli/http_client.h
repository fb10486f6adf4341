// A tiny blocking HTTP/1.1 client for the CLI subcommands: one request per connection to the
// local agent (127.0.0.1:8500 by default, or CONSUL_HTTP_ADDR, or -http-addr).
#pragma once

#include <optional>
#include <string>

namespace hearsay::agent::cli {

struct HttpReply {
  int status = 0;
  std::string body;
};

// "host:port", "http://host:port" or "[v6]:port". nullopt with `error` set on failure.
std::optional<HttpReply> http_request(const std::string& address, const std::string& method, const std::string& path,
                                      const std::string& body, std::string& error);

}  // namespace hearsay::agent::cli
