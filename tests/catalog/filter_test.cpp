// The filter language: every operator on string, number, bool, list and map fields; missing map
// keys; precedence; value forms; each class of parse and evaluation error.
#include <catch2/catch.hpp>

#include "catalog/filter.h"
#include "catalog/filter_selectors.h"

using namespace hearsay::catalog;
using namespace hearsay::catalog::filter;

namespace {

Service sample_service() {
  Service s;
  s.node = "n1";
  s.id = "web1";
  s.name = "web";
  s.tags = {"v1", "primary"};
  s.port = 8080;
  s.meta = {{"version", "local"}, {"team", "core"}, {"k-1", "x"}};
  s.weights = {3, 1};
  s.enable_tag_override = true;
  return s;
}

// Evaluates `expr` against the sample AgentService; "error" when parse or evaluation fails.
std::string eval(const std::string& expr) {
  Service s = sample_service();
  auto parsed = Filter::parse(expr);
  if (std::holds_alternative<std::string>(parsed)) return "error";
  auto result = std::get<Filter>(parsed).matches(agent_service_lookup(s));
  if (std::holds_alternative<std::string>(result)) return "error";
  return std::get<bool>(result) ? "true" : "false";
}

}  // namespace

TEST_CASE("filter operators on each field type", "[unit]") {
  struct Case {
    const char* expr;
    const char* expected;
  };
  const Case cases[] = {
      {"Service == web", "true"},
      {"Service == \"web\"", "true"},
      {"Service == `web`", "true"},
      {"Service != web", "false"},
      {"Service == Web", "false"},  // case-sensitive
      {"Port == 8080", "true"},
      {"Port != 8080", "false"},
      {"EnableTagOverride == true", "true"},
      {"Weights.Passing == 3", "true"},
      {"Meta.version == local", "true"},
      {"Meta[\"k-1\"] == x", "true"},
      {"Meta.missing == x", "false"},
      {"Meta.missing != x", "true"},
      {"Meta.missing is empty", "true"},
      {"Meta.version is not empty", "true"},
      {"Kind is empty", "true"},
      {"Tags is empty", "false"},
      {"Meta is not empty", "true"},
      {"v1 in Tags", "true"},
      {"\"v2\" in Tags", "false"},
      {"v2 not in Tags", "true"},
      {"Tags contains primary", "true"},
      {"Tags not contains primary", "false"},
      {"version in Meta", "true"},
      {"eb in Service", "true"},  // substring of a string
      {"Service contains we", "true"},
      {"Service matches \"^w.b$\"", "true"},
      {"Service not matches \"^db\"", "true"},
      {"Meta.missing matches \".*\"", "false"},
  };
  for (const Case& c : cases) {
    INFO(c.expr);
    CHECK(eval(c.expr) == c.expected);
  }
}

TEST_CASE("filter boolean structure and precedence", "[unit]") {
  CHECK(eval("Service == web and Port == 8080") == "true");
  CHECK(eval("Service == db or Port == 8080") == "true");
  CHECK(eval("not Service == db") == "true");
  CHECK(eval("not (Service == web and Port == 1)") == "true");
  // and binds tighter than or: true or (false and false)
  CHECK(eval("Service == web or Service == db and Port == 1") == "true");
  CHECK(eval("(Service == web or Service == db) and Port == 1") == "false");
  CHECK(eval("  Service==web  ") == "true");
}

TEST_CASE("filter parse errors", "[unit]") {
  for (const char* bad : {"", "   ", "(Service == web", "Service == web)", "Service ==", "== web", "Service web",
                          "Service is", "Service is full", "and", "Service == \"unterminated", "Service == \"bad\\q\"",
                          "v1 in", "v1 in \"Tags\"", "Meta[version] == x", "Service matches \"(\"", "\"web\" == Service",
                          "Service = web", "Service == web and", "not"}) {
    INFO(bad);
    auto parsed = Filter::parse(bad);
    REQUIRE(std::holds_alternative<std::string>(parsed));
    CHECK(std::get<std::string>(parsed).starts_with("Failed to create boolean expression evaluator"));
  }
}

