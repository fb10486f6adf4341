// /v1/catalog/*: services, service/<name>, nodes, node/<name>, register, deregister, datacenters
// (consul-compat.md 1A). Reads block on the index of their own result.
#include "catalog/filter_selectors.h"
#include "http-api/endpoints/common.h"

namespace hearsay::http {
namespace {

using catalog::Catalog;
using endpoints::serve_read;

void catalog_services(Call call, ApiContext& ctx) {
  auto options = endpoints::options_or_answer(call, ctx);
  if (!options) return;
  const Catalog& cat = ctx.catalog;
  serve_read(call, ctx, *options, [&cat] { return cat.services_index(); },
             [&cat, options = *options](JsonWriter& w, ReadFilter& acl) -> std::optional<std::string> {
               // name -> union of tags of the instances that pass node-meta, filter and ACLs.
               std::map<std::string, std::set<std::string>> names;
               std::string error;
               for (const catalog::Node* node : cat.nodes()) {
                 if (!node_meta_matches(options, node->meta)) continue;
                 for (const catalog::Service* svc : cat.services_of_node(node->name)) {
                   if (!acl.service(svc->name)) continue;
                   if (!passes_filter(options, catalog::filter::service_node_lookup(*node, *svc), error)) {
                     if (!error.empty()) return error;
                     continue;
                   }
                   names[svc->name].insert(svc->tags.begin(), svc->tags.end());
                 }
               }
               w.StartObject();
               for (const auto& [name, tags] : names) {
                 w.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
                 write_string_array(w, std::vector<std::string>(tags.begin(), tags.end()));
               }
               w.EndObject();
               return std::nullopt;
             });
}

void catalog_service(Call call, ApiContext& ctx) {
  auto options = endpoints::options_or_answer(call, ctx);
  if (!options) return;
  const Catalog& cat = ctx.catalog;
  std::string name = call.param;
  serve_read(call, ctx, *options, [&cat, name] { return cat.service_index(name); },
             [&cat, name, options = *options](JsonWriter& w, ReadFilter& acl) -> std::optional<std::string> {
               std::string error;
               w.StartArray();
               for (const catalog::Service* svc : near_first(cat.instances(name), options)) {
                 const catalog::Node* node = cat.node(svc->node);
                 if (!node || !node_meta_matches(options, node->meta) || !has_all_tags(options.tags, svc->tags)) continue;
                 if (!acl.instance(node->name, svc->name)) continue;
                 if (!passes_filter(options, catalog::filter::service_node_lookup(*node, *svc), error)) {
                   if (!error.empty()) return error;
                   continue;
                 }
                 write_service_node(w, *node, *svc);
               }
               w.EndArray();
               return std::nullopt;
             });
}

void catalog_nodes(Call call, ApiContext& ctx) {
  auto options = endpoints::options_or_answer(call, ctx);
  if (!options) return;
  const Catalog& cat = ctx.catalog;
  serve_read(call, ctx, *options, [&cat] { return cat.nodes_index(); },
             [&cat, options = *options](JsonWriter& w, ReadFilter& acl) -> std::optional<std::string> {
               std::string error;
               w.StartArray();
               for (const catalog::Node* node : cat.nodes()) {
                 if (!node_meta_matches(options, node->meta) || !acl.node(node->name)) continue;
                 if (!passes_filter(options, catalog::filter::node_lookup(*node), error)) {
                   if (!error.empty()) return error;
                   continue;
                 }
                 write_node(w, *node);
               }
               w.EndArray();
               return std::nullopt;
             });
}

void catalog_node(Call call, ApiContext& ctx) {
  auto options = endpoints::options_or_answer(call, ctx);
  if (!options) return;
  const Catalog& cat = ctx.catalog;
  std::string name = call.param;
  serve_read(call, ctx, *options, [&cat, name] { return cat.node_index(name); },
             [&cat, name](JsonWriter& w, ReadFilter& acl) -> std::optional<std::string> {
               const catalog::Node* node = cat.node(name);
               if (!node || !acl.node(name)) {  // a node the token may not read: as unknown
                 w.Null();  // Consul answers 200 with `null` for an unknown node
                 return std::nullopt;
               }
               w.StartObject();
               w.Key("Node");
               write_node(w, *node);
               w.Key("Services");
               w.StartObject();
               for (const catalog::Service* svc : cat.services_of_node(name)) {
                 if (!acl.service(svc->name)) continue;
                 w.Key(svc->id.data(), static_cast<rapidjson::SizeType>(svc->id.size()));
                 write_node_service(w, *svc);
               }
               w.EndObject();
               w.EndObject();
               return std::nullopt;
             });
}

void catalog_register(Call call, ApiContext& ctx) {
  auto options = endpoints::options_or_answer(call, ctx);
  if (!options) return;
  auto decoded = decode_catalog_register(call.request.body);
  if (!decoded) return call.responder.send(Response::text(400, decoded.error()));
  const CatalogRegistration& reg = decoded.value();
  if (!reg.datacenter.empty() && reg.datacenter != ctx.datacenter) {
    return call.responder.send(Response::text(500, "No path to datacenter"));
  }
  if (reg.node.empty()) return call.responder.send(Response::text(400, "Must provide node"));
  if (reg.address.empty() && !reg.skip_node_update) {
    return call.responder.send(Response::text(400, "Must provide address"));
  }
  // Consul's vetRegisterWithACL: node:write only when the registration creates or changes the
  // node record (a service re-posting its node's unchanged fields needs service:write alone);
  // service:write on the service, and on the one it replaces under the same ID; node-level
  // checks need node:write, checks of another service of the node service:write on that one.
  if (changes_node(reg, ctx.catalog.node(reg.node), ctx.datacenter) &&
      !endpoints::may_write(call, acl::Resource::node, reg.node)) {
    return;
  }
  if (reg.service) {
    if (!endpoints::may_write(call, acl::Resource::service, reg.service->name)) return;
    const catalog::Service* replaced = ctx.catalog.service(reg.node, reg.service->id);
    if (replaced && !endpoints::may_write(call, acl::Resource::service, replaced->name)) return;
  }
  for (const catalog::Check& check : reg.checks) {
    if (check.service_id.empty()) {
      if (!endpoints::may_write(call, acl::Resource::node, reg.node)) return;
      continue;
    }
    if (reg.service && check.service_id == reg.service->id) continue;  // vetted with the service
    const catalog::Service* svc = ctx.catalog.service(reg.node, check.service_id);
    if (!endpoints::may_write(call, acl::Resource::service, svc ? svc->name : check.service_id)) return;
  }
  endpoints::acknowledge(call, ctx, ctx.ops.catalog_register(reg), "true");
}

void catalog_deregister(Call call, ApiContext& ctx) {
  auto decoded = decode_catalog_deregister(call.request.body);
  if (!decoded) return call.responder.send(Response::text(400, decoded.error()));
  const CatalogDeregistration& dereg = decoded.value();
  if (!dereg.datacenter.empty() && dereg.datacenter != ctx.datacenter) {
    return call.responder.send(Response::text(500, "No path to datacenter"));
  }
  if (dereg.node.empty()) return call.responder.send(Response::text(400, "Must provide node"));
  // A service: service:write on its name; the node or a check: node:write (vetDeregisterWithACL).
  if (!dereg.service_id.empty()) {
    const catalog::Service* svc = ctx.catalog.service(dereg.node, dereg.service_id);
    if (!endpoints::may_write(call, acl::Resource::service, svc ? svc->name : dereg.service_id)) return;
  } else if (!endpoints::may_write(call, acl::Resource::node, dereg.node)) {
    return;
  }
  endpoints::acknowledge(call, ctx, ctx.ops.catalog_deregister(dereg), "true");
}

}  // namespace

void add_catalog_routes(Router& router, ApiContext& ctx) {
  ApiContext* c = &ctx;
  router.exact("/v1/catalog/datacenters", {"GET"}, [c](Call call) {
    call.responder.send(Response::json(endpoints::to_json([c](JsonWriter& w) {
      w.StartArray();
      write_string(w, c->datacenter);
      w.EndArray();
    })));
  });
  router.exact("/v1/catalog/services", {"GET"}, [c](Call call) { catalog_services(std::move(call), *c); });
  router.prefix("/v1/catalog/service/", {"GET"}, [c](Call call) { catalog_service(std::move(call), *c); });
  router.exact("/v1/catalog/nodes", {"GET"}, [c](Call call) { catalog_nodes(std::move(call), *c); });
  router.prefix("/v1/catalog/node/", {"GET"}, [c](Call call) { catalog_node(std::move(call), *c); });
  router.exact("/v1/catalog/register", {"PUT"}, [c](Call call) { catalog_register(std::move(call), *c); });
  router.exact("/v1/catalog/deregister", {"PUT"}, [c](Call call) { catalog_deregister(std::move(call), *c); });
}

}  // namespace hearsay::http
