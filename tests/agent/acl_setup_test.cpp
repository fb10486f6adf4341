// The agent's side of ACLs (agent/acl_setup.h, the acl block in config files): the open-API
// warning, the script-check refusal and its escape hatches, DNS with the default token's rights,
// and acl blocks read from HCL and JSON config files.
#include <catch2/catch.hpp>

#include <fstream>

#include "agent/acl_setup.h"
#include "agent/config_file.h"
#include "tests/temp_dir.h"

using namespace hearsay;
using namespace hearsay::agent;

TEST_CASE("an API beyond loopback without ACLs is warned about", "[unit]") {
  AgentConfig config;
  CHECK_FALSE(open_api_warning(config));  // 127.0.0.1
  config.client_addr = "127.0.0.1 ::1";
  CHECK_FALSE(open_api_warning(config));
  config.client_addr = "127.0.0.1 10.0.0.5";
  REQUIRE(open_api_warning(config));
  CHECK_THAT(*open_api_warning(config), Catch::Contains("without ACLs"));
  config.acl.enabled = true;
  CHECK_FALSE(open_api_warning(config));
}

TEST_CASE("script checks over an API open to the network without ACLs are refused unless allowed", "[unit]") {
  AgentConfig config;
  config.enable_script_checks = true;
  config.client_addr = "0.0.0.0";
  REQUIRE(http_script_check_refusal(config));
  CHECK_THAT(*http_script_check_refusal(config), Catch::Contains("without ACLs"));
  CHECK_THAT(*http_script_check_refusal(config), Catch::Contains("enable_remote_script_checks"));
  AgentConfig loopback = config;
  loopback.client_addr = "127.0.0.1";
  CHECK_FALSE(http_script_check_refusal(loopback));
  AgentConfig with_acl = config;
  with_acl.acl.enabled = true;
  CHECK_FALSE(http_script_check_refusal(with_acl));
  AgentConfig allowed = config;
  allowed.enable_remote_script_checks = true;
  CHECK_FALSE(http_script_check_refusal(allowed));
  AgentConfig disabled = config;
  disabled.enable_script_checks = false;  // refused anyway, by Consul's own rule
  CHECK_FALSE(http_script_check_refusal(disabled));
}

TEST_CASE("DNS sees what the default token may read", "[unit]") {
  AgentConfig config;
  apply_config_text(R"(acl {
    enabled = true
    default_policy = "deny"
    tokens { default = "dns" }
    policy "dns" { rules = "service \"web\" { policy = \"read\" } node_prefix \"\" { policy = \"read\" }" }
    token "dns" { secret_id = "dns" policies = ["dns"] }
  })", "test.hcl", config, ConfigFormat::hcl);
  dns::ResolverConfig resolver;
  restrict_dns_to_default_token(build_token_table(config, 1), resolver);
  REQUIRE(resolver.may_read_service);
  CHECK(resolver.may_read_service("web"));
  CHECK_FALSE(resolver.may_read_service("db"));
  CHECK(resolver.may_read_node("n1"));
  config.acl.enabled = false;
  restrict_dns_to_default_token(build_token_table(config, 2), resolver);
  CHECK_FALSE(resolver.may_read_service);
}

TEST_CASE("the acl block is read from JSON and HCL config files", "[unit]") {
  AgentConfig json;
  apply_config_text(R"({"acl": {"enabled": true, "default_policy": "deny",
                               "tokens": {"initial_management": "root"},
                               "policy": {"w": {"rules": {"service": {"web": {"policy": "write"}}}}},
                               "token": {"deployer": {"secret_id": "s1", "policies": ["w"]}}}})",
                    "test.json", json);
  CHECK(json.acl.enabled);
  CHECK_FALSE(json.acl.default_allow);
  CHECK(json.acl.initial_management == "root");
  REQUIRE(json.acl.tokens.size() == 1);
  CHECK(json.acl.tokens[0].policies == std::vector<std::string>{"w"});
  REQUIRE(json.acl.policies.size() == 1);
  CHECK(json.acl.policies[0].policy.rules.size() == 1);

  AgentConfig bad;
  CHECK_THROWS_WITH(apply_config_text(R"(acl { policy "p" { rules = "service \"web\" { policy = \"sometimes\" }" } })",
                                      "bad.hcl", bad, ConfigFormat::hcl),
                    Catch::Contains("bad.hcl") && Catch::Contains("acl.policy \"p\": rules:"));
  AgentConfig unknown_policy;
  apply_config_text(R"(acl { token "t" { secret_id = "s" policies = ["missing"] } })", "t.hcl", unknown_policy,
                    ConfigFormat::hcl);
  unknown_policy.node_name = "n1";
  unknown_policy.data_dir = "/tmp/x";
  CHECK_THROWS_WITH(validate(unknown_policy), Catch::Contains("unknown policy \"missing\""));
}

TEST_CASE("a token's secret may come from a file", "[unit]") {
  hearsay::test::TempDir dir;
  const auto file = dir.path / "web.token";
  std::ofstream(file) << "s3cret-from-file\n";
  AgentConfig config;
  apply_config_text("acl { token \"web\" { secret_file = \"" + file.string() + "\" } }", "t.hcl", config,
                    ConfigFormat::hcl);
  REQUIRE(config.acl.tokens.size() == 1);
  CHECK(config.acl.tokens[0].secret_id == "s3cret-from-file");
  std::ofstream(dir.path / "empty.token") << "";
  AgentConfig empty;
  CHECK_THROWS_WITH(apply_config_text("acl { token \"e\" { secret_file = \"" + (dir.path / "empty.token").string() +
                                          "\" } }", "t.hcl", empty, ConfigFormat::hcl),
                    Catch::Contains("is empty"));
  AgentConfig missing;
  CHECK_THROWS_WITH(apply_config_text("acl { token \"m\" { secret_file = \"/nonexistent/x\" } }", "t.hcl", missing,
                                      ConfigFormat::hcl),
                    Catch::Contains("cannot read secret_file /nonexistent/x"));
}