TEST_CASE("filter input limits", "[unit]") {
  std::string deep(kMaxNestingDepth + 5, '(');
  deep += "Service == web";
  deep += std::string(kMaxNestingDepth + 5, ')');
  CHECK(std::holds_alternative<std::string>(Filter::parse(deep)));
  std::string long_expr = "Service == \"" + std::string(kMaxExpressionLength, 'x') + "\"";
  CHECK(std::holds_alternative<std::string>(Filter::parse(long_expr)));
  std::string shallow(10, '(');
  shallow += "Service == web" + std::string(10, ')');
  CHECK(std::holds_alternative<Filter>(Filter::parse(shallow)));
}

TEST_CASE("regular expressions cannot stall or exhaust the agent", "[unit]") {
  // Found by the fuzzer with std::regex: huge repetition counts built a gigantic automaton.
  // RE2 refuses them at parse time and matches everything else in linear time.
  CHECK(eval("Service matches \"x{9999}{9999}\"") == "error");
  CHECK(eval("Service matches \"(a*)*z\"") == "false");
  CHECK(eval("Service matches \"^(w|e|b)+$\"") == "true");
}

TEST_CASE("filter evaluation errors", "[unit]") {
  CHECK(eval("Nope == x") == "error");          // unknown selector
  CHECK(eval("Port == abc") == "error");        // not a number
  CHECK(eval("EnableTagOverride == yes") == "error");
  CHECK(eval("Tags == v1") == "error");         // a list cannot be compared with ==
  CHECK(eval("Port is empty") == "error");
  CHECK(eval("Meta.a.b == c") == "error");      // too deep into a map
}

TEST_CASE("the seed example selects the locally patched-in instance", "[unit]") {
  Node node;
  node.name = "laptop";
  node.address = "10.8.0.2";
  node.meta = {{"os", "linux"}};
  Service local = sample_service();
  Service prod = sample_service();
  prod.meta["version"] = "v1";
  Check serf;
  serf.id = "serfHealth";
  std::vector<const Check*> checks{&serf};
  auto f = std::get<Filter>(Filter::parse("Service.Meta.version == local"));
  CHECK(std::get<bool>(f.matches(check_service_node_lookup(node, local, checks))));
  CHECK_FALSE(std::get<bool>(f.matches(check_service_node_lookup(node, prod, checks))));
  auto g = std::get<Filter>(Filter::parse("Node.Meta.os matches \"^lin\" and Checks is not empty and \"v1\" in Service.Tags"));
  CHECK(std::get<bool>(g.matches(check_service_node_lookup(node, local, checks))));
}

TEST_CASE("ServiceNode, Node and HealthCheck selectors", "[unit]") {
  Node node;
  node.name = "n1";
  node.address = "10.0.0.1";
  node.meta = {{"rack", "r1"}};
  node.tagged_addresses = {{"lan", "10.0.0.1"}};
  Service svc = sample_service();
  auto sn = [&](const char* expr) {
    return std::get<bool>(std::get<Filter>(Filter::parse(expr)).matches(service_node_lookup(node, svc)));
  };
  CHECK(sn("ServiceMeta.version == local"));
  CHECK(sn("ServicePort == 8080"));
  CHECK(sn("ServiceName == web"));
  CHECK(sn("NodeMeta.rack == r1"));
  CHECK(sn("Node == n1"));
  CHECK(sn("TaggedAddresses.lan == \"10.0.0.1\""));
  CHECK(sn("primary in ServiceTags"));
  CHECK(std::get<bool>(std::get<Filter>(Filter::parse("Meta.rack == r1")).matches(node_lookup(node))));
  Check c;
  c.node = "n1";
  c.id = "service:web1";
  c.status = HealthStatus::warning;
  c.service_tags = {"v1"};
  c.spec.type = CheckType::http;
  auto hc = [&](const char* expr) {
    return std::get<bool>(std::get<Filter>(Filter::parse(expr)).matches(health_check_lookup(c)));
  };
  CHECK(hc("Status == warning"));
  CHECK(hc("Type == http"));
  CHECK(hc("v1 in ServiceTags"));
}
