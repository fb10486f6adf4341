// /v1/agent/*: this agent's own services and checks, registration, TTL updates, maintenance,
// self, members, join/leave (consul-compat.md 1A). python-consul 0.7.1 sends GET on the legacy
// write paths, so those accept GET as well as PUT (finding F2).
#include "catalog/filter_selectors.h"
#include "http-api/endpoints/common.h"

namespace hearsay::http {
namespace {

using acl::Resource;
using endpoints::acknowledge;
using endpoints::may_read;
using endpoints::may_write;
using endpoints::to_json;

// Writes to a local service need service:write on its name; an unknown ID falls through to the
// handler's 404, as in Consul (vetServiceUpdateWithAuthorizer).
bool may_write_service(Call& call, const ApiContext& ctx, const std::string& service_id) {
  const catalog::Service* svc = ctx.catalog.service(ctx.node_name, service_id);
  return !svc || may_write(call, Resource::service, svc->name);
}

// Writes to a local check: service:write on its service, or node:write for a node check
// (vetCheckUpdateWithAuthorizer).
bool may_write_check(Call& call, const ApiContext& ctx, const std::string& check_id) {
  const catalog::Check* check = ctx.catalog.check(ctx.node_name, check_id);
  if (!check) return true;
  return check->service_name.empty() ? may_write(call, Resource::node, ctx.node_name)
                                     : may_write(call, Resource::service, check->service_name);
}

// The agent's own checks, without the membership check (Consul hides serfHealth here).
std::vector<const catalog::Check*> local_checks(const ApiContext& ctx) {
  std::vector<const catalog::Check*> out;
  for (const catalog::Check* check : ctx.catalog.checks_of_node(ctx.node_name)) {
    if (check->id != catalog::kSerfHealthCheckId) out.push_back(check);
  }
  return out;
}

void agent_services(Call call, ApiContext& ctx) {
  auto options = endpoints::options_or_answer(call, ctx);
  if (!options) return;
  std::string error;
  ReadFilter acl{call.caller.authz};
  std::string body = to_json([&](JsonWriter& w) {
    w.StartObject();
    for (const catalog::Service* svc : ctx.catalog.services_of_node(ctx.node_name)) {
      if (!acl.service(svc->name)) continue;
      if (!passes_filter(*options, catalog::filter::agent_service_lookup(*svc), error)) continue;
      w.Key(svc->id.data(), static_cast<rapidjson::SizeType>(svc->id.size()));
      write_agent_service(w, *svc, ctx.datacenter);
    }
    w.EndObject();
  });
  if (!error.empty()) return call.responder.send(Response::text(400, error));
  Response res = json_answer(std::move(body), *options);
  endpoints::mark_filtered(res, acl);
  call.responder.send(std::move(res));
}

void agent_service(Call call, ApiContext& ctx) {
  auto options = endpoints::options_or_answer(call, ctx);
  if (!options) return;
  const catalog::Service* svc = ctx.catalog.service(ctx.node_name, call.param);
  if (!svc) return call.responder.send(Response::text(404, "unknown service ID: " + call.param));
  if (!may_read(call, Resource::service, svc->name)) return;
  call.responder.send(json_answer(to_json([&](JsonWriter& w) { write_agent_service(w, *svc, ctx.datacenter); }), *options));
}

void agent_checks(Call call, ApiContext& ctx) {
  auto options = endpoints::options_or_answer(call, ctx);
  if (!options) return;
  std::string error;
  ReadFilter acl{call.caller.authz};
  std::string body = to_json([&](JsonWriter& w) {
    w.StartObject();
    for (const catalog::Check* check : local_checks(ctx)) {
      if (check->service_name.empty() ? !acl.node(check->node) : !acl.service(check->service_name)) continue;
      if (!passes_filter(*options, catalog::filter::health_check_lookup(*check), error)) continue;
      w.Key(check->id.data(), static_cast<rapidjson::SizeType>(check->id.size()));
      write_health_check(w, *check);
    }
    w.EndObject();
  });
  if (!error.empty()) return call.responder.send(Response::text(400, error));
  Response res = json_answer(std::move(body), *options);
  endpoints::mark_filtered(res, acl);
  call.responder.send(std::move(res));
}

void write_member(JsonWriter& w, const MemberInfo& m) {
  w.StartObject();
  write_string_field(w, "Name", m.name);
  write_string_field(w, "Addr", m.addr);
  w.Key("Port"), w.Int(m.port);
  w.Key("Tags"), write_string_map(w, m.tags);
  w.Key("Status"), w.Int(m.status);
  w.Key("ProtocolMin"), w.Int(m.protocol_min);
  w.Key("ProtocolMax"), w.Int(m.protocol_max);
  w.Key("ProtocolCur"), w.Int(m.protocol_cur);
  w.Key("DelegateMin"), w.Int(m.delegate_min);
  w.Key("DelegateMax"), w.Int(m.delegate_max);
  w.Key("DelegateCur"), w.Int(m.delegate_cur);
  w.EndObject();
}

void agent_members(Call call, ApiContext& ctx) {
  auto options = endpoints::options_or_answer(call, ctx);
  if (!options) return;
  ReadFilter acl{call.caller.authz};
  std::string body = to_json([&](JsonWriter& w) {
    w.StartArray();
    for (const MemberInfo& m : ctx.ops.members()) {
      if (acl.node(m.name)) write_member(w, m);
    }
    w.EndArray();
  });
  Response res = json_answer(std::move(body), *options);
  endpoints::mark_filtered(res, acl);
  call.responder.send(std::move(res));
}

// /v1/agent/self: every top-level value an object (finding F5: the Go client decodes a map of maps).
void agent_self(Call call, ApiContext& ctx) {
  auto options = endpoints::options_or_answer(call, ctx);
  if (!options) return;
  if (!may_read(call, Resource::agent, ctx.node_name)) return;
  AgentIdentity id = ctx.ops.identity();
  std::vector<MemberInfo> members = ctx.ops.members();
  std::string body = to_json([&](JsonWriter& w) {
    w.StartObject();
    w.Key("Config");
    w.StartObject();
    write_string_field(w, "Datacenter", id.datacenter);
    write_string_field(w, "PrimaryDatacenter", id.datacenter);
    write_string_field(w, "NodeName", id.node_name);
    write_string_field(w, "NodeID", id.node_id);
    write_string_field(w, "Revision", id.revision);
    w.Key("Server"), w.Bool(false);
    write_string_field(w, "Version", id.version);
    write_string_field(w, "BuildDate", id.build_date);
    w.EndObject();
    w.Key("DebugConfig"), w.StartObject(), w.EndObject();
    w.Key("Coord"), w.Null();
    w.Key("Member");
    auto self = std::find_if(members.begin(), members.end(), [&](const MemberInfo& m) { return m.name == id.node_name; });
    if (self != members.end()) write_member(w, *self);
    else w.StartObject(), w.EndObject();
    w.Key("Stats");
    w.StartObject();
    w.Key("agent");
    w.StartObject();
    write_string_field(w, "services", std::to_string(ctx.catalog.services_of_node(ctx.node_name).size()));
    write_string_field(w, "checks", std::to_string(local_checks(ctx).size()));
    w.EndObject();
    w.Key("build");
    w.StartObject();
    write_string_field(w, "version", id.version);
    write_string_field(w, "revision", id.revision);
    w.EndObject();
    w.EndObject();
    w.Key("Meta"), write_string_map(w, id.node_meta);
    if (!id.remote.empty()) w.Key("Remote"), write_string_map(w, id.remote);
    w.EndObject();
  });
  call.responder.send(json_answer(std::move(body), *options));
}

void service_register(Call call, ApiContext& ctx) {
  auto decoded = decode_service_definition(call.request.body);
  if (!decoded) return call.responder.send(Response::text(400, decoded.error()));
  catalog::ServiceDefinition def = std::move(decoded).value();
  if (auto error = catalog::normalize_service(def)) return call.responder.send(Response::text(400, *error));
  if (!may_write(call, Resource::service, def.name)) return;
  acknowledge(call, ctx, ctx.ops.register_service(std::move(def), call.request.has_query("replace-existing-checks")));
}

void check_register(Call call, ApiContext& ctx) {
  auto decoded = decode_check_definition(call.request.body);
  if (!decoded) return call.responder.send(Response::text(400, decoded.error()));
  catalog::CheckDefinition def = std::move(decoded).value();
  if (auto error = catalog::normalize_check(def)) return call.responder.send(Response::text(400, *error));
  if (def.service_id.empty() ? !may_write(call, Resource::node, ctx.node_name) : !may_write_service(call, ctx, def.service_id)) {
    return;
  }
  acknowledge(call, ctx, ctx.ops.register_check(std::move(def)));
}

// Consul truncates TTL notes/outputs to 4 KiB (agent/agent.go updateTTLCheck).
std::string capped_output(std::string text) {
  constexpr std::size_t kMaxOutput = 4096;
  if (text.size() > kMaxOutput) {
    std::size_t total = text.size();
    text.resize(kMaxOutput);
    text += "\n...\nCaptured " + std::to_string(kMaxOutput) + " of " + std::to_string(total) + " bytes";
  }
  return text;
}

void ttl_update(Call call, ApiContext& ctx, catalog::HealthStatus status) {
  if (!may_write_check(call, ctx, call.param)) return;
  const std::string* note = call.request.query_value("note");
  acknowledge(call, ctx, ctx.ops.update_ttl_check(call.param, status, capped_output(note ? *note : "")));
}

void check_update(Call call, ApiContext& ctx) {
  if (!may_write_check(call, ctx, call.param)) return;
  auto decoded = decode_check_update(call.request.body);
  if (!decoded) return call.responder.send(Response::text(400, decoded.error()));
  acknowledge(call, ctx, ctx.ops.update_ttl_check(call.param, decoded.value().status, capped_output(decoded.value().output)));
}

// ?enable=true|false is required for the maintenance endpoints.
std::optional<bool> maintenance_flag(Call& call) {
  const std::string* enable = call.request.query_value("enable");
  if (!enable) {
    call.responder.send(Response::text(400, "Missing value for enable"));
    return std::nullopt;
  }
  if (*enable == "true") return true;
  if (*enable == "false") return false;
  call.responder.send(Response::text(400, "Invalid value for enable: \"" + *enable + "\""));
  return std::nullopt;
}

std::string reason_of(const Call& call) {
  const std::string* reason = call.request.query_value("reason");
  return reason ? *reason : std::string();
}

// /v1/agent/metrics: Consul's JSON (Gauges, Counters, Samples), or with ?format=prometheus the
// text exposition format, as Consul answers it (any other format value gets the JSON, as there).
void agent_metrics(Call call, ApiContext& ctx) {
  if (!may_read(call, Resource::agent, ctx.node_name)) return;
  const std::string* format = call.request.query_value("format");
  if (format && *format == "prometheus") {
    Response res;
    res.headers.emplace_back("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    res.body = to_prometheus_text(ctx.ops.metrics());
    return call.responder.send(std::move(res));
  }
  call.responder.send(Response::json(to_consul_json(ctx.ops.metrics())));
}

}  // namespace

void add_agent_routes(Router& router, ApiContext& ctx) {
  ApiContext* c = &ctx;
  const std::vector<std::string> get_or_put{"GET", "PUT"};
  router.exact("/v1/agent/services", {"GET"}, [c](Call call) { agent_services(std::move(call), *c); });
  router.prefix("/v1/agent/service/", {"GET"}, [c](Call call) { agent_service(std::move(call), *c); });
  router.exact("/v1/agent/checks", {"GET"}, [c](Call call) { agent_checks(std::move(call), *c); });
  router.exact("/v1/agent/members", {"GET"}, [c](Call call) { agent_members(std::move(call), *c); });
  router.exact("/v1/agent/self", {"GET"}, [c](Call call) { agent_self(std::move(call), *c); });
  router.exact("/v1/agent/metrics", {"GET"}, [c](Call call) { agent_metrics(std::move(call), *c); });
  router.exact("/v1/agent/service/register", {"PUT"}, [c](Call call) { service_register(std::move(call), *c); });
  router.prefix("/v1/agent/service/deregister/", get_or_put, [c](Call call) {
    if (!may_write_service(call, *c, call.param)) return;
    acknowledge(call, *c, c->ops.deregister_service(call.param));
  });
  router.prefix("/v1/agent/service/maintenance/", {"PUT"}, [c](Call call) {
    if (!may_write_service(call, *c, call.param)) return;
    if (auto enable = maintenance_flag(call)) {
      acknowledge(call, *c, c->ops.set_service_maintenance(call.param, *enable, reason_of(call)));
    }
  });
  router.exact("/v1/agent/maintenance", {"PUT"}, [c](Call call) {
    if (!may_write(call, Resource::node, c->node_name)) return;
    if (auto enable = maintenance_flag(call)) acknowledge(call, *c, c->ops.set_node_maintenance(*enable, reason_of(call)));
  });
  router.exact("/v1/agent/check/register", {"PUT"}, [c](Call call) { check_register(std::move(call), *c); });
  router.prefix("/v1/agent/check/deregister/", get_or_put, [c](Call call) {
    if (!may_write_check(call, *c, call.param)) return;
    acknowledge(call, *c, c->ops.deregister_check(call.param));
  });
  router.prefix("/v1/agent/check/pass/", get_or_put,
                [c](Call call) { ttl_update(std::move(call), *c, catalog::HealthStatus::passing); });
  router.prefix("/v1/agent/check/warn/", get_or_put,
                [c](Call call) { ttl_update(std::move(call), *c, catalog::HealthStatus::warning); });
  router.prefix("/v1/agent/check/fail/", get_or_put,
                [c](Call call) { ttl_update(std::move(call), *c, catalog::HealthStatus::critical); });
  router.prefix("/v1/agent/check/update/", {"PUT"}, [c](Call call) { check_update(std::move(call), *c); });
  router.prefix("/v1/agent/join/", get_or_put, [c](Call call) {
    if (!may_write(call, Resource::agent, c->node_name)) return;
    c->ops.join(call.param, [responder = call.responder](const OpResult& result) {
      responder.send(result.succeeded() ? Response{} : Response::text(result.status, result.error));
    });
  });
  // Consul: leave and reload need agent:write on this agent; force-leave operator:write.
  router.exact("/v1/agent/leave", {"PUT"}, [c](Call call) {
    if (may_write(call, Resource::agent, c->node_name)) acknowledge(call, *c, c->ops.leave());
  });
  router.exact("/v1/agent/reload", {"PUT"}, [c](Call call) {
    if (may_write(call, Resource::agent, c->node_name)) acknowledge(call, *c, c->ops.reload());
  });
  router.prefix("/v1/agent/force-leave/", get_or_put, [c](Call call) {
    if (may_write(call, Resource::operator_)) acknowledge(call, *c, c->ops.force_leave(call.param));
  });
}

}  // namespace hearsay::http
