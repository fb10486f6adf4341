// Router: Consul's 404/405/OPTIONS rules (consul-compat.md 1.0), exact routes before the longest
// prefix, the prefix remainder handed on as `param`; and Responder's no-op once its sink is gone.
#include <catch2/catch.hpp>

#include "http-api/router.h"
#include "tests/http-api/fakes.h"

using namespace hearsay::http;
using namespace hearsay::http::test;

namespace {

Router make_router() {
  Router router;
  auto named = [](std::string name) {
    return [name](Call call) { call.responder.send(Response::text(200, name + ":" + call.param)); };
  };
  router.exact("/v1/agent/self", {"GET"}, named("self"));
  router.exact("/v1/kv/special", {"GET"}, named("special"));
  router.prefix("/v1/kv/", {"GET", "PUT"}, named("kv"));
  router.prefix("/v1/kv/locked/", {"DELETE"}, named("locked"));
  return router;
}

}  // namespace

TEST_CASE("router answers Consul's 404, 405 and OPTIONS and dispatches the rest", "[unit]") {
  struct Row {
    const char* method;
    const char* path;
    int status;
    const char* body;   // exact
    const char* allow;  // null: no Allow header
  };
  const Row rows[] = {
      {"GET", "/v1/agent/self", 200, "self:", nullptr},
      {"GET", "/v1/kv/web", 200, "kv:web", nullptr},
      {"PUT", "/v1/kv/a/b", 200, "kv:a/b", nullptr},
      {"GET", "/v1/kv/special", 200, "special:", nullptr},        // exact before prefix
      {"GET", "/v1/kv/specialist", 200, "kv:specialist", nullptr},  // exact means the whole path
      {"DELETE", "/v1/kv/locked/x", 200, "locked:x", nullptr},      // the longest prefix wins
      {"GET", "/v1/kv/locked/x", 405, "method GET not allowed", "OPTIONS,DELETE"},
      {"POST", "/v1/agent/self", 405, "method POST not allowed", "OPTIONS,GET"},
      {"DELETE", "/v1/kv/web", 405, "method DELETE not allowed", "OPTIONS,GET,PUT"},
      {"OPTIONS", "/v1/agent/self", 200, "", "OPTIONS,GET"},
      {"OPTIONS", "/v1/kv/web", 200, "", "OPTIONS,GET,PUT"},
      {"GET", "/v1/agent/self/", 404, "Invalid URL path: not a recognized HTTP API endpoint", nullptr},
      {"GET", "/v1/nothing", 404, "Invalid URL path: not a recognized HTTP API endpoint", nullptr},
      {"OPTIONS", "/v1/nothing", 404, "Invalid URL path: not a recognized HTTP API endpoint", nullptr},
      {"GET", "/ui/", 404, "404 page not found", nullptr},
      {"GET", "/v1", 404, "404 page not found", nullptr},
  };
  Router router = make_router();
  auto handler = [&router](Request req, Responder res) { router.dispatch(std::move(req), std::move(res)); };
  for (const Row& row : rows) {
    INFO(row.method << " " << row.path);
    Exchange e = send(handler, row.method, row.path);
    REQUIRE(e.answered());
    CHECK(e.sink->sent.size() == 1);
    CHECK(e.response().status == row.status);
    CHECK(e.response().body == row.body);
    const std::string* allow = header_of(e.response(), "Allow");
    if (row.allow) {
      REQUIRE(allow);
      CHECK(*allow == row.allow);
    } else {
      CHECK(allow == nullptr);
    }
  }
}

TEST_CASE("router hands a later answer to the sink, and a gone sink makes it a no-op", "[unit]") {
  Router router;
  std::vector<Responder> parked;
  router.exact("/v1/wait", {"GET"}, [&parked](Call call) { parked.push_back(call.responder); });
  auto handler = [&router](Request req, Responder res) { router.dispatch(std::move(req), std::move(res)); };

  Exchange kept = send(handler, "GET", "/v1/wait");
  Exchange gone = send(handler, "GET", "/v1/wait");
  REQUIRE(parked.size() == 2);
  CHECK_FALSE(kept.answered());
  CHECK(parked[0].connected());

  parked[0].send(Response::text(200, "later"));
  parked[0].send(Response::text(500, "twice"));  // only the first answer counts
  REQUIRE(kept.sink->sent.size() == 1);
  CHECK(kept.response().body == "later");
  CHECK_FALSE(parked[0].connected());

  gone.sink.reset();  // the connection closed
  CHECK_FALSE(parked[1].connected());
  parked[1].send(Response::text(200, "nobody"));  // must not crash
  CHECK_FALSE(Responder().connected());
}
