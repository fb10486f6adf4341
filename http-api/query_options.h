// Query parameters shared by the catalog, health and agent read endpoints (consul-compat.md
// 1.0 and 2): dc, ns, consistency flags, index/wait, pretty, filter, node-meta, tag; and the
// X-Consul-* meta headers that every catalog/health answer carries.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "catalog/filter.h"
#include "catalog/model.h"
#include "http-api/request.h"

namespace hearsay::http {

inline constexpr std::chrono::seconds kDefaultQueryWait{300};  // Consul default_query_time
inline constexpr std::chrono::seconds kMaxQueryWait{600};      // Consul max_query_time

struct QueryOptions {
  std::uint64_t index = 0;  // 0: answer at once
  std::chrono::nanoseconds wait = kDefaultQueryWait;
  bool pretty = false;
  std::string consistency = "leader";  // X-Consul-Effective-Consistency
  std::shared_ptr<const catalog::filter::Filter> filter;  // null: no filter
  std::vector<std::pair<std::string, std::string>> node_meta;  // all must match
  std::vector<std::string> tags;                               // all must be present
  // ?near=NODE ("_agent": this agent): that node's instances first. Consul sorts by network
  // coordinates, which hearsay has none of; the named node first is what ?near=_agent is used
  // for (a remote agent's own version of a service ahead of the cluster's).
  std::string near;
};

// `instances` with options.near's first, otherwise in their order.
std::vector<const catalog::Service*> near_first(std::vector<const catalog::Service*> instances,
                                                const QueryOptions& options);

// The parsed options, or the error answer (400 bad value, 500 unknown datacenter).
// `own_node` stands for "_agent" in ?near.
std::variant<QueryOptions, Response> parse_query_options(const Request& request, const std::string& own_datacenter,
                                                         const std::string& own_node = {});

// True when the item passes the filter; on an evaluation error fills `error` and returns false.
bool passes_filter(const QueryOptions& options, const catalog::filter::Lookup& lookup, std::string& error);
bool node_meta_matches(const QueryOptions& options, const catalog::StringMap& meta);
bool has_all_tags(const std::vector<std::string>& wanted, const std::vector<std::string>& tags);

// 200 with a JSON body (pretty-printed on ?pretty) and no meta headers.
Response json_answer(std::string compact_json, const QueryOptions& options);
// Adds X-Consul-Index (never 0), X-Consul-KnownLeader, X-Consul-LastContact, consistency.
// `known_leader` false and a growing `last_contact_ms`: the answer may be stale (a remote
// agent offline).
void add_query_meta(Response& response, std::uint64_t index, const QueryOptions& options, bool known_leader = true,
                    std::uint64_t last_contact_ms = 0);

}  // namespace hearsay::http
