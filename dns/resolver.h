// Consul-style name resolution over the catalog (consul-compat.md section 3): service, tag and
// RFC 2782 names, nodes, .addr names, reverse lookups, SOA/NS at the apex; health filtering,
// SRV weights. Pure and deterministic: a question in, an Answer out (which says whether it is to
// be shuffled per query), so answers can be cached until the catalog changes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "catalog/catalog.h"
#include "dns/records.h"

namespace hearsay::dns {

struct ResolverConfig {
  std::string domain = "consul.";  // absolute, lower case
  std::string datacenter = "dc1";
  std::string node_name;           // this agent: the NS record and SOA mname point at it
  std::uint32_t node_ttl = 0;
  std::uint32_t service_ttl = 0;   // default for every service
  std::map<std::string, std::uint32_t> service_ttls;  // per service name; "*" as a suffix is a prefix match
  bool only_passing = false;       // drop warning instances too
  std::size_t a_record_limit = 0;  // 0: no limit
  bool node_meta_txt = true;       // node-meta TXT in the Additional section
  // A remote agent (issue 16): a service's instances on this node come first in answers, so
  // code on the laptop talks to the laptop's own version of a service it registered.
  bool local_first = false;
  std::uint32_t soa_refresh = 3600, soa_retry = 600, soa_expire = 86400, soa_min_ttl = 0;
  // What the agent's default ACL token may read (Consul answers DNS with it): a name it may not
  // read is answered as unknown. Unset: everything is visible (ACLs off).
  std::function<bool(std::string_view service)> may_read_service;
  std::function<bool(std::string_view node)> may_read_node;
};

struct Question {
  std::string name;  // as asked (case kept for the answer), absolute with trailing dot
  RType type = RType::A;
};

class Resolver {
 public:
  Resolver(const catalog::Catalog& catalog, ResolverConfig config);

  // Answers one question. `in_domain` is false for names outside our domain (the caller
  // answers REFUSED or forwards to a recursor).
  Answer resolve(const Question& question) const;
  const catalog::Catalog& catalog() const { return catalog_; }

  const ResolverConfig& config() const { return config_; }
  // A config reload: answers from now on follow `config` (the caller drops cached answers).
  void reconfigure(ResolverConfig config);

 private:
  Answer service_lookup(const Question& q, const std::string& service, const std::string& tag, bool rfc2782) const;
  Answer node_lookup(const Question& q, const std::string& node) const;
  Answer addr_lookup(const Question& q, const std::string& hex) const;
  Answer reverse_lookup(const Question& q, const std::vector<std::uint8_t>& address) const;
  Answer apex(const Question& q) const;
  Record soa_record() const;
  Answer nxdomain() const;
  Answer nodata() const;
  std::uint32_t ttl_of_service(const std::string& name) const;
  std::string node_fqdn(const std::string& node) const;
  void add_node_meta_txt(Answer& a, const catalog::Node& node, const std::string& owner) const;

  const catalog::Catalog& catalog_;
  ResolverConfig config_;
};

// "10.0.0.1" -> {10,0,0,1}; IPv6 text -> 16 bytes; empty when not an IP literal.
std::vector<std::uint8_t> parse_ip(const std::string& text);
// RFC 1464 "key=value" with backquote escapes, and rfc1035- keys as bare values (Consul).
std::string node_meta_txt(const std::string& key, const std::string& value);

}  // namespace hearsay::dns
