// loop/: a real uv loop on 127.0.0.1, bounded by a watchdog timer. Listener admission and
// refusal, connection reads, writes and backpressure counts, idle timer, close once, Handle.
#include <catch2/catch.hpp>

#include <uv.h>

#include <csignal>
#include <memory>
#include <string>

#include "loop/address.h"
#include "loop/handle.h"
#include "loop/listener.h"
#include "tests/loop/test_loop.h"

using namespace hearsay::loop;
using hearsay::loop::test::listen_on_localhost;
using hearsay::loop::test::TestLoop;

TEST_CASE("address parsing splits host and port", "[unit]") {
  sockaddr_storage addr{};
  CHECK(parse_ip_port("127.0.0.1", 8500, addr) == 0);
  CHECK(port_of(addr) == 8500);
  CHECK(parse_ip_port("::1", 53, addr) == 0);
  CHECK(addr.ss_family == AF_INET6);
  CHECK(port_of(addr) == 53);
  CHECK(parse_ip_port("localhost", 1, addr) != 0);
  auto hp = split_host_port("[::1]:8080");
  REQUIRE(hp);
  CHECK(hp->host == "::1");
  CHECK(hp->port == "8080");
  hp = split_host_port("example.com:80");
  REQUIRE(hp);
  CHECK(hp->host == "example.com");
  CHECK(!split_host_port("noport"));
  CHECK(!split_host_port(":80"));
  CHECK(!split_host_port("host:"));
}

TEST_CASE("a connection echoes, counts unsent bytes and closes once", "[unit]") {
  TestLoop t;
  int closed_server = 0, closed_client = 0;
  std::string echoed;
  std::shared_ptr<Connection> server_side;
  Listener listener(&t.loop, {}, {
      .accepted = [&](std::shared_ptr<Connection> c, const sockaddr_storage&, std::shared_ptr<void> ticket) {
        server_side = c;
        c->set_callbacks({.read = [c = c.get()](const char* d, std::size_t n) { c->write(std::string(d, n)); },
                          .read_end = [c = c.get(), ticket](int) { c->close_when_flushed(); },
                          .closed = [&] { ++closed_server; }});
        REQUIRE(c->start_reading() == 0);
      }});
  sockaddr_storage addr = listen_on_localhost(listener);

  // Full past 4 unsent bytes: "hello" alone fills it until its write completes.
  auto client = Connection::create(&t.loop, {.name = "test", .read_size = 1024, .max_unsent_output = 4});
  REQUIRE(client);
  Connection* cp = client.get();
  std::size_t written = 0;
  int writable = 0;
  client->set_callbacks({
      .read = [&](const char* d, std::size_t n) {
        echoed.append(d, n);
        if (echoed == "hello") cp->close();
      },
      .connected = [&](int status) {
        REQUIRE(status == 0);
        REQUIRE(cp->start_reading() == 0);
        cp->write("hello");
        CHECK(cp->unsent_bytes() == 5);
        CHECK(cp->pending_writes() == 1);
        CHECK(cp->output_full());
      },
      .written = [&](std::size_t bytes) { written += bytes; },
      .writable = [&] {
        ++writable;
        CHECK(cp->unsent_bytes() == 0);
        CHECK(!cp->output_full());
      },
      .closed = [&] {
        ++closed_client;
        listener.close();
      }});
  REQUIRE(client->connect(reinterpret_cast<const sockaddr*>(&addr)) == 0);
  client.reset();  // it keeps itself alive until closed
  t.run();
  CHECK(!t.timed_out);
  CHECK(echoed == "hello");
  CHECK(written == 5);
  CHECK(writable == 1);
  CHECK(closed_client == 1);
  CHECK(closed_server == 1);
  CHECK(server_side->closing());
}

TEST_CASE("a refused connection gets its last words and closes", "[unit]") {
  TestLoop t;
  int refused = 0, accepted = 0;
  std::string got;
  Listener listener(&t.loop, {}, {
      .accepted = [&](std::shared_ptr<Connection>, const sockaddr_storage&, std::shared_ptr<void>) { ++accepted; },
      .refused = [&](Connection& c) {
        ++refused;
        c.try_write("go away");
      }},
      [](const sockaddr_storage& peer) -> std::shared_ptr<void> {
        CHECK(peer.ss_family == AF_INET);
        return nullptr;
      });
  sockaddr_storage addr = listen_on_localhost(listener);
  auto client = Connection::create(&t.loop, {});
  REQUIRE(client);
  Connection* cp = client.get();
  client->set_callbacks({.read = [&](const char* d, std::size_t n) { got.append(d, n); },
                         .read_end = [&](int status) {
                           CHECK(status == UV_EOF);
                           cp->close();
                           listener.close();
                         },
                         .connected = [&](int status) {
                           REQUIRE(status == 0);
                           REQUIRE(cp->start_reading() == 0);
                         }});
  REQUIRE(client->connect(reinterpret_cast<const sockaddr*>(&addr)) == 0);
  t.run();
  CHECK(!t.timed_out);
  CHECK(refused == 1);
  CHECK(accepted == 0);
  CHECK(got == "go away");
}

