// The wire path: queries built and replies parsed with libknot, answered by answer_query() over
// a resolver on an in-memory catalog. Sizes, caps, rcodes and flags of consul-compat.md 3.5-3.6.
#include <catch2/catch.hpp>

extern "C" {
#include <libknot/libknot.h>
}

#include <cstring>
#include <memory>
#include <set>

#include "dns/packet.h"

using namespace hearsay;
using namespace hearsay::dns;

namespace {

struct PktFree {
  void operator()(knot_pkt_t* p) const { knot_pkt_free(p); }
};
using Pkt = std::unique_ptr<knot_pkt_t, PktFree>;

// A query as dig or kdig would send it; edns_payload 0 means no OPT record.
std::vector<std::uint8_t> make_query(const std::string& name, std::uint16_t qtype, std::uint16_t edns_payload = 0,
                                     std::uint16_t id = 0x1234) {
  Pkt pkt(knot_pkt_new(nullptr, 512, nullptr));
  knot_wire_set_id(pkt->wire, id);
  knot_wire_set_rd(pkt->wire);
  knot_dname_t* qname = knot_dname_from_str_alloc(name.c_str());
  knot_pkt_put_question(pkt.get(), qname, KNOT_CLASS_IN, qtype);
  knot_dname_free(qname, nullptr);
  if (edns_payload) {
    knot_rrset_t opt;
    knot_edns_init(&opt, edns_payload, 0, 0, nullptr);
    knot_pkt_begin(pkt.get(), KNOT_ADDITIONAL);
    knot_pkt_put(pkt.get(), KNOT_COMPR_HINT_NONE, &opt, KNOT_PF_FREE);
  }
  return std::vector<std::uint8_t>(pkt->wire, pkt->wire + pkt->size);
}

struct Reply {
  std::vector<std::uint8_t> bytes;
  Pkt pkt;
  explicit Reply(std::vector<std::uint8_t> b) : bytes(std::move(b)) {
    pkt.reset(knot_pkt_new(bytes.data(), static_cast<std::uint16_t>(bytes.size()), nullptr));
    REQUIRE(knot_pkt_parse(pkt.get(), 0) == KNOT_EOK);
  }
  int rcode() const { return knot_wire_get_rcode(bytes.data()); }
  bool tc() const { return knot_wire_get_tc(bytes.data()); }
  bool aa() const { return knot_wire_get_aa(bytes.data()); }
  bool ra() const { return knot_wire_get_ra(bytes.data()); }
  std::uint16_t count(knot_section_t s) const { return knot_pkt_section(pkt.get(), s)->count; }
  std::set<std::string> owners(knot_section_t s, std::uint16_t type) const {
    std::set<std::string> out;
    const knot_pktsection_t* sec = knot_pkt_section(pkt.get(), s);
    for (std::uint16_t i = 0; i < sec->count; ++i) {
      const knot_rrset_t* rr = knot_pkt_rr(sec, i);
      if (rr->type != type) continue;
      char buf[KNOT_DNAME_TXT_MAXLEN + 1];
      out.insert(knot_dname_to_str(buf, rr->owner, sizeof(buf)));
    }
    return out;
  }
  std::set<std::string> srv_targets() const {
    std::set<std::string> out;
    const knot_pktsection_t* sec = knot_pkt_section(pkt.get(), KNOT_ANSWER);
    for (std::uint16_t i = 0; i < sec->count; ++i) {
      const knot_rrset_t* rr = knot_pkt_rr(sec, i);
      if (rr->type != KNOT_RRTYPE_SRV) continue;
      char buf[KNOT_DNAME_TXT_MAXLEN + 1];
      out.insert(knot_dname_to_str(buf, knot_srv_name(rr->rrs.rdata), sizeof(buf)));
    }
    return out;
  }
};

struct Fixture {
  catalog::Catalog cat;
  std::mt19937_64 rng{7};
  ServeConfig serve;
  DnsStats stats;

  // `n` instances of "big", each on its own node so every SRV target needs its own glue.
  explicit Fixture(int n = 10) {
    for (int i = 0; i < n; ++i) {
      catalog::Node node;
      node.name = "node-" + std::to_string(i);
      node.address = "10.0.1." + std::to_string(i + 1);
      node.datacenter = "dc1";
      cat.upsert_node(node);
      catalog::Service s;
      s.node = node.name;
      s.id = "big-" + std::to_string(i);
      s.name = "big";
      s.port = 7000 + i;
      cat.upsert_service(s);
    }
  }
  ResolverConfig rc;
  QueryOutcome run(const std::vector<std::uint8_t>& query, bool tcp = false) {
    rc.node_name = "node-0";
    Resolver resolver(cat, rc);
    PrepareFn prepare = [&](const Question& q) { return std::make_shared<const PreparedAnswer>(resolver.resolve(q), q.name); };
    return answer_query(query.data(), query.size(), tcp, prepare, rng, serve, stats);
  }
  Reply reply(const std::vector<std::uint8_t>& query, bool tcp = false) {
    QueryOutcome out = run(query, tcp);
    REQUIRE(out.action == QueryOutcome::Action::reply);
    return Reply(std::move(out.reply));
  }
};

}  // namespace

