// /v1/acl/*: GET /v1/acl/token/self, in Consul's shape (api/acl.go ACLToken), so clients can
// check the token they hold. Tokens and policies live in the agent's config files (acl/acl_config.h):
// there are no cluster-wide records to manage, so the other /v1/acl/ paths say so instead.
#include "http-api/endpoints/common.h"

namespace hearsay::http {
namespace {

const acl::TokenTable* enabled_table(const ApiContext& ctx) {
  const acl::TokenTable* table = ctx.acl ? ctx.acl->get() : nullptr;
  return table && table->enabled() ? table : nullptr;
}

void token_self(Call call, ApiContext& ctx) {
  const acl::TokenTable* table = enabled_table(ctx);
  if (!table) return call.responder.send(Response::text(401, "ACL support disabled"));
  const std::string_view secret = request_token(call.request);
  const acl::Token* token = secret.empty() ? nullptr : table->find(secret);
  if (!token) return call.responder.send(Response::text(403, "ACL not found"));
  call.responder.send(Response::json(endpoints::to_json([&](JsonWriter& w) {
    w.StartObject();
    write_string_field(w, "AccessorID", token->accessor_id);
    write_string_field(w, "SecretID", token->secret_id);  // the caller sent it: Consul echoes it too
    write_string_field(w, "Description", token->description);
    w.Key("Policies");
    w.StartArray();
    for (std::size_t i = 0; i < token->policies.size(); ++i) {
      w.StartObject();
      write_string_field(w, "ID", token->policy_ids[i]);
      write_string_field(w, "Name", token->policies[i]);
      w.EndObject();
    }
    w.EndArray();
    w.Key("Local"), w.Bool(true);
    w.Key("CreateIndex"), w.Int(0);
    w.Key("ModifyIndex"), w.Int(0);
    w.EndObject();
  })));
}

}  // namespace

void add_acl_routes(Router& router, ApiContext& ctx) {
  ApiContext* c = &ctx;
  router.exact("/v1/acl/token/self", {"GET"}, [c](Call call) { token_self(std::move(call), *c); });
  router.prefix("/v1/acl/", {"GET", "PUT", "POST", "DELETE"}, [c](Call call) {
    if (!enabled_table(*c)) return call.responder.send(Response::text(401, "ACL support disabled"));
    call.responder.send(Response::text(
        501, "ACL tokens and policies are defined in the agent's config files (acl { policy \"...\" { } token \"...\" { } }) "
             "and changed by a reload; managing them through the API is not supported"));
  });
}

}  // namespace hearsay::http
