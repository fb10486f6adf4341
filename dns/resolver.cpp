// Name forms and answers as Consul's agent/dns.go gives them (consul-compat.md 3.2-3.5).
#include "dns/resolver.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace hearsay::dns {
namespace {

using catalog::HealthStatus;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::vector<std::string> split_labels(const std::string& name) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < name.size()) {
    auto dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    out.push_back(name.substr(start, dot - start));
    start = dot + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& labels, std::size_t from, std::size_t to) {
  std::string out;
  for (std::size_t i = from; i < to; ++i) out += (i > from ? "." : "") + labels[i];
  return out;
}

bool iequals(const std::string& a, const std::string& b) { return lower(a) == lower(b); }

std::string hex_of(const std::vector<std::uint8_t>& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (auto b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

Record address_record(const std::string& owner, const std::vector<std::uint8_t>& ip, std::uint32_t ttl) {
  Record r;
  r.owner = owner;
  r.type = ip.size() == 4 ? RType::A : RType::AAAA;
  r.ttl = ttl;
  r.address = ip;
  return r;
}

bool family_wanted(RType qtype, const std::vector<std::uint8_t>& ip) {
  if (qtype == RType::A) return ip.size() == 4;
  if (qtype == RType::AAAA) return ip.size() == 16;
  return !ip.empty();  // ANY, TXT: either family
}

}  // namespace

std::vector<std::uint8_t> parse_ip(const std::string& text) {
  std::vector<std::uint8_t> out(16);
  if (inet_pton(AF_INET, text.c_str(), out.data()) == 1) {
    out.resize(4);
    return out;
  }
  if (inet_pton(AF_INET6, text.c_str(), out.data()) == 1) return out;
  return {};
}

std::string node_meta_txt(const std::string& key, const std::string& value) {
  if (key.starts_with("rfc1035-")) return value;
  std::string escaped;
  for (std::size_t i = 0; i < key.size(); ++i) {
    char c = key[i];
    bool edge_space = c == ' ' && (i == 0 || i + 1 == key.size());
    if (c == '=' || c == '`' || edge_space) escaped += '`';
    escaped += c;
  }
  return escaped + "=" + value;
}

Resolver::Resolver(const catalog::Catalog& catalog, ResolverConfig config) : catalog_(catalog) {
  reconfigure(std::move(config));
}

void Resolver::reconfigure(ResolverConfig config) {
  config_ = std::move(config);
  config_.domain = lower(config_.domain);
  if (config_.domain.empty() || config_.domain.back() != '.') config_.domain += '.';
}

std::string Resolver::node_fqdn(const std::string& node) const {
  return node + ".node." + config_.datacenter + "." + config_.domain;
}

std::uint32_t Resolver::ttl_of_service(const std::string& name) const {
  if (auto it = config_.service_ttls.find(name); it != config_.service_ttls.end()) return it->second;
  for (const auto& [pattern, ttl] : config_.service_ttls) {
    if (pattern.ends_with("*") && name.starts_with(pattern.substr(0, pattern.size() - 1))) return ttl;
  }
  return config_.service_ttl;
}

Record Resolver::soa_record() const {
  Record r;
  r.owner = config_.domain;
  r.type = RType::SOA;
  r.ttl = config_.soa_min_ttl;
  r.soa.mname = "ns." + config_.domain;
  r.soa.rname = "hostmaster." + config_.domain;
  // The serial follows the catalog: it grows whenever the data behind the zone changes.
  r.soa.serial = static_cast<std::uint32_t>(catalog_.index());
  r.soa.refresh = config_.soa_refresh;
  r.soa.retry = config_.soa_retry;
  r.soa.expire = config_.soa_expire;
  r.soa.minimum = config_.soa_min_ttl;
  return r;
}

Answer Resolver::nxdomain() const {
  Answer a;
  a.in_domain = true;
  a.rcode = Rcode::nxdomain;
  a.authority.push_back(soa_record());
  return a;
}

Answer Resolver::nodata() const {
  Answer a;
  a.in_domain = true;
  a.authority.push_back(soa_record());
  return a;
}

void Resolver::add_node_meta_txt(Answer& a, const catalog::Node& node, const std::string& owner) const {
  if (!config_.node_meta_txt || node.meta.empty()) return;
  Record txt;
  txt.owner = owner;
  txt.type = RType::TXT;
  txt.ttl = config_.node_ttl;
  for (const auto& [k, v] : node.meta) txt.texts.push_back(node_meta_txt(k, v));
  a.additional.push_back(std::move(txt));
}

Answer Resolver::resolve(const Question& question) const {
  std::string name = lower(question.name);
  if (name.empty() || name.back() != '.') name += '.';
  Question q = question;
  if (q.name.empty() || q.name.back() != '.') q.name += '.';

  if (name.ends_with(".in-addr.arpa.") || name.ends_with(".ip6.arpa.")) {
    auto labels = split_labels(name);
    std::vector<std::uint8_t> ip;
    if (name.ends_with(".in-addr.arpa.") && labels.size() == 6) {
      for (int i = 3; i >= 0; --i) {
        int v = std::atoi(labels[static_cast<std::size_t>(i)].c_str());
        if (v < 0 || v > 255 || labels[static_cast<std::size_t>(i)].empty()) return Answer{};
        ip.push_back(static_cast<std::uint8_t>(v));
      }
    } else if (name.ends_with(".ip6.arpa.") && labels.size() == 34) {
      for (int i = 31; i >= 1; i -= 2) {
        auto nibble = [](const std::string& s) { return s.size() == 1 && std::isxdigit(static_cast<unsigned char>(s[0])) ? std::stoi(s, nullptr, 16) : -1; };
        int hi = nibble(labels[static_cast<std::size_t>(i)]), lo = nibble(labels[static_cast<std::size_t>(i - 1)]);
        if (hi < 0 || lo < 0) return Answer{};
        ip.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
      }
    } else {
      return Answer{};
    }
    return reverse_lookup(q, ip);
  }

  if (name != config_.domain && !name.ends_with("." + config_.domain)) return Answer{};  // not ours
  const std::string relative = name == config_.domain ? "" : name.substr(0, name.size() - config_.domain.size() - 1);
  if (relative.empty()) return apex(q);
  auto labels = split_labels(relative);

  // The kind label, optionally followed by our datacenter.
  static const std::set<std::string> kinds = {"service", "node", "addr", "query"};
  std::size_t kind_at = labels.size() - 1;
  if (!kinds.count(labels[kind_at]) && labels.size() >= 2 && kinds.count(labels[kind_at - 1])) {
    if (labels[kind_at] != lower(config_.datacenter)) return nxdomain();
    --kind_at;
  }
  const std::string kind = labels[kind_at];
  if (!kinds.count(kind)) {
    // RFC 2782 without the .service label: _web._tcp[.dc].consul, for SRV queries.
    if (labels.size() >= 2 && labels[0].starts_with("_") && labels[1].starts_with("_") &&
        (labels.size() == 2 || (labels.size() == 3 && labels[2] == lower(config_.datacenter)))) {
      std::string tag = labels[1].substr(1);
      return service_lookup(q, labels[0].substr(1), tag == "tcp" ? "" : tag, true);
    }
    return nxdomain();
  }
  if (kind_at == 0) return nxdomain();  // "service.consul": nothing named
  if (kind == "service") {
    if (kind_at == 2 && labels[0].starts_with("_") && labels[1].starts_with("_")) {
      std::string tag = labels[1].substr(1);
      return service_lookup(q, labels[0].substr(1), tag == "tcp" ? "" : tag, true);
    }
    const std::string service = labels[kind_at - 1];
    const std::string tag = kind_at >= 2 ? join(labels, 0, kind_at - 1) : "";
    return service_lookup(q, service, tag, false);
  }
  if (kind == "node") return node_lookup(q, join(labels, 0, kind_at));
  if (kind == "addr") return kind_at == 1 ? addr_lookup(q, labels[0]) : nxdomain();
  return nxdomain();  // prepared queries are not supported: unknown query
}

Answer Resolver::apex(const Question& q) const {
  Answer a;
  a.in_domain = true;
  if (q.type == RType::SOA || q.type == RType::ANY) a.answer.push_back(soa_record());
  if (q.type == RType::NS || q.type == RType::ANY) {
    Record ns;
    ns.owner = config_.domain;
    ns.type = RType::NS;
    ns.ttl = config_.node_ttl;
    ns.target = node_fqdn(config_.node_name);
    a.answer.push_back(ns);
    if (const catalog::Node* self = catalog_.node(config_.node_name)) {
      auto ip = parse_ip(self->address);
      if (!ip.empty()) a.additional.push_back(address_record(ns.target, ip, config_.node_ttl));
    }
  }
  if (a.answer.empty()) a.authority.push_back(soa_record());
  return a;
}

Answer Resolver::service_lookup(const Question& q, const std::string& service, const std::string& tag,
                                bool rfc2782) const {
  // Service names match without regard to case, as DNS labels do.
  std::string name = service;
  if (catalog_.instances(name).empty()) {
    for (const auto& [known, tags] : catalog_.service_names()) {
      if (iequals(known, service)) name = known;
    }
  }
  if (config_.may_read_service && !config_.may_read_service(name)) return nxdomain();
  std::vector<const catalog::Service*> healthy;
  for (const catalog::Service* svc : catalog_.instances(name)) {
    if (config_.may_read_node && !config_.may_read_node(svc->node)) continue;
    if (!tag.empty() && std::none_of(svc->tags.begin(), svc->tags.end(), [&](const std::string& t) { return iequals(t, tag); })) {
      continue;
    }
    auto checks = catalog_.instance_checks(*svc);
    bool drop = std::any_of(checks.begin(), checks.end(), [&](const catalog::Check* c) {
      return c->status == HealthStatus::critical || (config_.only_passing && c->status != HealthStatus::passing);
    });
    if (!drop) healthy.push_back(svc);
  }
  if (healthy.empty()) return nxdomain();
  if (config_.local_first) {
    std::stable_partition(healthy.begin(), healthy.end(),
                          [&](const catalog::Service* svc) { return svc->node == config_.node_name; });
  }
  // How many answers (after de-duplication) are our own instances: counted as they are added.
  auto count_local = [&](Answer& answer, const catalog::Service* svc, std::size_t before) {
    if (config_.local_first && svc->node == config_.node_name && answer.answer.size() > before) ++answer.local_first;
  };

  // Shuffling (and a_record_limit, which must pick from the shuffled list) happen per query
  // when the answer is served, so this answer can be cached.
  Answer a;
  a.in_domain = true;
  a.shuffle = true;
  const std::uint32_t ttl = ttl_of_service(name);
  const bool srv = q.type == RType::SRV || (rfc2782 && q.type == RType::ANY);
  if (srv) {
    a.is_srv = true;
    std::set<std::string> seen;
    std::set<std::string> glued;  // targets whose Additional records are in already
    for (const catalog::Service* svc : healthy) {
      const catalog::Node* node = catalog_.node(svc->node);
      if (!node) continue;
      const std::string address = svc->address.empty() ? node->address : svc->address;
      if (!seen.insert(svc->node + "|" + address + "|" + std::to_string(svc->port)).second) continue;
      Record r;
      r.owner = q.name;
      r.type = RType::SRV;
      r.ttl = ttl;
      auto agg = catalog::aggregate_status(catalog_.instance_checks(*svc));
      r.srv.weight = static_cast<std::uint16_t>(agg == "warning" ? svc->weights.warning : svc->weights.passing);
      r.srv.port = static_cast<std::uint16_t>(svc->port);
      auto ip = parse_ip(address);
      if (svc->address.empty() || svc->address == node->address) {
        r.srv.target = node_fqdn(node->name);
        if (glued.insert(r.srv.target).second) {
          if (!ip.empty()) a.additional.push_back(address_record(r.srv.target, ip, config_.node_ttl));
          add_node_meta_txt(a, *node, r.srv.target);
        }
      } else if (!ip.empty()) {
        r.srv.target = hex_of(ip) + ".addr." + config_.datacenter + "." + config_.domain;
        if (glued.insert(r.srv.target).second) a.additional.push_back(address_record(r.srv.target, ip, ttl));
      } else {
        r.srv.target = address.ends_with(".") ? address : address + ".";  // a host name
      }
      const std::size_t before = a.answer.size();
      a.answer.push_back(std::move(r));
      count_local(a, svc, before);
    }
    return a;
  }
  if (q.type != RType::A && q.type != RType::AAAA && q.type != RType::ANY && q.type != RType::TXT) return nodata();
  std::set<std::vector<std::uint8_t>> seen;
  for (const catalog::Service* svc : healthy) {
    const catalog::Node* node = catalog_.node(svc->node);
    if (!node) continue;
    auto ip = parse_ip(svc->address.empty() ? node->address : svc->address);
    if (!family_wanted(q.type, ip) || !seen.insert(ip).second) continue;
    const std::size_t before = a.answer.size();
    a.answer.push_back(address_record(q.name, ip, ttl));
    count_local(a, svc, before);
  }
  a.answer_limit = config_.a_record_limit;
  if (a.answer.empty()) return nodata();
  return a;
}

Answer Resolver::node_lookup(const Question& q, const std::string& node_name) const {
  const catalog::Node* node = catalog_.node(node_name);
  if (!node) {
    for (const catalog::Node* n : catalog_.nodes()) {
      if (iequals(n->name, node_name)) node = n;
    }
  }
  if (!node || (config_.may_read_node && !config_.may_read_node(node->name))) return nxdomain();
  Answer a;
  a.in_domain = true;
  auto ip = parse_ip(node->address);
  const bool want_address = q.type == RType::A || q.type == RType::AAAA || q.type == RType::ANY;
  if (want_address && family_wanted(q.type, ip)) a.answer.push_back(address_record(q.name, ip, config_.node_ttl));
  if (q.type == RType::TXT || q.type == RType::ANY) {
    Answer txt;
    add_node_meta_txt(txt, *node, q.name);
    for (auto& r : txt.additional) a.answer.push_back(std::move(r));
  } else if (!a.answer.empty()) {
    add_node_meta_txt(a, *node, q.name);
  }
  if (a.answer.empty()) return nodata();
  return a;
}

Answer Resolver::addr_lookup(const Question& q, const std::string& hex) const {
  if (hex.size() != 8 && hex.size() != 32) return nxdomain();
  std::vector<std::uint8_t> ip;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    if (!std::isxdigit(static_cast<unsigned char>(hex[i])) || !std::isxdigit(static_cast<unsigned char>(hex[i + 1]))) {
      return nxdomain();
    }
    ip.push_back(static_cast<std::uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  if (!family_wanted(q.type == RType::TXT ? RType::SRV : q.type, ip)) return nodata();
  Answer a;
  a.in_domain = true;
  a.answer.push_back(address_record(q.name, ip, config_.node_ttl));
  return a;
}

Answer Resolver::reverse_lookup(const Question& q, const std::vector<std::uint8_t>& address) const {
  Answer a;
  auto ptr = [&](const std::string& target, std::uint32_t ttl) {
    Record r;
    r.owner = q.name;
    r.type = RType::PTR;
    r.ttl = ttl;
    r.target = target;
    a.answer.push_back(std::move(r));
  };
  for (const catalog::Node* node : catalog_.nodes()) {
    if (parse_ip(node->address) == address) ptr(node_fqdn(node->name), config_.node_ttl);
  }
  if (a.answer.empty()) {
    for (const auto& [name, tags] : catalog_.service_names()) {
      for (const catalog::Service* svc : catalog_.instances(name)) {
        if (!svc->address.empty() && parse_ip(svc->address) == address) {
          ptr(name + ".service." + config_.datacenter + "." + config_.domain, ttl_of_service(name));
          break;
        }
      }
    }
  }
  if (a.answer.empty()) return Answer{};  // not ours: the caller refuses or recurses
  a.in_domain = true;
  if (q.type != RType::PTR && q.type != RType::ANY) return nodata();
  return a;
}

}  // namespace hearsay::dns