TEST_CASE("UDP without EDNS: at most 3 answers in 512 bytes, additional kept in step", "[unit]") {
  Fixture f;
  Reply r = f.reply(make_query("big.service.consul.", KNOT_RRTYPE_SRV));
  CHECK(r.rcode() == KNOT_RCODE_NOERROR);
  CHECK(r.aa());
  CHECK_FALSE(r.ra());
  CHECK(r.count(KNOT_ANSWER) == 3);
  CHECK_FALSE(r.tc());  // enable_truncate is off by default, as Consul
  CHECK(r.bytes.size() <= 512);
  CHECK(knot_wire_get_id(r.bytes.data()) == 0x1234);
  // Glue only for the targets that were kept.
  CHECK(r.owners(KNOT_ADDITIONAL, KNOT_RRTYPE_A) == r.srv_targets());
  CHECK(f.stats.trimmed == 1);

  f.serve.enable_truncate = true;
  CHECK(f.reply(make_query("big.service.consul.", KNOT_RRTYPE_SRV)).tc());
  f.serve.udp_answer_limit = 20;  // the hard cap is 8
  CHECK(f.reply(make_query("big.service.consul.", KNOT_RRTYPE_SRV)).count(KNOT_ANSWER) <= 8);
}

TEST_CASE("EDNS lifts the answer cap and the reply echoes OPT", "[unit]") {
  Fixture f;
  Reply r = f.reply(make_query("big.service.consul.", KNOT_RRTYPE_SRV, 1232));
  CHECK(r.count(KNOT_ANSWER) == 10);
  CHECK_FALSE(r.tc());
  REQUIRE(knot_pkt_has_edns(r.pkt.get()));
  CHECK(knot_edns_get_payload(r.pkt->opt_rr) == 1232);
  // A huge advertised size is capped at 4096.
  Reply big = f.reply(make_query("big.service.consul.", KNOT_RRTYPE_A, 65000));
  CHECK(knot_edns_get_payload(big.pkt->opt_rr) == 4096);
}

TEST_CASE("EDNS size is still a limit: a large set is cut to fit", "[unit]") {
  Fixture f(120);
  f.serve.enable_truncate = true;
  Reply r = f.reply(make_query("big.service.consul.", KNOT_RRTYPE_SRV, 1232));
  CHECK(r.bytes.size() <= 1232);
  CHECK(r.count(KNOT_ANSWER) > 3);
  CHECK(r.count(KNOT_ANSWER) < 120);
  CHECK(r.tc());
  Reply tcp = f.reply(make_query("big.service.consul.", KNOT_RRTYPE_SRV), true);
  CHECK(tcp.count(KNOT_ANSWER) == 120);
  CHECK_FALSE(tcp.tc());
}

TEST_CASE("rcodes: NXDOMAIN and NODATA with SOA, REFUSED outside, forward with recursors", "[unit]") {
  Fixture f;
  Reply nx = f.reply(make_query("nope.service.consul.", KNOT_RRTYPE_A));
  CHECK(nx.rcode() == KNOT_RCODE_NXDOMAIN);
  CHECK(nx.aa());
  CHECK(nx.owners(KNOT_AUTHORITY, KNOT_RRTYPE_SOA) == std::set<std::string>{"consul."});
  Reply nodata = f.reply(make_query("big.service.consul.", KNOT_RRTYPE_AAAA));
  CHECK(nodata.rcode() == KNOT_RCODE_NOERROR);
  CHECK(nodata.count(KNOT_ANSWER) == 0);
  CHECK(nodata.count(KNOT_AUTHORITY) == 1);
  Reply refused = f.reply(make_query("example.com.", KNOT_RRTYPE_A));
  CHECK(refused.rcode() == KNOT_RCODE_REFUSED);
  CHECK_FALSE(refused.aa());
  CHECK_FALSE(refused.ra());

  f.serve.recursion_available = true;
  CHECK(f.run(make_query("example.com.", KNOT_RRTYPE_A)).action == QueryOutcome::Action::forward);
  CHECK(f.stats.forwarded == 1);
  Reply ours = f.reply(make_query("big.service.consul.", KNOT_RRTYPE_A));
  CHECK(ours.ra());
}

