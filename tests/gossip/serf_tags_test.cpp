// serf's tag encoding: the bytes serf sent for role=db, empty tags, the 512-byte limit, and the
// protocol-2 fallback.
#include <catch2/catch.hpp>

#include "gossip/serf/serf_tags.h"

using namespace hearsay::gossip;

TEST_CASE("serf tags encode and decode as serf writes them", "[unit]") {
  // Captured in a push/pull node state: ff 81 a4"role" a2"db".
  const Bytes role_db{0xff, 0x81, 0xa4, 'r', 'o', 'l', 'e', 0xa2, 'd', 'b'};
  CHECK(encode_tags({{"role", "db"}}) == role_db);
  CHECK(decode_tags(role_db) == Tags{{"role", "db"}});
  CHECK(encode_tags({}) == Bytes{0xff, 0x80});
  CHECK(decode_tags(Bytes{0xff, 0x80}) == Tags{});
  // Key order on the wire does not matter (Go writes maps in random order).
  const Bytes two{0xff, 0x82, 0xa1, 'b', 0xa1, '2', 0xa1, 'a', 0xa1, '1'};
  CHECK(decode_tags(two) == Tags{{"a", "1"}, {"b", "2"}});
  // 512 bytes at most.
  CHECK_FALSE(encode_tags({{"big", std::string(600, 'x')}}));
  CHECK(encode_tags({{kHearsayTag, "1"}, {"dc", "dc1"}, {"role", "node"}}));
  // Protocol 2: plain bytes are the role.
  CHECK(decode_tags(Bytes{'w', 'e', 'b'}) == Tags{{"role", "web"}});
  CHECK(decode_tags(Bytes{}) == Tags{});
  // 0xFF and then garbage, a non-string value or trailing bytes: refused.
  CHECK_FALSE(decode_tags(Bytes{0xff, 0x81, 0xa1, 'k', 0x01}));
  CHECK_FALSE(decode_tags(Bytes{0xff, 0x91, 0x01}));
  CHECK_FALSE(decode_tags(Bytes{0xff, 0x80, 0x00}));
}
