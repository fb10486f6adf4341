// Parsing of the shared query parameters with Consul's error texts (agent/http.go parseWait,
// parseConsistency, parseDC, parseFilter).
#include "http-api/query_options.h"

#include <algorithm>
#include <charconv>

#include "catalog/duration.h"
#include "http-api/json_encode.h"

namespace hearsay::http {

std::vector<const catalog::Service*> near_first(std::vector<const catalog::Service*> instances,
                                                const QueryOptions& options) {
  if (!options.near.empty()) {
    std::stable_partition(instances.begin(), instances.end(),
                          [&](const catalog::Service* svc) { return svc->node == options.near; });
  }
  return instances;
}

std::variant<QueryOptions, Response> parse_query_options(const Request& request, const std::string& own_datacenter,
                                                         const std::string& own_node) {
  QueryOptions options;
  if (const std::string* dc = request.query_value("dc"); dc && !dc->empty() && *dc != own_datacenter) {
    return Response::text(500, "No path to datacenter");
  }
  if (const std::string* ns = request.query_value("ns"); ns && !ns->empty()) {
    return Response::text(400, "Invalid query parameter: \"ns\" - Namespaces are a Consul Enterprise feature");
  }
  if (const std::string* partition = request.query_value("partition");
      partition && !partition->empty() && *partition != "default") {
    return Response::text(400, "Invalid query parameter: \"partition\" - Partitions are a Consul Enterprise feature");
  }
  const bool stale = request.has_query("stale");
  const bool consistent = request.has_query("consistent");
  if (stale && consistent) {
    return Response::text(400, "Cannot specify ?stale with ?consistent, conflicting semantics.");
  }
  if (stale) options.consistency = "stale";
  if (consistent) options.consistency = "consistent";
  options.pretty = request.has_query("pretty");
  if (const std::string* near = request.query_value("near"); near && !near->empty()) {
    options.near = *near == "_agent" ? own_node : *near;
  }

  if (const std::string* index = request.query_value("index"); index && !index->empty()) {
    auto [end, ec] = std::from_chars(index->data(), index->data() + index->size(), options.index);
    if (ec != std::errc() || end != index->data() + index->size()) return Response::text(400, "Invalid index");
  }
  if (const std::string* wait = request.query_value("wait"); wait && !wait->empty()) {
    auto parsed = catalog::parse_go_duration(*wait);
    if (!parsed || parsed->count() < 0) return Response::text(400, "Invalid wait time");
    options.wait = std::min<std::chrono::nanoseconds>(*parsed, kMaxQueryWait);
  }
  if (const std::string* filter = request.query_value("filter"); filter && !filter->empty()) {
    auto compiled = catalog::filter::Filter::parse(*filter);
    if (auto* error = std::get_if<std::string>(&compiled)) return Response::text(400, *error);
    options.filter = std::make_shared<const catalog::filter::Filter>(std::get<catalog::filter::Filter>(std::move(compiled)));
  }
  for (const std::string& pair : request.query_values("node-meta")) {
    auto colon = pair.find(':');
    if (colon == std::string::npos) {
      options.node_meta.emplace_back(pair, "");
    } else {
      options.node_meta.emplace_back(pair.substr(0, colon), pair.substr(colon + 1));
    }
  }
  for (const std::string& tag : request.query_values("tag")) options.tags.push_back(tag);
  return options;
}

bool passes_filter(const QueryOptions& options, const catalog::filter::Lookup& lookup, std::string& error) {
  if (!options.filter) return true;
  auto result = options.filter->matches(lookup);
  if (auto* err = std::get_if<std::string>(&result)) {
    error = *err;
    return false;
  }
  return std::get<bool>(result);
}

bool node_meta_matches(const QueryOptions& options, const catalog::StringMap& meta) {
  return std::all_of(options.node_meta.begin(), options.node_meta.end(), [&](const auto& kv) {
    auto it = meta.find(kv.first);
    return it != meta.end() && it->second == kv.second;
  });
}

bool has_all_tags(const std::vector<std::string>& wanted, const std::vector<std::string>& tags) {
  return std::all_of(wanted.begin(), wanted.end(), [&](const std::string& want) {
    return std::find(tags.begin(), tags.end(), want) != tags.end();
  });
}

Response json_answer(std::string compact_json, const QueryOptions& options) {
  return Response::json(options.pretty ? pretty(compact_json) : std::move(compact_json));
}

void add_query_meta(Response& response, std::uint64_t index, const QueryOptions& options, bool known_leader,
                    std::uint64_t last_contact_ms) {
  response.headers.emplace_back("X-Consul-Index", std::to_string(index == 0 ? 1 : index));
  response.headers.emplace_back("X-Consul-KnownLeader", known_leader ? "true" : "false");
  response.headers.emplace_back("X-Consul-LastContact", std::to_string(last_contact_ms));
  response.headers.emplace_back("X-Consul-Effective-Consistency", options.consistency);
}

}  // namespace hearsay::http
