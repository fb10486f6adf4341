// The Consul endpoints over a real catalog::Catalog, with a fake AgentOps and a waiter woken by
// hand (consul-compat.md 1A, 2): registration round trips, reads with ?passing, ?tag,
// ?node-meta and ?filter, blocking-query index semantics, durability, error status codes.
#include <catch2/catch.hpp>

#include <algorithm>

#include "tests/http-api/fakes.h"

using namespace hearsay;
using namespace hearsay::http;
using namespace hearsay::http::test;

namespace {

// Two nodes: n1 (rack a, this agent) runs web [v1 primary] passing; n2 (rack b) runs web [v2]
// critical and db.
struct Fixture {
  catalog::Catalog catalog;
  FakeOps ops{catalog, "n1"};
  FakeWaiter waiter;
  Api api{ApiContext{catalog, ops, waiter, "dc1", "n1"}};

  Fixture() {
    add_node("n1", "10.0.0.1", {{"rack", "a"}});
    add_node("n2", "10.0.0.2", {{"rack", "b"}});
    add_service("n1", "web1", "web", {"v1", "primary"}, 80);
    add_service("n2", "web2", "web", {"v2"}, 81);
    add_service("n2", "db", "db", {}, 5432);
    add_check("n1", "service:web1", "web1", catalog::HealthStatus::passing);
    add_check("n2", "service:web2", "web2", catalog::HealthStatus::critical);
  }
  void add_node(std::string name, std::string address, catalog::StringMap meta) {
    catalog::Node n;
    n.name = std::move(name);
    n.address = std::move(address);
    n.meta = std::move(meta);
    catalog.upsert_node(std::move(n));
  }
  void add_service(std::string node, std::string id, std::string name, std::vector<std::string> tags, int port) {
    catalog::Service s;
    s.node = std::move(node);
    s.id = std::move(id);
    s.name = std::move(name);
    s.tags = std::move(tags);
    s.port = port;
    catalog.upsert_service(std::move(s));
  }
  void add_check(std::string node, std::string id, std::string service_id, catalog::HealthStatus status) {
    catalog::Check c;
    c.node = std::move(node);
    c.id = std::move(id);
    c.name = c.id;
    c.service_id = std::move(service_id);
    c.status = status;
    catalog.upsert_check(std::move(c));
  }

