// Shared endpoint helpers.
#include "http-api/endpoints/common.h"

namespace hearsay::http::endpoints {

std::optional<QueryOptions> options_or_answer(Call& call, const ApiContext& context) {
  auto parsed = parse_query_options(call.request, context.datacenter);
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

void serve_read(Call& call, ApiContext& context, const QueryOptions& options, BlockingWaiter::IndexFn index,
                ReadBuilder build) {
  ResponseCache* cache = context.cache;
  // A caller whose reads may be filtered gets cache entries of its own (its scope names the
  // token and the token table it came from).
  std::string key = ResponseCache::key_of(call.request);
  if (!call.caller.cache_scope.empty()) key = call.caller.cache_scope + '\x01' + key;
  context.blocking.serve(options, call.responder, std::move(index),
                         [options, cache, key = std::move(key), authz = call.caller.authz,
                          build = std::move(build)](std::uint64_t idx) {
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
                           add_query_meta(res, idx, options);
                           return res;
                         });
}

}  // namespace hearsay::http::endpoints
