// /v1/status/leader and /v1/status/peers. hearsay has no leader; clients that only check for a
// non-empty leader (python-consul, health scripts) get this agent's own server-style address.
#include "http-api/endpoints/common.h"

namespace hearsay::http {

void add_status_routes(Router& router, ApiContext& ctx) {
  ApiContext* c = &ctx;
  auto own_address = [c] {
    const catalog::Node* self = c->catalog.node(c->node_name);
    return (self ? self->address : std::string("127.0.0.1")) + ":8300";
  };
  router.exact("/v1/status/leader", {"GET"}, [own_address](Call call) {
    call.responder.send(Response::json(endpoints::to_json([&](JsonWriter& w) { write_string(w, own_address()); })));
  });
  router.exact("/v1/status/peers", {"GET"}, [own_address](Call call) {
    call.responder.send(Response::json(endpoints::to_json([&](JsonWriter& w) {
      w.StartArray();
      write_string(w, own_address());
      w.EndArray();
    })));
  });
}

}  // namespace hearsay::http
