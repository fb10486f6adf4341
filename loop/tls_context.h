// TLS configuration shared by every connection of one listener or dialer (mbedTLS 2.28): our
// certificate and key, whom we trust, and how the peer is verified. A context is immutable once
// made; a reload makes a new one, and each connection keeps the context it started with
// (shared_ptr), so swapping contexts never touches an established connection.
// TLS 1.2 at least. Loop thread only (the context's random generator is not locked).
//
// Peer verification, chosen explicitly (issue 16: never a silent skip):
//   server: no client certificate, or (verify_incoming) one signed by a CA of `ca_pem`;
//   client: TlsVerify::ca (the server's chain against `ca_pem`, and its name when server_name is
//           set: a DNS name against the certificate's DNS names, an IP literal against its IP
//           addresses), TlsVerify::pinned (exactly the certificate whose SHA-256 fingerprint is
//           pinned; its chain and names do not matter), TlsVerify::system (the system CA bundle,
//           HTTPS checks), or TlsVerify::none (HTTPS checks with TLSSkipVerify only).
//
// Fingerprints: SHA-256 of the certificate's DER bytes, written as 32 upper-case hex pairs joined
// by ':' ("AB:01:..."), as `openssl x509 -fingerprint -sha256` prints them. A pin is accepted with
// or without the colons, in either case.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hearsay::loop {

// Our certificate chain (leaf first) and its private key, both PEM. The key is a secret: it is
// never logged, and errors about it name the file, not the contents.
struct TlsIdentity {
  std::string cert_pem{};
  std::string key_pem{};
};

struct TlsServerSettings {
  TlsIdentity identity{};
  std::string ca_pem{};          // CAs that sign client certificates (needed with verify_incoming)
  bool verify_incoming = false;  // require a client certificate signed by one of them
};

enum class TlsVerify { ca, pinned, system, none };

struct TlsClientSettings {
  TlsVerify verify = TlsVerify::ca;
  std::string ca_pem{};         // TlsVerify::ca
  std::string pinned_sha256{};  // TlsVerify::pinned: the server certificate's fingerprint
  // SNI, and with TlsVerify::ca the name (or IP literal) the server's certificate must carry;
  // empty: the chain alone is checked. A connection may override it (Connection::Options).
  std::string server_name{};
  std::optional<TlsIdentity> identity{};  // our client certificate, for servers with verify_incoming
};

// Counted by every connection that uses TLS (Connection::Options::tls_counters).
struct TlsCounters {
  std::uint64_t handshakes = 0;          // completed, peer verified
  std::uint64_t handshake_failures = 0;  // not TLS, bad or missing certificate, no common cipher...
  std::uint64_t handshake_timeouts = 0;
  std::uint64_t record_errors = 0;       // after the handshake: a record that does not decrypt
};

class TlsContext {
 public:
  // nullptr with `error` set (which part is bad; never key material).
  static std::shared_ptr<const TlsContext> server(const TlsServerSettings& settings, std::string& error);
  static std::shared_ptr<const TlsContext> client(const TlsClientSettings& settings, std::string& error);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  bool is_server() const;
  TlsVerify verify() const;
  const std::string& server_name() const;
  // The pinned fingerprint as 32 bytes (TlsVerify::pinned), else empty.
  const std::vector<unsigned char>& pinned() const;
  // Our own certificate's fingerprint ("" without one): what a client pins.
  const std::string& fingerprint() const;

  struct State;  // mbedTLS objects (tls_context.cpp); TlsSession reads them
  const State& state() const { return *state_; }

 private:
  explicit TlsContext(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Reads a PEM file (certificate, key or CA bundle); nullopt with `error` naming the file.
std::optional<std::string> read_pem_file(const std::string& path, std::string& error);
// The certificate and key files; nullopt with `error` naming the file that failed.
std::optional<TlsIdentity> load_identity(const std::string& cert_file, const std::string& key_file, std::string& error);

// A self-signed certificate and key made in memory (ECDSA P-256, SHA-256, valid from an hour ago
// for `valid_days`), for -dev listeners: clients pin its fingerprint. `dns_names` and `ips` go
// into subjectAltName, the first DNS name (or "hearsay") is the common name.
std::optional<TlsIdentity> generate_self_signed(const std::vector<std::string>& dns_names,
                                                const std::vector<std::string>& ips, int valid_days,
                                                std::string& error);

// The SHA-256 fingerprint of the first certificate in `cert_pem` (format above); nullopt with
// `error` when it does not parse.
std::optional<std::string> certificate_fingerprint(const std::string& cert_pem, std::string& error);
// 32 bytes as "AB:CD:...".
std::string format_fingerprint(const unsigned char* sha256);
// "AB:CD:..." or "abcd..." (64 hex digits, colons between every pair or none); nullopt otherwise.
std::optional<std::vector<unsigned char>> parse_fingerprint(const std::string& text);

}  // namespace hearsay::loop
