// Fuzz target: arbitrary bytes as a DNS query, over UDP and TCP sizing rules, answered from a
// small catalog (so the resolver runs for names that parse). A reply, when there is one, must be
// a well-formed message no longer than the transport allows. Must never crash.
#include <cstdint>
#include <cstdlib>

#include "dns/packet.h"
#include "dns/resolver.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hearsay;
  static catalog::Catalog* cat = [] {
    auto* c = new catalog::Catalog;
    catalog::Node n;
    n.name = "n1";
    n.address = "10.0.0.1";
    n.meta = {{"rack", "r1"}};
    c->upsert_node(n);
    for (int i = 0; i < 6; ++i) {
      catalog::Service s;
      s.node = "n1";
      s.id = "web" + std::to_string(i);
      s.name = "web";
      s.tags = {"v1"};
      s.port = 8000 + i;
      if (i % 2) s.address = "fd00::" + std::to_string(i);
      c->upsert_service(s);
    }
    return c;
  }();
  static dns::Resolver resolver(*cat, [] {
    dns::ResolverConfig rc;
    rc.node_name = "n1";
    return rc;
  }());
  static std::mt19937_64 rng(1);
  dns::ServeConfig config;
  config.enable_truncate = size % 2;
  config.recursion_available = size % 3 == 0;
  dns::DnsStats stats;
  for (bool tcp : {false, true}) {
    dns::PrepareFn prepare = [](const dns::Question& q) {
      return std::make_shared<const dns::PreparedAnswer>(resolver.resolve(q), q.name);
    };
    auto outcome = dns::answer_query(data, size, tcp, prepare, rng, config, stats);
    if (outcome.action != dns::QueryOutcome::Action::reply) continue;
    if (outcome.reply.size() < 12 || (!tcp && outcome.reply.size() > 4096)) std::abort();
    if (data[0] != outcome.reply[0] || data[1] != outcome.reply[1]) std::abort();  // the ID is echoed
  }
  (void)dns::servfail_reply(data, size);
  return 0;
}
