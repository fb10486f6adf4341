// The libuv server with real sockets on 127.0.0.1: keep-alive, asynchronous answers, clients
// that leave early, limits. The loop runs in the test thread under a guard timer; a client
// thread talks plain POSIX sockets.
#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "http-api/server_uv.h"

using namespace hearsay::http;

namespace {

int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void send_all(int fd, const std::string& s) {
  std::size_t sent = 0;
  while (sent < s.size()) {
    ssize_t n = send(fd, s.data() + sent, s.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

// Reads until `count` complete responses (by Content-Length) arrived or the peer closed.
std::string read_responses(int fd, int count) {
  std::string data;
  char buf[4096];
  for (;;) {
    int complete = 0;
    std::size_t pos = 0;
    while (true) {
      auto head_end = data.find("\r\n\r\n", pos);
      if (head_end == std::string::npos) break;
      auto cl = data.find("Content-Length: ", pos);
      if (cl == std::string::npos || cl > head_end) break;
      std::size_t len = std::stoul(data.substr(cl + 16));
      if (data.size() < head_end + 4 + len) break;
      pos = head_end + 4 + len;
      ++complete;
    }
    if (complete >= count) return data;
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return data;
    data.append(buf, static_cast<std::size_t>(n));
  }
}

bool peer_closed(int fd) {
  char c;
  return recv(fd, &c, 1, 0) == 0;
}

// Runs a server on a fresh loop while `client` runs in a thread; stops both when it returns.
// `output_pauses`, when given, gets the server's count of output pauses at the end.
void with_server(Handler handler, const std::function<void(int port)>& client, ServerConfig config = {},
                 std::uint64_t* output_pauses = nullptr) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    Server server(&loop, config, std::move(handler));
    REQUIRE(server.listen("127.0.0.1", 0) == 0);
    int port = server.bound_port();
    REQUIRE(port > 0);
    std::atomic<bool> done{false};
    std::thread t([&] {
      client(port);
      done = true;
    });
    uv_timer_t poll;
    uv_timer_init(&loop, &poll);
    struct Ctx {
      std::atomic<bool>* done;
      Server* server;
      int ticks;
    } ctx{&done, &server, 0};
    poll.data = &ctx;
    uv_timer_start(&poll, [](uv_timer_t* timer) {
      auto* c = static_cast<Ctx*>(timer->data);
      if (c->done->load() || ++c->ticks > 1000) {  // 10 s guard
        uv_timer_stop(timer);
        uv_close(reinterpret_cast<uv_handle_t*>(timer), nullptr);
        c->server->close([] {});
      }
    }, 10, 10);
    uv_run(&loop, UV_RUN_DEFAULT);
    t.join();
    CHECK(done.load());
    if (output_pauses) *output_pauses = server.stats().output_pauses;
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);  // every handle closed
}

Handler echo_path() {
  return [](Request req, Responder res) { res.send(Response::text(200, req.method + " " + req.path)); };
}

}  // namespace

TEST_CASE("two requests on one keep-alive connection are answered in order", "[unit]") {
  with_server(echo_path(), [](int port) {
    int fd = connect_to(port);
    REQUIRE(fd >= 0);
    send_all(fd, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
    std::string out = read_responses(fd, 2);
    auto a = out.find("GET /a");
    auto b = out.find("GET /b");
    CHECK(a != std::string::npos);
    CHECK(b != std::string::npos);
    CHECK(a < b);
    CHECK(out.find("HTTP/1.1 200 OK") == 0);
    close(fd);
  });
}

TEST_CASE("a handler may answer later, from a timer", "[unit]") {
  Responder saved;
  uv_loop_t* server_loop = nullptr;  // the handler's timer must live on the server's loop
  Handler later = [&](Request, Responder res) {
    saved = res;
    auto* pending_timer = new uv_timer_t;
    uv_timer_init(server_loop, pending_timer);
    pending_timer->data = &saved;
    uv_timer_start(pending_timer, [](uv_timer_t* t) {
      static_cast<Responder*>(t->data)->send(Response::json("{\"late\":true}"));
      uv_close(reinterpret_cast<uv_handle_t*>(t), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    }, 100, 0);
  };
  uv_loop_t loop;
  uv_loop_init(&loop);
  server_loop = &loop;
  {
    Server server(&loop, {}, later);
    REQUIRE(server.listen("127.0.0.1", 0) == 0);
    int port = server.bound_port();
    std::string got;
    std::thread t([&] {
      int fd = connect_to(port);
      send_all(fd, "GET /wait HTTP/1.1\r\n\r\n");
      got = read_responses(fd, 1);
      close(fd);
    });
    uv_timer_t stopper;
    uv_timer_init(&loop, &stopper);
    stopper.data = &server;
    uv_timer_start(&stopper, [](uv_timer_t* s) {
      static_cast<Server*>(s->data)->close([] {});
      uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
    }, 1000, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    t.join();
    CHECK(got.find("{\"late\":true}") != std::string::npos);
    CHECK(got.find("Content-Type: application/json") != std::string::npos);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("a client that leaves before the answer makes the responder a no-op", "[unit]") {
  std::vector<Responder> parked;
  with_server([&](Request, Responder res) { parked.push_back(res); }, [](int port) {
    int fd = connect_to(port);
    send_all(fd, "GET /blocking HTTP/1.1\r\n\r\n");
    usleep(100 * 1000);
    close(fd);
    usleep(200 * 1000);
  });
  REQUIRE(parked.size() == 1);
  CHECK_FALSE(parked[0].connected());
  parked[0].send(Response::text(200, "too late"));  // must not crash (ASan watches)
}

TEST_CASE("Connection: close ends the connection after the answer", "[unit]") {
  with_server(echo_path(), [](int port) {
    int fd = connect_to(port);
    send_all(fd, "GET /x HTTP/1.1\r\nConnection: close\r\n\r\n");
    std::string out = read_responses(fd, 1);
    CHECK(out.find("Connection: close") != std::string::npos);
    CHECK(peer_closed(fd));
    close(fd);
  });
}

TEST_CASE("an oversized body gets 413 and the connection closes", "[unit]") {
  ServerConfig config;
  config.limits.max_body = 1024;
  with_server(echo_path(), [](int port) {
    int fd = connect_to(port);
    send_all(fd, "PUT /x HTTP/1.1\r\nContent-Length: 4096\r\n\r\n" + std::string(4096, 'a'));
    std::string out = read_responses(fd, 1);
    CHECK(out.find("HTTP/1.1 413") == 0);
    CHECK(peer_closed(fd));
    close(fd);
  }, config);
}

TEST_CASE("garbage gets 400 and the server keeps serving others", "[unit]") {
  with_server(echo_path(), [](int port) {
    int bad = connect_to(port);
    send_all(bad, "\x01\x02\x03 garbage\r\n\r\n");
    CHECK(read_responses(bad, 1).find("HTTP/1.1 400") == 0);
    close(bad);
    int good = connect_to(port);
    send_all(good, "GET /ok HTTP/1.1\r\n\r\n");
    CHECK(read_responses(good, 1).find("GET /ok") != std::string::npos);
    close(good);
  });
}

TEST_CASE("a pipelining client that does not read gets no more answers until it reads", "[unit]") {
  std::atomic<int> handled{0};
  const std::string body(64 * 1024, 'x');
  ServerConfig config;
  std::uint64_t pauses = 0;
  constexpr int kRequests = 400;  // 25 MiB of answers: far more than the kernel's buffers hold
  with_server(
      [&](Request, Responder res) {
        ++handled;
        res.send(Response::text(200, body));
      },
      [&](int port) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int small = 4096;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
        timeval tv{5, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<std::uint16_t>(port));
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
        REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
        std::string burst;
        for (int i = 0; i < kRequests; ++i) burst += "GET /x HTTP/1.1\r\n\r\n";
        send_all(fd, burst);
        usleep(300 * 1000);
        const int before_reading = handled.load();
        CHECK(before_reading < kRequests / 2);  // answers stopped once unsent output was over the limit
        // Every answer is the same size: read that many bytes (read_responses rescans from the
        // start on every read, too slow for 25 MiB).
        const std::string first = read_responses(fd, 1);
        const std::size_t answer = first.find("\r\n\r\n") + 4 + body.size();
        std::size_t total = first.size();
        std::vector<char> buf(256 * 1024);
        while (total < answer * kRequests) {
          ssize_t n = recv(fd, buf.data(), buf.size(), 0);
          if (n <= 0) break;
          total += static_cast<std::size_t>(n);
        }
        CHECK(total == answer * kRequests);
        CHECK(handled.load() == kRequests);  // and went on as the client read
        close(fd);
      },
      config, &pauses);
  CHECK(pauses > 0);
}

TEST_CASE("the admission hook refuses with 429, and a ticket lives as long as its connection", "[unit]") {
  std::atomic<int> tickets{0};
  int admitted = 0;  // loop thread only
  std::atomic<bool> saw_ipv4{false};
  ServerConfig config;
  config.admit = [&](const sockaddr_storage& peer) -> std::shared_ptr<void> {
    saw_ipv4 = peer.ss_family == AF_INET;  // no Catch2 assertions on the loop thread
    if (admitted++ >= 1) return nullptr;
    ++tickets;
    return std::shared_ptr<void>(new int(0), [&](void* p) {
      delete static_cast<int*>(p);
      --tickets;
    });
  };
  with_server(echo_path(), [&](int port) {
    int first = connect_to(port);
    send_all(first, "GET /a HTTP/1.1\r\n\r\n");
    CHECK(read_responses(first, 1).find("GET /a") != std::string::npos);
    CHECK(tickets.load() == 1);
    int second = connect_to(port);
    std::string refused = read_responses(second, 1);
    CHECK(refused.rfind("HTTP/1.1 429 Too Many Requests", 0) == 0);
    CHECK(peer_closed(second));
    close(second);
    close(first);
    usleep(200 * 1000);
    CHECK(tickets.load() == 0);  // the first connection's close gave its place back
  }, config);
  CHECK(saw_ipv4.load());
}

TEST_CASE("a client that closes its side while its request is parked is let go within a second or so", "[unit]") {
  std::vector<Responder> parked;
  with_server([&](Request, Responder res) { parked.push_back(res); }, [](int port) {
    int fd = connect_to(port);
    send_all(fd, "GET /blocking HTTP/1.1\r\n\r\n");
    usleep(100 * 1000);
    shutdown(fd, SHUT_WR);
    timeval tv{3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    CHECK(peer_closed(fd));  // closed by the server after its grace, not at the query's end
    close(fd);
  });
  REQUIRE(parked.size() == 1);
  CHECK_FALSE(parked[0].connected());
}