TEST_CASE("closing after the peer: last words arrive although the peer is still writing", "[unit]") {
  std::signal(SIGPIPE, SIG_IGN);  // as the agent does: a write to a reset connection fails with EPIPE
  TestLoop t;
  std::string got;
  int server_write_failures = 0, closed_server = 0, closed_client = 0;
  Listener listener(&t.loop, {}, {
      .accepted = [&](std::shared_ptr<Connection> c, const sockaddr_storage&, std::shared_ptr<void> ticket) {
        Connection* cp = c.get();
        // The peer answers "bye" by writing a lot, then closing (a relay ending a session).
        c->set_callbacks({.read = [&, cp](const char* d, std::size_t n) {
                            got.append(d, n);
                            if (got != "bye") return;
                            for (int i = 0; i < 64; ++i) cp->write(std::string(64 * 1024, 'x'));
                            cp->close_when_flushed();
                          },
                          .read_end = [cp, ticket](int) { cp->close(); },
                          .failed = [&](const char*, int) { ++server_write_failures; },
                          .closed = [&] {
                            ++closed_server;
                            listener.close();
                          }});
        REQUIRE(c->start_reading() == 0);
      }});
  sockaddr_storage addr = listen_on_localhost(listener);
  auto client = Connection::create(&t.loop, {});
  REQUIRE(client);
  Connection* cp = client.get();
  std::size_t received = 0;
  client->set_callbacks({.read = [&](const char*, std::size_t n) { received += n; },
                         .connected = [&](int status) {
                           REQUIRE(status == 0);
                           REQUIRE(cp->start_reading() == 0);
                           cp->write("bye");
                           cp->close_when_peer_closes(3000);
                         },
                         .closed = [&] { ++closed_client; }});
  REQUIRE(client->connect(reinterpret_cast<const sockaddr*>(&addr)) == 0);
  client.reset();
  t.run();
  CHECK(!t.timed_out);
  CHECK(got == "bye");
  CHECK(server_write_failures == 0);  // with close_when_flushed(), the peer's writes were reset
  CHECK(received == 64u * 64 * 1024);
  CHECK(closed_server == 1);
  CHECK(closed_client == 1);
}

TEST_CASE("closing after the peer: a peer that never closes is waited for only until the timeout", "[unit]") {
  TestLoop t;
  std::shared_ptr<Connection> server_side;
  Listener listener(&t.loop, {}, {
      .accepted = [&](std::shared_ptr<Connection> c, const sockaddr_storage&, std::shared_ptr<void>) {
        server_side = c;  // reads nothing, never closes
      }});
  sockaddr_storage addr = listen_on_localhost(listener);
  auto client = Connection::create(&t.loop, {});
  REQUIRE(client);
  Connection* cp = client.get();
  int closed_client = 0;
  const std::uint64_t start = uv_now(&t.loop);
  std::uint64_t closed_at = 0;
  client->set_callbacks({.connected = [&](int status) {
                           REQUIRE(status == 0);
                           REQUIRE(cp->start_reading() == 0);
                           cp->close_when_peer_closes(100);
                         },
                         .closed = [&] {
                           ++closed_client;
                           closed_at = uv_now(&t.loop);
                           if (server_side) server_side->close();
                           listener.close();
                         }});
  REQUIRE(client->connect(reinterpret_cast<const sockaddr*>(&addr)) == 0);
  client.reset();
  t.run();
  CHECK(!t.timed_out);
  CHECK(closed_client == 1);
  CHECK(closed_at - start >= 100);
}

TEST_CASE("the timer fires and a connect failure is reported", "[unit]") {
  TestLoop t;
  auto c = Connection::create(&t.loop, {});
  REQUIRE(c);
  int fired = 0, closed = 0, connect_status = 0;
  // A port nobody listens on: bind one, note it, close it.
  sockaddr_storage addr{};
  {
    Listener probe(&t.loop, {}, {.accepted = [](auto, const auto&, auto) {}});
    addr = listen_on_localhost(probe);
  }
  Connection* cp = c.get();
  c->set_callbacks({.connected = [&](int status) { connect_status = status; cp->start_timer(10); },
                    .timer = [&] { ++fired; cp->close(); },
                    .closed = [&] { ++closed; }});
  t.run();  // the probe listener's close
  REQUIRE(c->connect(reinterpret_cast<const sockaddr*>(&addr)) == 0);
  c.reset();
  t.run();
  CHECK(!t.timed_out);
  CHECK(connect_status == UV_ECONNREFUSED);
  CHECK(fired == 1);
  CHECK(closed == 1);
}

TEST_CASE("a Handle is freed in its close callback", "[unit]") {
  TestLoop t;
  int closed = 0;
  {
    Handle<uv_timer_t> timer;
    REQUIRE(timer.init(&t.loop, nullptr) == 0);
    CHECK(timer.open());
    timer.close([&] { ++closed; });
    CHECK(!timer.open());
  }
  t.run();
  CHECK(closed == 1);
}
