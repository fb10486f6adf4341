// TlsContext (tls_context.h): the mbedTLS configuration, certificates and random generator one
// listener or dialer shares; PEM loading and fingerprints.
#include "loop/tls_context.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <sstream>

#include "loop/tls_internal.h"

namespace hearsay::loop {
namespace {

constexpr const char* kSystemCaBundle = "/etc/ssl/certs/ca-certificates.crt";

// mbedTLS parses PEM only with its terminating NUL counted.
const unsigned char* pem_bytes(const std::string& pem) { return reinterpret_cast<const unsigned char*>(pem.c_str()); }

bool parse_certs(mbedtls_x509_crt& into, const std::string& pem, const char* what, bool allow_some_bad,
                 std::string& error) {
  if (pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    error = std::string(what) + ": no PEM certificate found";
    return false;
  }
  int rc = mbedtls_x509_crt_parse(&into, pem_bytes(pem), pem.size() + 1);
  // A positive count: that many certificates of a bundle did not parse; the rest did.
  if (rc < 0 || (rc > 0 && !allow_some_bad)) {
    error = std::string(what) + ": " + (rc < 0 ? tls_error_text(rc) : std::to_string(rc) + " certificate(s) do not parse");
    return false;
  }
  return true;
}

}  // namespace

std::string tls_error_text(int rc) {
  char buf[200];
  mbedtls_strerror(rc, buf, sizeof(buf));
  return buf;
}

TlsContext::State::State() {
  mbedtls_ssl_config_init(&config);
  mbedtls_entropy_init(&entropy);
  mbedtls_ctr_drbg_init(&drbg);
  mbedtls_x509_crt_init(&own_cert);
  mbedtls_pk_init(&own_key);
  mbedtls_x509_crt_init(&ca);
}

TlsContext::State::~State() {
  mbedtls_ssl_config_free(&config);
  mbedtls_x509_crt_free(&ca);
  mbedtls_pk_free(&own_key);
  mbedtls_x509_crt_free(&own_cert);
  mbedtls_ctr_drbg_free(&drbg);
  mbedtls_entropy_free(&entropy);
}

namespace {

// Defaults, the random generator and TLS 1.2 as the floor; `error` on failure.
bool set_up(TlsContext::State& s, int endpoint, std::string& error) {
  const char* personal = endpoint == MBEDTLS_SSL_IS_SERVER ? "hearsay-tls-server" : "hearsay-tls-client";
  int rc = mbedtls_ctr_drbg_seed(&s.drbg, mbedtls_entropy_func, &s.entropy,
                                 reinterpret_cast<const unsigned char*>(personal), std::strlen(personal));
  if (rc == 0) rc = mbedtls_ssl_config_defaults(&s.config, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
  if (rc != 0) {
    error = "TLS setup: " + tls_error_text(rc);
    return false;
  }
  mbedtls_ssl_conf_rng(&s.config, mbedtls_ctr_drbg_random, &s.drbg);
  mbedtls_ssl_conf_min_version(&s.config, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  return true;
}

bool set_identity(TlsContext::State& s, const TlsIdentity& id, std::string& error) {
  if (!parse_certs(s.own_cert, id.cert_pem, "certificate", false, error)) return false;
  if (id.key_pem.find("PRIVATE KEY-----") == std::string::npos) {
    error = "key: no PEM private key found";
    return false;
  }
  if (int rc = mbedtls_pk_parse_key(&s.own_key, pem_bytes(id.key_pem), id.key_pem.size() + 1, nullptr, 0); rc != 0) {
    error = "key: " + tls_error_text(rc);  // the text names the problem, never the key
    return false;
  }
  if (mbedtls_pk_check_pair(&s.own_cert.pk, &s.own_key) != 0) {
    error = "the key does not belong to the certificate";
    return false;
  }
  if (int rc = mbedtls_ssl_conf_own_cert(&s.config, &s.own_cert, &s.own_key); rc != 0) {
    error = "certificate: " + tls_error_text(rc);
    return false;
  }
  unsigned char digest[32];
  mbedtls_sha256_ret(s.own_cert.raw.p, s.own_cert.raw.len, digest, 0);
  s.fingerprint = format_fingerprint(digest);
  return true;
}

}  // namespace

TlsContext::TlsContext(std::unique_ptr<State> state) : state_(std::move(state)) {}
TlsContext::~TlsContext() = default;

// A server's choice, in its order (mbedTLS follows the server's order): forward-secret AEAD
// suites only, ChaCha20-Poly1305 first. With mbedTLS 2.28 that is the fastest here although the
// CPU has AES-NI and PCLMUL: its GCM multiplies one 16-byte block at a time through the cipher
// layer (perf during bench/http.sh: ~24 cycles per byte, half the agent's CPU), while its
// portable ChaCha20-Poly1305 costs about half that. Measured on the HTTPS read of bench/http.sh
// (8 KB answers, wrk's OpenSSL offering both): 10,384 req/s with AES-128-GCM first, 15,595 with
// ChaCha20 first. Clients without ChaCha20 still get AES-GCM.
const int kServerSuites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,       MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,       MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    0};

std::shared_ptr<const TlsContext> TlsContext::server(const TlsServerSettings& settings, std::string& error) {
  auto s = std::make_unique<State>();
  s->server = true;
  if (!set_up(*s, MBEDTLS_SSL_IS_SERVER, error) || !set_identity(*s, settings.identity, error)) return nullptr;
  mbedtls_ssl_conf_ciphersuites(&s->config, kServerSuites);
  if (settings.verify_incoming) {
    if (settings.ca_pem.empty()) {
      error = "verify_incoming needs a CA (ca_file) to verify client certificates with";
      return nullptr;
    }
    if (!parse_certs(s->ca, settings.ca_pem, "CA", true, error)) return nullptr;
    mbedtls_ssl_conf_ca_chain(&s->config, &s->ca, nullptr);
    mbedtls_ssl_conf_authmode(&s->config, MBEDTLS_SSL_VERIFY_REQUIRED);
  } else {
    mbedtls_ssl_conf_authmode(&s->config, MBEDTLS_SSL_VERIFY_NONE);  // no client certificate asked
  }
  return std::shared_ptr<const TlsContext>(new TlsContext(std::move(s)));
}

std::shared_ptr<const TlsContext> TlsContext::client(const TlsClientSettings& settings, std::string& error) {
  auto s = std::make_unique<State>();
  s->verify = settings.verify;
  s->server_name = settings.server_name;
  if (!set_up(*s, MBEDTLS_SSL_IS_CLIENT, error)) return nullptr;
  if (settings.identity && !set_identity(*s, *settings.identity, error)) return nullptr;
  switch (settings.verify) {
    case TlsVerify::ca:
      if (settings.ca_pem.empty()) {
        error = "no CA to verify the server with";
        return nullptr;
      }
      if (!parse_certs(s->ca, settings.ca_pem, "CA", true, error)) return nullptr;
      break;
    case TlsVerify::pinned: {
      auto pin = parse_fingerprint(settings.pinned_sha256);
      if (!pin) {
        error = "pinned fingerprint \"" + settings.pinned_sha256 + "\" is not 32 hex bytes";
        return nullptr;
      }
      s->pin = std::move(*pin);
      // mbedTLS insists on a CA chain with required verification: an empty one trusts nothing,
      // and the session's verify callback accepts the pinned certificate alone.
      break;
    }
    case TlsVerify::system: {
      auto bundle = read_pem_file(kSystemCaBundle, error);
      if (!bundle || !parse_certs(s->ca, *bundle, "system CA bundle", true, error)) return nullptr;
      break;
    }
    case TlsVerify::none:
      mbedtls_ssl_conf_authmode(&s->config, MBEDTLS_SSL_VERIFY_NONE);
      return std::shared_ptr<const TlsContext>(new TlsContext(std::move(s)));
  }
  mbedtls_ssl_conf_ca_chain(&s->config, &s->ca, nullptr);
  mbedtls_ssl_conf_authmode(&s->config, MBEDTLS_SSL_VERIFY_REQUIRED);
  return std::shared_ptr<const TlsContext>(new TlsContext(std::move(s)));
}

bool TlsContext::is_server() const { return state_->server; }
TlsVerify TlsContext::verify() const { return state_->verify; }
const std::string& TlsContext::server_name() const { return state_->server_name; }
const std::vector<unsigned char>& TlsContext::pinned() const { return state_->pin; }
const std::string& TlsContext::fingerprint() const { return state_->fingerprint; }

std::optional<std::string> read_pem_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<TlsIdentity> load_identity(const std::string& cert_file, const std::string& key_file, std::string& error) {
  TlsIdentity id;
  auto cert = read_pem_file(cert_file, error);
  if (!cert) return std::nullopt;
  auto key = read_pem_file(key_file, error);
  if (!key) return std::nullopt;
  id.cert_pem = std::move(*cert);
  id.key_pem = std::move(*key);
  return id;
}

std::optional<std::string> certificate_fingerprint(const std::string& cert_pem, std::string& error) {
  mbedtls_x509_crt crt;
  mbedtls_x509_crt_init(&crt);
  std::optional<std::string> out;
  if (parse_certs(crt, cert_pem, "certificate", true, error)) {
    unsigned char digest[32];
    mbedtls_sha256_ret(crt.raw.p, crt.raw.len, digest, 0);
    out = format_fingerprint(digest);
  }
  mbedtls_x509_crt_free(&crt);
  return out;
}

std::string format_fingerprint(const unsigned char* sha256) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(95);
  for (int i = 0; i < 32; ++i) {
    if (i) out += ':';
    out += kHex[sha256[i] >> 4];
    out += kHex[sha256[i] & 15];
  }
  return out;
}

std::optional<std::vector<unsigned char>> parse_fingerprint(const std::string& text) {
  const bool colons = text.size() == 95;
  if (!colons && text.size() != 64) return std::nullopt;
  std::vector<unsigned char> out;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  const std::size_t step = colons ? 3 : 2;
  for (std::size_t i = 0; i < text.size(); i += step) {
    int hi = nibble(text[i]), lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0 || (colons && i + 2 < text.size() && text[i + 2] != ':')) return std::nullopt;
    out.push_back(static_cast<unsigned char>(hi << 4 | lo));
  }
  return out;
}

}  // namespace hearsay::loop
