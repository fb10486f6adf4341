// /v1/prometheus/sd: service discovery for Prometheus' http_sd_configs
// (https://prometheus.io/docs/prometheus/latest/http_sd/), with the __meta_consul_* labels
// that its consul_sd_configs gives (discovery/consul/consul.go), so relabel rules written for
// Consul carry over. Debian's Prometheus has consul_sd compiled out; http_sd is always there.
//
// Every instance that is not critical (nor in maintenance); ?passing leaves out warning ones
// too. Filters: ?service=NAME (repeatable), ?tag=T (all must be present), ?node-meta=k:v,
// ?filter=EXPR (Consul's language over CheckServiceNode), ?tag-separator=S (consul_sd's
// tag_separator, default ","). http_sd labels apply to a whole target group, and these labels
// differ per instance, so each instance is its own group (consul_sd makes one group per
// service whose targets carry their own labels; the targets Prometheus ends up with are the same).
// Cached per (query, index) and blocking like the other reads.
#include <algorithm>

#include "catalog/filter_selectors.h"
#include "http-api/endpoints/common.h"
#include "http-api/metrics.h"

namespace hearsay::http {
namespace {

using catalog::Catalog;

std::string host_port(const std::string& host, int port) {
  // Go's net.JoinHostPort, as consul_sd builds __address__: IPv6 literals in brackets.
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

void write_label(JsonWriter& w, const std::string& name, const std::string& value) {
  write_string_field(w, name, value);
}

void write_target_group(JsonWriter& w, const catalog::Node& node, const catalog::Service& svc,
                        std::string_view health, const std::string& datacenter, const std::string& separator) {
  w.StartObject();
  w.Key("targets");
  w.StartArray();
  write_string(w, host_port(svc.address.empty() ? node.address : svc.address, svc.port));
  w.EndArray();
  w.Key("labels");
  w.StartObject();
  write_label(w, "__meta_consul_address", node.address);
  write_label(w, "__meta_consul_dc", node.datacenter.empty() ? datacenter : node.datacenter);
  write_label(w, "__meta_consul_health", std::string(health));
  write_label(w, "__meta_consul_node", node.name);
  write_label(w, "__meta_consul_service", svc.name);
  write_label(w, "__meta_consul_service_address", svc.address);
  write_label(w, "__meta_consul_service_id", svc.id);
  write_label(w, "__meta_consul_service_port", std::to_string(svc.port));
  std::string tags = separator;  // consul_sd: separator, tags joined by it, separator (",a,b,")
  for (std::size_t i = 0; i < svc.tags.size(); ++i) tags += (i ? separator : "") + svc.tags[i];
  write_label(w, "__meta_consul_tags", tags + separator);
  for (const auto& [k, v] : node.meta) write_label(w, "__meta_consul_metadata_" + prometheus_label_name(k), v);
  for (const auto& [k, v] : svc.meta) write_label(w, "__meta_consul_service_metadata_" + prometheus_label_name(k), v);
  for (const auto& [k, v] : node.tagged_addresses) {
    write_label(w, "__meta_consul_tagged_address_" + prometheus_label_name(k), v);
  }
  w.EndObject();
  w.EndObject();
}

void prometheus_sd(Call call, ApiContext& ctx) {
  auto options = endpoints::options_or_answer(call, ctx);
  if (!options) return;
  const bool passing_only = call.request.has_query("passing");
  std::vector<std::string> wanted = call.request.query_values("service");
  const std::string* sep = call.request.query_value("tag-separator");
  const std::string separator = sep ? *sep : ",";
  const Catalog& cat = ctx.catalog;
  auto index = [&cat] { return std::max({cat.services_index(), cat.nodes_index(), cat.checks_index()}); };
  endpoints::serve_read(
      call, ctx, *options, index,
      [&cat, options = *options, passing_only, wanted, separator,
       dc = ctx.datacenter](JsonWriter& w, ReadFilter& acl) -> std::optional<std::string> {
        std::vector<std::string> names = wanted;
        if (names.empty()) {
          for (const auto& entry : cat.service_names()) names.push_back(entry.first);
        }
        std::sort(names.begin(), names.end());
        names.erase(std::unique(names.begin(), names.end()), names.end());
        std::string error;
        w.StartArray();
        for (const std::string& name : names) {
          for (const catalog::Service* svc : cat.instances(name)) {
            const catalog::Node* node = cat.node(svc->node);
            if (!node || !node_meta_matches(options, node->meta) || !has_all_tags(options.tags, svc->tags)) continue;
            if (!acl.instance(node->name, svc->name)) continue;
            std::vector<const catalog::Check*> checks = cat.instance_checks(*svc);
            const std::string_view health = catalog::aggregate_status(checks);
            if (health == "critical" || health == "maintenance" || (passing_only && health != "passing")) continue;
            if (!passes_filter(options, catalog::filter::check_service_node_lookup(*node, *svc, checks), error)) {
              if (!error.empty()) return error;
              continue;
            }
            write_target_group(w, *node, *svc, health, dc, separator);
          }
        }
        w.EndArray();
        return std::nullopt;
      });
}

}  // namespace

void add_prometheus_routes(Router& router, ApiContext& ctx) {
  ApiContext* c = &ctx;
  router.exact("/v1/prometheus/sd", {"GET"}, [c](Call call) { prometheus_sd(std::move(call), *c); });
}

}  // namespace hearsay::http
