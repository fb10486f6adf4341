// Shared endpoint helpers.
#include "http-api/endpoints/common.h"

namespace hearsay::http::endpoints {

std::optional<QueryOptions> options_or_answer(Call& call, const ApiContext& context) {
  auto parsed = parse_query_options(call.request, context.datacenter, context.node_name);
  if (auto* error = std::get_if<Response>(&parsed)) {
    call.responder.send(std::move(*error));
    return std::nullopt;
  }
  return std::get<QueryOptions>(std::move(parsed));
}

bool permitted(Call& call, acl::Resource resource, std::string_view name, acl::Access wanted) {
  if (!call.caller.authz || call.caller.authz->allows(resource, name, wanted)) return true;
  Response res = Response::text(403, "Permission denied");
  res.log_note = call.request.method + " " + call.request.path + " refused: token " + call.caller.accessor_id +
                 " lacks " + std::string(acl::to_string(resource)) + ":" + std::string(acl::to_string(wanted)) +
                 (acl::is_named(resource) ? " on \"" + std::string(name) + "\"" : "");
  call.responder.send(std::move(res));
  return false;
}

void mark_filtered(Response& response, const ReadFilter& acl) {
  if (acl.filtered) response.headers.emplace_back(kFilteredHeader, "true");
}

void acknowledge(Call& call, ApiContext& context, const OpResult& result, std::string body) {
  if (!result.succeeded()) {
    call.responder.send(Response::text(result.status, result.error));
    return;
  }
  context.ops.after_commit([responder = call.responder, body = std::move(body)](bool durable) mutable {
    if (!durable) {
      responder.send(Response::text(500, "failed to persist the change; see the agent log"));
    } else if (body.empty()) {
      responder.send(Response{});
    } else {
      responder.send(Response::json(std::move(body)));
    }
  });
}

std::string to_json(const std::function<void(JsonWriter&)>& write) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  write(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

namespace {
// The caller's rights in the current token table (see serve_read), or nullopt when its token
// is no longer known.
std::optional<Caller> current_rights(const Caller& caller, const std::shared_ptr<const acl::TokenTable>* tables) {
  if (!tables || !*tables) return caller;
  const acl::TokenTable& table = **tables;
  if (!table.enabled()) return Caller{};
  // ACLs were turned on while it waited: its token was never looked at, so the anonymous rights.
  const acl::Token* token = caller.accessor_id.empty() ? &table.anonymous() : table.find_by_accessor(caller.accessor_id);
  if (!token) return std::nullopt;
  return Caller{token->authorizer, token->accessor_id, token->cache_scope};
}
}  // namespace

void serve_read(Call& call, ApiContext& context, const QueryOptions& options, BlockingWaiter::IndexFn index,
                ReadBuilder build) {
  ResponseCache* cache = context.cache;
  context.blocking.serve(options, call.responder, std::move(index),
                         [options, cache, ops = &context.ops, base_key = ResponseCache::key_of(call.request), caller = call.caller,
                          tables = context.acl, build = std::move(build)](std::uint64_t idx) {
                           // A read parked across a reload answers with its token's rights in
                           // the new table, or 403 when the token is gone.
                           std::optional<Caller> now = current_rights(caller, tables);
                           if (!now) return Response::text(403, "ACL not found");
                           const std::shared_ptr<const acl::Authorizer>& authz = now->authz;
                           // A caller whose reads may be filtered gets cache entries of its own
                           // (its scope names the token and the token table it came from).
                           const std::string key = now->cache_scope.empty() ? base_key : now->cache_scope + '\x01' + base_key;
                           Response res;
                           if (const Response* cached = cache ? cache->find(key, idx) : nullptr) {
                             res = *cached;
                           } else {
                             rapidjson::StringBuffer buffer;
                             JsonWriter writer(buffer);
                             ReadFilter acl{authz};
                             if (auto error = build(writer, acl)) {
                               res = Response::text(400, *error);
                             } else {
                               res = json_answer(std::string(buffer.GetString(), buffer.GetSize()), options);
                               mark_filtered(res, acl);
                             }
                             if (cache) cache->store(key, idx, res);
                           }
                           // At answer time: a blocking query may end long after it began.
                           const AgentOps::Freshness fresh = ops->freshness();
                           add_query_meta(res, idx, options, fresh.known_leader, fresh.last_contact_ms);
                           return res;
                         });
}

}  // namespace hearsay::http::endpoints
