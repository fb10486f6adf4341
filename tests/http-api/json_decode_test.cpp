// Request body decoding (http-api/json_decode.h): python-consul 0.7.1's exact bodies with
// lowercase keys (consul-compat.md F2, 1A), Consul's PascalCase and snake_case forms (1A.3, 5.1),
// one malformed case per error class, and the persistence round trip.
#include "http-api/json_decode.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

using namespace std::chrono_literals;
using hearsay::catalog::CheckDefinition;
using hearsay::catalog::CheckType;
using hearsay::catalog::HealthStatus;
using hearsay::catalog::ServiceDefinition;
using hearsay::http::decode_catalog_deregister;
using hearsay::http::decode_catalog_register;
using hearsay::http::decode_check_definition;
using hearsay::http::decode_check_update;
using hearsay::http::decode_service_definition;

namespace {

// The error text of a body expected to fail, for assertions on its wording.
template <typename Result>
std::string error_of(const Result& result) {
  REQUIRE_FALSE(result.ok());
  return result.error();
}

bool starts_with(const std::string& text, std::string_view prefix) { return text.rfind(prefix, 0) == 0; }

}  // namespace

TEST_CASE("python-consul service register with a TTL check", "[unit]") {
  auto result = decode_service_definition(
      R"({"name": "web", "id": "web1", "port": 8080, "tags": ["a"], "check": {"ttl": "10s"}})");
  REQUIRE(result.ok());
  const ServiceDefinition& def = result.value();
  CHECK(def.name == "web");
  CHECK(def.id == "web1");
  CHECK(def.port == 8080);
  CHECK(def.tags == std::vector<std::string>{"a"});
  REQUIRE(def.checks.size() == 1);
  CHECK(def.checks[0].spec.type == CheckType::ttl);
  CHECK(def.checks[0].spec.ttl == 10s);
  CHECK_FALSE(def.checks[0].initial_status.has_value());
}

TEST_CASE("python-consul address, enabletagoverride and an HTTP check", "[unit]") {
  auto result = decode_service_definition(
      R"({"name": "api", "address": "10.0.0.5", "enabletagoverride": true,
          "check": {"http": "http://127.0.0.1:1/h", "interval": "5s", "timeout": "1s",
                    "DeregisterCriticalServiceAfter": "1m"},
          "WriteRequest": {"Token": "t"}})");
  REQUIRE(result.ok());
  const ServiceDefinition& def = result.value();
  CHECK(def.address == "10.0.0.5");
  CHECK(def.enable_tag_override);
  CHECK(def.id.empty());  // defaulting is normalize_service's job
  REQUIRE(def.checks.size() == 1);
  const auto& spec = def.checks[0].spec;
  CHECK(spec.type == CheckType::http);
  CHECK(spec.http == "http://127.0.0.1:1/h");
  CHECK(spec.interval == 5s);
  CHECK(spec.timeout == 1s);
  CHECK(spec.deregister_critical_after == 1min);
}

TEST_CASE("python-consul check register bodies", "[unit]") {
  SECTION("legacy script runs through /bin/sh -c") {
    auto result = decode_check_definition(R"({"script": "true", "interval": "10s", "name": "s"})");
    REQUIRE(result.ok());
    CHECK(result.value().spec.type == CheckType::script);
    CHECK(result.value().spec.args == std::vector<std::string>{"/bin/sh", "-c", "true"});
    CHECK(result.value().spec.interval == 10s);
  }
  SECTION("tcp with name, id, notes and serviceid") {
    auto result = decode_check_definition(
        R"({"tcp": "127.0.0.1:22", "interval": "2s", "name": "ssh", "id": "ssh1", "notes": "n",
            "serviceid": "web1"})");
    REQUIRE(result.ok());
    const CheckDefinition& def = result.value();
    CHECK(def.spec.type == CheckType::tcp);
    CHECK(def.spec.tcp == "127.0.0.1:22");
    CHECK(def.name == "ssh");
    CHECK(def.id == "ssh1");
    CHECK(def.notes == "n");
    CHECK(def.service_id == "web1");
  }
  SECTION("Args win over a legacy Script") {
    auto result = decode_check_definition(R"({"Script": "x", "Args": ["/bin/true"], "Interval": "1s"})");
    REQUIRE(result.ok());
    CHECK(result.value().spec.args == std::vector<std::string>{"/bin/true"});
  }
}

