// msgpack record bodies: round trips, and untrusted bytes never crash or decode as records.
#include <catch2/catch.hpp>

#include "catalog/record_codec.h"

using namespace hearsay::catalog;

TEST_CASE("records round-trip through the codec", "[unit]") {
  Node n{"uuid", "a", "10.0.0.1", "dc1", {{"lan", "10.0.0.1"}}, {{"rack", "r1"}}, {"a", 3, 1}, {2, 5}};
  CHECK(decode_node(encode_record(n)) == n);

  Service s;
  s.node = "a";
  s.id = "web1";
  s.name = "web";
  s.tags = {"x", "y"};
  s.port = 80;
  s.meta = {{"version", "local"}};
  s.tagged_addresses = {{"wan", {"1.2.3.4", 443}}};
  s.weights = {10, 2};
  s.enable_tag_override = true;
  s.origin = {"a", 9, 2};
  s.indexes = {4, 8};
  CHECK(decode_service(encode_record(s)) == s);

  Check c;
  c.node = "a";
  c.id = "service:web1";
  c.name = "n";
  c.status = HealthStatus::passing;
  c.service_id = "web1";
  c.spec.type = CheckType::script;
  c.spec.args = {"/bin/true"};
  c.spec.timeout = std::chrono::seconds(3);
  c.origin = {"a", 10, 1};
  Check decoded = decode_check(encode_record(c)).value();
  CHECK(decoded == c);
}

TEST_CASE("malformed record bodies are rejected", "[unit]") {
  Node n{"", "a", "", "", {}, {}, {}, {}};
  std::string good = encode_record(n);
  CHECK_FALSE(decode_node(""));
  CHECK_FALSE(decode_node(good.substr(0, good.size() - 1)));  // truncated
  CHECK_FALSE(decode_node(good + "x"));                       // trailing bytes
  CHECK_FALSE(decode_node("\x93\x01\x02\x03"));               // an array, not a map
  CHECK_FALSE(decode_node("\x81\xa4name\x05"));               // name is not a string
  CHECK_FALSE(decode_service(good));                          // a node is not a service
  CHECK_FALSE(decode_check("\xdf\xff\xff\xff\xff"));          // map claiming 4 billion entries
}
