// Go time.Duration text ("10s", "1m30s", "500ms", "1.5h") as Consul uses in check definitions and
// the `wait` query parameter. Parsing follows Go's time.ParseDuration; formatting follows
// time.Duration.String, so values round-trip with Go clients.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace hearsay::catalog {

// nullopt on any syntax error, missing unit (except "0"), or overflow.
std::optional<std::chrono::nanoseconds> parse_go_duration(std::string_view text);

// "0s", "10s", "1m30s", "1h0m0s", "1.5s", "500ms", "2µs" like Go.
std::string format_go_duration(std::chrono::nanoseconds d);

}  // namespace hearsay::catalog
