// See address_template.h. go-sockaddr's template functions (sockaddr/template/template.go) in
// the subset Consul configs use; anything else is an error naming the word.
#include "agent/address_template.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <regex>

namespace hearsay::agent {
namespace {

std::optional<std::uint32_t> ipv4_of(const std::string& ip) {
  in_addr a{};
  if (inet_pton(AF_INET, ip.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

bool in_v4(std::uint32_t ip, std::uint32_t net, int bits) {
  const std::uint32_t mask = bits == 0 ? 0 : ~std::uint32_t{0} << (32 - bits);
  return (ip & mask) == (net & mask);
}

bool is_ipv6(const std::string& ip) { return ip.find(':') != std::string::npos; }

bool is_public(const InterfaceAddress& a) {
  const auto v4 = ipv4_of(a.ip);
  return v4 && !a.loopback && !is_private_ipv4(a.ip) && !in_v4(*v4, 0xA9FE0000u, 16) /* link-local */ &&
         !in_v4(*v4, 0x7F000000u, 8);
}

// CIDR membership for IPv4 and IPv6 ("10.0.0.0/8", "fd00::/8").
bool in_network(const std::string& ip, const std::string& cidr, std::string& error) {
  const auto slash = cidr.find('/');
  const std::string base = cidr.substr(0, slash);
  const int bits = slash == std::string::npos ? -1 : std::atoi(cidr.c_str() + slash + 1);
  unsigned char net[16] = {}, addr[16] = {};
  const int family = is_ipv6(base) ? AF_INET6 : AF_INET;
  const int size = family == AF_INET6 ? 16 : 4;
  if (inet_pton(family, base.c_str(), net) != 1 || bits < 0 || bits > size * 8) {
    error = "\"" + cidr + "\" is not a network (CIDR)";
    return false;
  }
  if (inet_pton(family, ip.c_str(), addr) != 1) return false;
  for (int i = 0; i < size; ++i) {
    const int left = bits - i * 8;
    if (left <= 0) break;
    const auto mask = static_cast<unsigned char>(left >= 8 ? 0xFF : 0xFF << (8 - left));
    if ((net[i] & mask) != (addr[i] & mask)) return false;
  }
  return true;
}

// The words of a template: bare words, "quoted strings" and |.
std::vector<std::string> words_of(const std::string& text, std::string& error) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == ' ' || c == '\t') {
      ++i;
    } else if (c == '"') {
      const std::size_t close = text.find('"', i + 1);
      if (close == std::string::npos) {
        error = "unterminated string in {{" + text + "}}";
        return {};
      }
      words.push_back("\"" + text.substr(i + 1, close - i - 1));  // a leading quote marks a string
      i = close + 1;
    } else if (c == '|') {
      words.emplace_back("|");
      ++i;
    } else {
      const std::size_t end = text.find_first_of(" \t\"|", i);
      words.push_back(text.substr(i, end - i));
      i = end == std::string::npos ? text.size() : end;
    }
  }
  return words;
}

using Stage = std::vector<std::string>;

std::optional<std::string> join(const std::vector<InterfaceAddress>& list, const std::string& sep) {
  std::string out;
  for (const auto& a : list) out += (out.empty() ? "" : sep) + a.ip;
  return out;
}

// One {{ }}: a source, then stages separated by |.
std::optional<std::string> evaluate(const std::string& inner, const std::vector<InterfaceAddress>& interfaces,
                                    std::string& error) {
  const std::vector<std::string> words = words_of(inner, error);
  if (!error.empty()) return std::nullopt;
  std::vector<Stage> stages(1);
  for (const std::string& w : words) {
    if (w == "|") stages.emplace_back();
    else stages.back().push_back(w);
  }
  auto arg = [](const Stage& s, std::size_t i) -> std::optional<std::string> {
    if (i >= s.size() || s[i].empty() || s[i][0] != '"') return std::nullopt;
    return s[i].substr(1);
  };
  auto is_v4 = [](const InterfaceAddress& a) { return !is_ipv6(a.ip); };
  const Stage& source = stages.front();
  const std::string fn = source.empty() ? "" : source[0];
  std::vector<InterfaceAddress> list;
  auto keep = [&](auto pred) {
    for (const auto& a : interfaces) {
      if (pred(a)) list.push_back(a);
    }
  };
  if (fn == "GetPrivateIP" || fn == "GetPrivateIPs" || fn == "GetPrivateInterfaces") {
    keep([](const InterfaceAddress& a) { return !a.loopback && is_private_ipv4(a.ip); });
  } else if (fn == "GetPublicIP" || fn == "GetPublicIPs" || fn == "GetPublicInterfaces") {
    keep(is_public);
  } else if (fn == "GetInterfaceIP" || fn == "GetInterfaceIPs") {
    const auto name = arg(source, 1);
    if (!name) {
      error = fn + " needs an interface name: {{ " + fn + " \"eth0\" }}";
      return std::nullopt;
    }
    keep([&](const InterfaceAddress& a) { return a.name == *name; });
    // IPv4 first, as go-sockaddr sorts them.
    std::stable_partition(list.begin(), list.end(), is_v4);
  } else if (fn == "GetAllInterfaces") {
    list = interfaces;
  } else {
    error = "unknown template function \"" + fn + "\" in {{" + inner + "}}";
    return std::nullopt;
  }
  if (stages.size() == 1) {
    if (fn.ends_with("Interfaces")) {
      error = "{{" + inner + "}}: end with | attr \"address\" or | join \"address\" \" \"";
      return std::nullopt;
    }
    if (list.empty()) {
      error = "{{" + inner + "}} found no address on this host";
      return std::nullopt;
    }
    return fn.ends_with("IPs") ? join(list, " ") : std::optional<std::string>(list.front().ip);
  }
  for (std::size_t i = 1; i < stages.size(); ++i) {
    const Stage& s = stages[i];
    const std::string op = s.empty() ? "" : s[0];
    const bool last = i + 1 == stages.size();
    if (op == "include" || op == "exclude") {
      const auto what = arg(s, 1), value = arg(s, 2);
      if (!what || !value) {
        error = op + " needs a selector and a value: " + op + " \"name\" \"eth0\"";
        return std::nullopt;
      }
      std::function<bool(const InterfaceAddress&)> match;
      if (*what == "name") {
        std::regex re;
        try {
          re = std::regex(*value);
        } catch (const std::regex_error&) {
          error = "\"" + *value + "\" is not a regular expression";
          return std::nullopt;
        }
        match = [re](const InterfaceAddress& a) { return std::regex_search(a.name, re); };
      } else if (*what == "type") {
        const bool v6 = *value == "IPv6" || *value == "ipv6";
        match = [v6](const InterfaceAddress& a) { return is_ipv6(a.ip) == v6; };
      } else if (*what == "network") {
        std::string cidr_error;
        in_network("0.0.0.0", *value, cidr_error);
        if (!cidr_error.empty()) {
          error = cidr_error;
          return std::nullopt;
        }
        const std::string cidr = *value;
        match = [cidr](const InterfaceAddress& a) {
          std::string ignored;
          return in_network(a.ip, cidr, ignored);
        };
      } else if (*what == "rfc" && (*value == "1918" || *value == "6598")) {
        match = [](const InterfaceAddress& a) { return is_private_ipv4(a.ip); };
      } else {
        error = op + " \"" + *what + "\": selectors are name, type, network and rfc (1918, 6598)";
        return std::nullopt;
      }
      std::vector<InterfaceAddress> kept;
      for (const auto& a : list) {
        if (match(a) == (op == "include")) kept.push_back(a);
      }
      list = std::move(kept);
    } else if (op == "limit" && s.size() == 2 && std::all_of(s[1].begin(), s[1].end(), [](char ch) { return ch >= '0' && ch <= '9'; }) && !s[1].empty()) {
      list.resize(std::min(list.size(), static_cast<std::size_t>(std::stoul(s[1].substr(0, 6)))));
    } else if (op == "sort") {
      // go-sockaddr's sort keys; the host's order is kept.
    } else if (last && op == "attr" && arg(s, 1) == "address") {
      if (list.empty()) {
        error = "{{" + inner + "}} found no address on this host";
        return std::nullopt;
      }
      return list.front().ip;
    } else if (last && op == "join" && arg(s, 1) == "address" && arg(s, 2)) {
      if (list.empty()) {
        error = "{{" + inner + "}} found no address on this host";
        return std::nullopt;
      }
      return join(list, *arg(s, 2));
    } else {
      error = "unsupported step \"" + op + "\" in {{" + inner + "}} (include, exclude, limit, sort, then attr "
              "\"address\" or join \"address\" \" \")";
      return std::nullopt;
    }
  }
  error = "{{" + inner + "}}: end with | attr \"address\" or | join \"address\" \" \"";
  return std::nullopt;
}

}  // namespace

bool is_private_ipv4(const std::string& ip) {
  const auto v4 = ipv4_of(ip);
  return v4 && (in_v4(*v4, 0x0A000000u, 8) || in_v4(*v4, 0xAC100000u, 12) || in_v4(*v4, 0xC0A80000u, 16) ||
                in_v4(*v4, 0x64400000u, 10));
}

std::optional<std::string> expand_address_template(const std::string& text,
                                                   const std::vector<InterfaceAddress>& interfaces,
                                                   std::string& error) {
  std::string out;
  std::size_t pos = 0;
  while (true) {
    const std::size_t open = text.find("{{", pos);
    if (open == std::string::npos) break;
    const std::size_t close = text.find("}}", open + 2);
    if (close == std::string::npos) {
      error = "\"" + text + "\": {{ without }}";
      return std::nullopt;
    }
    out += text.substr(pos, open - pos);
    auto value = evaluate(text.substr(open + 2, close - open - 2), interfaces, error);
    if (!value) return std::nullopt;
    out += *value;
    pos = close + 2;
  }
  out += text.substr(pos);
  return out;
}

std::optional<std::string> default_advertise_address(const std::vector<InterfaceAddress>& interfaces,
                                                     std::string& error) {
  std::vector<std::string> private_ips;
  std::string other;
  for (const auto& a : interfaces) {
    if (a.loopback || is_ipv6(a.ip)) continue;
    if (is_private_ipv4(a.ip)) {
      if (std::find(private_ips.begin(), private_ips.end(), a.ip) == private_ips.end()) private_ips.push_back(a.ip);
    } else if (other.empty() && is_public(a)) {
      other = a.ip;
    }
  }
  if (private_ips.size() > 1) {
    std::string list;
    for (const auto& ip : private_ips) list += (list.empty() ? "" : ", ") + ip;
    error = "Multiple private IPv4 addresses found (" + list +
            "). Please configure one with 'bind' and/or 'advertise' (bind_addr, advertise_addr; a template such as "
            "{{ GetInterfaceIP \"eth0\" }} works too)";
    return std::nullopt;
  }
  if (private_ips.size() == 1) return private_ips.front();
  return other.empty() ? "127.0.0.1" : other;
}

}  // namespace hearsay::agent
