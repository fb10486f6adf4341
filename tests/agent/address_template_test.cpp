// Address templates (agent/address_template.h) over a made-up host, and the default advertise
// address that refuses to guess among several private ones.
#include <catch2/catch.hpp>

#include "agent/address_template.h"

using namespace hearsay::agent;

namespace {

const std::vector<InterfaceAddress> kHost = {
    {"lo", "127.0.0.1", true},       {"lo", "::1", true},           {"eth0", "fe80::1", false},
    {"eth0", "10.0.0.5", false},     {"eth1", "192.168.1.9", false}, {"wan0", "203.0.113.7", false},
    {"docker0", "172.17.0.1", false},
};

std::string expand(const std::string& text, const std::vector<InterfaceAddress>& host = kHost) {
  std::string error;
  auto out = expand_address_template(text, host, error);
  return out ? *out : "error: " + error;
}

}  // namespace

TEST_CASE("address templates pick the host's addresses as go-sockaddr does", "[unit]") {
  CHECK(expand("10.1.2.3") == "10.1.2.3");  // no template: unchanged
  CHECK(expand("{{ GetPrivateIP }}") == "10.0.0.5");
  CHECK(expand("{{GetPrivateIPs}}") == "10.0.0.5 192.168.1.9 172.17.0.1");
  CHECK(expand("{{ GetPublicIP }}") == "203.0.113.7");
  CHECK(expand("{{ GetInterfaceIP \"eth0\" }}") == "10.0.0.5");  // IPv4 before IPv6
  CHECK(expand("{{ GetInterfaceIPs \"eth0\" }}") == "10.0.0.5 fe80::1");
  CHECK(expand("{{ GetAllInterfaces | include \"name\" \"^eth\" | include \"type\" \"IPv4\" | attr \"address\" }}") ==
        "10.0.0.5");
  CHECK(expand("{{ GetPrivateInterfaces | exclude \"name\" \"docker\" | join \"address\" \" \" }}") ==
        "10.0.0.5 192.168.1.9");
  CHECK(expand("{{ GetAllInterfaces | include \"network\" \"192.168.0.0/16\" | attr \"address\" }}") == "192.168.1.9");
  CHECK(expand("{{ GetAllInterfaces | include \"rfc\" \"1918\" | sort \"address\" | limit 1 | attr \"address\" }}") ==
        "10.0.0.5");
  CHECK(expand("127.0.0.1 {{ GetInterfaceIP \"eth1\" }}") == "127.0.0.1 192.168.1.9");  // client_addr lists
}

TEST_CASE("address templates that cannot be evaluated are errors naming the part", "[unit]") {
  CHECK(expand("{{ GetInterfaceIP \"eth9\" }}") == "error: {{ GetInterfaceIP \"eth9\" }} found no address on this host");
  CHECK(expand("{{ GetPrivateIp }}").find("unknown template function \"GetPrivateIp\"") != std::string::npos);
  CHECK(expand("{{ GetInterfaceIP }}").find("needs an interface name") != std::string::npos);
  CHECK(expand("{{ GetAllInterfaces }}").find("end with | attr") != std::string::npos);
  CHECK(expand("{{ GetAllInterfaces | include \"name\" \"(\" | attr \"address\" }}").find("not a regular expression") !=
        std::string::npos);
  CHECK(expand("{{ GetAllInterfaces | include \"network\" \"10/99\" | attr \"address\" }}").find("not a network") !=
        std::string::npos);
  CHECK(expand("{{ GetAllInterfaces | reverse | attr \"address\" }}").find("unsupported step \"reverse\"") !=
        std::string::npos);
  CHECK(expand("{{ GetPrivateIP").find("{{ without }}") != std::string::npos);
  CHECK(expand("{{ GetPrivateIP }}", {{"lo", "127.0.0.1", true}}).find("found no address") != std::string::npos);
}

TEST_CASE("the default advertise address is the one private IPv4 and never a guess among several", "[unit]") {
  std::string error;
  CHECK(default_advertise_address({{"lo", "127.0.0.1", true}, {"eth0", "10.0.0.5", false}}, error) == "10.0.0.5");
  CHECK(default_advertise_address({{"lo", "127.0.0.1", true}, {"eth0", "203.0.113.7", false}}, error) ==
        "203.0.113.7");
  CHECK(default_advertise_address({{"lo", "127.0.0.1", true}}, error) == "127.0.0.1");
  CHECK_FALSE(default_advertise_address(kHost, error));
  CHECK(error.find("Multiple private IPv4 addresses found (10.0.0.5, 192.168.1.9, 172.17.0.1)") == 0);
  CHECK(error.find("'bind' and/or 'advertise'") != std::string::npos);
}

TEST_CASE("private IPv4 ranges are RFC 1918 and RFC 6598", "[unit]") {
  for (const char* ip : {"10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.0.1", "100.64.0.1"}) {
    INFO(ip);
    CHECK(is_private_ipv4(ip));
  }
  for (const char* ip : {"172.32.0.1", "8.8.8.8", "100.128.0.1", "127.0.0.1", "fd00::1", "nonsense"}) {
    INFO(ip);
    CHECK_FALSE(is_private_ipv4(ip));
  }
}
