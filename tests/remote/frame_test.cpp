// The frame codec of remote sessions (remote/frame.h): each kind round trips, each FrameError
// comes from a crafted input, and the stream reader reassembles frames from any split.
#include <catch2/catch.hpp>

#include <random>

#include <msgpack.hpp>

#include "gossip/wire/msgpack_io.h"
#include "remote/frame.h"

using namespace hearsay::remote;
namespace mp = hearsay::gossip::mp;

namespace {

std::vector<Frame> one_of_each() {
  return {
      Hello{kProtocolVersion, "laptop-1", "8f7e2a4c-0000-4000-8000-000000000001", "s3cret", 1765000000000000, 3},
      Welcome{"relay-a", 42, 2000},
      Refuse{"unknown token", false},
      ReplicationFrame{7, true, 0, Bytes{1, 2, 3, 0, 255}},
      ReplicationFrame{0, false, 9, Bytes{}},
      Ack{2, 1234567},
      Ping{99},
      Pong{99},
      Goodbye{},
      Members{Bytes{1, 2, 3}},
  };
}

// A frame with the given type byte and msgpack body, length prefix included.
Bytes framed(std::uint8_t type, const Bytes& body) {
  Bytes out;
  const std::uint32_t n = static_cast<std::uint32_t>(body.size() + 1);
  out = {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8),
         static_cast<std::uint8_t>(n), type};
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

FrameError error_of(const Bytes& stream) {
  FrameReader reader;
  reader.feed(stream.data(), stream.size());
  while (reader.next()) {
  }
  return reader.error();
}

}  // namespace

TEST_CASE("every frame kind round trips", "[remote][frame]") {
  std::uint8_t type = 0;
  for (const Frame& f : one_of_each()) {
    const Bytes bytes = encode_frame(f);
    REQUIRE(bytes.size() > 5);
    const std::uint32_t length = (std::uint32_t{bytes[0]} << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3];
    CHECK(length == bytes.size() - 4);
    CHECK(bytes[4] == frame_type(f));
    CHECK(bytes[4] >= type);  // one_of_each is in the variant's order
    type = bytes[4];
    FrameError error = FrameError::bad_shape;
    auto back = decode_frame_body(bytes.data() + 4, bytes.size() - 4, error);
    INFO(frame_name(f));
    REQUIRE(back);
    CHECK(error == FrameError::none);
    CHECK(*back == f);
  }
  CHECK(frame_type(Hello{}) == 1);
  CHECK(frame_type(Goodbye{}) == 8);
  CHECK(frame_type(Members{}) == 9);
  CHECK(std::string(frame_name(ReplicationFrame{})) == "replication");
}

TEST_CASE("frames at the string limits round trip, one byte more is bad_shape", "[remote][frame]") {
  const std::string at(512, 'x'), over(513, 'x');
  for (int field = 0; field < 3; ++field) {
    Hello h{kProtocolVersion, "n", "id", "t", 1, 1};
    (field == 0 ? h.node : field == 1 ? h.node_id : h.token) = at;
    Bytes b = encode_frame(h);
    FrameError error;
    CHECK(decode_frame_body(b.data() + 4, b.size() - 4, error));
    (field == 0 ? h.node : field == 1 ? h.node_id : h.token) = over;
    b = encode_frame(h);
    CHECK_FALSE(decode_frame_body(b.data() + 4, b.size() - 4, error));
    CHECK(error == FrameError::bad_shape);
  }
  Bytes b = encode_frame(Refuse{over, true});
  CHECK(error_of(b) == FrameError::bad_shape);
  b = encode_frame(Welcome{over, 1, 1});
  CHECK(error_of(b) == FrameError::bad_shape);
}

