// loop/ TLS: a TLS listener and TLS clients on a real uv loop on 127.0.0.1 (tls_context.h,
// tls_session.h, connection.h). Handshake and data both ways, large writes, verification by CA,
// by IP name and by pinned fingerprint (right and wrong), client certificates required and
// missing, garbage and silence from a client, and the context's own checks.
#include <catch2/catch.hpp>

#include <uv.h>

#include <memory>
#include <random>
#include <string>

#include "loop/listener.h"
#include "loop/tls_context.h"
#include "loop/tls_session.h"
#include "tests/loop/test_loop.h"

using namespace hearsay::loop;
using hearsay::loop::test::listen_on_localhost;
using hearsay::loop::test::TestLoop;

namespace {

TlsIdentity make_identity(const std::string& name, std::vector<std::string> ips) {
  std::string error;
  auto made = generate_self_signed({name}, ips, 30, error);
  INFO(error);
  REQUIRE(made);
  return *made;
}
// Each made once: key generation is the slow part of a test. Two self-signed "localhost"
// certificates with the same names, so only the key tells them apart.
const TlsIdentity& server_identity() {
  static const TlsIdentity id = make_identity("localhost", {"127.0.0.1"});
  return id;
}
const TlsIdentity& other_identity() {
  static const TlsIdentity id = make_identity("localhost", {"127.0.0.1"});
  return id;
}
const TlsIdentity& client_identity() {
  static const TlsIdentity id = make_identity("laptop-1", {});
  return id;
}

std::shared_ptr<const TlsContext> server_context(bool verify_incoming = false) {
  std::string error;
  TlsServerSettings settings{server_identity(), verify_incoming ? client_identity().cert_pem : "", verify_incoming};
  auto ctx = TlsContext::server(settings, error);
  INFO(error);
  REQUIRE(ctx);
  return ctx;
}

std::shared_ptr<const TlsContext> client_context(TlsClientSettings settings) {
  std::string error;
  auto ctx = TlsContext::client(settings, error);
  INFO(error);
  REQUIRE(ctx);
  return ctx;
}

TlsClientSettings trusting(const TlsIdentity& ca, std::string server_name = "localhost") {
  TlsClientSettings s;
  s.verify = TlsVerify::ca;
  s.ca_pem = ca.cert_pem;
  s.server_name = std::move(server_name);
  return s;
}
// The same, presenting `identity` as its client certificate.
TlsClientSettings trusting_as(const TlsIdentity& ca, const TlsIdentity& identity) {
  TlsClientSettings s = trusting(ca);
  s.identity = identity;
  return s;
}

// What one side saw.
struct Side {
  std::string got;
  std::string error;
  bool established = false;
  std::string peer_fingerprint;
  TlsCounters counters;
  int closed = 0;
};

// The server echoes every byte; the client writes `message` at once (before the handshake is
// done) and closes when it has all of it back. Either side's failure ends the exchange.
void echo_exchange(TestLoop& t, std::shared_ptr<const TlsContext> server_tls, std::shared_ptr<const TlsContext> client_tls,
                   const std::string& message, Side& server, Side& client) {
  Listener listener(&t.loop, {.connection = {.name = "tls server", .tls = std::move(server_tls),
                                             .tls_counters = &server.counters}},
                    {.accepted = [&](std::shared_ptr<Connection> c, const sockaddr_storage&, std::shared_ptr<void>) {
                      Connection* cp = c.get();
                      c->set_callbacks({.read = [cp](const char* d, std::size_t n) { cp->write(std::string(d, n)); },
                                        .read_end = [cp](int) { cp->close_when_flushed(); },
                                        .established = [&server, cp] {
                                          server.established = true;
                                          server.peer_fingerprint = cp->tls()->peer_fingerprint();
                                        },
                                        .tls_failed = [&server](const std::string& e) { server.error = e; },
                                        .closed = [&server] { ++server.closed; }});
                      REQUIRE(c->start_reading() == 0);
                    }});
  sockaddr_storage addr = listen_on_localhost(listener);
  auto conn = Connection::create(&t.loop, {.name = "tls client", .tls = std::move(client_tls),
                                           .tls_counters = &client.counters});
  REQUIRE(conn);
  Connection* cp = conn.get();
  conn->set_callbacks({
      .read = [&, cp](const char* d, std::size_t n) {
        client.got.append(d, n);
        if (client.got.size() >= message.size()) cp->close();
      },
      .read_end = [cp](int) { cp->close(); },
      .connected = [&, cp](int status) {
        REQUIRE(status == 0);
        CHECK(cp->write(message));  // kept until the handshake is done
      },
      .established = [&, cp] {
        client.established = true;
        client.peer_fingerprint = cp->tls()->peer_fingerprint();
      },
      .tls_failed = [&](const std::string& e) { client.error = e; },
      .closed = [&] {
        ++client.closed;
        listener.close();
      }});
  REQUIRE(conn->connect(reinterpret_cast<const sockaddr*>(&addr)) == 0);
  conn.reset();
  t.run();
  CHECK(!t.timed_out);
}

// A plain TCP client sends `bytes` to a TLS listener and reads until the server closes.
struct PlainResult {
  std::string server_error;
  TlsCounters counters;
  int server_closed = 0;
  bool client_saw_end = false;
};
PlainResult plain_client(TestLoop& t, const std::string& bytes, std::uint64_t handshake_timeout_ms = 5000) {
  PlainResult r;
  Listener listener(&t.loop, {.connection = {.name = "tls server", .tls = server_context(),
                                             .tls_handshake_timeout_ms = handshake_timeout_ms,
                                             .tls_counters = &r.counters}},
                    {.accepted = [&](std::shared_ptr<Connection> c, const sockaddr_storage&, std::shared_ptr<void>) {
                      c->set_callbacks({.read = [](const char*, std::size_t) { FAIL("plaintext from garbage"); },
                                        .tls_failed = [&](const std::string& e) { r.server_error = e; },
                                        .closed = [&] { ++r.server_closed; }});
                      REQUIRE(c->start_reading() == 0);
                    }});
  sockaddr_storage addr = listen_on_localhost(listener);
  auto conn = Connection::create(&t.loop, {.name = "plain client"});
  REQUIRE(conn);
  Connection* cp = conn.get();
  conn->set_callbacks({.read_end = [&, cp](int) {
                         r.client_saw_end = true;
                         cp->close();
                       },
                       .connected = [&, cp](int status) {
                         REQUIRE(status == 0);
                         REQUIRE(cp->start_reading() == 0);
                         if (!bytes.empty()) cp->write(bytes);
                       },
                       .closed = [&] { listener.close(); }});
  REQUIRE(conn->connect(reinterpret_cast<const sockaddr*>(&addr)) == 0);
  conn.reset();
  t.run();
  CHECK(!t.timed_out);
  return r;
}

}  // namespace

