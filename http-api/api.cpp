// Assembles the route table; resolves each request's token before routing it.
#include "http-api/api.h"

namespace hearsay::http {

Api::Api(ApiContext context) : context_(std::move(context)) {
  context_.cache = &cache_;
  add_agent_routes(router_, context_);
  add_catalog_routes(router_, context_);
  add_health_routes(router_, context_);
  add_status_routes(router_, context_);
  add_operator_routes(router_, context_);
  add_prometheus_routes(router_, context_);
  add_ui_routes(router_, context_);
  add_acl_routes(router_, context_);
}

void Api::handle(Request request, Responder responder) const {
  const acl::TokenTable* table = context_.acl ? context_.acl->get() : nullptr;
  // Every API response tells the agent's default policy, with ACLs off too (Consul's
  // setACLDefaultPolicy in its handler wrapper; not on the web page's files).
  if (request.path.starts_with("/v1/")) {
    responder.add_header(kDefaultAclPolicyHeader, !table || table->default_allow() ? "allow" : "deny");
  }
  if (!table || !table->enabled()) return router_.dispatch(std::move(request), std::move(responder));
  const std::string_view secret = request_token(request);
  const acl::Token* token = secret.empty() ? &table->anonymous() : table->find(secret);
  if (!token) {
    Response res = Response::text(403, "ACL not found");
    res.log_note = request.method + " " + request.path + " refused: the token it carries is not known";
    return responder.send(std::move(res));
  }
  Caller caller{token->authorizer, token->accessor_id, token->cache_scope};
  router_.dispatch(std::move(request), std::move(responder), std::move(caller));
}

}  // namespace hearsay::http
