// TlsSession (tls_session.h): memory BIO callbacks, the verify callback for pinned
// fingerprints and IP names, and error texts that say what went wrong.
#include "loop/tls_session.h"

#include <arpa/inet.h>
#include <mbedtls/sha256.h>

#include <cstring>
#include <utility>

#include "loop/tls_internal.h"

namespace hearsay::loop {
namespace {

constexpr std::size_t kPlaintextChunk = 16384;  // one TLS record's worth

bool constant_time_equal(const unsigned char* a, const unsigned char* b, std::size_t n) {
  unsigned char diff = 0;
  for (std::size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// mbedTLS 2.28 matches only DNS names; an IP literal is looked up among the iPAddress entries
// (GeneralName [7]) of subjectAltName, as Go and OpenSSL do.
bool has_ip_address(const mbedtls_x509_crt& crt, const unsigned char* ip, std::size_t n) {
  for (const mbedtls_x509_sequence* cur = &crt.subject_alt_names; cur; cur = cur->next) {
    if (cur->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) && cur->buf.len == n && std::memcmp(cur->buf.p, ip, n) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace

struct TlsSession::State {
  std::shared_ptr<const TlsContext> context;
  mbedtls_ssl_context ssl;
  std::string incoming;
  std::size_t incoming_offset = 0;  // bytes of `incoming` already consumed
  std::string outgoing;
  std::string first_bytes;  // the peer's first bytes, to name a peer that does not speak TLS
  bool established = false;
  // Checked in verify(): the pinned fingerprint, or an IP literal as the server name.
  unsigned char ip[16] = {};
  std::size_t ip_size = 0;
  std::string ip_text;
  std::string seen_fingerprint;  // the peer's, when the pin did not match
  bool ip_mismatch = false;

  State() { mbedtls_ssl_init(&ssl); }
  ~State() { mbedtls_ssl_free(&ssl); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  static int send_cb(void* ctx, const unsigned char* buf, std::size_t len) {
    static_cast<State*>(ctx)->outgoing.append(reinterpret_cast<const char*>(buf), len);
    return static_cast<int>(len);
  }
  static int recv_cb(void* ctx, unsigned char* buf, std::size_t len) {
    auto* s = static_cast<State*>(ctx);
    const std::size_t left = s->incoming.size() - s->incoming_offset;
    if (left == 0) return MBEDTLS_ERR_SSL_WANT_READ;
    const std::size_t n = std::min(len, left);
    std::memcpy(buf, s->incoming.data() + s->incoming_offset, n);
    s->incoming_offset += n;
    if (s->incoming_offset == s->incoming.size()) {
      s->incoming.clear();
      s->incoming_offset = 0;
    }
    return static_cast<int>(n);
  }
  // Runs for each certificate of the peer's chain, top first; `flags` are mbedTLS's findings.
  static int verify(void* ctx, mbedtls_x509_crt* crt, int depth, std::uint32_t* flags) {
    auto* s = static_cast<State*>(ctx);
    const std::vector<unsigned char>& pin = s->context->pinned();
    if (!pin.empty()) {
      // The pin alone decides: the chain above the leaf and the names do not matter.
      if (depth > 0) {
        *flags = 0;
        return 0;
      }
      unsigned char digest[32];
      mbedtls_sha256_ret(crt->raw.p, crt->raw.len, digest, 0);
      if (constant_time_equal(digest, pin.data(), 32)) {
        *flags = 0;
      } else {
        *flags |= MBEDTLS_X509_BADCERT_NOT_TRUSTED;
        s->seen_fingerprint = format_fingerprint(digest);
      }
      return 0;
    }
    if (depth == 0 && s->ip_size > 0 && !has_ip_address(*crt, s->ip, s->ip_size)) {
      *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
      s->ip_mismatch = true;
    }
    return 0;
  }
};

TlsSession::TlsSession(std::unique_ptr<State> state) : state_(std::move(state)) {}
TlsSession::~TlsSession() = default;

std::unique_ptr<TlsSession> TlsSession::create(std::shared_ptr<const TlsContext> context, const std::string& server_name,
                                               std::string& error) {
  auto s = std::make_unique<State>();
  s->context = std::move(context);
  if (int rc = mbedtls_ssl_setup(&s->ssl, &s->context->state().config); rc != 0) {
    error = "TLS setup: " + tls_error_text(rc);
    return nullptr;
  }
  if (!s->context->is_server()) {
    const std::string& name = server_name.empty() ? s->context->server_name() : server_name;
    if (inet_pton(AF_INET, name.c_str(), s->ip) == 1) s->ip_size = 4;
    else if (inet_pton(AF_INET6, name.c_str(), s->ip) == 1) s->ip_size = 16;
    s->ip_text = s->ip_size ? name : "";
    // A DNS name is SNI and mbedTLS's name check; an IP literal is neither (RFC 6066 3).
    if (!name.empty() && s->ip_size == 0) {
      if (int rc = mbedtls_ssl_set_hostname(&s->ssl, name.c_str()); rc != 0) {
        error = "TLS server name \"" + name + "\": " + tls_error_text(rc);
        return nullptr;
      }
    }
    if (s->context->verify() == TlsVerify::pinned || (s->ip_size && s->context->verify() != TlsVerify::none)) {
      mbedtls_ssl_set_verify(&s->ssl, State::verify, s.get());
    }
  }
  mbedtls_ssl_set_bio(&s->ssl, s.get(), State::send_cb, State::recv_cb, nullptr);
  return std::unique_ptr<TlsSession>(new TlsSession(std::move(s)));
}

void TlsSession::feed(const char* data, std::size_t size) {
  if (state_->first_bytes.size() < 8) state_->first_bytes.append(data, std::min(size, 8 - state_->first_bytes.size()));
  state_->incoming.append(data, size);
}

bool TlsSession::has_outgoing() const { return !state_->outgoing.empty(); }
std::string TlsSession::take_outgoing() { return std::exchange(state_->outgoing, {}); }
bool TlsSession::established() const { return state_->established; }

TlsSession::Step TlsSession::handshake(std::string& error) {
  State& s = *state_;
  if (s.established) return Step::established;
  int rc = mbedtls_ssl_handshake(&s.ssl);
  if (rc == 0) {
    s.established = true;
    return Step::established;
  }
  if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return Step::in_progress;
  error = "TLS handshake: " + tls_error_text(rc);
  const std::string& first = s.first_bytes;
  // A TLS record starts with a content type of 20-24; letters are someone speaking plain text.
  if (!first.empty() && first[0] >= 'A' && first[0] <= 'Z') {
    std::string shown;
    for (char ch : first) shown += ch >= 32 && ch < 127 ? ch : '.';
    error += " (the peer sent \"" + shown + "...\": plain text, not TLS)";
  } else if (!s.seen_fingerprint.empty()) {
    error += " (the server's certificate has fingerprint " + s.seen_fingerprint + ", not the pinned one)";
  } else if (s.ip_mismatch) {
    error += " (the server's certificate does not name the IP address " + s.ip_text + ")";
  } else if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
    char why[512];
    mbedtls_x509_crt_verify_info(why, sizeof(why), "", mbedtls_ssl_get_verify_result(&s.ssl));
    std::string text = why;
    for (char& ch : text) ch = ch == '\n' ? ';' : ch;
    while (!text.empty() && (text.back() == ';' || text.back() == ' ')) text.pop_back();
    error += " (" + text + ")";
  }
  return Step::failed;
}

bool TlsSession::write(std::string_view plaintext, std::string& error) {
  while (!plaintext.empty()) {
    int rc = mbedtls_ssl_write(&state_->ssl, reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size());
    if (rc < 0) {
      error = "TLS write: " + tls_error_text(rc);
      return false;
    }
    plaintext.remove_prefix(static_cast<std::size_t>(rc));
  }
  return true;
}

TlsSession::Read TlsSession::read(const std::function<void(const char*, std::size_t)>& sink, std::string& error) {
  thread_local unsigned char buf[kPlaintextChunk];
  for (;;) {
    int rc = mbedtls_ssl_read(&state_->ssl, buf, sizeof(buf));
    if (rc > 0) {
      sink(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(rc));
      continue;
    }
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return Read::open;
    if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) return Read::peer_closed;
    error = "TLS read: " + tls_error_text(rc);
    return Read::failed;
  }
}

void TlsSession::close_notify() {
  if (state_->established) (void)mbedtls_ssl_close_notify(&state_->ssl);  // best effort: queued or not
}

std::string TlsSession::peer_fingerprint() const {
  const mbedtls_x509_crt* peer = mbedtls_ssl_get_peer_cert(&state_->ssl);
  if (!peer || !peer->raw.p) return "";
  unsigned char digest[32];
  mbedtls_sha256_ret(peer->raw.p, peer->raw.len, digest, 0);
  return format_fingerprint(digest);
}

std::string TlsSession::version() const { return mbedtls_ssl_get_version(&state_->ssl); }

std::string TlsSession::cipher_suite() const {
  const char* name = mbedtls_ssl_get_ciphersuite(&state_->ssl);
  return name ? name : "";
}

}  // namespace hearsay::loop
