// HTTP and TCP checks (consul-compat.md 4.1): resolve, connect, and for HTTP send one request
// and read the status line and up to 4 KiB of body. Default timeout 10 s. https:// goes through
// a TlsSession (mbedTLS over memory buffers) with TLSSkipVerify and TLSServerName as Consul.
#include <http_parser.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "agent/checks/check_run.h"
#include "agent/checks/tls_session.h"
#include "agent/uv_guard.h"
#include "catalog/duration.h"

namespace hearsay::agent::checks {
namespace {

using catalog::HealthStatus;
constexpr std::chrono::seconds kDefaultTimeout{10};
constexpr std::size_t kMaxResponseBytes = 64 * 1024 + kMaxOutputBytes;  // headers + captured body

struct Target {
  bool tls = false;
  std::string host;
  std::string port;
  std::string request_path;  // path + query
};

bool parse_http_url(const std::string& url, Target& t, std::string& error) {
  http_parser_url u;
  http_parser_url_init(&u);
  if (http_parser_parse_url(url.data(), url.size(), 0, &u) != 0 || !(u.field_set & (1 << UF_HOST))) {
    error = "invalid URL " + url;
    return false;
  }
  auto part = [&](int f) { return url.substr(u.field_data[f].off, u.field_data[f].len); };
  std::string schema = (u.field_set & (1 << UF_SCHEMA)) ? part(UF_SCHEMA) : "http";
  if (schema != "http" && schema != "https") {
    error = "HTTP check " + url + ": unsupported scheme " + schema + "://";
    return false;
  }
  t.tls = schema == "https";
  t.host = part(UF_HOST);
  t.port = (u.field_set & (1 << UF_PORT)) ? part(UF_PORT) : (t.tls ? "443" : "80");
  t.request_path = (u.field_set & (1 << UF_PATH)) ? part(UF_PATH) : "/";
  if (u.field_set & (1 << UF_QUERY)) t.request_path += "?" + part(UF_QUERY);
  return true;
}

bool split_host_port(const std::string& addr, Target& t) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == addr.size()) return false;
  t.host = addr.substr(0, colon);
  if (t.host.size() > 2 && t.host.front() == '[' && t.host.back() == ']') t.host = t.host.substr(1, t.host.size() - 2);
  t.port = addr.substr(colon + 1);
  return true;
}

class NetCheck : public CheckRun {
 public:
  NetCheck(uv_loop_t* loop, const catalog::CheckSpec& spec, Done done, bool http)
      : CheckRun(loop, std::move(done)), spec_(spec), http_(http) {}

  void start() {
    keep_alive();
    std::string error;
    if (http_ ? !parse_http_url(spec_.http, target_, error) : !split_host_port(spec_.tcp, target_)) {
      if (error.empty()) error = "invalid TCP address " + spec_.tcp;
      // Report on the next loop turn: results always arrive asynchronously.
      pending_error_ = error;
    }
    method_ = spec_.method.empty() ? "GET" : spec_.method;
    timer_ = new_handle();
    if (const int rc = uv_timer_init(loop_, &timer_->timer); !initialised(timer_, rc)) start_failed("uv_timer_init", rc);
    timer_->handle.data = this;
    auto timeout = spec_.timeout.count() > 0 ? spec_.timeout : catalog::Duration(kDefaultTimeout);
    timeout_text_ = catalog::format_go_duration(timeout);
    if (!pending_error_.empty()) {
      const int rc = uv_timer_start(&timer_->timer, [](uv_timer_t* t) {
        guard_callback("check", [self = static_cast<NetCheck*>(t->data)] {
          self->finish({HealthStatus::critical, self->pending_error_});
        });
      }, 0, 0);
      if (rc != 0) start_failed("uv_timer_start", rc);
      return;
    }
    const int started = uv_timer_start(&timer_->timer, [](uv_timer_t* t) {
      guard_callback("check", [self = static_cast<NetCheck*>(t->data)] { self->fail("timeout after " + self->timeout_text_); });
    }, static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()), 0);
    if (started != 0) start_failed("uv_timer_start", started);

