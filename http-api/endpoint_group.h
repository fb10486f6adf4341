// Which group of endpoints a request belongs to, for the request latency histograms
// (hearsay.http.request_duration_seconds{group}): few fixed groups, so the series stay few
// whatever paths clients send. A read that may park (?index=) is its own group: its latency is
// the wait it asked for, and it would drown the others' figures.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

#include "http-api/request.h"

namespace hearsay::http {

enum class EndpointGroup { agent, catalog, health, status, operator_, prometheus, internal, ui, blocking, other };
inline constexpr std::size_t kEndpointGroups = 10;

EndpointGroup endpoint_group(const Request& request);
std::string_view to_string(EndpointGroup group);

// Status classes of the histograms: 2xx (and 1xx), 3xx, 4xx, 5xx.
inline constexpr std::array<std::string_view, 4> kStatusClasses = {"2xx", "3xx", "4xx", "5xx"};
inline std::size_t status_class(int status) {
  return status < 300 ? 0 : status < 400 ? 1 : status < 500 ? 2 : 3;
}

}  // namespace hearsay::http
