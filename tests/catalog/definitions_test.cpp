// Defaults and Consul's validation texts for registrations.
#include <catch2/catch.hpp>

#include "catalog/definitions.h"

using namespace hearsay::catalog;

namespace {
CheckDefinition ttl_check(std::chrono::seconds ttl) {
  CheckDefinition c;
  c.spec.ttl = ttl;
  return c;
}
}  // namespace

TEST_CASE("a service gets its ID from its name and its checks get service IDs", "[unit]") {
  ServiceDefinition def;
  def.name = "web";
  def.checks = {ttl_check(std::chrono::seconds(10))};
  REQUIRE_FALSE(normalize_service(def));
  CHECK(def.id == "web");
  CHECK(def.checks[0].id == "service:web");
  CHECK(def.checks[0].name == "Service 'web' check");
  CHECK(def.checks[0].service_id == "web");
  CHECK(def.checks[0].spec.type == CheckType::ttl);

  ServiceDefinition two;
  two.name = "db";
  two.id = "db1";
  two.checks = {ttl_check(std::chrono::seconds(1)), ttl_check(std::chrono::seconds(2))};
  REQUIRE_FALSE(normalize_service(two));
  CHECK(two.checks[0].id == "service:db1:1");
  CHECK(two.checks[1].id == "service:db1:2");
}

TEST_CASE("service validation errors carry Consul's texts", "[unit]") {
  ServiceDefinition def;
  CHECK(normalize_service(def) == "Missing service name");
  def.name = "web";
  def.address = "0.0.0.0";
  CHECK(normalize_service(def) == "Invalid service address");
  def.address = "";
  def.port = 70000;
  CHECK(normalize_service(def)->starts_with("Invalid service port"));
  def.port = 80;
  def.weights.passing = 0;
  CHECK(normalize_service(def)->starts_with("Invalid Weights"));
  def.weights.passing = 1;
  def.meta = {{"consul-x", "1"}};
  CHECK(normalize_service(def)->starts_with("Invalid Service Meta"));
  def.meta = {{"bad key", "1"}};
  CHECK(normalize_service(def)->starts_with("Invalid Service Meta"));
  def.meta = {{"k", std::string(513, 'x')}};
  CHECK(normalize_service(def)->starts_with("Invalid Service Meta"));
  def.meta = {{"version", "local"}};
  CHECK_FALSE(normalize_service(def));
}

TEST_CASE("check validation", "[unit]") {
  CheckDefinition def;
  CHECK(normalize_check(def) == "Missing check name");
  def.name = "c";
  CHECK(normalize_check(def) == "Invalid check: TTL must be > 0 for TTL checks");
  def.spec.type = CheckType::http;
  def.spec.http = "http://127.0.0.1/";
  CHECK(normalize_check(def)->find("Interval must be > 0") != std::string::npos);
  def.spec.interval = std::chrono::milliseconds(100);
  REQUIRE_FALSE(normalize_check(def));
  CHECK(def.spec.interval == std::chrono::seconds(1));  // raised to the 1 s floor, as Consul
  CHECK(def.id == "c");
  def.spec.ttl = std::chrono::seconds(5);
  CHECK(normalize_check(def) == "Invalid check: Interval and TTL cannot both be specified");
}
