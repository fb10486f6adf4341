// The Consul-compatible HTTP API: builds the route table over the local catalog and the agent's
// operations, and is the handler the HTTP server calls for every request.
#pragma once

#include <memory>
#include <string>

#include "acl/token_table.h"
#include "catalog/catalog.h"
#include "http-api/agent_ops.h"
#include "http-api/blocking.h"
#include "http-api/response_cache.h"
#include "http-api/router.h"

namespace hearsay::http {

// Everything an endpoint may use. The catalog is read-only here: writes go through AgentOps.
struct ApiContext {
  const catalog::Catalog& catalog;
  AgentOps& ops;
  BlockingWaiter& blocking;
  std::string datacenter;
  std::string node_name;
  ResponseCache* cache = nullptr;  // set by Api
  // The agent's current tokens (a reload swaps the table behind this pointer); null: ACLs off.
  const std::shared_ptr<const acl::TokenTable>* acl = nullptr;
};

class Api {
 public:
  explicit Api(ApiContext context);
  // Resolves the request's token (an unknown one is refused, 403 "ACL not found", as Consul
  // does), then routes it.
  void handle(Request request, Responder responder) const;
  const ResponseCacheStats& cache_stats() const { return cache_.stats(); }
  const Router& router() const { return router_; }

 private:
  ResponseCache cache_;
  ApiContext context_;
  Router router_;
};

// Route groups, one file each under endpoints/.
void add_agent_routes(Router& router, ApiContext& context);
void add_catalog_routes(Router& router, ApiContext& context);
void add_health_routes(Router& router, ApiContext& context);
void add_status_routes(Router& router, ApiContext& context);
void add_operator_routes(Router& router, ApiContext& context);
void add_prometheus_routes(Router& router, ApiContext& context);  // http_sd for Prometheus
void add_ui_routes(Router& router, ApiContext& context);          // the web page under /ui/
void add_acl_routes(Router& router, ApiContext& context);         // /v1/acl/token/self

}  // namespace hearsay::http
