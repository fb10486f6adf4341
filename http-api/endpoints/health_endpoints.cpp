// /v1/health/*: service/<name> (CheckServiceNode list, ?passing, ?tag, ?node-meta, ?filter),
// checks/<name>, state/<state>, node/<name> (consul-compat.md 1A, 4.3). All block.
#include <algorithm>

#include "catalog/filter_selectors.h"
#include "http-api/endpoints/common.h"

namespace hearsay::http {
namespace {

using catalog::Catalog;
using endpoints::serve_read;

// Go's strconv.ParseBool, with "present and empty" meaning true as Consul's ?passing does.
std::optional<bool> parse_flag(const std::string& value) {
  if (value.empty() || value == "1" || value == "t" || value == "T" || value == "true" || value == "TRUE" ||
      value == "True") {
    return true;
  }
  if (value == "0" || value == "f" || value == "F" || value == "false" || value == "FALSE" || value == "False") {
    return false;
  }
  return std::nullopt;
}

// Writes the checks that pass the options (node-meta is about the check's node) and that the
// caller may read: a service's check needs service:read, a node's check node:read (Consul's
// filter.go filterHealthChecks).
std::optional<std::string> write_checks(JsonWriter& w, const Catalog& cat, const std::vector<const catalog::Check*>& checks,
                                        const QueryOptions& options, ReadFilter& acl) {
  std::string error;
  w.StartArray();
  for (const catalog::Check* check : checks) {
    if (check->service_name.empty() ? !acl.node(check->node) : !acl.service(check->service_name)) continue;
    if (!options.node_meta.empty()) {
      const catalog::Node* node = cat.node(check->node);
      if (!node || !node_meta_matches(options, node->meta)) continue;
    }
    if (!passes_filter(options, catalog::filter::health_check_lookup(*check), error)) {
      if (!error.empty()) return error;
      continue;
    }
    write_health_check(w, *check);
  }
  w.EndArray();
  return std::nullopt;
}

void health_service(Call call, ApiContext& ctx) {
  auto options = endpoints::options_or_answer(call, ctx);
  if (!options) return;
  bool passing_only = false;
  if (const std::string* passing = call.request.query_value("passing")) {
    auto flag = parse_flag(*passing);
    if (!flag) return call.responder.send(Response::text(400, "Invalid value for ?passing"));
    passing_only = *flag;
  }
  const Catalog& cat = ctx.catalog;
  std::string name = call.param;
  serve_read(call, ctx, *options, [&cat, name] { return cat.service_index(name); },
             [&cat, name, passing_only, options = *options](JsonWriter& w, ReadFilter& acl) -> std::optional<std::string> {
               std::string error;
               w.StartArray();
               for (const catalog::Service* svc : near_first(cat.instances(name), options)) {
                 const catalog::Node* node = cat.node(svc->node);
                 if (!node || !node_meta_matches(options, node->meta) || !has_all_tags(options.tags, svc->tags)) continue;
                 if (!acl.instance(node->name, svc->name)) continue;
                 std::vector<const catalog::Check*> checks = cat.instance_checks(*svc);
                 if (passing_only && std::any_of(checks.begin(), checks.end(), [](const catalog::Check* c) {
                       return c->status != catalog::HealthStatus::passing;
                     })) {
                   continue;
                 }
                 if (!passes_filter(options, catalog::filter::check_service_node_lookup(*node, *svc, checks), error)) {
                   if (!error.empty()) return error;
                   continue;
                 }
                 write_check_service_node(w, *node, *svc, checks);
               }
               w.EndArray();
               return std::nullopt;
             });
}

void health_checks(Call call, ApiContext& ctx) {
  auto options = endpoints::options_or_answer(call, ctx);
  if (!options) return;
  const Catalog& cat = ctx.catalog;
  std::string name = call.param;
  serve_read(call, ctx, *options, [&cat, name] { return cat.service_index(name); },
             [&cat, name, options = *options](JsonWriter& w, ReadFilter& acl) {
               return write_checks(w, cat, cat.checks_of_service_name(name), options, acl);
             });
}

void health_state(Call call, ApiContext& ctx) {
  auto options = endpoints::options_or_answer(call, ctx);
  if (!options) return;
  const std::string state = call.param;  // an unknown state simply matches nothing: []
  const Catalog& cat = ctx.catalog;
  serve_read(call, ctx, *options, [&cat] { return cat.checks_index(); },
             [&cat, state, options = *options](JsonWriter& w, ReadFilter& acl) {
               std::vector<const catalog::Check*> checks;
               for (const catalog::Check* check : cat.all_checks()) {
                 if (state == "any" || catalog::to_string(check->status) == state) checks.push_back(check);
               }
               return write_checks(w, cat, checks, options, acl);
             });
}

void health_node(Call call, ApiContext& ctx) {
  auto options = endpoints::options_or_answer(call, ctx);
  if (!options) return;
  const Catalog& cat = ctx.catalog;
  std::string name = call.param;
  serve_read(call, ctx, *options, [&cat, name] { return cat.node_index(name); },
             [&cat, name, options = *options](JsonWriter& w, ReadFilter& acl) {
               return write_checks(w, cat, cat.checks_of_node(name), options, acl);
             });
}

}  // namespace

void add_health_routes(Router& router, ApiContext& ctx) {
  ApiContext* c = &ctx;
  router.prefix("/v1/health/service/", {"GET"}, [c](Call call) { health_service(std::move(call), *c); });
  router.prefix("/v1/health/checks/", {"GET"}, [c](Call call) { health_checks(std::move(call), *c); });
  router.prefix("/v1/health/state/", {"GET"}, [c](Call call) { health_state(std::move(call), *c); });
  router.prefix("/v1/health/node/", {"GET"}, [c](Call call) { health_node(std::move(call), *c); });
}

}  // namespace hearsay::http
