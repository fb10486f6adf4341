// Name forms, health filtering, weights and rcodes of the resolver (consul-compat.md 3.2-3.5),
// on a catalog built in memory: no sockets, no wire format.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "dns/resolver.h"

using namespace hearsay;
using namespace hearsay::dns;

namespace {

struct Fixture {
  catalog::Catalog cat;

  Fixture() {
    add_node("alpha", "10.0.0.1", {{"rack", "r1"}, {"rfc1035-note", "bare"}});
    add_node("beta", "10.0.0.2");
    add_node("gamma", "fd00::3");
    add_service("alpha", "web1", "web", {"v1", "primary"}, 8080);
    add_service("beta", "web2", "web", {"v2"}, 8081, "", 7, 2);
    add_service("alpha", "db1", "db", {"v1.primary"}, 5432, "10.9.9.9");
    add_service("gamma", "web6", "web6", {}, 80);
  }
  void add_node(const std::string& name, const std::string& address, catalog::StringMap meta = {}) {
    catalog::Node n;
    n.name = name;
    n.address = address;
    n.datacenter = "dc1";
    n.meta = std::move(meta);
    cat.upsert_node(n);
  }
  void add_service(const std::string& node, const std::string& id, const std::string& name, std::vector<std::string> tags,
                   int port, const std::string& address = "", int passing = 1, int warning = 1) {
    catalog::Service s;
    s.node = node;
    s.id = id;
    s.name = name;
    s.tags = std::move(tags);
    s.port = port;
    s.address = address;
    s.weights.passing = passing;
    s.weights.warning = warning;
    cat.upsert_service(s);
  }
  void set_check(const std::string& node, const std::string& service_id, catalog::HealthStatus status) {
    catalog::Check c;
    c.node = node;
    c.id = "check-" + service_id;
    c.name = c.id;
    c.service_id = service_id;
    c.status = status;
    cat.upsert_check(c);
  }
  Answer ask(const std::string& name, RType type, ResolverConfig config = {}) {
    config.node_name = "alpha";
    Resolver resolver(cat, config);
    return resolver.resolve(Question{name, type});
  }
};

std::multiset<std::string> addresses(const Answer& a) {
  std::multiset<std::string> out;
  for (const Record& r : a.answer) {
    if (r.type != RType::A && r.type != RType::AAAA) continue;
    std::string text;
    for (std::size_t i = 0; i < r.address.size(); ++i) text += (i ? "." : "") + std::to_string(r.address[i]);
    out.insert(text);
  }
  return out;
}

std::set<std::string> srv_targets(const Answer& a) {
  std::set<std::string> out;
  for (const Record& r : a.answer) {
    if (r.type == RType::SRV) out.insert(r.srv.target + ":" + std::to_string(r.srv.port));
  }
  return out;
}

}  // namespace

TEST_CASE("service A lookups give one address per instance, node address by default", "[unit]") {
  Fixture f;
  Answer a = f.ask("web.service.consul.", RType::A);
  CHECK(a.rcode == Rcode::noerror);
  CHECK(a.in_domain);
  CHECK(addresses(a) == std::multiset<std::string>{"10.0.0.1", "10.0.0.2"});
  CHECK(a.answer.front().owner == "web.service.consul.");
  // The datacenter label is optional; names are case-insensitive and the answer echoes the question.
  Answer upper = f.ask("WEB.Service.DC1.Consul.", RType::A);
  CHECK(addresses(upper).size() == 2);
  CHECK(upper.answer.front().owner == "WEB.Service.DC1.Consul.");
  // Another datacenter is unknown here.
  CHECK(f.ask("web.service.dc2.consul.", RType::A).rcode == Rcode::nxdomain);
}

TEST_CASE("SRV answers carry weights, ports and resolvable targets", "[unit]") {
  Fixture f;
  Answer a = f.ask("web.service.consul.", RType::SRV);
  REQUIRE(a.answer.size() == 2);
  CHECK(a.is_srv);
  CHECK(srv_targets(a) == std::set<std::string>{"alpha.node.dc1.consul.:8080", "beta.node.dc1.consul.:8081"});
  for (const Record& r : a.answer) {
    CHECK(r.srv.priority == 1);
    CHECK(r.srv.weight == (r.srv.port == 8081 ? 7 : 1));
  }
  // Each target has its address in Additional; alpha's node meta comes along as TXT.
  std::set<std::string> glue;
  bool meta_txt = false;
  for (const Record& r : a.additional) {
    if (r.type == RType::A) glue.insert(r.owner);
    if (r.type == RType::TXT && r.owner == "alpha.node.dc1.consul.") meta_txt = true;
  }
  CHECK(glue == std::set<std::string>{"alpha.node.dc1.consul.", "beta.node.dc1.consul."});
  CHECK(meta_txt);

  // A service with its own IP points at the .addr name of that IP.
  Answer db = f.ask("db.service.consul.", RType::SRV);
  REQUIRE(db.answer.size() == 1);
  CHECK(db.answer[0].srv.target == "0a090909.addr.dc1.consul.");
  REQUIRE(db.additional.size() == 1);
  CHECK(db.additional[0].owner == "0a090909.addr.dc1.consul.");
}

