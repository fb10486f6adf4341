// Health-check runners on a real libuv loop with short timeouts: HTTP status mapping, TCP,
// script exit codes, output capture and timeout kill, TTL expiry and reset, stop mid-run.
#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "agent/checks/check_run.h"
#include "agent/checks/scheduler.h"

using namespace hearsay;
using namespace hearsay::agent::checks;
using catalog::CheckSpec;
using catalog::CheckType;
using catalog::HealthStatus;
using namespace std::chrono_literals;

namespace {

// A one-thread TCP server on 127.0.0.1 answering every request with `status` (and
// `extra_headers`, each ending in \r\n), or never answering when status is 0. Stops when destroyed.
class TinyHttpServer {
 public:
  explicit TinyHttpServer(int status, std::string extra_headers = "")
      : status_(status), extra_headers_(std::move(extra_headers)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(listen(fd_, 16) == 0);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~TinyHttpServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  int port() const { return port_; }
  std::string last_request() const { return last_request_; }
  int requests() const { return requests_; }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      char buf[4096];
      ssize_t n = recv(c, buf, sizeof(buf), 0);
      if (n > 0) last_request_.assign(buf, static_cast<std::size_t>(n));
      ++requests_;
      if (status_ == 0) {  // hold the connection until asked to stop
        while (!stop_) usleep(20000);
      } else {
        std::string body = "body-" + std::to_string(status_);
        std::string resp = "HTTP/1.1 " + std::to_string(status_) + " X\r\n" + extra_headers_ + "Content-Length: " +
                           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
        send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
      }
      close(c);
    }
  }
  int fd_ = -1;
  int port_ = 0;
  int status_;
  std::string extra_headers_;
  std::atomic<int> requests_{0};
  std::atomic<bool> stop_{false};
  std::string last_request_;
  std::thread thread_;
};

int closed_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);  // nothing listens there now
  return ntohs(addr.sin_port);
}

using Starter = std::shared_ptr<CheckRun> (*)(uv_loop_t*, const CheckSpec&, CheckRun::Done);

// Runs one check to completion on a fresh loop; asserts the loop ends with nothing open.
CheckResult run_once(Starter start, const CheckSpec& spec) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  CheckResult result{HealthStatus::passing, "no result"};
  int calls = 0;
  {
    auto run = start(&loop, spec, [&](CheckResult r) {
      result = std::move(r);
      ++calls;
    });
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  CHECK(calls == 1);
  CHECK(uv_loop_close(&loop) == 0);
  return result;
}

CheckSpec http_spec(int port, std::chrono::milliseconds timeout = 2000ms) {
  CheckSpec s;
  s.type = CheckType::http;
  s.http = "http://127.0.0.1:" + std::to_string(port) + "/health?x=1";
  s.timeout = timeout;
  return s;
}

CheckSpec script_spec(std::vector<std::string> args, std::chrono::milliseconds timeout = 5000ms) {
  CheckSpec s;
  s.type = CheckType::script;
  s.args = std::move(args);
  s.timeout = timeout;
  return s;
}

}  // namespace

TEST_CASE("HTTP check: 2xx passing, 429 warning, other critical", "[unit]") {
  struct Case {
    int status;
    HealthStatus expected;
  };
  for (Case c : {Case{200, HealthStatus::passing}, Case{204, HealthStatus::passing}, Case{429, HealthStatus::warning},
                 Case{500, HealthStatus::critical}, Case{404, HealthStatus::critical}}) {
    INFO(c.status);
    TinyHttpServer server(c.status);
    CheckResult r = run_once(start_http_check, http_spec(server.port()));
    CHECK(r.status == c.expected);
    CHECK(r.output.find("HTTP GET http://127.0.0.1:") == 0);
    CHECK(r.output.find("Output: body-" + std::to_string(c.status)) != std::string::npos);
    CHECK(server.last_request().find("GET /health?x=1 HTTP/1.1") == 0);
    CHECK(server.last_request().find("User-Agent: Consul Health Check") != std::string::npos);
  }
}

