// Each key keeps an initialised mbedTLS GCM context, so sealing a packet does no key schedule.
// Nonces come from getrandom(): 96 random bits per packet, as memberlist does, and gossip rates
// (a few packets a second per member) make the syscall's cost irrelevant.
#include "gossip/wire/keyring.h"

#include <cstdint>

#include <mbedtls/base64.h>
#include <mbedtls/gcm.h>
#include <sys/random.h>

#include <algorithm>
#include <stdexcept>

namespace hearsay::gossip {

struct Keyring::Key {
  Bytes bytes;
  mbedtls_gcm_context gcm;
  explicit Key(Bytes k) : bytes(std::move(k)) {
    mbedtls_gcm_init(&gcm);
    mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, bytes.data(), static_cast<unsigned>(bytes.size() * 8));
  }
  ~Key() { mbedtls_gcm_free(&gcm); }
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
};

namespace {

bool valid_key_size(std::size_t n) { return n == 16 || n == 24 || n == 32; }

void random_bytes(std::uint8_t* out, std::size_t n) {
  while (n > 0) {
    const ssize_t got = getrandom(out, n, 0);
    if (got < 0) throw std::runtime_error("getrandom failed");  // only without a kernel RNG
    out += got;
    n -= static_cast<std::size_t>(got);
  }
}

// Strips PKCS#7 padding (version 0 payloads); false if it is malformed. The version byte is not
// covered by the GCM tag (memberlist's format), so a flipped 1 -> 0 must fail here: a padded
// payload is whole blocks, and every pad byte holds the pad length. (memberlist only reads the
// last byte.)
bool strip_padding(Bytes& plain) {
  constexpr std::size_t kBlock = 16;
  if (plain.empty() || plain.size() % kBlock != 0) return false;
  const std::size_t pad = plain.back();
  if (pad == 0 || pad > kBlock) return false;
  for (std::size_t i = plain.size() - pad; i < plain.size(); ++i) {
    if (plain[i] != pad) return false;
  }
  plain.resize(plain.size() - pad);
  return true;
}

}  // namespace

std::optional<Bytes> decode_key(const std::string& base64, std::string& error) {
  Bytes out(64);
  std::size_t n = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(base64.data());
  if (mbedtls_base64_decode(out.data(), out.size(), &n, in, base64.size()) != 0) {
    error = "the key is not valid base64";
    return std::nullopt;
  }
  out.resize(n);
  if (!valid_key_size(n)) {
    error = "the key must be 16, 24 or 32 bytes (AES-128/192/256), not " + std::to_string(n);
    return std::nullopt;
  }
  return out;
}

std::string encode_key(const Bytes& key) {
  std::string out(4 * ((key.size() + 2) / 3) + 1, '\0');
  std::size_t n = 0;
  mbedtls_base64_encode(reinterpret_cast<unsigned char*>(out.data()), out.size(), &n, key.data(), key.size());
  out.resize(n);
  return out;
}

Keyring::Keyring() = default;
Keyring::~Keyring() = default;
Keyring::Keyring(const Keyring& other) { *this = other; }
Keyring& Keyring::operator=(const Keyring& other) {
  if (this == &other) return *this;
  keys_.clear();
  for (const auto& k : other.keys_) keys_.push_back(std::make_unique<Key>(k->bytes));
  return *this;
}
Keyring::Keyring(Keyring&&) noexcept = default;
Keyring& Keyring::operator=(Keyring&&) noexcept = default;

std::vector<Bytes> Keyring::keys() const {
  std::vector<Bytes> out;
  for (const auto& k : keys_) out.push_back(k->bytes);
  return out;
}

const Bytes& Keyring::primary() const { return keys_.front()->bytes; }

std::vector<std::unique_ptr<Keyring::Key>>::const_iterator Keyring::find(const Bytes& key) const {
  return std::find_if(keys_.begin(), keys_.end(), [&](const auto& k) { return k->bytes == key; });
}