TEST_CASE("warning instances report the warning weight", "[unit]") {
  Fixture f;
  f.set_check("beta", "web2", catalog::HealthStatus::warning);
  Answer a = f.ask("web.service.consul.", RType::SRV);
  // Both instances still answer (a warning one is not dropped), web2 with the warning weight.
  std::map<std::uint16_t, std::uint16_t> weight_by_port;
  for (const Record& r : a.answer) weight_by_port[r.srv.port] = r.srv.weight;
  CHECK(weight_by_port == std::map<std::uint16_t, std::uint16_t>{{8080, 1}, {8081, 2}});
}

TEST_CASE("tag and RFC 2782 forms filter by tag", "[unit]") {
  Fixture f;
  CHECK(addresses(f.ask("primary.web.service.consul.", RType::A)) == std::multiset<std::string>{"10.0.0.1"});
  CHECK(addresses(f.ask("v2.web.service.consul.", RType::A)) == std::multiset<std::string>{"10.0.0.2"});
  CHECK(f.ask("v3.web.service.consul.", RType::A).rcode == Rcode::nxdomain);
  // Several leading labels form one tag with dots.
  CHECK(addresses(f.ask("v1.primary.db.service.consul.", RType::A)) == std::multiset<std::string>{"10.9.9.9"});
  // _tcp means no tag filter; any other protocol label is a tag.
  CHECK(srv_targets(f.ask("_web._tcp.service.consul.", RType::SRV)).size() == 2);
  CHECK(srv_targets(f.ask("_web._v1.service.consul.", RType::SRV)) == std::set<std::string>{"alpha.node.dc1.consul.:8080"});
  CHECK(f.ask("_web._udp.service.consul.", RType::SRV).rcode == Rcode::nxdomain);
  // Newer Consul: the .service label may be left out, with or without the datacenter.
  CHECK(srv_targets(f.ask("_web._tcp.consul.", RType::SRV)).size() == 2);
  CHECK(srv_targets(f.ask("_web._v2.dc1.consul.", RType::SRV)) == std::set<std::string>{"beta.node.dc1.consul.:8081"});
}

TEST_CASE("critical instances disappear and warning ones only with only_passing", "[unit]") {
  Fixture f;
  f.set_check("beta", "web2", catalog::HealthStatus::critical);
  CHECK(addresses(f.ask("web.service.consul.", RType::A)) == std::multiset<std::string>{"10.0.0.1"});
  f.set_check("beta", "web2", catalog::HealthStatus::warning);
  CHECK(addresses(f.ask("web.service.consul.", RType::A)).size() == 2);
  ResolverConfig strict;
  strict.only_passing = true;
  CHECK(addresses(f.ask("web.service.consul.", RType::A, strict)) == std::multiset<std::string>{"10.0.0.1"});
  // A node-level critical check (no service) takes every instance on the node out.
  catalog::Check node_check;
  node_check.node = "alpha";
  node_check.id = "serfHealth";
  node_check.name = "Serf Health Status";
  node_check.status = catalog::HealthStatus::critical;
  f.cat.upsert_check(node_check);
  f.set_check("beta", "web2", catalog::HealthStatus::critical);
  Answer none = f.ask("web.service.consul.", RType::A);
  CHECK(none.rcode == Rcode::nxdomain);
  REQUIRE(none.authority.size() == 1);
  CHECK(none.authority[0].type == RType::SOA);
}

TEST_CASE("service answers are marked for shuffling and carry the A record limit", "[unit]") {
  Fixture f;
  CHECK(f.ask("web.service.consul.", RType::SRV).shuffle);
  CHECK(f.ask("web.service.consul.", RType::A).shuffle);
  CHECK_FALSE(f.ask("alpha.node.consul.", RType::A).shuffle);
  ResolverConfig limited;
  limited.a_record_limit = 1;
  Answer a = f.ask("web.service.consul.", RType::A, limited);
  CHECK(a.answer.size() == 2);  // the limit picks from the shuffled list when served (packet_test)
  CHECK(a.answer_limit == 1);
}

