// Fuzz target: arbitrary bytes as a DNS query, over UDP and TCP sizing rules, answered from a
// small catalog (so the resolver runs for names that parse). A reply, when there is one, must be
// a well-formed message no longer than the transport allows: over UDP, 512 bytes for a query
// without an OPT record (RFC 1035 4.2.1, RFC 6891 6.2.5), else at most 4096. Must never crash.
#include <cstdint>
#include <cstdlib>
#include <optional>

#include "dns/packet.h"
#include "dns/resolver.h"

namespace {

// Skips a (possibly compressed) name at `pos`; false when it runs past the end.
bool skip_name(const std::uint8_t* data, std::size_t size, std::size_t& pos) {
  while (pos < size) {
    const std::uint8_t len = data[pos];
    if (len == 0) return ++pos, true;
    if ((len & 0xc0) == 0xc0) return (pos += 2) <= size;  // a pointer ends the name
    if (len & 0xc0) return false;                          // extended label types
    pos += 1 + len;
  }
  return false;
}

// Whether the query carries an OPT record in its additional section, read independently of the
// code under test; nullopt when the message cannot be walked that far.
std::optional<bool> has_opt(const std::uint8_t* data, std::size_t size) {
  if (size < 12) return std::nullopt;
  auto count = [&](std::size_t at) { return static_cast<unsigned>(data[at] << 8 | data[at + 1]); };
  const unsigned qd = count(4), an = count(6), ns = count(8), ar = count(10);
  std::size_t pos = 12;
  for (unsigned i = 0; i < qd; ++i) {
    if (!skip_name(data, size, pos) || (pos += 4) > size) return std::nullopt;
  }
  for (unsigned i = 0; i < an + ns + ar; ++i) {
    if (!skip_name(data, size, pos) || pos + 10 > size) return std::nullopt;
    const unsigned type = count(pos), rdlength = count(pos + 8);
    if (i >= an + ns && type == 41) return true;
    if ((pos += 10 + rdlength) > size) return std::nullopt;
  }
  return false;
}

}  // namespace

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
    // Enough instances that an answer without the UDP caps outgrows 512 bytes, so the limit
    // below is really exercised (seeds api_*_no_edns ask for them).
    for (int i = 0; i < 24; ++i) {
      catalog::Service s;
      s.node = "n1";
      s.id = "api" + std::to_string(i);
      s.name = "api";
      s.port = 9000 + i;
      s.address = "fd00::1:" + std::to_string(i);
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
    // Without EDNS a UDP answer fits in 512 bytes, truncated (TC) if need be.
    if (!tcp && has_opt(data, size) == false && outcome.reply.size() > 512) std::abort();
    if (data[0] != outcome.reply[0] || data[1] != outcome.reply[1]) std::abort();  // the ID is echoed
  }
  (void)dns::servfail_reply(data, size);
  return 0;
}