TEST_CASE("SERVFAIL for a failed forward echoes ID and question", "[unit]") {
  auto query = make_query("example.com.", KNOT_RRTYPE_MX, 0, 0xbeef);
  auto bytes = servfail_reply(query.data(), query.size());
  REQUIRE(bytes);
  Reply r(std::move(*bytes));
  CHECK(r.rcode() == KNOT_RCODE_SERVFAIL);
  CHECK(r.ra());
  CHECK(knot_wire_get_id(r.bytes.data()) == 0xbeef);
  CHECK(knot_wire_get_qdcount(r.bytes.data()) == 1);
  CHECK(knot_pkt_qtype(r.pkt.get()) == KNOT_RRTYPE_MX);
  std::uint8_t junk[5] = {1, 2, 3, 4, 5};
  CHECK_FALSE(servfail_reply(junk, sizeof(junk)));
}

TEST_CASE("malformed queries get FORMERR or are dropped, and counted", "[unit]") {
  Fixture f;
  // Shorter than a header: nothing to answer.
  std::vector<std::uint8_t> tiny{0x12, 0x34, 0x01};
  CHECK(f.run(tiny).action == QueryOutcome::Action::drop);
  // A response (QR=1) is never answered: no reflection loops.
  auto response = make_query("big.service.consul.", KNOT_RRTYPE_A);
  knot_wire_set_qr(response.data());
  CHECK(f.run(response).action == QueryOutcome::Action::drop);
  CHECK(f.stats.dropped == 2);

  // QDCOUNT 2 with one question, a label running past the end, a compression loop.
  auto two = make_query("big.service.consul.", KNOT_RRTYPE_A);
  knot_wire_set_qdcount(two.data(), 2);
  CHECK(f.reply(two).rcode() == KNOT_RCODE_FORMERR);
  auto cut = make_query("big.service.consul.", KNOT_RRTYPE_A);
  cut.resize(cut.size() - 6);
  CHECK(f.reply(cut).rcode() == KNOT_RCODE_FORMERR);
  std::vector<std::uint8_t> loop{0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01};
  Reply looped = f.reply(loop);
  CHECK(looped.rcode() == KNOT_RCODE_FORMERR);
  CHECK(knot_wire_get_id(looped.bytes.data()) == 0xabcd);
  auto none = make_query("big.service.consul.", KNOT_RRTYPE_A);
  knot_wire_set_qdcount(none.data(), 0);
  CHECK(f.reply(none).rcode() == KNOT_RCODE_FORMERR);
  CHECK(f.stats.formerr == 4);
}

TEST_CASE("zone transfers and other opcodes are not implemented", "[unit]") {
  Fixture f;
  CHECK(f.reply(make_query("consul.", KNOT_RRTYPE_AXFR), true).rcode() == KNOT_RCODE_NOTIMPL);
  auto status = make_query("consul.", KNOT_RRTYPE_SOA);
  knot_wire_set_opcode(status.data(), KNOT_OPCODE_STATUS);
  std::vector<std::uint8_t> bytes = f.run(status).reply;
  REQUIRE(bytes.size() >= 12);
  CHECK(knot_wire_get_rcode(bytes.data()) == KNOT_RCODE_NOTIMPL);
  CHECK(f.stats.notimp == 2);
}

TEST_CASE("service answers are shuffled per query and a_record_limit picks from the shuffle", "[unit]") {
  Fixture f;
  std::set<std::string> first_targets;
  for (int q = 0; q < 40; ++q) {
    Reply r = f.reply(make_query("big.service.consul.", KNOT_RRTYPE_SRV, 4096));
    const knot_rrset_t* first = knot_pkt_rr(knot_pkt_section(r.pkt.get(), KNOT_ANSWER), 0);
    char buf[KNOT_DNAME_TXT_MAXLEN + 1];
    first_targets.insert(knot_dname_to_str(buf, knot_srv_name(first->rrs.rdata), sizeof(buf)));
  }
  CHECK(first_targets.size() > 3);  // a fixed order would give one

  f.rc.a_record_limit = 2;
  f.serve.enable_truncate = true;
  std::set<std::string> seen;
  for (int q = 0; q < 40; ++q) {
    Reply r = f.reply(make_query("big.service.consul.", KNOT_RRTYPE_A, 4096));
    CHECK(r.count(KNOT_ANSWER) == 2);
    CHECK_FALSE(r.tc());  // the limit is not truncation
    const knot_rrset_t* first = knot_pkt_rr(knot_pkt_section(r.pkt.get(), KNOT_ANSWER), 0);
    seen.insert(std::to_string(first->rrs.rdata->data[3]));
  }
  CHECK(seen.size() > 3);  // different instances make the cut
}

