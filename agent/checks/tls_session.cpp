// mbedTLS glue: memory BIO callbacks, one DRBG per session, the CA bundle loaded once.
#include "agent/checks/tls_session.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <cstring>
#include <utility>

namespace hearsay::agent::checks {
namespace {

constexpr const char* kCaBundle = "/etc/ssl/certs/ca-certificates.crt";

std::string mbedtls_text(int rc) {
  char buf[160];
  mbedtls_strerror(rc, buf, sizeof(buf));
  return buf;
}

// The system CA bundle, parsed once per process (the loop thread is the only user).
mbedtls_x509_crt* system_cas() {
  static mbedtls_x509_crt cas;
  static bool loaded = [] {
    mbedtls_x509_crt_init(&cas);
    return mbedtls_x509_crt_parse_file(&cas, kCaBundle) >= 0;
  }();
  return loaded ? &cas : nullptr;
}

}  // namespace

struct TlsSession::State {
  mbedtls_ssl_context ssl;
  mbedtls_ssl_config config;
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  std::string incoming;
  std::string outgoing;
  bool established = false;

  State() {
    mbedtls_ssl_init(&ssl);
    mbedtls_ssl_config_init(&config);
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
  }
  ~State() {
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&config);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }

  static int send_cb(void* ctx, const unsigned char* buf, std::size_t len) {
    static_cast<State*>(ctx)->outgoing.append(reinterpret_cast<const char*>(buf), len);
    return static_cast<int>(len);
  }
  static int recv_cb(void* ctx, unsigned char* buf, std::size_t len) {
    auto* s = static_cast<State*>(ctx);
    if (s->incoming.empty()) return MBEDTLS_ERR_SSL_WANT_READ;
    std::size_t n = std::min(len, s->incoming.size());
    std::memcpy(buf, s->incoming.data(), n);
    s->incoming.erase(0, n);
    return static_cast<int>(n);
  }
};

TlsSession::TlsSession(std::unique_ptr<State> state) : state_(std::move(state)) {}
TlsSession::~TlsSession() = default;

std::unique_ptr<TlsSession> TlsSession::create(const std::string& server_name, bool skip_verify, std::string& error) {
  auto s = std::make_unique<State>();
  const char* personal = "hearsay-http-check";
  int rc = mbedtls_ctr_drbg_seed(&s->drbg, mbedtls_entropy_func, &s->entropy,
                                 reinterpret_cast<const unsigned char*>(personal), std::strlen(personal));
  if (rc == 0) {
    rc = mbedtls_ssl_config_defaults(&s->config, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                     MBEDTLS_SSL_PRESET_DEFAULT);
  }
  if (rc != 0) {
    error = "TLS setup: " + mbedtls_text(rc);
    return nullptr;
  }
  mbedtls_ssl_conf_rng(&s->config, mbedtls_ctr_drbg_random, &s->drbg);
  if (skip_verify) {
    mbedtls_ssl_conf_authmode(&s->config, MBEDTLS_SSL_VERIFY_NONE);
  } else {
    mbedtls_x509_crt* cas = system_cas();
    if (!cas) {
      error = std::string("TLS setup: cannot load the CA bundle ") + kCaBundle;
      return nullptr;
    }
    mbedtls_ssl_conf_authmode(&s->config, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&s->config, cas, nullptr);
  }
  if ((rc = mbedtls_ssl_setup(&s->ssl, &s->config)) != 0 ||
      (rc = mbedtls_ssl_set_hostname(&s->ssl, server_name.c_str())) != 0) {
    error = "TLS setup: " + mbedtls_text(rc);
    return nullptr;
  }
  mbedtls_ssl_set_bio(&s->ssl, s.get(), State::send_cb, State::recv_cb, nullptr);
  return std::unique_ptr<TlsSession>(new TlsSession(std::move(s)));
}

void TlsSession::feed(const char* data, std::size_t size) { state_->incoming.append(data, size); }

std::string TlsSession::take_outgoing() { return std::exchange(state_->outgoing, {}); }

TlsSession::Step TlsSession::handshake(std::string& error) {
  if (state_->established) return Step::established;
  int rc = mbedtls_ssl_handshake(&state_->ssl);
  if (rc == 0) {
    state_->established = true;
    return Step::established;
  }
  if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return Step::in_progress;
  error = "TLS handshake: " + mbedtls_text(rc);
  if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
    char why[256];
    mbedtls_x509_crt_verify_info(why, sizeof(why), "", mbedtls_ssl_get_verify_result(&state_->ssl));
    error += std::string(" (") + why;
    while (!error.empty() && (error.back() == '\n' || error.back() == ' ')) error.pop_back();
    error += ")";
  }
  return Step::failed;
}

bool TlsSession::write(std::string_view plaintext, std::string& error) {
  while (!plaintext.empty()) {
    int rc = mbedtls_ssl_write(&state_->ssl, reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size());
    if (rc < 0) {
      error = "TLS write: " + mbedtls_text(rc);
      return false;
    }
    plaintext.remove_prefix(static_cast<std::size_t>(rc));
  }
  return true;
}

bool TlsSession::read(std::string& out, bool& closed, std::string& error) {
  unsigned char buf[8192];
  for (;;) {
    int rc = mbedtls_ssl_read(&state_->ssl, buf, sizeof(buf));
    if (rc > 0) {
      out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(rc));
      continue;
    }
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return true;
    if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
      closed = true;
      return true;
    }
    error = "TLS read: " + mbedtls_text(rc);
    return false;
  }
}

}  // namespace hearsay::agent::checks