TEST_CASE("Consul PascalCase service definition", "[unit]") {
  auto result = decode_service_definition(R"({
    "ID": "redis1", "Name": "redis", "Tags": ["primary", "v1"], "Address": "10.1.1.1", "Port": 6379,
    "Meta": {"version": "7"}, "TaggedAddresses": {"wan": {"Address": "1.2.3.4", "Port": 16379}},
    "Weights": {"Passing": 10, "Warning": 1}, "EnableTagOverride": false, "Kind": "",
    "Check": {"CheckID": "c1", "Name": "ping", "TTL": 30000000000, "Status": "passing", "Notes": "x"},
    "Checks": [{"HTTP": "http://127.0.0.1/", "Method": "POST", "Header": {"X-A": ["1", "2"]},
                "Body": "{}", "TLSSkipVerify": true, "TLSServerName": "srv", "DisableRedirects": true,
                "Interval": "1m30s", "Timeout": 500000000},
               {"ScriptArgs": ["/usr/bin/check", "-v"], "Interval": "10s"}]})");
  REQUIRE(result.ok());
  const ServiceDefinition& def = result.value();
  CHECK(def.meta == hearsay::catalog::StringMap{{"version", "7"}});
  REQUIRE(def.tagged_addresses.count("wan") == 1);
  CHECK(def.tagged_addresses.at("wan") == hearsay::catalog::ServiceAddress{"1.2.3.4", 16379});
  CHECK(def.weights == hearsay::catalog::Weights{10, 1});
  REQUIRE(def.checks.size() == 3);  // Check first, then Checks
  CHECK(def.checks[0].id == "c1");
  CHECK(def.checks[0].spec.ttl == 30s);
  CHECK(def.checks[0].initial_status == HealthStatus::passing);
  const auto& http = def.checks[1].spec;
  CHECK(http.type == CheckType::http);
  CHECK(http.method == "POST");
  CHECK(http.header.at("X-A") == std::vector<std::string>{"1", "2"});
  CHECK(http.body == "{}");
  CHECK(http.tls_skip_verify);
  CHECK(http.tls_server_name == "srv");
  CHECK(http.disable_redirects);
  CHECK(http.interval == 90s);
  CHECK(http.timeout == 500ms);
  CHECK(def.checks[2].spec.type == CheckType::script);
  CHECK(def.checks[2].spec.args == std::vector<std::string>{"/usr/bin/check", "-v"});
}

TEST_CASE("Consul snake_case aliases", "[unit]") {
  auto service = decode_service_definition(
      R"({"name": "s", "enable_tag_override": true, "tagged_addresses": {"lan": {"address": "a", "port": 1}},
          "check": {"args": ["a"], "interval": "1s", "deregister_critical_service_after": "2m",
                    "tls_skip_verify": true, "tls_server_name": "t", "disable_redirects": true}})");
  REQUIRE(service.ok());
  CHECK(service.value().enable_tag_override);
  CHECK(service.value().tagged_addresses.at("lan") == hearsay::catalog::ServiceAddress{"a", 1});
  const auto& spec = service.value().checks.at(0).spec;
  CHECK(spec.args == std::vector<std::string>{"a"});
  CHECK(spec.deregister_critical_after == 2min);
  CHECK(spec.tls_skip_verify);
  CHECK(spec.tls_server_name == "t");
  CHECK(spec.disable_redirects);

  auto check = decode_check_definition(R"({"name": "c", "script_args": ["x"], "interval": "1s", "service_id": "s"})");
  REQUIRE(check.ok());
  CHECK(check.value().spec.args == std::vector<std::string>{"x"});
  CHECK(check.value().service_id == "s");
}

