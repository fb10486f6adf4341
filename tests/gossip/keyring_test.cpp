// The keyring against memberlist's AES-GCM format: the golden datagram captured from serf with
// key 00..0f (memberlist-wire.md 3.5), round trips, rotation, and packets that must not open.
#include <catch2/catch.hpp>

#include "gossip/wire/keyring.h"
#include "hex.h"

using namespace hearsay::gossip;

namespace {

using test::hex;

Bytes key_of(std::uint8_t first, std::size_t size = 16) {
  Bytes k(size);
  for (std::size_t i = 0; i < size; ++i) k[i] = static_cast<std::uint8_t>(first + i);
  return k;
}

Keyring ring_with(const std::vector<Bytes>& keys) {
  Keyring ring;
  for (const Bytes& k : keys) REQUIRE(ring.add(k).empty());
  return ring;
}

}  // namespace

TEST_CASE("a datagram serf encrypted opens to the captured ping", "[unit]") {
  const Bytes sealed = hex(
      "019b7a99111520c2e0559f3a22ee6c44564e2ca01fa0e5ee3431827b432c0a5f16bd80ea9269af45f375093c57f3fee43c8cf376fecad0b"
      "3c565ad649b33f92a0987daa0cf8e7e92893ca04d4ddbf15d2116ae3001070108");
  const Bytes ping = hex(
      "0085a44e6f6465a161a55365714e6f01aa536f7572636541646472a47f000001aa536f757263654e6f6465a162aa536f75726365506f7274cd1f0b");
  Keyring ring = ring_with({key_of(0)});
  auto plain = ring.open(sealed.data(), sealed.size());
  REQUIRE(plain);
  CHECK(*plain == ping);
  // One flipped bit anywhere (version, nonce, ciphertext or tag) and nothing opens. The version
  // byte is outside the tag; turning 1 into 0 is caught by the padding check.
  for (std::size_t at : {std::size_t{0}, std::size_t{5}, std::size_t{30}, sealed.size() - 1}) {
    Bytes tampered = sealed;
    tampered[at] ^= 0x01;
    CHECK_FALSE(ring.open(tampered.data(), tampered.size()));
  }
  CHECK_FALSE(ring_with({key_of(1)}).open(sealed.data(), sealed.size()));  // wrong key
}

TEST_CASE("sealing round-trips for each AES key size, and streams bind their header", "[unit]") {
  for (std::size_t size : {16, 24, 32}) {
    Keyring ring = ring_with({key_of(7, size)});
    const Bytes message{0x00, 0x81, 0xa1, 'x', 0x01};
    Bytes sealed = ring.seal(message.data(), message.size());
    CHECK(sealed.size() == message.size() + kEncryptionOverhead);
    CHECK(sealed[0] == kEncryptionVersion);
    CHECK(ring.open(sealed.data(), sealed.size()) == message);
    // Random nonces: the same message never seals to the same bytes.
    CHECK(ring.seal(message.data(), message.size()) != sealed);

    Bytes stream = ring.seal_stream(message);
    auto length = encrypted_stream_length(stream.data(), stream.size());
    REQUIRE(length);
    REQUIRE(*length + 5 == stream.size());
    const Bytes header(stream.begin(), stream.begin() + 5);
    CHECK(ring.open(stream.data() + 5, *length, header) == message);
    CHECK_FALSE(ring.open(stream.data() + 5, *length));  // without the header as AAD it fails
  }
}

TEST_CASE("an empty keyring seals nothing: the caller drops, nothing is read past an empty vector", "[unit]") {
  Keyring empty;
  const Bytes message{0x00, 0x81, 0xa1, 'x', 0x01};
  CHECK(empty.seal(message.data(), message.size()).empty());
  CHECK(empty.seal_stream(message).empty());
}

TEST_CASE("rotation: install then use then remove after which the primary seals and every key opens", "[unit]") {
  const Bytes old_key = key_of(0), new_key = key_of(100, 32);
  Keyring ring = ring_with({old_key});
  Keyring peer = ring_with({old_key});  // a member that has not rotated yet
  REQUIRE(ring.add(new_key).empty());
  CHECK(ring.primary() == old_key);  // installing does not switch
  REQUIRE(ring.use(new_key).empty());
  CHECK(ring.primary() == new_key);
  CHECK(ring.keys() == std::vector<Bytes>{new_key, old_key});
  const Bytes m{4, 0x80};
  Bytes sealed = ring.seal(m.data(), m.size());
  CHECK_FALSE(peer.open(sealed.data(), sealed.size()));  // the peer needs the new key first
  Bytes from_peer = peer.seal(m.data(), m.size());
  CHECK(ring.open(from_peer.data(), from_peer.size()) == m);  // the old key still opens

  CHECK(ring.remove(new_key) == "Removing the primary key is not allowed");
  CHECK(ring.use(key_of(50)) == "Requested key is not in the keyring");
  CHECK(ring.remove(old_key).empty());
  CHECK_FALSE(ring.open(from_peer.data(), from_peer.size()));
  CHECK(ring.add(Bytes(15, 1)) == "key size must be 16, 24 or 32 bytes");
  Keyring copy = ring;  // copies are independent
  REQUIRE(copy.add(old_key).empty());
  CHECK(ring.keys().size() == 1);
  CHECK(copy.keys().size() == 2);
}

TEST_CASE("version 0 (PKCS#7 padded) payloads open when the padding is whole", "[unit]") {
  Keyring ring = ring_with({key_of(0)});
  // Seal 16 bytes of plaintext ending in valid padding, then relabel the packet as version 0.
  Bytes padded{4, 0x80, 1, 2, 3, 4, 5, 6};
  padded.insert(padded.end(), 8, 8);
  Bytes sealed = ring.seal(padded.data(), padded.size());
  sealed[0] = 0;
  CHECK(ring.open(sealed.data(), sealed.size()) == Bytes(padded.begin(), padded.begin() + 8));
  padded[9] = 7;  // one pad byte wrong
  sealed = ring.seal(padded.data(), padded.size());
  sealed[0] = 0;
  CHECK_FALSE(ring.open(sealed.data(), sealed.size()));
}

TEST_CASE("short, unknown-version and empty inputs never open", "[unit]") {
  Keyring ring = ring_with({key_of(0)});
  const Bytes m{1, 2, 3};
  Bytes sealed = ring.seal(m.data(), m.size());
  for (std::size_t cut = 0; cut < kEncryptionOverhead; ++cut) CHECK_FALSE(ring.open(sealed.data(), cut));
  sealed[0] = 2;
  CHECK_FALSE(ring.open(sealed.data(), sealed.size()));
  CHECK_FALSE(Keyring().open(sealed.data(), sealed.size()));  // no keys
  CHECK_FALSE(encrypted_stream_length(sealed.data(), 4));
}

TEST_CASE("base64 keys decode to 16, 24 or 32 bytes", "[unit]") {
  std::string error;
  auto key = decode_key("AAECAwQFBgcICQoLDA0ODw==", error);
  REQUIRE(key);
  CHECK(*key == key_of(0));
  CHECK(encode_key(*key) == "AAECAwQFBgcICQoLDA0ODw==");
  CHECK_FALSE(decode_key("AAECAwQFBgcICQoLDA0O", error));  // 15 bytes
  CHECK(error.find("16, 24 or 32") != std::string::npos);
  CHECK_FALSE(decode_key("not base64!", error));
  CHECK(error == "the key is not valid base64");
  CHECK_FALSE(decode_key(std::string(200, 'A'), error));  // longer than any key
}