TEST_CASE("TLS carries data both ways once the server is verified by its CA", "[unit]") {
  TestLoop t;
  Side server, client;
  echo_exchange(t, server_context(), client_context(trusting(server_identity())), "hello over TLS", server, client);
  CHECK(client.error.empty());
  CHECK(server.error.empty());
  CHECK(client.established);
  CHECK(server.established);
  CHECK(client.got == "hello over TLS");
  std::string error;
  CHECK(client.peer_fingerprint == *certificate_fingerprint(server_identity().cert_pem, error));
  CHECK(server.peer_fingerprint.empty());  // no client certificate was asked for
  CHECK(client.counters.handshakes == 1);
  CHECK(server.counters.handshakes == 1);
  CHECK(server.counters.handshake_failures == 0);
  CHECK(client.closed == 1);
  CHECK(server.closed == 1);
}

TEST_CASE("TLS large writes arrive whole and in order", "[unit]") {
  TestLoop t(20000);
  std::string message(3 * 1024 * 1024 + 7, '\0');
  std::mt19937 rng(7);
  for (char& ch : message) ch = static_cast<char>(rng());
  Side server, client;
  echo_exchange(t, server_context(), client_context(trusting(server_identity())), message, server, client);
  CHECK(client.error.empty());
  CHECK(client.got.size() == message.size());
  CHECK(client.got == message);
}

TEST_CASE("TLS verification by an IP address checks the certificate's IP names", "[unit]") {
  {
    TestLoop t;
    Side server, client;
    echo_exchange(t, server_context(), client_context(trusting(server_identity(), "127.0.0.1")), "ip", server, client);
    CHECK(client.error.empty());
    CHECK(client.got == "ip");
  }
  {
    TestLoop t;
    Side server, client;
    echo_exchange(t, server_context(), client_context(trusting(server_identity(), "127.0.0.2")), "ip", server, client);
    CHECK(!client.established);
    CHECK(client.got.empty());
    CHECK_THAT(client.error, Catch::Contains("does not name the IP address 127.0.0.2"));
    CHECK(client.counters.handshake_failures == 1);
  }
  {
    TestLoop t;
    Side server, client;
    echo_exchange(t, server_context(), client_context(trusting(server_identity(), "example.org")), "dns", server, client);
    CHECK(!client.established);
    CHECK_THAT(client.error, Catch::Contains("does not match with the expected CN"));
  }
}