TEST_CASE("Go decoding rules: null keeps defaults, later duplicate keys win, empty Check is none", "[unit]") {
  auto result = decode_service_definition(
      R"({"Name": "a", "name": "b", "Tags": null, "Meta": null, "Weights": null, "Port": null, "Check": {}})");
  REQUIRE(result.ok());
  CHECK(result.value().name == "b");
  CHECK(result.value().port == 0);
  CHECK(result.value().tags.empty());
  CHECK(result.value().weights == hearsay::catalog::Weights{1, 1});
  CHECK(result.value().checks.empty());

  auto kept = decode_service_definition(R"({"name": "a", "Checks": [{"TTL": "1s"}], "checks": null})");
  REQUIRE(kept.ok());
  CHECK(kept.value().checks.size() == 1);
}

TEST_CASE("decode errors, one class per case", "[unit]") {
  SECTION("malformed JSON names RapidJSON's reason and offset") {
    std::string error = error_of(decode_service_definition(R"({"name": "web",)"));
    CHECK(starts_with(error, "Request decode failed: "));
    CHECK(error.find("offset 15") != std::string::npos);
  }
  SECTION("trailing bytes after the object") {
    CHECK(starts_with(error_of(decode_service_definition(R"({"name": "a"} x)")), "Request decode failed: "));
  }
  SECTION("empty body") { CHECK(starts_with(error_of(decode_check_definition("")), "Request decode failed: ")); }
  SECTION("body is not an object") {
    CHECK(error_of(decode_service_definition(R"(["name"])")) ==
          "Request decode failed: body must be a JSON object, got array");
  }
  SECTION("Port as a string") {
    CHECK(error_of(decode_service_definition(R"({"name": "a", "port": "80"})")).find("\"Port\"") !=
          std::string::npos);
  }
  SECTION("Port out of range or fractional") {
    CHECK_FALSE(decode_service_definition(R"({"name": "a", "Port": 65536})").ok());
    CHECK_FALSE(decode_service_definition(R"({"name": "a", "Port": -1})").ok());
    CHECK_FALSE(decode_service_definition(R"({"name": "a", "Port": 80.5})").ok());
    CHECK_FALSE(decode_service_definition(R"({"name": "a", "Port": 99999999999})").ok());
  }
  SECTION("Meta value that is not a string") {
    CHECK(error_of(decode_service_definition(R"({"name": "a", "Meta": {"k": 1}})")).find("\"Meta\"") !=
          std::string::npos);
  }
  SECTION("Tags element that is not a string") {
    CHECK_FALSE(decode_service_definition(R"({"name": "a", "Tags": ["x", 2]})").ok());
  }
  SECTION("unsupported check kinds") {
    for (const char* body : {R"({"name": "g", "GRPC": "127.0.0.1:1", "Interval": "1s"})",
                             R"({"name": "d", "DockerContainerID": "abc", "Args": ["x"], "Interval": "1s"})",
                             R"({"name": "a", "AliasNode": "n"})", R"({"name": "u", "UDP": "h:1", "Interval": "1s"})",
                             R"({"name": "h", "H2PING": "h:1", "Interval": "1s"})",
                             R"({"name": "o", "OSService": "svc", "Interval": "1s"})"}) {
      INFO(body);
      std::string error = error_of(decode_check_definition(body));
      CHECK(starts_with(error, "Invalid check: "));
      CHECK(error.find("not supported") != std::string::npos);
    }
    CHECK(starts_with(error_of(decode_service_definition(R"({"name": "a", "check": {"GRPC": "x"}})")),
                      "Invalid check: GRPC"));
  }
  SECTION("bad initial Status") {
    CHECK(error_of(decode_check_definition(R"({"name": "c", "ttl": "1s", "status": "ok"})")) == "Bad check status");
    CHECK(error_of(decode_service_definition(R"({"name": "a", "check": {"ttl": "1s", "Status": "up"}})")) ==
          "Status for checks must 'passing', 'warning', 'critical'");
  }
  SECTION("bad durations") {
    CHECK(error_of(decode_check_definition(R"({"name": "c", "ttl": "10"})")).find("invalid duration") !=
          std::string::npos);
    CHECK_FALSE(decode_check_definition(R"({"name": "c", "ttl": ""})").ok());
    CHECK_FALSE(decode_check_definition(R"({"name": "c", "interval": true})").ok());
    CHECK_FALSE(decode_check_definition(R"({"name": "c", "interval": 1e300})").ok());
  }
  SECTION("Header values must be string arrays") {
    CHECK_FALSE(decode_check_definition(R"({"name": "c", "Header": {"A": "b"}})").ok());
  }
  SECTION("Checks must be an array of objects") {
    CHECK_FALSE(decode_service_definition(R"({"name": "a", "Checks": {"ttl": "1s"}})").ok());
    CHECK_FALSE(decode_service_definition(R"({"name": "a", "Checks": [1]})").ok());
  }
  SECTION("invalid UTF-8") {
    CHECK_FALSE(decode_service_definition("{\"name\": \"\xff\"}").ok());
  }
}

