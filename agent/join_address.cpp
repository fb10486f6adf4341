// See join_address.h. Name lookups run on libuv's thread pool (getaddrinfo blocks), one per
// name; the last one to finish calls back on the loop thread.
#include "agent/join_address.h"

#include <netdb.h>

#include <cctype>
#include <memory>

namespace hearsay::agent {
namespace {

// RFC 1123 host names: labels of letters, digits and '-', dot-separated, at most 253 bytes.
bool is_host_name(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t label = 0;
  for (char c : s) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') {
      if (++label > 63) return false;
    } else {
      return false;
    }
  }
  return true;
}

struct Pending {
  std::vector<gossip::Address> found;
  std::vector<std::string> errors;
  std::size_t outstanding = 0;
  ResolvedJoin done;
  void finish_one() {
    if (--outstanding == 0) done(std::move(found), std::move(errors));
  }
};

struct Lookup {
  uv_getaddrinfo_t req{};
  std::shared_ptr<Pending> pending;
  std::string text;
  std::uint16_t port = 0;
};

}  // namespace

std::optional<HostPort> parse_join_address(const std::string& text, std::uint16_t default_port) {
  if (auto ip = gossip::parse_address(text, default_port)) return HostPort{ip->ip_text(), ip->port};
  std::string host = text;
  std::uint16_t port = default_port;
  if (const auto colon = text.rfind(':'); colon != std::string::npos) {
    const std::string digits = text.substr(colon + 1);
    if (digits.empty() || digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos) {
      return std::nullopt;
    }
    const unsigned long p = std::stoul(digits);
    if (p == 0 || p > 65535) return std::nullopt;
    port = static_cast<std::uint16_t>(p);
    host = text.substr(0, colon);
  }
  if (!is_host_name(host)) return std::nullopt;
  return HostPort{host, port};
}

void resolve_join_addresses(uv_loop_t* loop, const std::vector<std::string>& addresses, std::uint16_t default_port,
                            ResolvedJoin done) {
  auto pending = std::make_shared<Pending>();
  pending->done = std::move(done);
  pending->outstanding = 1;  // held until every lookup has started
  for (const std::string& text : addresses) {
    if (auto ip = gossip::parse_address(text, default_port)) {
      pending->found.push_back(*ip);
      continue;
    }
    auto hp = parse_join_address(text, default_port);
    if (!hp) {
      pending->errors.push_back(text + ": not an address or host name");
      continue;
    }
    auto lookup = std::make_unique<Lookup>();
    lookup->pending = pending;
    lookup->text = text;
    lookup->port = hp->port;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;  // one entry per address, not one per socket type
    auto on_resolved = [](uv_getaddrinfo_t* req, int status, addrinfo* res) {
      std::unique_ptr<Lookup> l(static_cast<Lookup*>(req->data));
      std::size_t before = l->pending->found.size();
      for (addrinfo* ai = res; status == 0 && ai; ai = ai->ai_next) {
        char ip[INET6_ADDRSTRLEN] = {};
        if (ai->ai_family == AF_INET) uv_ip4_name(reinterpret_cast<sockaddr_in*>(ai->ai_addr), ip, sizeof(ip));
        else if (ai->ai_family == AF_INET6) uv_ip6_name(reinterpret_cast<sockaddr_in6*>(ai->ai_addr), ip, sizeof(ip));
        if (auto a = gossip::parse_address(ip, l->port)) {
          a->port = l->port;
          l->pending->found.push_back(*a);
        }
      }
      uv_freeaddrinfo(res);
      if (l->pending->found.size() == before) {
        l->pending->errors.push_back(l->text + ": " + (status == 0 ? "no address" : std::string(uv_strerror(status))));
      }
      l->pending->finish_one();
    };
    lookup->req.data = lookup.get();
    ++pending->outstanding;
    const int rc = uv_getaddrinfo(loop, &lookup->req, on_resolved, hp->host.c_str(), nullptr, &hints);
    if (rc != 0) {
      --pending->outstanding;
      pending->errors.push_back(text + ": " + uv_strerror(rc));
      continue;
    }
    (void)lookup.release();  // owned by the callback from now on
  }
  pending->finish_one();
}

}  // namespace hearsay::agent
