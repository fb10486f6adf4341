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
                std::function<std::optional<std::string>(JsonWriter&)> build) {
  ResponseCache* cache = context.cache;
  context.blocking.serve(options, call.responder, std::move(index),
                         [options, cache, ops = &context.ops, key = ResponseCache::key_of(call.request),
                          build = std::move(build)](std::uint64_t idx) {
                           Response res;
                           if (const Response* cached = cache ? cache->find(key, idx) : nullptr) {
                             res = *cached;
                           } else {
                             rapidjson::StringBuffer buffer;
                             JsonWriter writer(buffer);
                             if (auto error = build(writer)) {
                               res = Response::text(400, *error);
                             } else {
                               res = json_answer(std::string(buffer.GetString(), buffer.GetSize()), options);
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