std::string Keyring::add(const Bytes& key) {
  if (!valid_key_size(key.size())) return "key size must be 16, 24 or 32 bytes";
  if (find(key) != keys_.end()) return {};  // installing twice is fine (serf: idempotent)
  keys_.push_back(std::make_unique<Key>(key));
  return {};
}

std::string Keyring::use(const Bytes& key) {
  auto it = find(key);
  if (it == keys_.end()) return "Requested key is not in the keyring";
  const auto index = it - keys_.begin();
  std::rotate(keys_.begin(), keys_.begin() + index, keys_.begin() + index + 1);  // to the front, order kept
  return {};
}

std::string Keyring::remove(const Bytes& key) {
  auto it = find(key);
  if (it == keys_.end()) return {};  // already gone
  if (it == keys_.begin()) return "Removing the primary key is not allowed";
  keys_.erase(it);
  return {};
}

Bytes Keyring::seal(const std::uint8_t* plain, std::size_t size, const Bytes& aad) const {
  // No key, or a size whose overhead would wrap (GCC's -Wnull-dereference at -O3 pointed at
  // the write into a vector of kEncryptionOverhead + size bytes): nothing to seal with or into.
  if (keys_.empty() || size > SIZE_MAX - kEncryptionOverhead) return {};
  Bytes out;
  out.reserve(kEncryptionOverhead + size);
  out.push_back(kEncryptionVersion);
  out.resize(kEncryptionOverhead + size);  // nonce, ciphertext and tag are written below
  std::uint8_t* nonce = out.data() + 1;
  random_bytes(nonce, kNonceSize);
  std::uint8_t* cipher = nonce + kNonceSize;
  if (mbedtls_gcm_crypt_and_tag(&keys_.front()->gcm, MBEDTLS_GCM_ENCRYPT, size, nonce, kNonceSize, aad.data(),
                                aad.size(), plain, cipher, kTagSize, cipher + size) != 0) {
    return {};
  }
  return out;
}

std::optional<Bytes> Keyring::open(const std::uint8_t* sealed, std::size_t size, const Bytes& aad) const {
  if (size < kEncryptionOverhead || sealed[0] > 1) return std::nullopt;
  const std::uint8_t version = sealed[0];
  const std::uint8_t* nonce = sealed + 1;
  const std::uint8_t* cipher = nonce + kNonceSize;
  const std::size_t cipher_size = size - kEncryptionOverhead;
  Bytes plain(cipher_size);
  for (const auto& k : keys_) {
    if (mbedtls_gcm_auth_decrypt(&k->gcm, cipher_size, nonce, kNonceSize, aad.data(), aad.size(),
                                 cipher + cipher_size, kTagSize, cipher, plain.data()) != 0) {
      continue;
    }
    if (version == 0 && !strip_padding(plain)) return std::nullopt;
    return plain;
  }
  return std::nullopt;
}

Bytes Keyring::seal_stream(const Bytes& plain) const {
  const std::size_t sealed_size = kEncryptionOverhead + plain.size();
  Bytes header{static_cast<std::uint8_t>(MessageType::encrypt), static_cast<std::uint8_t>(sealed_size >> 24),
               static_cast<std::uint8_t>(sealed_size >> 16), static_cast<std::uint8_t>(sealed_size >> 8),
               static_cast<std::uint8_t>(sealed_size)};
  Bytes sealed = seal(plain.data(), plain.size(), header);
  if (sealed.empty()) return {};
  header.insert(header.end(), sealed.begin(), sealed.end());
  return header;
}

std::optional<std::size_t> encrypted_stream_length(const std::uint8_t* data, std::size_t size) {
  if (size < 5 || data[0] != static_cast<std::uint8_t>(MessageType::encrypt)) return std::nullopt;
  return static_cast<std::size_t>(data[1]) << 24 | static_cast<std::size_t>(data[2]) << 16 |
         static_cast<std::size_t>(data[3]) << 8 | data[4];
}

}  // namespace hearsay::gossip