TEST_CASE("each frame error from a crafted input", "[remote][frame]") {
  SECTION("too_large: a length prefix over the limit, or 0") {
    const std::uint32_t n = kMaxFrameBytes + 1;
    Bytes b{static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8),
            static_cast<std::uint8_t>(n)};
    FrameReader reader;
    reader.feed(b.data(), b.size());  // the prefix alone is enough to refuse
    CHECK_FALSE(reader.next());
    CHECK(reader.error() == FrameError::too_large);
    CHECK(error_of(Bytes{0, 0, 0, 0}) == FrameError::too_large);
    // A reader with a smaller limit refuses what the default one takes.
    FrameReader small(16);
    const Bytes ok = encode_frame(Hello{kProtocolVersion, "laptop", "id", "t", 1, 1});
    small.feed(ok.data(), ok.size());
    CHECK_FALSE(small.next());
    CHECK(small.error() == FrameError::too_large);
    FrameError error;
    CHECK_FALSE(decode_frame_body(ok.data(), 0, error));
    CHECK(error == FrameError::too_large);
  }
  SECTION("unknown_type") {
    Bytes body;
    mp::MapWriter(body, 0);
    CHECK(error_of(framed(0, body)) == FrameError::unknown_type);
    CHECK(error_of(framed(10, body)) == FrameError::unknown_type);
    CHECK(error_of(framed(255, body)) == FrameError::unknown_type);
  }
  SECTION("not_msgpack: no body, a truncated body, trailing bytes") {
    CHECK(error_of(framed(frame_type(Goodbye{}), {})) == FrameError::not_msgpack);
    CHECK(error_of(framed(frame_type(Ping{}), {0x81, 0xa7})) == FrameError::not_msgpack);
    CHECK(error_of(framed(frame_type(Ping{}), {0xc1})) == FrameError::not_msgpack);  // never used
    Bytes body;
    mp::MapWriter(body, 1).uint("sent_us", 5);
    CHECK(error_of(framed(frame_type(Ping{}), body)) == FrameError::none);
    body.push_back(0xc0);  // a nil after the map
    CHECK(error_of(framed(frame_type(Ping{}), body)) == FrameError::not_msgpack);
  }
  SECTION("bad_shape: not a map, a field missing, a field of the wrong type") {
    CHECK(error_of(framed(frame_type(Ping{}), {0x93, 1, 2, 3})) == FrameError::bad_shape);
    Bytes body;
    mp::MapWriter(body, 1).uint("echo_us", 5);  // a pong's field in a ping
    CHECK(error_of(framed(frame_type(Ping{}), body)) == FrameError::bad_shape);
    body.clear();
    mp::MapWriter(body, 1).str("sent_us", "5");
    CHECK(error_of(framed(frame_type(Ping{}), body)) == FrameError::bad_shape);
    body.clear();
    mp::MapWriter(body, 2).uint("keepalive_ms", std::uint64_t{1} << 32).str("relay", "r");  // over u32
    CHECK(error_of(framed(frame_type(Welcome{}), body)) == FrameError::bad_shape);
    body.clear();
    mp::MapWriter(body, 3).uint("keepalive_ms", std::uint64_t{1} << 32).str("relay", "r").uint("session", 1);
    CHECK(error_of(framed(frame_type(Welcome{}), body)) == FrameError::bad_shape);
    // A map keyed by an integer.
    CHECK(error_of(framed(frame_type(Goodbye{}), {0x81, 0x01, 0x02})) == FrameError::bad_shape);
  }
  SECTION("unknown keys are skipped") {
    Bytes body;
    mp::MapWriter(body, 2).uint("future", 1).uint("sent_us", 5);
    FrameReader reader;
    const Bytes b = framed(frame_type(Ping{}), body);
    reader.feed(b.data(), b.size());
    auto f = reader.next();
    REQUIRE(f);
    CHECK(std::get<Ping>(*f).sent_us == 5);
  }
  for (std::size_t e = 0; e < kFrameErrors; ++e) {
    CHECK(std::string(frame_error_name(static_cast<FrameError>(e))) != "unknown");
  }
}

TEST_CASE("a broken stream stays broken and returns no more frames", "[remote][frame]") {
  FrameReader reader;
  Bytes b = framed(0, {0x80});
  const Bytes good = encode_frame(Ping{1});
  b.insert(b.end(), good.begin(), good.end());
  reader.feed(b.data(), b.size());
  CHECK_FALSE(reader.next());
  CHECK(reader.error() == FrameError::unknown_type);
  reader.feed(good.data(), good.size());
  CHECK_FALSE(reader.next());
  CHECK(reader.error() == FrameError::unknown_type);
}

TEST_CASE("a stream fed byte by byte and in random splits", "[remote][frame]") {
  Bytes stream;
  std::vector<Frame> sent;
  for (int round = 0; round < 20; ++round) {
    for (const Frame& f : one_of_each()) {
      sent.push_back(f);
      const Bytes b = encode_frame(f);
      stream.insert(stream.end(), b.begin(), b.end());
    }
  }
  // One large frame among them.
  ReplicationFrame big{1, false, 0, Bytes(300000, 0xab)};
  sent.push_back(big);
  const Bytes b = encode_frame(big);
  stream.insert(stream.end(), b.begin(), b.end());
  sent.push_back(Goodbye{});
  const Bytes g = encode_frame(Goodbye{});
  stream.insert(stream.end(), g.begin(), g.end());

  SECTION("byte by byte") {
    FrameReader reader;
    std::vector<Frame> got;
    for (std::uint8_t byte : stream) {
      reader.feed(&byte, 1);
      while (auto f = reader.next()) got.push_back(*f);
    }
    CHECK(reader.error() == FrameError::none);
    CHECK(reader.buffered() == 0);
    CHECK(got == sent);
  }
  SECTION("random splits") {
    std::mt19937_64 rng(GENERATE(1, 2, 3, 4, 5));
    FrameReader reader;
    std::vector<Frame> got;
    std::size_t at = 0;
    while (at < stream.size()) {
      const std::size_t n = std::min(stream.size() - at, std::uniform_int_distribution<std::size_t>(0, 5000)(rng));
      reader.feed(stream.data() + at, n);
      at += n;
      while (auto f = reader.next()) got.push_back(*f);
      CHECK(reader.error() == FrameError::none);
    }
    CHECK(reader.buffered() == 0);
    CHECK(got == sent);
  }
  SECTION("all at once") {
    FrameReader reader;
    reader.feed(stream.data(), stream.size());
    std::vector<Frame> got;
    while (auto f = reader.next()) got.push_back(*f);
    CHECK(got == sent);
    CHECK(reader.buffered() == 0);
  }
}

TEST_CASE("a frame followed by part of the next waits for the rest", "[remote][frame]") {
  const Bytes a = encode_frame(Ping{1}), b = encode_frame(Pong{2});
  Bytes both = a;
  both.insert(both.end(), b.begin(), b.end() - 1);
  FrameReader reader;
  reader.feed(both.data(), both.size());
  REQUIRE(reader.next());
  CHECK_FALSE(reader.next());
  CHECK(reader.error() == FrameError::none);
  CHECK(reader.buffered() == b.size() - 1);
  reader.feed(&b.back(), 1);
  auto f = reader.next();
  REQUIRE(f);
  CHECK(std::get<Pong>(*f).echo_us == 2);
}