TEST_CASE("deep nesting is an error, not a stack overflow", "[unit]") {
  std::string body = R"({"name": "a", "WriteRequest": )" + std::string(100000, '[') + std::string(100000, ']') + "}";
  CHECK(decode_service_definition(body).ok());  // unknown keys are ignored whatever their shape
  std::string unclosed = "{\"x\": " + std::string(200000, '[');
  CHECK_FALSE(decode_service_definition(unclosed).ok());
}

TEST_CASE("durations as JSON numbers of nanoseconds", "[unit]") {
  auto result = decode_check_definition(R"({"name": "c", "TTL": 1500000000, "Timeout": 2.5e9})");
  REQUIRE(result.ok());
  CHECK(result.value().spec.ttl == 1500ms);
  CHECK(result.value().spec.timeout == 2500ms);
}

TEST_CASE("catalog register: python-consul body and Consul's full form", "[unit]") {
  SECTION("python-consul lowercase with a user service dict") {
    auto result = decode_catalog_register(
        R"({"node": "ext1", "address": "192.0.2.1", "datacenter": "dc1",
            "service": {"Service": "db", "Port": 5432, "Tags": ["p"]},
            "check": {"Name": "db alive", "Status": "passing", "ServiceID": "db"},
            "WriteRequest": {"Token": "x"}})");
    REQUIRE(result.ok());
    const auto& reg = result.value();
    CHECK(reg.node == "ext1");
    CHECK(reg.address == "192.0.2.1");
    CHECK(reg.datacenter == "dc1");
    REQUIRE(reg.service.has_value());
    CHECK(reg.service->name == "db");
    CHECK(reg.service->id == "db");  // defaults to the name
    CHECK(reg.service->node == "ext1");
    CHECK(reg.service->port == 5432);
    REQUIRE(reg.checks.size() == 1);
    CHECK(reg.checks[0].id == "db alive");  // CheckID defaults to the name
    CHECK(reg.checks[0].node == "ext1");
    CHECK(reg.checks[0].status == HealthStatus::passing);
    CHECK(reg.checks[0].service_id == "db");
  }
  SECTION("PascalCase with node fields, Definition and Checks") {
    auto result = decode_catalog_register(
        R"({"ID": "40e4a748-2192-161a-0510-9bf59fe950b5", "Node": "n", "Address": "a",
            "TaggedAddresses": {"wan": "1.2.3.4"}, "NodeMeta": {"k": "v"}, "SkipNodeUpdate": true,
            "Check": {"CheckID": "c0", "Name": "x"},
            "Checks": [{"CheckID": "c1", "Name": "h", "Definition": {"HTTP": "http://x/", "Interval": "5s"}},
                       {"CheckID": "c2", "Name": "g", "Definition": {"GRPC": "x:1"}}]})");
    REQUIRE(result.ok());
    const auto& reg = result.value();
    CHECK(reg.id == "40e4a748-2192-161a-0510-9bf59fe950b5");
    CHECK(reg.tagged_addresses.at("wan") == "1.2.3.4");
    CHECK(reg.node_meta.at("k") == "v");
    CHECK(reg.skip_node_update);
    CHECK_FALSE(reg.service.has_value());
    REQUIRE(reg.checks.size() == 3);
    CHECK(reg.checks[0].id == "c0");
    CHECK(reg.checks[0].status == HealthStatus::critical);  // no Status: critical
    CHECK(reg.checks[1].spec.type == CheckType::http);
    CHECK(reg.checks[1].spec.interval == 5s);
    CHECK(reg.checks[2].spec.type == CheckType::none);  // echoed only, never run
  }
  SECTION("errors") {
    CHECK(error_of(decode_catalog_register(R"({"Node": "n", "Check": {"Status": "nope"}})")) == "Bad check status");
    CHECK_FALSE(decode_catalog_register(R"({"Node": "n", "Service": {"Port": "1"}})").ok());
    CHECK_FALSE(decode_catalog_register(R"({"Node": "n", "TaggedAddresses": {"wan": {"Address": "x"}}})").ok());
    CHECK_FALSE(decode_catalog_register(R"({"Node": 1})").ok());
  }
}

