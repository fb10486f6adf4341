// /v1/operator/keyring: list (GET), install (POST), use (PUT) and remove (DELETE) gossip keys on
// every member, in Consul's shapes; the agent runs them as serf's key queries. `?local-only`
// lists this agent's keys alone, as Consul does.
#include "http-api/endpoints/common.h"

namespace hearsay::http {
namespace {

void write_key_counts(JsonWriter& w, const std::map<std::string, int>& counts) {
  w.StartObject();
  for (const auto& [key, count] : counts) {
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.Int(count);
  }
  w.EndObject();
}

std::string keyring_json(const std::string& datacenter, const KeyringReport& report) {
  return endpoints::to_json([&](JsonWriter& w) {
    w.StartArray();
    w.StartObject();
    w.Key("WAN");
    w.Bool(false);
    write_string_field(w, "Datacenter", datacenter);
    write_string_field(w, "Segment", "");
    write_string_field(w, "Partition", "");
    w.Key("Keys");
    write_key_counts(w, report.keys);
    w.Key("PrimaryKeys");
    write_key_counts(w, report.primary_keys);
    w.Key("NumNodes");
    w.Int(report.num_nodes);
    w.Key("Messages");
    w.StartObject();
    for (const auto& [node, message] : report.messages) {
      write_string_field(w, node.c_str(), message);
    }
    w.EndObject();
    w.EndObject();
    w.EndArray();
  });
}

bool local_only(const Request& request) {
  const std::string* value = request.query_value("local-only");
  return value && *value != "false" && *value != "0";
}

void keyring_list_local(Call call, ApiContext& ctx) {
  const std::optional<KeyringInfo> ring = ctx.ops.keyring();
  if (!ring) return call.responder.send(Response::text(500, "encryption is not enabled on this agent"));
  KeyringReport report;
  for (const std::string& key : ring->keys) report.keys[key] = 1;
  report.primary_keys[ring->primary] = 1;
  report.num_nodes = 1;
  call.responder.send(Response::json(keyring_json(ctx.datacenter, report)));
}

void keyring_operation(Call call, ApiContext& ctx, KeyringOp op) {
  std::string key;
  if (op != KeyringOp::list) {
    auto decoded = decode_keyring_request(call.request.body);
    if (!decoded) return call.responder.send(Response::text(400, decoded.error()));
    key = decoded.value();
  }
  ctx.ops.keyring_operation(op, key, [responder = call.responder, op, dc = ctx.datacenter](
                                         const OpResult& result, const KeyringReport& report) {
    if (!result.succeeded()) return responder.send(Response::text(result.status, result.error));
    if (op == KeyringOp::list) return responder.send(Response::json(keyring_json(dc, report)));
    responder.send(Response{});
  });
}

}  // namespace

void add_operator_routes(Router& router, ApiContext& ctx) {
  ApiContext* c = &ctx;
  router.exact("/v1/operator/keyring", {"GET", "POST", "PUT", "DELETE"}, [c](Call call) {
    const std::string& method = call.request.method;
    // Consul: listing needs keyring:read, changing keyring:write.
    if (!endpoints::permitted(call, acl::Resource::keyring, "", method == "GET" ? acl::Access::read : acl::Access::write)) {
      return;
    }
    if (method == "GET" && local_only(call.request)) return keyring_list_local(std::move(call), *c);
    const KeyringOp op = method == "GET"    ? KeyringOp::list
                         : method == "POST" ? KeyringOp::install
                         : method == "PUT"  ? KeyringOp::use
                                            : KeyringOp::remove;
    keyring_operation(std::move(call), *c, op);
  });
}

}  // namespace hearsay::http