TEST_CASE("HTTP check: refused, timed out, unsupported scheme, TLS failure", "[unit]") {
  CheckResult refused = run_once(start_http_check, http_spec(closed_port()));
  CHECK(refused.status == HealthStatus::critical);
  CHECK(refused.output.find("connection refused") != std::string::npos);

  TinyHttpServer silent(0);
  CheckResult slow = run_once(start_http_check, http_spec(silent.port(), 300ms));
  CHECK(slow.status == HealthStatus::critical);
  CHECK(slow.output.find("timeout after 300ms") != std::string::npos);

  CheckSpec ftp = http_spec(1);
  ftp.http = "ftp://127.0.0.1:1/";
  CheckResult scheme = run_once(start_http_check, ftp);
  CHECK(scheme.status == HealthStatus::critical);
  CHECK(scheme.output.find("unsupported scheme ftp://") != std::string::npos);

  // A plain-HTTP server spoken to with TLS: the handshake fails, the check is critical.
  TinyHttpServer plain(200);
  CheckSpec https = http_spec(plain.port());
  https.http = "https://127.0.0.1:" + std::to_string(plain.port()) + "/";
  https.tls_skip_verify = true;
  CheckResult tls = run_once(start_http_check, https);
  CHECK(tls.status == HealthStatus::critical);
  CHECK(tls.output.find("HTTP GET https://") == 0);
}

TEST_CASE("HTTP check: redirects are followed as Consul follows them, unless DisableRedirects", "[unit]") {
  TinyHttpServer target(200);
  const std::string ok_url = "http://127.0.0.1:" + std::to_string(target.port()) + "/ok";
  TinyHttpServer moved(301, "location: " + ok_url + "\r\n");
  CheckResult followed = run_once(start_http_check, http_spec(moved.port()));
  CHECK(followed.status == HealthStatus::passing);
  CHECK(followed.output.find("Output: body-200") != std::string::npos);
  CHECK(target.last_request().find("GET /ok HTTP/1.1") == 0);

  CheckSpec no_follow = http_spec(moved.port());
  no_follow.disable_redirects = true;
  CheckResult not_followed = run_once(start_http_check, no_follow);
  CHECK(not_followed.status == HealthStatus::critical);
  CHECK(not_followed.output.find("301 X") != std::string::npos);

  // 303 turns a POST into a GET without its body; 307 keeps both.
  TinyHttpServer see_other(303, "Location: " + ok_url + "\r\n");
  CheckSpec post = http_spec(see_other.port());
  post.method = "POST";
  post.body = "payload";
  CHECK(run_once(start_http_check, post).status == HealthStatus::passing);
  CHECK(target.last_request().find("GET /ok HTTP/1.1") == 0);
  CHECK(target.last_request().find("payload") == std::string::npos);
  TinyHttpServer temporary(307, "Location: " + ok_url + "\r\n");
  post.http = "http://127.0.0.1:" + std::to_string(temporary.port()) + "/";
  CHECK(run_once(start_http_check, post).status == HealthStatus::passing);
  CHECK(target.last_request().find("POST /ok HTTP/1.1") == 0);
  CHECK(target.last_request().find("payload") != std::string::npos);

  // A relative Location that points back at itself: 10 redirects, then critical (Go's limit).
  TinyHttpServer loop_server(302, "Location: /again\r\n");
  CheckResult looped = run_once(start_http_check, http_spec(loop_server.port()));
  CHECK(looped.status == HealthStatus::critical);
  CHECK(looped.output.find("stopped after 10 redirects") != std::string::npos);
  CHECK(loop_server.requests() == 11);
  CHECK(loop_server.last_request().find("GET /again HTTP/1.1") == 0);
}

TEST_CASE("TCP check: open port passing, closed port critical", "[unit]") {
  TinyHttpServer server(200);
  CheckSpec open;
  open.type = CheckType::tcp;
  open.tcp = "127.0.0.1:" + std::to_string(server.port());
  CheckResult ok = run_once(start_tcp_check, open);
  CHECK(ok.status == HealthStatus::passing);
  CHECK(ok.output == "TCP connect " + open.tcp + ": Success");
  CheckSpec shut = open;
  shut.tcp = "127.0.0.1:" + std::to_string(closed_port());
  CHECK(run_once(start_tcp_check, shut).status == HealthStatus::critical);
}

TEST_CASE("script check: exit codes map to statuses, output is captured", "[unit]") {
  CHECK(run_once(start_script_check, script_spec({"/bin/sh", "-c", "exit 0"})).status == HealthStatus::passing);
  CHECK(run_once(start_script_check, script_spec({"/bin/sh", "-c", "exit 1"})).status == HealthStatus::warning);
  CHECK(run_once(start_script_check, script_spec({"/bin/sh", "-c", "exit 2"})).status == HealthStatus::critical);
  CheckResult out = run_once(start_script_check, script_spec({"/bin/sh", "-c", "echo to-out; echo to-err >&2"}));
  CHECK(out.output.find("to-out") != std::string::npos);
  CHECK(out.output.find("to-err") != std::string::npos);
  CheckResult big = run_once(start_script_check, script_spec({"/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x"}));
  CHECK(big.status == HealthStatus::passing);
  CHECK(big.output.find("captured 4096 of 100000 bytes") != std::string::npos);
  CheckResult missing = run_once(start_script_check, script_spec({"/nonexistent/check-binary"}));
  CHECK(missing.status == HealthStatus::critical);
  CHECK(missing.output.find("failed to start") != std::string::npos);
}