TEST_CASE("TLS refuses a server whose certificate another CA signed", "[unit]") {
  TestLoop t;
  Side server, client;
  echo_exchange(t, server_context(), client_context(trusting(other_identity())), "secret", server, client);
  CHECK(!client.established);
  CHECK(client.got.empty());
  CHECK_THAT(client.error, Catch::Contains("verification failed") || Catch::Contains("not trusted"));
  CHECK(client.counters.handshake_failures == 1);
  CHECK(server.closed == 1);
  CHECK(!server.established);  // the client's alert ended it
}

TEST_CASE("TLS with a pinned fingerprint accepts that certificate alone", "[unit]") {
  std::string error;
  const std::string right = *certificate_fingerprint(server_identity().cert_pem, error);
  const std::string wrong = *certificate_fingerprint(other_identity().cert_pem, error);
  REQUIRE(right != wrong);
  SECTION("the right fingerprint, in either spelling") {
    for (std::string pin : {right, std::string("lower")}) {
      if (pin == "lower") {  // no colons, lower case
        pin.clear();
        for (char ch : right) {
          if (ch != ':') pin += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        }
      }
      TestLoop t;
      Side server, client;
      // No name: a pin ignores names; no CA at all.
      echo_exchange(t, server_context(), client_context({.verify = TlsVerify::pinned, .pinned_sha256 = pin}), "pinned",
                    server, client);
      CHECK(client.error.empty());
      CHECK(client.established);
      CHECK(client.got == "pinned");
      CHECK(client.peer_fingerprint == right);
    }
  }
  SECTION("a wrong fingerprint fails the handshake and says which certificate came") {
    TestLoop t;
    Side server, client;
    echo_exchange(t, server_context(), client_context({.verify = TlsVerify::pinned, .pinned_sha256 = wrong}), "x",
                  server, client);
    CHECK(!client.established);
    CHECK(client.got.empty());
    CHECK_THAT(client.error, Catch::Contains(right) && Catch::Contains("not the pinned one"));
    CHECK(client.counters.handshake_failures == 1);
    CHECK(!server.established);
  }
}

TEST_CASE("TLS with verify_incoming requires a client certificate its CA signed", "[unit]") {
  SECTION("present: accepted, and the server sees whose it is") {
    TestLoop t;
    Side server, client;
    echo_exchange(t, server_context(true), client_context(trusting_as(server_identity(), client_identity())), "with cert",
                  server, client);
    CHECK(client.error.empty());
    CHECK(server.error.empty());
    CHECK(client.got == "with cert");
    std::string error;
    CHECK(server.peer_fingerprint == *certificate_fingerprint(client_identity().cert_pem, error));
  }
  SECTION("missing: refused, counted, with the reason") {
    TestLoop t;
    Side server, client;
    echo_exchange(t, server_context(true), client_context(trusting(server_identity())), "no cert", server, client);
    CHECK(!server.established);
    CHECK(client.got.empty());
    CHECK_THAT(server.error, Catch::Contains("client certif"));
    CHECK(server.counters.handshake_failures == 1);
    CHECK(client.closed == 1);
  }
  SECTION("signed by someone else: refused") {
    TestLoop t;
    Side server, client;
    echo_exchange(t, server_context(true), client_context(trusting_as(server_identity(), other_identity())),
                  "wrong cert", server, client);
    CHECK(!server.established);
    CHECK(client.got.empty());
    CHECK(server.counters.handshake_failures == 1);
  }
}

