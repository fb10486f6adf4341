// /v1/operator/keyring: list, install (POST), use (PUT) and remove (DELETE) gossip keys, in
// Consul's shapes. Consul answers for every member it reached through serf queries; hearsay
// changes and lists this agent's keyring only, so NumNodes is 1 (a deviation the keyring
// issue note records).
#include "http-api/endpoints/common.h"

namespace hearsay::http {
namespace {

void keyring_list(Call call, ApiContext& ctx) {
  const std::optional<KeyringInfo> ring = ctx.ops.keyring();
  if (!ring) return call.responder.send(Response::text(500, "encryption is not enabled on this agent"));
  auto key_counts = [](JsonWriter& w, const std::vector<std::string>& keys) {
    w.StartObject();
    for (const std::string& key : keys) {
      w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
      w.Int(1);
    }
    w.EndObject();
  };
  call.responder.send(Response::json(endpoints::to_json([&](JsonWriter& w) {
    w.StartArray();
    w.StartObject();
    w.Key("WAN");
    w.Bool(false);
    write_string_field(w, "Datacenter", ctx.datacenter);
    write_string_field(w, "Segment", "");
    write_string_field(w, "Partition", "");
    w.Key("Keys");
    key_counts(w, ring->keys);
    w.Key("PrimaryKeys");
    key_counts(w, {ring->primary});
    w.Key("NumNodes");
    w.Int(1);
    w.Key("Messages");
    w.StartObject();
    w.EndObject();
    w.EndObject();
    w.EndArray();
  })));
}

void keyring_change(Call call, ApiContext& ctx, KeyringChange change) {
  auto key = decode_keyring_request(call.request.body);
  if (!key) return call.responder.send(Response::text(400, key.error()));
  endpoints::acknowledge(call, ctx, ctx.ops.change_keyring(change, key.value()));
}

}  // namespace

void add_operator_routes(Router& router, ApiContext& ctx) {
  ApiContext* c = &ctx;
  router.exact("/v1/operator/keyring", {"GET", "POST", "PUT", "DELETE"}, [c](Call call) {
    const std::string& method = call.request.method;
    if (method == "GET") return keyring_list(std::move(call), *c);
    const KeyringChange change = method == "POST"  ? KeyringChange::install
                                 : method == "PUT" ? KeyringChange::use
                                                   : KeyringChange::remove;
    keyring_change(std::move(call), *c, change);
  });
}

}  // namespace hearsay::http
