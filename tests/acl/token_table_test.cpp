// The acl block (acl/acl_config.h) and the compiled tokens (acl/token_table.h): config in,
// lookups by secret, anonymous rights, the relay's write check.
#include <catch2/catch.hpp>

#include "acl/token_table.h"
#include "catalog/hcl.h"

using namespace hearsay::acl;

namespace {

const char* const kConfig = R"(
acl {
  enabled = true
  default_policy = "deny"
  down_policy = "extend-cache"
  tokens { initial_management = "root-secret" default = "reader-secret" }
  policy "web-write" {
    rules = <<EOT
service "web" { policy = "write" }
node_prefix "" { policy = "write" }
EOT
  }
  policy "read-all" { rules = "service_prefix \"\" { policy = \"read\" } node_prefix \"\" { policy = \"read\" }" }
  policy "laptops" { rules = { node_prefix = { "laptop-" = { policy = "write" } }, service_prefix = { "dev-" = { policy = "write" } } } }
  token "web-deployer" { secret_id = "web-secret" policies = ["web-write"] }
  token "reader" { secret_id = "reader-secret" policies = ["read-all"] }
  token "remote" { secret_id = "remote-secret" accessor_id = "a-1" policies = ["laptops"] }
}
)";

AclConfig config_of(const std::string& hcl) {
  rapidjson::Document doc;
  REQUIRE(hearsay::catalog::parse_hcl(hcl, doc).empty());
  AclConfig config;
  const std::string error = apply_acl_block(doc["acl"], config);
  INFO(error);
  REQUIRE(error.empty());
  return config;
}

std::string config_error(const std::string& hcl) {
  rapidjson::Document doc;
  const std::string parse_error = hearsay::catalog::parse_hcl(hcl, doc);
  if (!parse_error.empty()) return parse_error;
  AclConfig config;
  std::string error = apply_acl_block(doc["acl"], config);
  return error.empty() ? check_acl_config(config) : error;
}

}  // namespace

TEST_CASE("an acl block defines policies and tokens that the table resolves", "[unit]") {
  const AclConfig config = config_of(kConfig);
  CHECK(config.enabled);
  CHECK_FALSE(config.default_allow);
  CHECK(check_acl_config(config).empty());
  const TokenTable table(config, 1);
  const Token* web = table.find("web-secret");
  REQUIRE(web);
  CHECK(web->description == "web-deployer");
  CHECK(web->accessor_id.size() == 36);
  CHECK(web->authorizer->service_write("web"));
  CHECK_FALSE(web->authorizer->service_write("db"));
  CHECK_FALSE(web->authorizer->service_read("db"));
  CHECK(table.find("remote-secret")->accessor_id == "a-1");
  CHECK(table.find("root-secret")->authorizer->service_write("anything"));
  CHECK(table.find("nope") == nullptr);
  CHECK(table.find("web-secre") == nullptr);
  CHECK(table.find("web-secret2") == nullptr);
  CHECK(table.find("") == nullptr);
  // No token: the default token's rights.
  CHECK(table.anonymous().description == "reader");
  CHECK(table.anonymous().authorizer->service_read("db"));
  CHECK_FALSE(table.anonymous().authorizer->service_write("db"));
}

TEST_CASE("a restricted token's cached reads are scoped to it and to the table", "[unit]") {
  const AclConfig config = config_of(kConfig);
  const TokenTable one(config, 1), two(config, 2);
  CHECK(one.find("root-secret")->cache_scope.empty());
  CHECK_FALSE(one.find("web-secret")->cache_scope.empty());
  CHECK(one.find("web-secret")->cache_scope != one.find("reader-secret")->cache_scope);
  CHECK(one.find("web-secret")->cache_scope != two.find("web-secret")->cache_scope);
}

TEST_CASE("the relay's write check answers for a remote's token", "[unit]") {
  const TokenTable table(config_of(kConfig), 1);
  WriteGrant g = check_write(table, "remote-secret", "laptop-3", "dev-api");
  CHECK(g.known_token);
  CHECK(g.node_write);
  CHECK(g.service_write);
  g = check_write(table, "remote-secret", "server-1", "web");
  CHECK(g.known_token);
  CHECK_FALSE(g.node_write);
  CHECK_FALSE(g.service_write);
  g = check_write(table, "guess", "laptop-3", "dev-api");
  CHECK_FALSE(g.known_token);
  CHECK_FALSE(g.node_write);
  g = check_write(table, "", "laptop-3", "");
  CHECK_FALSE(g.known_token);
  CHECK_FALSE(g.node_write);  // the anonymous (reader) rights
  g = check_write(TokenTable(), "", "any", "any");
  CHECK((g.known_token && g.node_write && g.service_write));
}

TEST_CASE("with acl disabled the table allows everything", "[unit]") {
  AclConfig config = config_of(kConfig);
  config.enabled = false;
  const TokenTable table(config, 1);
  CHECK_FALSE(table.enabled());
  CHECK(table.anonymous().authorizer->service_write("x"));
}

TEST_CASE("bad acl blocks are refused naming the key", "[unit]") {
  CHECK_THAT(config_error("acl { enabled = \"yes\" }"), Catch::Contains("acl.enabled"));
  CHECK_THAT(config_error("acl { default_policy = \"maybe\" }"), Catch::Contains("acl.default_policy"));
  CHECK_THAT(config_error("acl { colour = 1 }"), Catch::Contains("acl: unknown key \"colour\""));
  CHECK_THAT(config_error("acl { tokens { bogus = \"x\" } }"), Catch::Contains("acl.tokens: unknown key"));
  CHECK_THAT(config_error("acl { policy \"p\" { } }"), Catch::Contains("missing rules"));
  CHECK_THAT(config_error("acl { policy \"p\" { rules = \"service {\" } }"), Catch::Contains("acl.policy \"p\": rules:"));
  CHECK_THAT(config_error("acl { token \"t\" { policies = [] } }"), Catch::Contains("needs one of secret_id and secret_file"));
  CHECK_THAT(config_error("acl { token \"t\" { secret_id = \"s\" secret_file = \"/f\" } }"),
             Catch::Contains("needs one of secret_id and secret_file"));
  CHECK_THAT(config_error("acl { token \"t\" { secret_id = \"s\" policies = [\"nope\"] } }"),
             Catch::Contains("unknown policy \"nope\""));
  CHECK_THAT(config_error("acl { token \"a\" { secret_id = \"s\" } token \"b\" { secret_id = \"s\" } }"),
             Catch::Contains("used by another token"));
  CHECK_THAT(config_error("acl { tokens { default = \"missing\" } }"), Catch::Contains("acl.tokens.default"));
  // A secret never appears in a message.
  CHECK_THAT(config_error("acl { token \"a\" { secret_id = \"s3cr3t\" } token \"b\" { secret_id = \"s3cr3t\" } }"),
             !Catch::Contains("s3cr3t"));
}
