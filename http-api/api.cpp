// Assembles the route table.
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
}

}  // namespace hearsay::http
