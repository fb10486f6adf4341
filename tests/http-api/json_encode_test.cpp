// Response objects (http-api/json_encode.h) parsed back with RapidJSON: exact Consul field names
// and JSON types from consul-compat.md 1A.2, and the F5 rules the Go client depends on (lists
// never null, Port a number, Definition durations valid Go text or absent).
#include "http-api/json_encode.h"

#include <rapidjson/document.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <set>
#include <string>

using namespace std::chrono_literals;
using hearsay::catalog::Check;
using hearsay::catalog::CheckType;
using hearsay::catalog::HealthStatus;
using hearsay::catalog::Node;
using hearsay::catalog::Service;
using hearsay::http::JsonWriter;

namespace {

rapidjson::Document encode(const std::function<void(JsonWriter&)>& write) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  write(w);
  REQUIRE(w.IsComplete());
  rapidjson::Document doc;
  doc.Parse(buffer.GetString(), buffer.GetSize());
  REQUIRE_FALSE(doc.HasParseError());
  return doc;
}

std::set<std::string> keys(const rapidjson::Value& object) {
  std::set<std::string> out;
  for (const auto& member : object.GetObject()) out.insert(member.name.GetString());
  return out;
}

std::string str(const rapidjson::Value& object, const char* key) {
  REQUIRE(object.HasMember(key));
  REQUIRE(object[key].IsString());
  return object[key].GetString();
}

Node sample_node() {
  Node node;
  node.id = "40e4a748-2192-161a-0510-9bf59fe950b5";
  node.name = "n1";
  node.address = "10.0.0.1";
  node.datacenter = "dc1";
  node.tagged_addresses = {{"lan", "10.0.0.1"}, {"wan", "1.2.3.4"}};
  node.meta = {{"rack", "r1"}};
  node.indexes = {3, 7};
  return node;
}

Service sample_service() {
  Service service;
  service.node = "n1";
  service.id = "web1";
  service.name = "web";
  service.port = 8080;
  service.indexes = {4, 9};
  return service;  // no tags, meta or tagged addresses: the empty cases matter most
}

}  // namespace

TEST_CASE("Node fields and types", "[unit]") {
  auto doc = encode([](JsonWriter& w) { hearsay::http::write_node(w, sample_node()); });
  CHECK(keys(doc) == std::set<std::string>{"ID", "Node", "Address", "Datacenter", "TaggedAddresses", "Meta",
                                           "CreateIndex", "ModifyIndex"});
  CHECK(str(doc, "Node") == "n1");
  CHECK(str(doc["TaggedAddresses"], "wan") == "1.2.3.4");
  CHECK(str(doc["Meta"], "rack") == "r1");
  CHECK(doc["CreateIndex"].GetUint64() == 3);
  CHECK(doc["ModifyIndex"].GetUint64() == 7);
}

TEST_CASE("AgentService: Tags and Meta never null, empty TaggedAddresses and zero indexes omitted", "[unit]") {
  Service service = sample_service();
  service.indexes = {};
  auto doc = encode([&](JsonWriter& w) { hearsay::http::write_agent_service(w, service, "dc1"); });
  CHECK(keys(doc) == std::set<std::string>{"ID", "Service", "Tags", "Meta", "Port", "Address", "Weights",
                                           "EnableTagOverride", "Datacenter"});
  CHECK(doc["Tags"].IsArray());
  CHECK(doc["Tags"].Empty());
  CHECK(doc["Meta"].IsObject());
  CHECK(doc["Port"].IsInt());
  CHECK(doc["Port"].GetInt() == 8080);
  CHECK(doc["Weights"]["Passing"].GetInt() == 1);
  CHECK(doc["Weights"]["Warning"].GetInt() == 1);
  CHECK(doc["EnableTagOverride"].IsFalse());
  CHECK(str(doc, "Datacenter") == "dc1");

  service.tags = {"a"};
  service.kind = "connect-proxy";
  service.tagged_addresses = {{"wan", {"1.2.3.4", 443}}};
  service.indexes = {2, 5};
  doc = encode([&](JsonWriter& w) { hearsay::http::write_agent_service(w, service, "dc1"); });
  CHECK(str(doc, "Kind") == "connect-proxy");
  CHECK(str(doc["TaggedAddresses"]["wan"], "Address") == "1.2.3.4");
  CHECK(doc["TaggedAddresses"]["wan"]["Port"].GetInt() == 443);
  CHECK(doc["CreateIndex"].GetUint64() == 2);
  CHECK(doc["ModifyIndex"].GetUint64() == 5);
}

