// A TLS client session over memory buffers (mbedTLS 2.28), so the libuv HTTP check only moves
// bytes: ciphertext in with feed(), out with take_outgoing(). Verification uses the system CA
// bundle unless TLSSkipVerify; the server name (SNI and certificate check) is TLSServerName or
// the URL's host, as Consul's HTTP checks do.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace hearsay::agent::checks {

class TlsSession {
 public:
  enum class Step { in_progress, established, failed };

  // nullptr with `error` set when the TLS context cannot be set up.
  static std::unique_ptr<TlsSession> create(const std::string& server_name, bool skip_verify, std::string& error);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  void feed(const char* data, std::size_t size);  // ciphertext received from the peer
  std::string take_outgoing();                    // ciphertext to send now

  // Advances the handshake as far as the received bytes allow.
  Step handshake(std::string& error);
  bool write(std::string_view plaintext, std::string& error);
  // Appends decrypted bytes to `out`; `closed` when the peer ended the session.
  bool read(std::string& out, bool& closed, std::string& error);

 private:
  struct State;
  explicit TlsSession(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hearsay::agent::checks