  Exchange request(std::string method, const std::string& target, std::string body = {}) {
    return send([this](Request req, Responder res) { api.handle(std::move(req), std::move(res)); }, std::move(method),
                target, std::move(body));
  }
  Response get(const std::string& target) {
    Exchange e = request("GET", target);
    REQUIRE(e.answered());
    return e.response();
  }
};

// The value of `field` in each element of a JSON array body ("Node" or "Node.Node"), sorted.
std::vector<std::string> column(const Response& res, const std::string& field) {
  auto doc = parse_json(res.body);
  std::vector<std::string> out;
  if (!doc.IsArray()) return {"<not an array: " + res.body + ">"};
  for (const auto& item : doc.GetArray()) {
    const rapidjson::Value* v = &item;
    std::string rest = field;
    while (true) {
      auto dot = rest.find('.');
      std::string key = rest.substr(0, dot);
      if (!v->IsObject() || !v->HasMember(key.c_str())) return {"<no " + field + ">"};
      v = &(*v)[key.c_str()];
      if (dot == std::string::npos) break;
      rest = rest.substr(dot + 1);
    }
    out.push_back(v->IsString() ? v->GetString() : "<not a string>");
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::uint64_t consul_index(const Response& res) {
  const std::string* h = header_of(res, "X-Consul-Index");
  REQUIRE(h);
  return std::stoull(*h);
}

using Names = std::vector<std::string>;

// A header's value, "" when absent.
std::string header(const Response& res, const std::string& name) {
  const std::string* h = header_of(res, name);
  return h ? *h : std::string();
}

}  // namespace

TEST_CASE("catalog and health reads apply passing, tag, node-meta and filter", "[unit]") {
  struct Row {
    const char* target;
    const char* field;
    Names expected;
  };
  const Row rows[] = {
      {"/v1/catalog/service/web", "Node", {"n1", "n2"}},
      {"/v1/catalog/service/web?tag=v2", "Node", {"n2"}},
      {"/v1/catalog/service/web?tag=v1&tag=primary", "Node", {"n1"}},
      {"/v1/catalog/service/web?tag=v1&tag=v2", "Node", {}},
      {"/v1/catalog/service/web?node-meta=rack:b", "Node", {"n2"}},
      {"/v1/catalog/service/web?filter=ServicePort == 81", "ServiceID", {"web2"}},
      {"/v1/catalog/service/nothing", "Node", {}},
      {"/v1/catalog/nodes", "Node", {"n1", "n2"}},
      {"/v1/catalog/nodes?node-meta=rack:a", "Node", {"n1"}},
      {"/v1/catalog/nodes?filter=Meta.rack == b", "Node", {"n2"}},
      {"/v1/health/service/web", "Node.Node", {"n1", "n2"}},
      {"/v1/health/service/web?passing", "Node.Node", {"n1"}},
      {"/v1/health/service/web?passing=false", "Node.Node", {"n1", "n2"}},
      {"/v1/health/service/web?tag=v2", "Service.ID", {"web2"}},
      {"/v1/health/service/web?node-meta=rack:a", "Service.ID", {"web1"}},
      {"/v1/health/service/db?passing", "Service.ID", {"db"}},  // no checks: passing
      {"/v1/health/checks/web", "CheckID", {"service:web1", "service:web2"}},
      {"/v1/health/state/critical", "CheckID", {"service:web2"}},
      {"/v1/health/state/any", "CheckID", {"service:web1", "service:web2"}},
      {"/v1/health/state/bogus", "CheckID", {}},
      {"/v1/health/state/any?filter=Node == n1", "CheckID", {"service:web1"}},
      {"/v1/health/node/n2", "CheckID", {"service:web2"}},
  };
  Fixture f;
  for (const Row& row : rows) {
    INFO(row.target);
    Response res = f.get(row.target);
    CHECK(res.status == 200);
    CHECK(column(res, row.field) == row.expected);
    CHECK(consul_index(res) >= 1);
  }
}

TEST_CASE("catalog services and node read the shapes Consul answers", "[unit]") {
  Fixture f;
  auto services = parse_json(f.get("/v1/catalog/services?node-meta=rack:b").body);
  REQUIRE(services.IsObject());
  CHECK(services.MemberCount() == 2);
  REQUIRE(services.HasMember("web"));
  CHECK(services["web"].Size() == 1);
  CHECK(std::string(services["web"][0].GetString()) == "v2");

  auto node = parse_json(f.get("/v1/catalog/node/n2").body);
  REQUIRE(node.IsObject());
  CHECK(std::string(node["Node"]["Address"].GetString()) == "10.0.0.2");
  CHECK(node["Services"].HasMember("web2"));
  CHECK(node["Services"].HasMember("db"));
  CHECK(f.get("/v1/catalog/node/nobody").body == "null");
}

TEST_CASE("agent registration and deregistration go through AgentOps and show in reads", "[unit]") {
  Fixture f;
  Exchange put = f.request("PUT", "/v1/agent/service/register", R"({"Name":"api","ID":"api1","Port":9000,"Tags":["x"]})");
  REQUIRE(put.answered());
  CHECK(put.response().status == 200);
  CHECK(f.ops.calls.back() == "register_service api1");
  CHECK(column(f.get("/v1/catalog/service/api"), "ServiceID") == Names{"api1"});
  auto local = parse_json(f.get("/v1/agent/services").body);
  CHECK(local.HasMember("api1"));
  CHECK(local.HasMember("web1"));
  CHECK_FALSE(local.HasMember("web2"));  // another node's
  CHECK(f.get("/v1/agent/service/api1").status == 200);

  Exchange del = f.request("PUT", "/v1/agent/service/deregister/api1");
  REQUIRE(del.answered());
  CHECK(del.response().status == 200);
  CHECK(column(f.get("/v1/catalog/service/api"), "ServiceID").empty());
  CHECK(f.get("/v1/agent/service/api1").status == 404);
}

TEST_CASE("catalog register and deregister write nodes, services and checks", "[unit]") {
  Fixture f;
  Exchange put = f.request("PUT", "/v1/catalog/register",
                           R"({"Node":"ext","Address":"192.0.2.9","Service":{"Service":"billing","Port":8080}})");
  REQUIRE(put.answered());
  CHECK(put.response().status == 200);
  CHECK(put.response().body == "true");
  CHECK(column(f.get("/v1/catalog/service/billing"), "Node") == Names{"ext"});
  CHECK(column(f.get("/v1/catalog/nodes"), "Node") == Names{"ext", "n1", "n2"});

  Exchange del = f.request("PUT", "/v1/catalog/deregister", R"({"Node":"ext"})");
  REQUIRE(del.answered());
  CHECK(del.response().body == "true");
  CHECK(column(f.get("/v1/catalog/nodes"), "Node") == Names{"n1", "n2"});
}

TEST_CASE("endpoints answer Consul's error status codes", "[unit]") {
  struct Row {
    const char* method;
    const char* target;
    const char* body;
    int status;
    const char* text;  // a substring of the answer; empty: not checked
  };
  const Row rows[] = {
      {"PUT", "/v1/agent/service/register", "{", 400, ""},
      {"PUT", "/v1/agent/service/register", R"({"Port":1})", 400, ""},
      {"PUT", "/v1/agent/service/deregister/nope", "", 404, "Unknown service ID"},
      {"GET", "/v1/agent/service/nope", "", 404, "unknown service ID: nope"},
      {"PUT", "/v1/agent/maintenance", "", 400, "Missing value for enable"},
      {"PUT", "/v1/agent/maintenance?enable=yes", "", 400, "Invalid value for enable: \"yes\""},
      {"PUT", "/v1/agent/check/update/c1", R"({"Status":"sideways"})", 400, "Invalid check status"},
      {"PUT", "/v1/catalog/register", R"({"Node":"x"})", 400, "Must provide address"},
      {"PUT", "/v1/catalog/register", R"({"Address":"192.0.2.1"})", 400, "Must provide node"},
      {"PUT", "/v1/catalog/register", R"({"Datacenter":"dc2","Node":"x","Address":"192.0.2.1"})", 500,
       "No path to datacenter"},
      {"PUT", "/v1/catalog/deregister", "{}", 400, "Must provide node"},
      {"GET", "/v1/catalog/services?dc=dc2", "", 500, ""},
      {"GET", "/v1/catalog/service/web?index=abc", "", 400, "Invalid index"},
      {"GET", "/v1/health/service/web?passing=maybe", "", 400, "Invalid value for ?passing"},
      {"GET", "/v1/catalog/nodes?filter=((", "", 400, ""},
      {"DELETE", "/v1/catalog/nodes", "", 405, "method DELETE not allowed"},
      {"GET", "/v1/catalog/nowhere", "", 404, "Invalid URL path"},
  };
  for (const Row& row : rows) {
    INFO(row.method << " " << row.target << " " << row.body);
    Fixture f;
    Exchange e = f.request(row.method, row.target, row.body);
    REQUIRE(e.answered());
    CHECK(e.response().status == row.status);
    CHECK_THAT(e.response().body, Catch::Contains(row.text));
  }
}

TEST_CASE("a failed agent operation is answered with its status and nothing waits for a commit", "[unit]") {
  Fixture f;
  f.ops.hold_commits = true;
  f.ops.fail_next = OpResult::fail(500, "Check \"c1\" is not a TTL check");
  Exchange e = f.request("PUT", "/v1/agent/check/pass/c1?note=ok");
  REQUIRE(e.answered());
  CHECK(e.response().status == 500);
  CHECK(e.response().body == "Check \"c1\" is not a TTL check");
  CHECK(f.ops.pending_commits.empty());
}

TEST_CASE("writes are answered only once durable, 500 when the commit failed", "[unit]") {
  Fixture f;
  f.ops.hold_commits = true;
  Exchange ok = f.request("PUT", "/v1/agent/check/pass/c1?note=fine");
  Exchange lost = f.request("PUT", "/v1/agent/maintenance?enable=true&reason=patching");
  CHECK_FALSE(ok.answered());
  CHECK_FALSE(lost.answered());
  CHECK(f.ops.calls == std::vector<std::string>{"update_ttl_check c1 passing fine", "set_node_maintenance 1 patching"});
  REQUIRE(f.ops.pending_commits.size() == 2);
  f.ops.pending_commits[0](true);
  f.ops.pending_commits[1](false);
  REQUIRE(ok.answered());
  CHECK(ok.response().status == 200);
  REQUIRE(lost.answered());
  CHECK(lost.response().status == 500);
  CHECK(lost.response().body == "failed to persist the change; see the agent log");
}

TEST_CASE("a blocking read waits for its own index and ignores changes to others", "[unit]") {
  Fixture f;
  const std::uint64_t web_index = consul_index(f.get("/v1/health/service/web"));

  Exchange watch = f.request("GET", "/v1/health/service/web?index=" + std::to_string(web_index) + "&wait=10s");
  CHECK_FALSE(watch.answered());
  CHECK(f.waiter.parked() == 1);

  f.add_service("n2", "db2", "db", {}, 5433);  // another service's change
  f.waiter.wake();
  CHECK_FALSE(watch.answered());

  f.add_service("n1", "web3", "web", {"v3"}, 82);
  f.waiter.wake();
  REQUIRE(watch.answered());
  CHECK(consul_index(watch.response()) > web_index);
  CHECK(column(watch.response(), "Service.ID") == Names{"web1", "web2", "web3"});
  CHECK(f.waiter.parked() == 0);
}

TEST_CASE("a blocking read answers at once without index, on an old index or one from the future", "[unit]") {
  Fixture f;
  const std::uint64_t current = consul_index(f.get("/v1/catalog/nodes"));
  for (std::uint64_t asked : {std::uint64_t{0}, current - 1, current + 1000}) {
    INFO("index " << asked);
    Exchange e = f.request("GET", "/v1/catalog/nodes?index=" + std::to_string(asked));
    REQUIRE(e.answered());
    CHECK(consul_index(e.response()) == current);
  }
  CHECK(f.waiter.parked() == 0);
}

TEST_CASE("a blocking read that times out answers with the unchanged index", "[unit]") {
  Fixture f;
  const std::uint64_t index = consul_index(f.get("/v1/catalog/service/web"));
  Exchange e = f.request("GET", "/v1/catalog/service/web?index=" + std::to_string(index) + "&wait=1s");
  CHECK_FALSE(e.answered());
  f.waiter.time_out();
  REQUIRE(e.answered());
  CHECK(e.response().status == 200);
  CHECK(consul_index(e.response()) == index);
  CHECK(column(e.response(), "ServiceID") == Names{"web1", "web2"});
}

TEST_CASE("prometheus http_sd lists healthy instances with consul_sd's meta labels", "[unit]") {
  Fixture f;
  catalog::Service web1 = *f.catalog.service("n1", "web1");
  web1.meta = {{"version", "local"}, {"odd-key.x", "1"}};
  f.catalog.upsert_service(std::move(web1));
  Response res = f.get("/v1/prometheus/sd");
  CHECK(res.status == 200);
  CHECK(header(res, "Content-Type") == "application/json");
  auto doc = parse_json(res.body);
  REQUIRE(doc.IsArray());
  // web2 is critical: left out. db has no checks (passing), web1 passing.
  REQUIRE(doc.Size() == 2);
  const auto& db = doc[0];
  CHECK(std::string(db["targets"][0].GetString()) == "10.0.0.2:5432");
  CHECK(std::string(db["labels"]["__meta_consul_tags"].GetString()) == ",,");
  const auto& web = doc[1];
  const auto& labels = web["labels"];
  CHECK(std::string(web["targets"][0].GetString()) == "10.0.0.1:80");
  CHECK(std::string(labels["__meta_consul_service"].GetString()) == "web");
  CHECK(std::string(labels["__meta_consul_service_id"].GetString()) == "web1");
  CHECK(std::string(labels["__meta_consul_node"].GetString()) == "n1");
  CHECK(std::string(labels["__meta_consul_address"].GetString()) == "10.0.0.1");
  CHECK(std::string(labels["__meta_consul_dc"].GetString()) == "dc1");
  CHECK(std::string(labels["__meta_consul_health"].GetString()) == "passing");
  CHECK(std::string(labels["__meta_consul_service_port"].GetString()) == "80");
  CHECK(std::string(labels["__meta_consul_tags"].GetString()) == ",v1,primary,");
  CHECK(std::string(labels["__meta_consul_metadata_rack"].GetString()) == "a");
  CHECK(std::string(labels["__meta_consul_service_metadata_version"].GetString()) == "local");
  CHECK(std::string(labels["__meta_consul_service_metadata_odd_key_x"].GetString()) == "1");

  CHECK(column(f.get("/v1/prometheus/sd?service=db"), "labels.__meta_consul_service_id") == Names{"db"});
  CHECK(column(f.get("/v1/prometheus/sd?tag=v1"), "labels.__meta_consul_service_id") == Names{"web1"});
  CHECK(column(f.get("/v1/prometheus/sd?node-meta=rack:b"), "labels.__meta_consul_service_id") == Names{"db"});
  CHECK(column(f.get("/v1/prometheus/sd?tag-separator=|&service=web"), "labels.__meta_consul_tags") ==
        Names{"|v1|primary|"});
  // A check turning critical takes the instance out; the read's index moved, so the cached
  // answer is not served again.
  f.add_check("n1", "service:web1", "web1", catalog::HealthStatus::critical);
  CHECK(column(f.get("/v1/prometheus/sd"), "labels.__meta_consul_service_id") == Names{"db"});
  CHECK(f.get("/v1/prometheus/sd?filter=Service.Port ==").status == 400);
}

TEST_CASE("the web page is served from the binary and / redirects to it", "[unit]") {
  Fixture f;
  Response root = f.get("/");
  CHECK(root.status == 301);
  CHECK(header(root, "Location") == "/ui/");
  Response page = f.get("/ui/");
  CHECK(page.status == 200);
  CHECK(header(page, "Content-Type").starts_with("text/html"));
  CHECK(page.body.find("/ui/app.js") != std::string::npos);
  CHECK(f.get("/ui/services/web").body == page.body);  // a deep link gets the page
  Response js = f.get("/ui/app.js");
  CHECK(header(js, "Content-Type").starts_with("text/javascript"));
  CHECK(js.body.find("/v1/internal/ui/services") != std::string::npos);
  CHECK(f.get("/ui/missing.js").status == 404);
  CHECK(f.request("POST", "/ui/").response().status == 405);
}

TEST_CASE("the page's service summary counts instances, nodes and checks per service", "[unit]") {
  Fixture f;
  auto doc = parse_json(f.get("/v1/internal/ui/services").body);
  REQUIRE(doc.IsArray());
  REQUIRE(doc.Size() == 2);
  const auto& db = doc[0];
  CHECK(std::string(db["Name"].GetString()) == "db");
  CHECK(db["InstanceCount"].GetInt() == 1);
  const auto& web = doc[1];
  CHECK(web["InstanceCount"].GetInt() == 2);
  CHECK(web["Nodes"].Size() == 2);
  CHECK(web["Tags"].Size() == 3);
  CHECK(web["ChecksPassing"].GetInt() == 1);
  CHECK(web["ChecksCritical"].GetInt() == 1);
  CHECK(web["ChecksWarning"].GetInt() == 0);
}

TEST_CASE("agent metrics answer Consul's JSON or Prometheus text", "[unit]") {
  Fixture f;
  auto json = parse_json(f.get("/v1/agent/metrics").body);
  REQUIRE(json.IsObject());
  CHECK(std::string(json["Counters"][0]["Name"].GetString()) == "hearsay.test.requests");
  CHECK(json["Counters"][0]["Sum"].GetDouble() == 7);
  CHECK(std::string(json["Gauges"][0]["Name"].GetString()) == "hearsay.test.members");
  CHECK(json["Samples"][0]["Count"].GetDouble() == 1);
  Response text = f.get("/v1/agent/metrics?format=prometheus");
  CHECK(header(text, "Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(text.body.find("hearsay_test_requests_total 7\n") != std::string::npos);
  CHECK(text.body.find("# TYPE hearsay_test_duration_seconds histogram\n") != std::string::npos);
}

TEST_CASE("near puts the named node's instances first, _agent being this agent", "[unit]") {
  Fixture f;
  f.add_service("n2", "web3", "web", {}, 82);
  auto first_node = [&](const std::string& target, const char* field) {
    auto doc = parse_json(f.get(target).body);
    REQUIRE(doc.IsArray());
    REQUIRE(doc.Size() == 3);
    const rapidjson::Value& v = std::string(field) == "Node" ? doc[0]["Node"] : doc[0]["Node"]["Node"];
    return std::string(v.GetString());
  };
  // Without near, the catalog's order (n1 first here); near moves the named node ahead.
  CHECK(first_node("/v1/catalog/service/web", "Node") == "n1");
  CHECK(first_node("/v1/catalog/service/web?near=n2", "Node") == "n2");
  CHECK(first_node("/v1/health/service/web?near=n2", "Node.Node") == "n2");
  CHECK(first_node("/v1/catalog/service/web?near=_agent", "Node") == "n1");
  CHECK(first_node("/v1/health/service/web?near=_agent", "Node.Node") == "n1");
  // The same path with and without near is cached apart.
  CHECK(first_node("/v1/catalog/service/web?near=n2", "Node") == "n2");
}