TEST_CASE("NodeService: Proxy and Connect objects, RaftIndex always", "[unit]") {
  Service service = sample_service();
  service.port = 0;
  service.indexes = {};
  auto doc = encode([&](JsonWriter& w) { hearsay::http::write_node_service(w, service); });
  CHECK(keys(doc) == std::set<std::string>{"ID", "Service", "Tags", "Address", "Meta", "Port", "Weights",
                                           "EnableTagOverride", "Proxy", "Connect", "CreateIndex", "ModifyIndex"});
  CHECK(doc["Proxy"].IsObject());
  CHECK(doc["Connect"].IsObject());
  CHECK(doc["Port"].GetInt() == 0);
  CHECK(doc["Tags"].IsArray());
  CHECK(doc["CreateIndex"].GetUint64() == 0);
}

TEST_CASE("ServiceNode flattens node and Service* fields", "[unit]") {
  auto doc = encode([](JsonWriter& w) { hearsay::http::write_service_node(w, sample_node(), sample_service()); });
  CHECK(keys(doc) == std::set<std::string>{"ID", "Node", "Address", "Datacenter", "TaggedAddresses", "NodeMeta",
                                           "ServiceKind", "ServiceID", "ServiceName", "ServiceTags",
                                           "ServiceAddress", "ServiceWeights", "ServiceMeta", "ServicePort",
                                           "ServiceSocketPath", "ServiceEnableTagOverride", "ServiceProxy",
                                           "ServiceConnect", "CreateIndex", "ModifyIndex"});
  CHECK(doc["ServiceTags"].IsArray());
  CHECK(doc["ServicePort"].IsInt());
  CHECK(doc["ServicePort"].GetInt() == 8080);
  CHECK(str(doc["NodeMeta"], "rack") == "r1");
  CHECK(doc["CreateIndex"].GetUint64() == 4);  // the service's index, as Consul's ServiceNode

  Service tagged = sample_service();
  tagged.tagged_addresses = {{"lan", {"10.0.0.9", 80}}};
  doc = encode([&](JsonWriter& w) { hearsay::http::write_service_node(w, sample_node(), tagged); });
  CHECK(doc["ServiceTaggedAddresses"]["lan"]["Port"].GetInt() == 80);
}

TEST_CASE("HealthCheck: Type, Interval/Timeout strings, Definition without empty durations", "[unit]") {
  Check check;
  check.node = "n1";
  check.id = "service:web1";
  check.name = "Service 'web' check";
  check.status = HealthStatus::passing;
  check.service_id = "web1";
  check.service_name = "web";
  check.spec.type = CheckType::http;
  check.spec.http = "http://127.0.0.1:8080/health";
  check.spec.interval = 10s;
  check.spec.deregister_critical_after = 90s;
  check.spec.header = {{"X", {"1"}}};
  auto doc = encode([&](JsonWriter& w) { hearsay::http::write_health_check(w, check); });
  CHECK(keys(doc) == std::set<std::string>{"Node", "CheckID", "Name", "Status", "Notes", "Output", "ServiceID",
                                           "ServiceName", "ServiceTags", "Type", "Interval", "Timeout",
                                           "ExposedPort", "Definition", "CreateIndex", "ModifyIndex"});
  CHECK(str(doc, "Status") == "passing");
  CHECK(str(doc, "Type") == "http");
  CHECK(str(doc, "Interval") == "10s");
  CHECK(str(doc, "Timeout").empty());
  CHECK(doc["ServiceTags"].IsArray());
  CHECK(doc["ExposedPort"].GetInt() == 0);
  const auto& def = doc["Definition"];
  CHECK(keys(def) == std::set<std::string>{"HTTP", "Header", "Interval", "DeregisterCriticalServiceAfter"});
  CHECK(str(def, "Interval") == "10s");
  CHECK(str(def, "DeregisterCriticalServiceAfter") == "1m30s");
  REQUIRE(def["Header"]["X"].IsArray());
  CHECK(std::string(def["Header"]["X"][0].GetString()) == "1");
}

