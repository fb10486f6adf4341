// The gossip keyring and memberlist's AES-GCM framing (memberlist-wire.md 3.5), via mbedTLS.
// Packets are sealed with the primary key; opening tries every key, so a cluster rotates keys
// without downtime: install the new key everywhere, make it primary, then remove the old one.
// Pure: no files (agent/keyring_file does persistence) and no sockets.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gossip/wire/messages.h"

namespace hearsay::gossip {

// Encryption version byte: 1 = no padding (what we send), 0 = PKCS#7 padding (protocol 1 peers;
// accepted on receive only).
constexpr std::uint8_t kEncryptionVersion = 1;
constexpr std::size_t kNonceSize = 12, kTagSize = 16;
// What sealing adds to a packet: version, nonce and tag.
constexpr std::size_t kEncryptionOverhead = 1 + kNonceSize + kTagSize;
// Encrypted streams longer than this are refused before they are read. memberlist's limit is
// 20 MiB; only hearsay's catalog anti-entropy between hearsay agents sends more.
constexpr std::size_t kMaxEncryptedStream = 128 * 1024 * 1024;

// A key from its base64 text (what `-encrypt` and the keyring file hold): 16, 24 or 32 bytes.
// On failure, `error` says why.
std::optional<Bytes> decode_key(const std::string& base64, std::string& error);
std::string encode_key(const Bytes& key);

class Keyring {
 public:
  Keyring();
  ~Keyring();
  Keyring(const Keyring& other);  // a copy to change, then swap in (so a failed save changes nothing)
  Keyring& operator=(const Keyring& other);
  Keyring(Keyring&&) noexcept;
  Keyring& operator=(Keyring&&) noexcept;

  bool enabled() const { return !keys_.empty(); }
  // Keys in order, primary first.
  std::vector<Bytes> keys() const;
  const Bytes& primary() const;

  // Each returns an error message, empty on success (serf's wording where it has one).
  std::string add(const Bytes& key);        // a new key becomes primary only in an empty ring
  std::string use(const Bytes& key);        // make an installed key primary
  std::string remove(const Bytes& key);     // the primary key cannot be removed

  // UDP: the datagram is version|nonce|ciphertext|tag, with no additional data. Empty when
  // there is no key or encryption failed: the caller drops the message.
  Bytes seal(const std::uint8_t* plain, std::size_t size, const Bytes& aad = {}) const;
  // Tries each key; nullopt when no key authenticates the packet (or it is malformed).
  std::optional<Bytes> open(const std::uint8_t* sealed, std::size_t size, const Bytes& aad = {}) const;

  // TCP: 0x0a | length (u32 BE) | sealed payload, the 5 header bytes being the additional data.
  // Empty as seal() is.
  Bytes seal_stream(const Bytes& plain) const;

 private:
  struct Key;
  std::vector<std::unique_ptr<Key>> keys_;
  std::vector<std::unique_ptr<Key>>::const_iterator find(const Bytes& key) const;
};

// An encrypted stream's header, once 5 bytes have arrived: the sealed payload's length, or
// nullopt if the bytes are not an encrypted-stream header.
std::optional<std::size_t> encrypted_stream_length(const std::uint8_t* data, std::size_t size);

}  // namespace hearsay::gossip
