// Fuzz target: arbitrary text as a filter expression; when it parses, it is evaluated against
// a fixed service so the evaluator runs too. Must never crash or throw.
#include <cstdint>
#include <string>

#include "catalog/filter.h"
#include "catalog/filter_selectors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hearsay::catalog;
  static const Service service = [] {
    Service s;
    s.node = "n1";
    s.id = "web1";
    s.name = "web";
    s.tags = {"v1", "primary"};
    s.port = 8080;
    s.meta = {{"version", "local"}};
    return s;
  }();
  static const Node node = [] {
    Node n;
    n.name = "n1";
    n.meta = {{"rack", "r1"}};
    return n;
  }();
  std::string text(reinterpret_cast<const char*>(data), size);
  auto parsed = filter::Filter::parse(text);
  if (auto* f = std::get_if<filter::Filter>(&parsed)) {
    std::vector<const Check*> checks;
    (void)f->matches(filter::agent_service_lookup(service));
    (void)f->matches(filter::check_service_node_lookup(node, service, checks));
  }
  return 0;
}