TEST_CASE("address family, deduplication and a_record_limit", "[unit]") {
  Fixture f;
  // web6 lives on an IPv6 node: AAAA answers, A is NODATA with SOA.
  Answer v6 = f.ask("web6.service.consul.", RType::AAAA);
  REQUIRE(v6.answer.size() == 1);
  CHECK(v6.answer[0].type == RType::AAAA);
  Answer v4 = f.ask("web6.service.consul.", RType::A);
  CHECK(v4.rcode == Rcode::noerror);
  CHECK(v4.answer.empty());
  REQUIRE(v4.authority.size() == 1);
  CHECK(v4.authority[0].type == RType::SOA);
  // Two instances on one IP give one A record.
  f.add_service("alpha", "web3", "web", {}, 9090);
  CHECK(addresses(f.ask("web.service.consul.", RType::A)).size() == 2);
  // Other types on a service name: NODATA.
  Answer mx = f.ask("web.service.consul.", static_cast<RType>(15));
  CHECK(mx.rcode == Rcode::noerror);
  CHECK(mx.answer.empty());
}

TEST_CASE("node lookups: address, RFC 1464 TXT, unknown nodes", "[unit]") {
  Fixture f;
  Answer a = f.ask("alpha.node.consul.", RType::A);
  CHECK(addresses(a) == std::multiset<std::string>{"10.0.0.1"});
  Answer txt = f.ask("alpha.node.dc1.consul.", RType::TXT);
  REQUIRE(txt.answer.size() == 1);
  CHECK(txt.answer[0].type == RType::TXT);
  std::set<std::string> texts(txt.answer[0].texts.begin(), txt.answer[0].texts.end());
  CHECK(texts == std::set<std::string>{"rack=r1", "bare"});
  Answer any = f.ask("alpha.node.consul.", RType::ANY);
  CHECK(any.answer.size() == 2);  // A and TXT
  CHECK(f.ask("nobody.node.consul.", RType::A).rcode == Rcode::nxdomain);
  CHECK(addresses(f.ask("gamma.node.consul.", RType::AAAA)).size() == 1);
}

TEST_CASE("RFC 1464 escaping of node meta keys", "[unit]") {
  CHECK(node_meta_txt("a=b", "c") == "a`=b=c");
  CHECK(node_meta_txt(" k", "v") == "` k=v");
  CHECK(node_meta_txt("tick`", "v") == "tick``=v");
  CHECK(node_meta_txt("rfc1035-x", "raw value") == "raw value");
}

TEST_CASE(".addr names decode hex IPs", "[unit]") {
  Fixture f;
  CHECK(addresses(f.ask("7f000001.addr.dc1.consul.", RType::A)) == std::multiset<std::string>{"127.0.0.1"});
  Answer v6 = f.ask("fd000000000000000000000000000003.addr.dc1.consul.", RType::AAAA);
  REQUIRE(v6.answer.size() == 1);
  CHECK(v6.answer[0].address.size() == 16);
  CHECK(f.ask("7f0000.addr.dc1.consul.", RType::A).rcode == Rcode::nxdomain);
  CHECK(f.ask("zz000001.addr.dc1.consul.", RType::A).rcode == Rcode::nxdomain);
}

TEST_CASE("reverse lookups of node and service addresses", "[unit]") {
  Fixture f;
  Answer node = f.ask("2.0.0.10.in-addr.arpa.", RType::PTR);
  REQUIRE(node.answer.size() == 1);
  CHECK(node.answer[0].target == "beta.node.dc1.consul.");
  Answer svc = f.ask("9.9.9.10.in-addr.arpa.", RType::PTR);
  REQUIRE(svc.answer.size() == 1);
  CHECK(svc.answer[0].target == "db.service.dc1.consul.");
  std::string v6name;
  for (char c : std::string("fd000000000000000000000000000003")) v6name = std::string(1, c) + "." + v6name;
  Answer v6 = f.ask(v6name + "ip6.arpa.", RType::PTR);
  REQUIRE(v6.answer.size() == 1);
  CHECK(v6.answer[0].target == "gamma.node.dc1.consul.");
  // Addresses we do not know are not ours: refused or recursed by the caller.
  CHECK_FALSE(f.ask("1.1.1.1.in-addr.arpa.", RType::PTR).in_domain);
  CHECK_FALSE(f.ask("300.0.0.10.in-addr.arpa.", RType::PTR).in_domain);
}