TEST_CASE("catalog deregister", "[unit]") {
  auto result = decode_catalog_deregister(R"({"node": "n", "serviceid": "s", "datacenter": "dc1", "WriteRequest": {}})");
  REQUIRE(result.ok());
  CHECK(result.value() == hearsay::http::CatalogDeregistration{"dc1", "n", "s", ""});
  auto check = decode_catalog_deregister(R"({"Node": "n", "CheckID": "c", "Address": "tolerated"})");
  REQUIRE(check.ok());
  CHECK(check.value().check_id == "c");
  CHECK_FALSE(decode_catalog_deregister("[]").ok());
}

TEST_CASE("check update body", "[unit]") {
  auto result = decode_check_update(R"({"Status": "warning", "Output": "slow"})");
  REQUIRE(result.ok());
  CHECK(result.value().status == HealthStatus::warning);
  CHECK(result.value().output == "slow");
  CHECK(error_of(decode_check_update(R"({"Status": "bad"})")) == "Invalid check status: 'bad'");
  CHECK(error_of(decode_check_update(R"({"Output": "x"})")) == "Invalid check status: ''");
}

TEST_CASE("persistence round trip", "[unit]") {
  ServiceDefinition def;
  def.id = "web1";
  def.name = "web";
  def.tags = {"a", "b\"quoted\"", "ünïcode"};
  def.address = "10.0.0.1";
  def.port = 8080;
  def.meta = {{"k", "v"}, {"nul", std::string("a\0b", 3)}};
  def.tagged_addresses = {{"wan", {"1.2.3.4", 80}}, {"lan", {"", 0}}};
  def.weights = {5, 0};
  def.enable_tag_override = true;
  def.kind = "typical";
  CheckDefinition ttl;
  ttl.id = "service:web1:1";
  ttl.name = "ttl";
  ttl.initial_status = HealthStatus::warning;
  ttl.output = "o";
  ttl.spec.type = CheckType::ttl;
  ttl.spec.ttl = 10s;
  ttl.spec.deregister_critical_after = 90s;
  CheckDefinition http;
  http.spec.type = CheckType::http;
  http.spec.http = "https://x/";
  http.spec.method = "HEAD";
  http.spec.header = {{"A", {"1", "2"}}, {"Empty", {}}};
  http.spec.body = "b";
  http.spec.tls_skip_verify = true;
  http.spec.tls_server_name = "x";
  http.spec.disable_redirects = true;
  http.spec.interval = 1500ms;
  http.spec.timeout = 3ns;
  CheckDefinition script;
  script.spec.type = CheckType::script;
  script.spec.args = {"/bin/sh", "-c", "exit 1"};
  script.spec.interval = 2h;
  script.spec.timeout = 7us;
  def.checks = {ttl, http, script, CheckDefinition{}};  // an empty check survives too

  const std::string encoded = hearsay::http::encode_service_definition(def);
  auto decoded = decode_service_definition(encoded);
  INFO(encoded);
  REQUIRE(decoded.ok());
  CHECK(decoded.value() == def);

  for (const CheckDefinition& check : def.checks) {
    auto back = decode_check_definition(hearsay::http::encode_check_definition(check));
    REQUIRE(back.ok());
    CHECK(back.value() == check);
  }
  CHECK(decode_service_definition(hearsay::http::encode_service_definition(ServiceDefinition{})).value() ==
        ServiceDefinition{});
}
