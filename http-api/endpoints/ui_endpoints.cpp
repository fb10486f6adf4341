// The web page: /ui/ and its files (compiled in, http-api/ui_assets.h), `/` redirecting to
// /ui/ as Consul's does, and /v1/internal/ui/services, the one summary read the page's service
// list needs (Consul's UI reads the same endpoint: agent/ui_endpoint.go UIServices), so a
// 1,000-service catalog is one request, cached and blocking like the other reads.
#include <algorithm>
#include <set>

#include "http-api/endpoints/common.h"
#include "http-api/ui_assets.h"

namespace hearsay::http {
namespace {

using catalog::Catalog;

std::string_view content_type(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  return "application/octet-stream";
}

void ui_file(Call call) {
  // "/ui/" and anything that is not a file (a deep link) get the page itself.
  const std::string name = call.param.find('.') == std::string::npos ? "index.html" : call.param;
  auto it = std::find_if(kUiAssets.begin(), kUiAssets.end(), [&](const UiAsset& a) { return a.name == name; });
  if (it == kUiAssets.end()) return call.responder.send(Response::text(404, "404 page not found"));
  Response res;
  res.headers.emplace_back("Content-Type", std::string(content_type(it->name)));
  // The files change only with the binary; revalidating each load keeps an upgraded agent's page current.
  res.headers.emplace_back("Cache-Control", "no-cache");
  res.body.assign(it->bytes);
  call.responder.send(std::move(res));
}

void redirect(Call call, std::string location) {
  Response res;
  res.status = 301;
  res.headers.emplace_back("Location", std::move(location));
  res.headers.emplace_back("Content-Type", "text/html; charset=utf-8");
  res.body = "<a href=\"/ui/\">Moved Permanently</a>.\n";
  call.responder.send(std::move(res));
}

// Consul's ServiceListingSummary fields the page shows: per service name, its instances, the
// nodes they are on, the union of their tags, and their checks (node-level ones counted once
// per instance, as Consul counts them) by status.
void ui_services(Call call, ApiContext& ctx) {
  auto options = endpoints::options_or_answer(call, ctx);
  if (!options) return;
  const Catalog& cat = ctx.catalog;
  auto index = [&cat] { return std::max({cat.services_index(), cat.nodes_index(), cat.checks_index()}); };
  endpoints::serve_read(call, ctx, *options, index, [&cat, dc = ctx.datacenter](JsonWriter& w, ReadFilter& acl) -> std::optional<std::string> {
    w.StartArray();
    for (const auto& entry : cat.service_names()) {  // its tags are every instance's: not used
      const std::string& name = entry.first;
      if (!acl.service(name)) continue;
      // Counted and unioned over the instances the token may read (their node too), as Consul
      // summarises its ACL-filtered service dump: a tag only a hidden instance carries stays hidden.
      std::set<std::string> nodes, tags;
      int instances = 0, passing = 0, warning = 0, critical = 0;
      for (const catalog::Service* svc : cat.instances(name)) {
        if (!acl.node(svc->node)) continue;
        ++instances;
        nodes.insert(svc->node);
        tags.insert(svc->tags.begin(), svc->tags.end());
        for (const catalog::Check* check : cat.instance_checks(*svc)) {
          switch (check->status) {
            case catalog::HealthStatus::passing: ++passing; break;
            case catalog::HealthStatus::warning: ++warning; break;
            case catalog::HealthStatus::critical: ++critical; break;
          }
        }
      }
      if (instances == 0) continue;  // every instance hidden: Consul's summary has no row for it
      w.StartObject();
      write_string_field(w, "Name", name);
      write_string_field(w, "Datacenter", dc);
      w.Key("Tags"), write_string_array(w, std::vector<std::string>(tags.begin(), tags.end()));
      w.Key("Nodes"), write_string_array(w, std::vector<std::string>(nodes.begin(), nodes.end()));
      w.Key("InstanceCount"), w.Int(instances);
      w.Key("ChecksPassing"), w.Int(passing);
      w.Key("ChecksWarning"), w.Int(warning);
      w.Key("ChecksCritical"), w.Int(critical);
      w.EndObject();
    }
    w.EndArray();
    return std::nullopt;
  });
}

}  // namespace

void add_ui_routes(Router& router, ApiContext& ctx) {
  ApiContext* c = &ctx;
  router.exact("/", {"GET"}, [](Call call) { redirect(std::move(call), "/ui/"); });
  router.exact("/ui", {"GET"}, [](Call call) { redirect(std::move(call), "/ui/"); });
  router.prefix("/ui/", {"GET"}, [](Call call) { ui_file(std::move(call)); });
  router.exact("/v1/internal/ui/services", {"GET"}, [c](Call call) { ui_services(std::move(call), *c); });
}

}  // namespace hearsay::http
