// Consul client-agent configs as found in Consul's docs and deployment guides (the files in
// tests/agent/consul_configs/, HCL and JSON): together they configure an agent, every key
// either used or ignored on purpose; the ones in refused/ are refused naming the key and why.
#include <catch2/catch.hpp>

#include <filesystem>
#include <iterator>

#include "agent/config_file.h"
#include "agent/options.h"

using namespace hearsay::agent;

namespace {

const std::filesystem::path kConfigs = std::filesystem::path(__FILE__).parent_path() / "consul_configs";

std::string refusal_of(const std::filesystem::path& file) {
  try {
    parse_agent_command_line({"-config-file", file.string()});
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "accepted";
}

const hearsay::catalog::ServiceDefinition* service(const AgentConfig& c, const std::string& id) {
  for (const auto& s : c.services) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("the Consul config directory starts an agent with what its files say", "[unit]") {
  const AgentConfig c = parse_agent_command_line({"-config-dir", kConfigs.string()}).config;
  CHECK(c.datacenter == "dc1");
  CHECK(c.data_dir == "/opt/consul");
  CHECK(c.node_name == "web-01");
  CHECK(c.log_level == "info");
  CHECK(c.log_json);
  CHECK(c.bind_addr == "127.0.0.1");  // {{ GetInterfaceIP "lo" }}
  CHECK(c.advertise_addr == "127.0.0.1");
  CHECK(c.client_addr == "127.0.0.1");
  CHECK(c.retry_join == std::vector<std::string>{"localhost:1", "localhost:1"});
  CHECK(c.retry_interval == std::chrono::seconds(15));
  CHECK(c.limits.http_max_conns_per_client == 400);
  CHECK(c.node_meta.at("rack") == "r1");
  CHECK(c.dns.only_passing);
  CHECK(c.dns.service_ttl == 5);
  CHECK(c.dns.service_ttls.at("web") == 30);
  CHECK(c.recursors == std::vector<std::string>{"127.0.0.1:5353"});
  CHECK(c.enable_local_script_checks);
  CHECK(c.acl.enabled);  // acl { } is read now (issue 18), its tokens block included
  CHECK_FALSE(c.acl.default_allow);

  const auto* web = service(c, "web-1");
  REQUIRE(web);
  REQUIRE(web->checks.size() == 2);  // two `check` blocks
  CHECK(web->checks[0].id == "web-http");
  CHECK(web->checks[0].spec.method == "GET");
  CHECK(web->checks[0].spec.header.at("Authorization") == std::vector<std::string>{"Bearer local"});
  CHECK(web->checks[1].spec.tcp == "localhost:8080");
  CHECK(web->checks[1].spec.deregister_critical_after == std::chrono::minutes(90));
  const auto* redis = service(c, "redis-1");
  REQUIRE(redis);
  CHECK(redis->checks.size() == 2);
  const auto* api = service(c, "api");
  REQUIRE(api);
  CHECK(api->checks.at(0).spec.tls_skip_verify);

  REQUIRE(c.checks.size() == 2);  // a `check` block and a `checks` list
  CHECK(c.checks[0].id == "disk");
  CHECK(c.checks[0].spec.args == std::vector<std::string>{"/usr/local/bin/check_disk", "-w", "10%"});
  CHECK(c.checks[1].id == "heartbeat");
  CHECK(c.checks[1].notes == "Updated by the nightly job; critical when it has not run.\n");
}

TEST_CASE("each file of the Consul config directory is accepted on its own", "[unit]") {
  for (const auto& entry : std::filesystem::directory_iterator(kConfigs)) {
    const auto ext = entry.path().extension();
    if (ext != ".hcl" && ext != ".json") continue;
    INFO(entry.path().filename().string());
    AgentConfig c;
    CHECK_NOTHROW(apply_config_file(entry.path(), c));
  }
}

TEST_CASE("Consul configs with a mistake are refused naming the file, the key and why", "[unit]") {
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"typo.hcl", "typo.hcl: datacentre: unknown config key"},
      {"nested-typo.hcl", "nested-typo.hcl: dns_config.only_pasing: unknown config key"},
      {"bad-port.json", "bad-port.json: ports.http: must be a port number"},
      {"bad-syntax.hcl", "bad-syntax.hcl: invalid HCL at line 4, column 1: block not closed by }"},
      {"unknown-port.hcl", "unknown-port.hcl: ports.htpp: unknown config key"},
      {"bad-template.hcl", "-bind: unknown template function \"GetPrivateIp\""},
  };
  const auto files = static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator(kConfigs / "refused"),
                                                            std::filesystem::directory_iterator()));
  CHECK(files == expected.size());  // a new file needs its expected message here
  for (const auto& [file, message] : expected) {
    INFO(file);
    const std::string refusal = refusal_of(kConfigs / "refused" / file);
    CHECK(refusal.find(message) != std::string::npos);
  }
}
