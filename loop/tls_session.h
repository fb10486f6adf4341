// One TLS session over memory buffers (mbedTLS 2.28), either side: ciphertext in with feed(),
// out with take_outgoing(); plaintext through handshake(), write() and read(). It does no I/O,
// so the libuv connection (connection.h), the blocking CLI client and the fuzz target all drive
// the same code. Verification follows its context (tls_context.h): a pinned fingerprint and an
// IP-literal server name are checked here, in mbedTLS's verify callback, so a mismatch fails the
// handshake itself (the peer gets an alert) rather than a later check.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "loop/tls_context.h"

namespace hearsay::loop {

class TlsSession {
 public:
  enum class Step { in_progress, established, failed };
  enum class Read { open, peer_closed, failed };

  // nullptr with `error` set when the session cannot be set up. `server_name` overrides the
  // context's (a client's SNI and name check); empty keeps the context's.
  static std::unique_ptr<TlsSession> create(std::shared_ptr<const TlsContext> context, const std::string& server_name,
                                            std::string& error);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  void feed(const char* data, std::size_t size);  // ciphertext received from the peer
  bool has_outgoing() const;
  std::string take_outgoing();                    // ciphertext to send now

  // Advances the handshake as far as the received bytes allow. `error` says why it failed
  // ("TLS handshake: ..."; for a certificate, what was wrong with it).
  Step handshake(std::string& error);
  bool established() const;
  // Seals all of `plaintext` (records of at most 16 KiB) into the outgoing ciphertext.
  bool write(std::string_view plaintext, std::string& error);
  // Hands every complete record's plaintext to `sink`, in order, until the received bytes run
  // out (open), the peer sent close_notify (peer_closed) or a record is bad (failed, `error`).
  Read read(const std::function<void(const char* data, std::size_t size)>& sink, std::string& error);
  // Queues a close_notify alert (best effort: take_outgoing() then has it).
  void close_notify();

  // After the handshake: the peer's certificate fingerprint ("" when it sent none), the
  // protocol version and cipher suite names.
  std::string peer_fingerprint() const;
  std::string version() const;
  std::string cipher_suite() const;

 private:
  struct State;
  explicit TlsSession(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hearsay::loop
