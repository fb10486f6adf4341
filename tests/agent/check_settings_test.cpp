// Consul's check thresholds and output caps as definitions carry them: SuccessBeforePassing,
// FailuresBeforeWarning, FailuresBeforeCritical and OutputMaxSize over HTTP, their snake_case
// names in config files, the agent's check_output_max_size, and what is refused.
#include <catch2/catch.hpp>

#include "agent/checks/check_result.h"
#include "agent/config_file.h"
#include "catalog/record_codec.h"
#include "http-api/json_decode.h"

using namespace hearsay;

TEST_CASE("check settings: Consul's HTTP field names are read, kept in the stored definition and record", "[unit]") {
  auto def = http::decode_check_definition(R"({"Name": "web", "HTTP": "http://127.0.0.1:1/", "Interval": "1s",
      "SuccessBeforePassing": 2, "FailuresBeforeWarning": 1, "FailuresBeforeCritical": 3, "OutputMaxSize": 64})");
  REQUIRE(def.ok());
  const catalog::CheckSpec& s = def.value().spec;
  CHECK(s.success_before_passing == 2);
  CHECK(s.failures_before_warning == 1);
  CHECK(s.failures_before_critical == 3);
  CHECK(s.output_max_size == 64);
  // Persisted as JSON (a restart restores the definition) and replicated as a record.
  auto again = http::decode_check_definition(http::encode_check_definition(def.value()));
  REQUIRE(again.ok());
  CHECK(again.value() == def.value());
  catalog::Check check;
  check.node = "n1";
  check.id = "web";
  check.spec = s;
  auto decoded = catalog::decode_check(catalog::encode_record(check));
  REQUIRE(decoded);
  CHECK(decoded->spec == s);
}

TEST_CASE("check settings: negative or non-integer values are refused, naming the field", "[unit]") {
  for (const char* field : {"SuccessBeforePassing", "FailuresBeforeWarning", "FailuresBeforeCritical", "OutputMaxSize"}) {
    for (const char* value : {"-1", "\"3\"", "1.5"}) {
      auto def = http::decode_check_definition(std::string(R"({"Name": "x", "TTL": "10s", ")") + field + "\": " + value + "}");
      REQUIRE_FALSE(def.ok());
      CHECK_THAT(def.error(), Catch::Contains(field));
    }
  }
}

TEST_CASE("check settings: snake_case in HCL config files, and the agent's check_output_max_size", "[unit]") {
  agent::AgentConfig c;
  CHECK(c.check_output_max_size == 4096);  // Consul's default
  agent::apply_config_text(R"(check_output_max_size = 100
service {
  name = "web"
  check {
    http = "http://127.0.0.1:8080/health"
    interval = "10s"
    success_before_passing = 2
    failures_before_warning = 1
    failures_before_critical = 3
    output_max_size = 64
  }
})",
                           "web.hcl", c, agent::ConfigFormat::hcl);
  CHECK(c.check_output_max_size == 100);
  REQUIRE(c.services.size() == 1);
  REQUIRE(c.services[0].checks.size() == 1);
  const catalog::CheckSpec& s = c.services[0].checks[0].spec;
  CHECK(s.success_before_passing == 2);
  CHECK(s.failures_before_warning == 1);
  CHECK(s.failures_before_critical == 3);
  CHECK(s.output_max_size == 64);
  CHECK_THROWS_WITH(agent::apply_config_text(R"({"check_output_max_size": 0})", "x.json", c),
                    Catch::Contains("x.json: check_output_max_size: must be a positive number of bytes"));
  CHECK_THROWS_WITH(agent::apply_config_text(R"({"check_output_max_size": "4k"})", "x.json", c),
                    Catch::Contains("check_output_max_size"));
}

TEST_CASE("check settings: a check's OutputMaxSize only lowers the agent's cap", "[unit]") {
  using agent::checks::output_limit;
  CHECK(output_limit(4096, 0) == 4096);
  CHECK(output_limit(4096, 64) == 64);
  CHECK(output_limit(100, 500) == 100);
  CHECK(output_limit(100000, 5000) == 5000);
  CHECK(output_limit(0, 0) == agent::checks::kMaxOutputBytes);
}

TEST_CASE("check settings: output is cut at the cap with a note of the whole size", "[unit]") {
  using agent::checks::cap_output;
  CHECK(cap_output("short", 5, 64) == "short");
  const std::string cut = cap_output(std::string(100, 'x'), 100, 64);
  CHECK(cut == std::string(64, 'x') + "\n\n... (captured 64 of 100 bytes)");
}