TEST_CASE("script check: a hanging script is killed with its children at the timeout", "[unit]") {
  char pidfile[] = "/tmp/hearsay-check-pid-XXXXXX";
  int fd = mkstemp(pidfile);
  close(fd);
  auto start = std::chrono::steady_clock::now();
  CheckResult r = run_once(start_script_check,
                           script_spec({"/bin/sh", "-c", std::string("sleep 30 & echo $! > ") + pidfile + "; wait"}, 300ms));
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(r.status == HealthStatus::critical);
  CHECK(r.output == "Timed out (300ms) running check");
  CHECK(elapsed < 5s);
  std::ifstream in(pidfile);
  pid_t child = 0;
  in >> child;
  REQUIRE(child > 0);
  usleep(100 * 1000);
  // The grandchild `sleep 30` is gone too: no process, or a zombie waiting for PID 1 to reap it.
  std::ifstream stat("/proc/" + std::to_string(child) + "/stat");
  std::string pid_field, comm, state;
  stat >> pid_field >> comm >> state;
  CHECK((!stat || state == "Z"));
  unlink(pidfile);
}

TEST_CASE("scheduler: a TTL check expires unless updated", "[unit]") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::vector<std::pair<std::string, CheckResult>> results;
  {
    CheckScheduler scheduler(&loop, 1, [&](const std::string& id, CheckResult r) { results.emplace_back(id, r); });
    CheckSpec ttl;
    ttl.type = CheckType::ttl;
    ttl.ttl = 300ms;
    scheduler.start("t", ttl);
    CHECK_FALSE(scheduler.ttl_update("nope", HealthStatus::passing, ""));
    // Update at ~150 ms; it would have expired at 300 ms, now at ~450 ms. Stop at 380 ms.
    struct Step {
      CheckScheduler* s;
      std::vector<std::pair<std::string, CheckResult>>* results;
      int n = 0;
    } step{&scheduler, &results};
    uv_timer_t timer;
    uv_timer_init(&loop, &timer);
    timer.data = &step;
    uv_timer_start(&timer, [](uv_timer_t* t) {
      auto* st = static_cast<Step*>(t->data);
      if (++st->n == 1) {
        CHECK(st->s->ttl_update("t", HealthStatus::passing, "fine"));
      } else if (st->n == 2) {
        CHECK(st->results->empty());  // 380 ms: not expired thanks to the update
      } else if (!st->results->empty()) {
        uv_timer_stop(t);
        uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
        st->s->stop_all([] {});
      } else if (st->n > 200) {
        FAIL("TTL never expired");
      }
    }, 150, 230);
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  REQUIRE(results.size() == 1);
  CHECK(results[0].second.status == HealthStatus::critical);
  CHECK(results[0].second.output == "TTL expired (last output before timeout follows): fine");
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("scheduler: interval checks run repeatedly and stop during a run reports nothing", "[unit]") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  int results = 0;
  {
    CheckScheduler scheduler(&loop, 7, [&](const std::string&, CheckResult) { ++results; });
    CheckSpec quick = script_spec({"/bin/sh", "-c", "exit 0"});
    quick.interval = 100ms;
    scheduler.start("quick", quick);
    CheckSpec slow = script_spec({"/bin/sh", "-c", "sleep 5"}, 10000ms);
    slow.interval = 50ms;
    scheduler.start("slow", slow);
    uv_timer_t timer;
    uv_timer_init(&loop, &timer);
    timer.data = &scheduler;
    uv_timer_start(&timer, [](uv_timer_t* t) {
      auto* s = static_cast<CheckScheduler*>(t->data);
      s->stop("slow");  // its run is in flight: cancelled, no result
      s->stop_all([] {});
      uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
    }, 550, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  CHECK(results >= 3);  // quick ran about 5 times; slow never reported
  CHECK(results <= 7);
  CHECK(uv_loop_close(&loop) == 0);
}