TEST_CASE("replies echo the question's spelling of the name", "[unit]") {
  Fixture f;
  Reply r = f.reply(make_query("BIG.Service.Consul.", KNOT_RRTYPE_A, 1232));
  REQUIRE(r.count(KNOT_ANSWER) == 10);
  // libknot lower-cases names when it parses, so look at the wire: the question keeps the
  // client's spelling and the first answer's owner is a pointer to it (offset 12).
  const std::string asked = "\x03" "BIG" "\x07" "Service" "\x06" "Consul";
  CHECK(std::string(r.bytes.begin() + 12, r.bytes.begin() + 12 + static_cast<long>(asked.size())) == asked);
  const std::size_t first_answer = 12 + asked.size() + 1 + 4;
  CHECK(r.bytes.at(first_answer) == 0xc0);
  CHECK(r.bytes.at(first_answer + 1) == 12);
}

TEST_CASE("SRV glue is added once per target even when instances share a node", "[unit]") {
  Fixture f(0);
  catalog::Node node;
  node.name = "shared";
  node.address = "10.0.0.9";
  f.cat.upsert_node(node);
  for (int i = 0; i < 4; ++i) {
    catalog::Service s;
    s.node = "shared";
    s.id = "svc" + std::to_string(i);
    s.name = "multi";
    s.port = 100 + i;
    f.cat.upsert_service(s);
  }
  Reply r = f.reply(make_query("multi.service.consul.", KNOT_RRTYPE_SRV, 1232));
  CHECK(r.count(KNOT_ANSWER) == 4);
  CHECK(r.count(KNOT_ADDITIONAL) == 2);  // one A for shared.node, plus OPT
}

TEST_CASE("glue owners are compressed against the SRV targets", "[unit]") {
  Fixture f;
  Reply r = f.reply(make_query("big.service.consul.", KNOT_RRTYPE_SRV, 1232));
  REQUIRE(r.count(KNOT_ANSWER) == 10);
  REQUIRE(r.owners(KNOT_ADDITIONAL, KNOT_RRTYPE_A).size() == 10);
  // Header and question 36 bytes; ten SRV of 42 (targets are never compressed, RFC 2782); ten A
  // of 16 (owner = a 2-byte pointer to the target); OPT 11: 627. Spelling out each glue owner
  // again would make it 827.
  CHECK(r.bytes.size() == 627);
}

namespace {

// `query` with a TSIG record (RFC 8945) appended, as `dig -y hmac-sha256:k1:...` sends it.
std::vector<std::uint8_t> with_tsig(std::vector<std::uint8_t> query) {
  auto put16 = [&](std::uint16_t v) { query.push_back(static_cast<std::uint8_t>(v >> 8)); query.push_back(v & 0xff); };
  auto put_name = [&](std::initializer_list<const char*> labels) {
    for (const char* l : labels) {
      query.push_back(static_cast<std::uint8_t>(std::strlen(l)));
      query.insert(query.end(), l, l + std::strlen(l));
    }
    query.push_back(0);
  };
  put_name({"k1"});
  put16(KNOT_RRTYPE_TSIG);
  put16(KNOT_CLASS_ANY);
  put16(0);
  put16(0);  // TTL 0
  std::vector<std::uint8_t> rdata;
  std::swap(rdata, query);  // build the RDATA alone to know its length
  put_name({"hmac-sha256"});
  for (int i = 0; i < 6; ++i) query.push_back(0x01);  // time signed
  put16(300);                                          // fudge
  put16(32);                                           // MAC size
  query.insert(query.end(), 32, 0xaa);                 // MAC
  put16(0x1234);                                       // original ID
  put16(0);                                            // error
  put16(0);                                            // other len
  std::swap(rdata, query);
  put16(static_cast<std::uint16_t>(rdata.size()));
  query.insert(query.end(), rdata.begin(), rdata.end());
  knot_wire_set_arcount(query.data(), static_cast<std::uint16_t>(knot_wire_get_arcount(query.data()) + 1));
  return query;
}

}  // namespace

// hearsay verifies no TSIG (as Consul). The static build links libknot without libdnssec
// (link/knot_without_dnssec.c), where every TSIG algorithm is unknown; the shared build links the
// real one. In both, a signed query is answered like the same query unsigned.
TEST_CASE("a TSIG-signed query is answered as if unsigned", "[unit]") {
  Fixture f;
  Reply plain = f.reply(make_query("big.service.consul.", KNOT_RRTYPE_SRV));
  Reply signed_query = f.reply(with_tsig(make_query("big.service.consul.", KNOT_RRTYPE_SRV)));
  CHECK(signed_query.rcode() == KNOT_RCODE_NOERROR);
  CHECK(signed_query.count(KNOT_ANSWER) == plain.count(KNOT_ANSWER));
  CHECK(knot_wire_get_id(signed_query.bytes.data()) == 0x1234);
  CHECK(f.stats.formerr == 0);
}
