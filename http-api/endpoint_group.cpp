// Request -> endpoint group, by the path's first segments.
#include "http-api/endpoint_group.h"

namespace hearsay::http {

EndpointGroup endpoint_group(const Request& request) {
  const std::string_view path = request.path;
  if (path.starts_with("/ui") || path == "/") return EndpointGroup::ui;
  if (!path.starts_with("/v1/")) return EndpointGroup::other;
  if (request.has_query("index")) return EndpointGroup::blocking;
  const std::string_view rest = path.substr(4);
  if (rest.starts_with("agent/")) return EndpointGroup::agent;
  if (rest.starts_with("catalog/")) return EndpointGroup::catalog;
  if (rest.starts_with("health/")) return EndpointGroup::health;
  if (rest.starts_with("status/")) return EndpointGroup::status;
  if (rest.starts_with("operator/")) return EndpointGroup::operator_;
  if (rest.starts_with("prometheus/")) return EndpointGroup::prometheus;
  if (rest.starts_with("internal/")) return EndpointGroup::internal;
  return EndpointGroup::other;
}

std::string_view to_string(EndpointGroup group) {
  static constexpr std::array<std::string_view, kEndpointGroups> kNames = {
      "agent", "catalog", "health", "status", "operator", "prometheus", "internal", "ui", "blocking", "other"};
  return kNames[static_cast<std::size_t>(group)];
}

}  // namespace hearsay::http