TEST_CASE("a TLS server refuses garbage and plain text, counting each", "[unit]") {
  SECTION("plain HTTP is named as such") {
    TestLoop t;
    PlainResult r = plain_client(t, "GET /v1/agent/self HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_THAT(r.server_error, Catch::Contains("plain text, not TLS"));
    CHECK(r.counters.handshake_failures == 1);
    CHECK(r.server_closed == 1);
    CHECK(r.client_saw_end);
  }
  SECTION("random bytes, and records that claim to be TLS") {
    std::mt19937 rng(42);
    for (int round = 0; round < 12; ++round) {
      std::string bytes(1 + rng() % 600, '\0');
      for (char& ch : bytes) ch = static_cast<char>(rng());
      if (round % 3 == 1) bytes.replace(0, 3, "\x16\x03\x01", 3);  // a handshake record header
      if (round % 3 == 2) bytes.replace(0, 5, "\x16\x03\x03\x00\x30", 5);
      TestLoop t;
      PlainResult r = plain_client(t, bytes, 500);
      INFO("round " << round);
      // Refused, or (a record still waiting for bytes that never come) timed out: counted either way.
      CHECK(r.counters.handshake_failures + r.counters.handshake_timeouts == 1);
      CHECK(!r.server_error.empty());
      CHECK(r.server_closed == 1);
    }
  }
}

TEST_CASE("a TLS handshake that does not finish in time is closed and counted", "[unit]") {
  TestLoop t;
  PlainResult r = plain_client(t, "", 200);  // connects, says nothing
  CHECK_THAT(r.server_error, Catch::Contains("not done within 200 ms"));
  CHECK(r.counters.handshake_timeouts == 1);
  CHECK(r.counters.handshake_failures == 0);
  CHECK(r.client_saw_end);
}

TEST_CASE("a TLS listener's context can be swapped for new connections", "[unit]") {
  // The first connection verifies the old certificate; after set_tls a second one sees the new.
  TestLoop t;
  std::vector<std::string> seen;
  std::vector<std::shared_ptr<Connection>> accepted;
  Listener listener(&t.loop, {.connection = {.tls = server_context()}},
                    {.accepted = [&](std::shared_ptr<Connection> c, const sockaddr_storage&, std::shared_ptr<void>) {
                      accepted.push_back(c);
                      REQUIRE(c->start_reading() == 0);
                    }});
  sockaddr_storage addr = listen_on_localhost(listener);
  auto pinned = client_context({.verify = TlsVerify::pinned, .pinned_sha256 = server_context()->fingerprint()});
  std::function<void(int)> dial = [&](int n) {
    auto c = Connection::create(&t.loop, {.tls = n == 0 ? pinned : client_context(trusting(other_identity()))});
    REQUIRE(c);
    Connection* cp = c.get();
    c->set_callbacks({.established = [&, cp, n] {
                        seen.push_back(cp->tls()->peer_fingerprint());
                        cp->close();
                        if (n == 0) {
                          std::string error;
                          listener.set_tls(TlsContext::server({other_identity(), "", false}, error));
                          dial(1);
                        } else {
                          for (auto& a : accepted) a->close();
                          listener.close();
                        }
                      },
                      .tls_failed = [&](const std::string& e) { FAIL(e); }});
    REQUIRE(c->connect(reinterpret_cast<const sockaddr*>(&addr)) == 0);
  };
  dial(0);
  t.run();
  CHECK(!t.timed_out);
  std::string error;
  REQUIRE(seen.size() == 2);
  CHECK(seen[0] == *certificate_fingerprint(server_identity().cert_pem, error));
  CHECK(seen[1] == *certificate_fingerprint(other_identity().cert_pem, error));
}

TEST_CASE("TLS contexts refuse bad settings with a clear error", "[unit]") {
  std::string error;
  CHECK(!TlsContext::server({{server_identity().cert_pem, client_identity().key_pem}, "", false}, error));
  CHECK_THAT(error, Catch::Contains("does not belong"));
  CHECK(!TlsContext::server({server_identity(), "", true}, error));
  CHECK_THAT(error, Catch::Contains("verify_incoming needs a CA"));
  CHECK(!TlsContext::server({{"not a pem", server_identity().key_pem}, "", false}, error));
  CHECK_THAT(error, Catch::Contains("no PEM certificate"));
  CHECK(!TlsContext::server({{server_identity().cert_pem, "garbage"}, "", false}, error));
  CHECK_THAT(error, Catch::Contains("no PEM private key"));
  CHECK(error.find("garbage") == std::string::npos);  // key material is never echoed
  CHECK(!TlsContext::client({.verify = TlsVerify::pinned, .pinned_sha256 = "AB:CD"}, error));
  CHECK_THAT(error, Catch::Contains("not 32 hex bytes"));
  CHECK(!TlsContext::client({.verify = TlsVerify::ca}, error));
  CHECK_THAT(error, Catch::Contains("no CA"));
  CHECK(!read_pem_file("/nonexistent/ca.pem", error));
  CHECK_THAT(error, Catch::Contains("/nonexistent/ca.pem"));
}

TEST_CASE("fingerprints are formatted and parsed both ways", "[unit]") {
  unsigned char bytes[32];
  for (int i = 0; i < 32; ++i) bytes[i] = static_cast<unsigned char>(i * 8 + 1);
  const std::string text = format_fingerprint(bytes);
  CHECK(text.size() == 95);
  CHECK(text.substr(0, 9) == "01:09:11:");
  auto parsed = parse_fingerprint(text);
  REQUIRE(parsed);
  CHECK(std::equal(parsed->begin(), parsed->end(), bytes));
  std::string plain;
  for (char ch : text) {
    if (ch != ':') plain += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  CHECK(parse_fingerprint(plain) == parsed);
  CHECK(!parse_fingerprint(plain.substr(2)));
  CHECK(!parse_fingerprint(std::string(64, 'g')));
  std::string misplaced = text;
  misplaced[2] = '-';
  CHECK(!parse_fingerprint(misplaced));
  // A context reports its own certificate's fingerprint, as certificate_fingerprint computes it.
  std::string error;
  CHECK(server_context()->fingerprint() == *certificate_fingerprint(server_identity().cert_pem, error));
}