TEST_CASE("HealthCheck of a gossip check has an empty Type and an empty Definition", "[unit]") {
  Check serf;
  serf.id = "serfHealth";
  serf.status = HealthStatus::critical;
  auto doc = encode([&](JsonWriter& w) { hearsay::http::write_health_check(w, serf); });
  CHECK(str(doc, "Type").empty());
  CHECK(str(doc, "Status") == "critical");
  CHECK(doc["Definition"].IsObject());
  CHECK(doc["Definition"].ObjectEmpty());
}

TEST_CASE("HealthCheck Definition of TTL and script checks", "[unit]") {
  Check check;
  check.spec.type = CheckType::script;
  check.spec.args = {"/bin/sh", "-c", "true"};
  check.spec.interval = 1500ms;
  check.spec.timeout = 30s;
  auto doc = encode([&](JsonWriter& w) { hearsay::http::write_health_check(w, check); });
  CHECK(str(doc, "Type") == "script");
  CHECK(str(doc, "Timeout") == "30s");
  CHECK(doc["Definition"]["ScriptArgs"].Size() == 3);
  CHECK(str(doc["Definition"], "Interval") == "1.5s");

  check.spec = {};
  check.spec.type = CheckType::ttl;
  check.spec.ttl = 1min;
  doc = encode([&](JsonWriter& w) { hearsay::http::write_health_check(w, check); });
  CHECK(keys(doc["Definition"]) == std::set<std::string>{"TTL"});
  CHECK(str(doc["Definition"], "TTL") == "1m0s");
  CHECK(str(doc, "Interval").empty());
}

TEST_CASE("CheckServiceNode nests Node, Service and Checks", "[unit]") {
  Check serf;
  serf.id = "serfHealth";
  Check svc;
  svc.id = "service:web1";
  std::vector<const Check*> checks{&serf, &svc};
  auto doc = encode(
      [&](JsonWriter& w) { hearsay::http::write_check_service_node(w, sample_node(), sample_service(), checks); });
  CHECK(keys(doc) == std::set<std::string>{"Node", "Service", "Checks"});
  CHECK(str(doc["Node"], "Node") == "n1");
  CHECK(str(doc["Service"], "Service") == "web");
  REQUIRE(doc["Checks"].Size() == 2);
  CHECK(str(doc["Checks"][1], "CheckID") == "service:web1");

  doc = encode([&](JsonWriter& w) { hearsay::http::write_check_service_node(w, sample_node(), sample_service(), {}); });
  CHECK(doc["Checks"].IsArray());
  CHECK(doc["Checks"].Empty());
}

TEST_CASE("strings are escaped and may hold any bytes", "[unit]") {
  Node node = sample_node();
  node.name = std::string("a\"b\\c\n\0d", 8);
  auto doc = encode([&](JsonWriter& w) { hearsay::http::write_node(w, node); });
  CHECK(std::string(doc["Node"].GetString(), doc["Node"].GetStringLength()) == node.name);
}

TEST_CASE("pretty: 4-space indent, trailing newline, numbers untouched", "[unit]") {
  CHECK(hearsay::http::pretty(R"({"a":[1,2.50],"b":{},"c":[],"d":"x"})") ==
        "{\n    \"a\": [\n        1,\n        2.50\n    ],\n    \"b\": {},\n    \"c\": [],\n    \"d\": \"x\"\n}\n");
  CHECK(hearsay::http::pretty("[]") == "[]\n");
  CHECK(hearsay::http::pretty("{bad") == "{bad");
}