    resolver_ = new uv_getaddrinfo_t{};
    resolver_->data = this;
    resolving_ = shared_from_this();  // the request's callback always runs, even after cancel
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    int rc = uv_getaddrinfo(loop_, resolver_, on_resolved, target_.host.c_str(), target_.port.c_str(), &hints);
    if (rc != 0) {
      delete resolver_;
      resolver_ = nullptr;
      resolving_.reset();
      fail(std::string("lookup ") + target_.host + ": " + uv_strerror(rc));
    }
  }

 private:
  std::string what() const {
    return http_ ? "HTTP " + method_ + " " + spec_.http : "TCP connect " + spec_.tcp;
  }
  void fail(const std::string& reason) { finish({HealthStatus::critical, what() + ": " + reason}); }

  static void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
    guard_callback("check lookup", [req, status, res] { resolved(req, status, res); });
  }
  static void resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
    auto* self = static_cast<NetCheck*>(req->data);
    auto keep = std::move(self->resolving_);
    delete req;
    self->resolver_ = nullptr;
    if (self->finished()) {
      uv_freeaddrinfo(res);
      return;
    }
    if (status != 0 || !res) {
      uv_freeaddrinfo(res);
      self->fail(std::string("lookup ") + self->target_.host + ": " + uv_strerror(status));
      return;
    }
    self->tcp_ = self->new_handle();
    if (const int rc = uv_tcp_init(self->loop_, &self->tcp_->tcp); !self->initialised(self->tcp_, rc)) {
      uv_freeaddrinfo(res);
      return self->fail(std::string("connect: uv_tcp_init: ") + uv_strerror(rc));
    }
    self->tcp_->handle.data = self;
    self->connect_req_.data = self;
    int rc = uv_tcp_connect(&self->connect_req_, &self->tcp_->tcp, res->ai_addr, on_connected);
    uv_freeaddrinfo(res);
    if (rc != 0) self->fail(std::string("connect: ") + uv_strerror(rc));
  }

  static void on_connected(uv_connect_t* req, int status) {
    guard_callback("check connect", [req, status] {
      auto* self = static_cast<NetCheck*>(req->data);
      if (self->finished()) return;
      if (status != 0) return self->fail(std::string("connect: ") + uv_strerror(status));
      if (!self->http_) return self->finish({HealthStatus::passing, self->what() + ": Success"});
      self->send_request();
    });
  }

  void send_request() {
    request_ = method_ + " " + target_.request_path + " HTTP/1.1\r\n";
    bool has_host = false, has_agent = false, has_accept = false;
    for (const auto& [name, values] : spec_.header) {
      std::string lower = name;
      for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      has_host |= lower == "host";
      has_agent |= lower == "user-agent";
      has_accept |= lower == "accept";
      for (const auto& v : values) request_ += name + ": " + v + "\r\n";
    }
    const std::string default_port = target_.tls ? "443" : "80";
    if (!has_host) request_ += "Host: " + target_.host + (target_.port == default_port ? "" : ":" + target_.port) + "\r\n";
    if (!has_agent) request_ += "User-Agent: Consul Health Check\r\n";
    if (!has_accept) request_ += "Accept: text/plain, text/*, */*\r\n";
    request_ += "Connection: close\r\nContent-Length: " + std::to_string(spec_.body.size()) + "\r\n\r\n" + spec_.body;

    if (target_.tls) {
      std::string error;
      tls_ = TlsSession::create(spec_.tls_server_name.empty() ? target_.host : spec_.tls_server_name,
                                spec_.tls_skip_verify, error);
      if (!tls_) return fail(error);
    } else {
      write_raw(request_);
    }
    const int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_->tcp),
                  [](uv_handle_t* h, std::size_t, uv_buf_t* b) {
                    auto* s = static_cast<NetCheck*>(h->data);
                    *b = uv_buf_init(s->read_buf_, sizeof(s->read_buf_));
                  },
                  [](uv_stream_t* st, ssize_t n, const uv_buf_t* b) {
                    guard_callback("check read", [st, n, b] {
                      auto* s = static_cast<NetCheck*>(st->data);
                      if (s->finished()) return;
                      if (n > 0) {
                        s->on_bytes(b->base, static_cast<std::size_t>(n));
                      } else if (n < 0) {
                        // Servers often close without a TLS close_notify: the bytes so far decide.
                        if (n == UV_EOF) s->complete_response();
                        else s->fail(std::string("read: ") + uv_strerror(static_cast<int>(n)));
                      }
                    });
                  });
    if (rc != 0) return fail(std::string("read: ") + uv_strerror(rc));
    if (tls_) pump_tls();  // sends the ClientHello
  }

  void on_bytes(const char* data, std::size_t n) {
    if (!tls_) {
      response_.append(data, n);
      total_ += n;
      if (response_.size() >= kMaxResponseBytes) complete_response();
      return;
    }
    tls_->feed(data, n);
    pump_tls();
  }

  // Handshake, then the request, then whatever plaintext has arrived; ciphertext goes out.
  void pump_tls() {
    std::string error;
    if (!request_sent_) {
      TlsSession::Step step = tls_->handshake(error);
      if (step == TlsSession::Step::failed) return fail(error);
      if (step == TlsSession::Step::established) {
        if (!tls_->write(request_, error)) return fail(error);
        request_sent_ = true;
      }
    }
    bool closed = false;
    if (request_sent_) {
      const std::size_t before = response_.size();
      if (!tls_->read(response_, closed, error)) return fail(error);
      total_ += response_.size() - before;
    }
    std::string out = tls_->take_outgoing();
    if (!out.empty()) write_raw(std::move(out));
    if (closed || response_.size() >= kMaxResponseBytes) complete_response();
  }

  // Each write owns its bytes until libuv is done with them.
  void write_raw(std::string data) {
    struct Write {
      uv_write_t req;
      std::string data;
      NetCheck* check;
    };
    auto* w = new Write{{}, std::move(data), this};
    w->req.data = w;
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_->tcp), &buf, 1, [](uv_write_t* req, int st) {
      std::unique_ptr<Write> owned(static_cast<Write*>(req->data));
      guard_callback("check write", [&owned, st] {
        if (!owned->check->finished() && st != 0) owned->check->fail(std::string("write: ") + uv_strerror(st));
      });
    });
    if (rc != 0) {
      delete w;
      fail(std::string("write: ") + uv_strerror(rc));
    }
  }

  // Maps the status line: 2xx passing, 429 warning, anything else critical.
  void complete_response() {
    auto line_end = response_.find("\r\n");
    int code = 0;
    if (response_.starts_with("HTTP/1.") && line_end != std::string::npos && line_end >= 12) {
      code = std::atoi(response_.c_str() + 9);
    }
    if (code < 100 || code > 999) return fail("malformed HTTP response");
    std::string status_line = response_.substr(9, line_end - 9);
    auto body_start = response_.find("\r\n\r\n");
    std::string body = body_start == std::string::npos ? "" : response_.substr(body_start + 4);
    std::size_t body_total = body_start == std::string::npos ? 0 : total_ - (body_start + 4);
    HealthStatus status = code >= 200 && code <= 299 ? HealthStatus::passing
                          : code == 429              ? HealthStatus::warning
                                                     : HealthStatus::critical;
    finish({status, cap_output(what() + ": " + status_line + " Output: " + body, body_total + what().size() + 32)});
  }

  void release() override {
    for (AnyHandle* h : {timer_, tcp_}) {
      if (h && !uv_is_closing(&h->handle)) uv_close(&h->handle, on_handle_closed);
    }
    if (resolver_) uv_cancel(reinterpret_cast<uv_req_t*>(resolver_));
  }

  catalog::CheckSpec spec_;
  bool http_;
  Target target_;
  std::string method_;
  std::string timeout_text_;
  std::string pending_error_;
  AnyHandle* timer_ = nullptr;
  AnyHandle* tcp_ = nullptr;
  uv_getaddrinfo_t* resolver_ = nullptr;
  std::shared_ptr<CheckRun> resolving_;
  uv_connect_t connect_req_{};
  std::unique_ptr<TlsSession> tls_;
  bool request_sent_ = false;
  std::string request_;
  std::string response_;
  std::size_t total_ = 0;
  char read_buf_[16384];
};

}  // namespace

std::shared_ptr<CheckRun> start_http_check(uv_loop_t* loop, const catalog::CheckSpec& spec, CheckRun::Done done) {
  auto run = std::make_shared<NetCheck>(loop, spec, std::move(done), true);
  run->start();
  return run;
}

std::shared_ptr<CheckRun> start_tcp_check(uv_loop_t* loop, const catalog::CheckSpec& spec, CheckRun::Done done) {
  auto run = std::make_shared<NetCheck>(loop, spec, std::move(done), false);
  run->start();
  return run;
}

}  // namespace hearsay::agent::checks
