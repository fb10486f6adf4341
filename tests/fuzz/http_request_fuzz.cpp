// Fuzz target: arbitrary bytes through the HTTP request parser, whole and in chunks whose sizes
// come from the first byte, as a server would feed them.
#include <cstdint>
#include <string>

#include "http-api/request_parser.h"

namespace {
void feed_all(const std::string& bytes, std::size_t chunk) {
  hearsay::http::ParserLimits limits;
  limits.max_body = 4096;
  limits.max_discard = 16384;
  hearsay::http::RequestParser parser(limits);
  std::string pending;
  for (std::size_t pos = 0; pos < bytes.size() && parser.error() == hearsay::http::ParseError::none; pos += chunk) {
    pending += bytes.substr(pos, chunk);
    for (;;) {
      std::size_t used = parser.feed(pending.data(), pending.size());
      if (used > pending.size()) __builtin_trap();
      pending.erase(0, used);
      if (!parser.has_request()) break;
      hearsay::http::Request r = parser.take_request();
      if (r.body.size() > limits.max_body) __builtin_trap();
    }
  }
  if (parser.error() != hearsay::http::ParseError::none && parser.error_text().empty()) __builtin_trap();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  feed_all(bytes, bytes.size() + 1);
  feed_all(bytes, size > 0 ? (data[0] % 13) + 1 : 1);
  return 0;
}
