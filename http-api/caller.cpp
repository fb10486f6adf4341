// request_token (caller.h).
#include "http-api/caller.h"

#include <cstddef>

namespace hearsay::http {

std::string_view request_token(const Request& request) {
  if (const std::string* token = request.query_value("token"); token && !token->empty()) return *token;
  if (const std::string* token = request.header("x-consul-token"); token && !token->empty()) return *token;
  if (const std::string* auth = request.header("authorization")) {
    std::string_view value = *auth;
    // "<Scheme> <value>", the scheme "Bearer" in any case (RFC 7235 section 2.1).
    constexpr std::string_view kBearer = "bearer ";
    bool bearer = value.size() > kBearer.size();
    for (std::size_t i = 0; bearer && i < kBearer.size(); ++i) {
      bearer = (value[i] | 0x20) == kBearer[i];
    }
    if (bearer) {
      value.remove_prefix(kBearer.size());
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      return value.substr(0, value.find(' '));  // the first word after Bearer, as Consul takes it
    }
  }
  return {};
}

}  // namespace hearsay::http