TEST_CASE("apex SOA and NS, serial following the catalog", "[unit]") {
  Fixture f;
  Answer soa = f.ask("consul.", RType::SOA);
  REQUIRE(soa.answer.size() == 1);
  CHECK(soa.answer[0].soa.serial == f.cat.index());
  const auto before = soa.answer[0].soa.serial;
  f.add_service("beta", "x", "x", {}, 1);
  CHECK(f.ask("consul.", RType::SOA).answer[0].soa.serial > before);
  Answer ns = f.ask("consul.", RType::NS);
  REQUIRE(ns.answer.size() == 1);
  CHECK(ns.answer[0].target == "alpha.node.dc1.consul.");
  REQUIRE(ns.additional.size() == 1);  // glue
  CHECK(ns.additional[0].type == RType::A);
}

TEST_CASE("names outside the domain, unknown kinds and a custom domain", "[unit]") {
  Fixture f;
  CHECK_FALSE(f.ask("example.com.", RType::A).in_domain);
  CHECK_FALSE(f.ask("notconsul.", RType::A).in_domain);
  CHECK(f.ask("web.nothing.consul.", RType::A).rcode == Rcode::nxdomain);
  CHECK(f.ask("service.consul.", RType::A).rcode == Rcode::nxdomain);
  CHECK(f.ask("x.query.consul.", RType::A).rcode == Rcode::nxdomain);  // no prepared queries
  ResolverConfig custom;
  custom.domain = "hearsay.test";
  CHECK(addresses(f.ask("web.service.hearsay.test.", RType::A, custom)).size() == 2);
  CHECK_FALSE(f.ask("web.service.consul.", RType::A, custom).in_domain);
}

TEST_CASE("TTLs: node TTL, service TTL, per-service and wildcard", "[unit]") {
  Fixture f;
  ResolverConfig config;
  config.node_ttl = 30;
  config.service_ttl = 5;
  config.service_ttls = {{"db", 60}, {"we*", 15}};
  CHECK(f.ask("alpha.node.consul.", RType::A, config).answer[0].ttl == 30);
  CHECK(f.ask("web.service.consul.", RType::A, config).answer[0].ttl == 15);
  CHECK(f.ask("db.service.consul.", RType::A, config).answer[0].ttl == 60);
  f.add_service("beta", "o", "other", {}, 1);
  CHECK(f.ask("other.service.consul.", RType::A, config).answer[0].ttl == 5);
}

TEST_CASE("a remote agent answers with its own instances first, and only then", "[unit]") {
  Fixture f;
  f.add_service("beta", "web3", "web", {}, 8082);  // beta holds two instances, alpha (us) one
  ResolverConfig local;
  local.local_first = true;
  for (RType type : {RType::A, RType::SRV}) {
    Answer a = f.ask("web.service.consul.", type, local);
    REQUIRE(a.answer.size() >= 2);
    CHECK(a.local_first == 1);
    if (type == RType::A) CHECK(a.answer.front().address == std::vector<std::uint8_t>{10, 0, 0, 1});
    else CHECK(a.answer.front().srv.port == 8080);
    CHECK(f.ask("web.service.consul.", type).local_first == 0);  // a LAN agent: no preference
  }
  CHECK(f.ask("db.service.consul.", RType::A, local).local_first == 1);
  CHECK(f.ask("web6.service.consul.", RType::A, local).local_first == 0);  // none of ours
}

TEST_CASE("with ACLs the resolver answers only what the default token may read", "[unit]") {
  Fixture f;
  ResolverConfig config;
  config.may_read_service = [](std::string_view name) { return name == "web"; };
  config.may_read_node = [](std::string_view name) { return name != "beta"; };
  // web on beta is left out; db is unknown; the node beta is unknown.
  CHECK(addresses(f.ask("web.service.consul.", RType::A, config)) == std::multiset<std::string>{"10.0.0.1"});
  CHECK(f.ask("db.service.consul.", RType::A, config).rcode == Rcode::nxdomain);
  CHECK(f.ask("db.service.consul.", RType::A).rcode == Rcode::noerror);  // without ACLs it is there
  CHECK(f.ask("beta.node.consul.", RType::A, config).rcode == Rcode::nxdomain);
  CHECK(f.ask("alpha.node.consul.", RType::A, config).rcode == Rcode::noerror);
}
