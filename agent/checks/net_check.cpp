// HTTP and TCP checks (consul-compat.md 4.1): resolve, connect, and for HTTP send one request
// and read the status line and up to 4 KiB of body. Default timeout 10 s. https:// is the same
// connection with loop/'s TLS layer: the system CA bundle, or none with TLSSkipVerify, and
// TLSServerName (else the URL's host) as the name checked, as Consul does.
#include <http_parser.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "agent/checks/check_run.h"
#include "catalog/duration.h"
#include "loop/address.h"
#include "loop/connection.h"
#include "loop/tls_context.h"

namespace hearsay::agent::checks {
namespace {

using catalog::HealthStatus;
constexpr std::chrono::seconds kDefaultTimeout{10};
constexpr std::size_t kReadSize = 16384;
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

// One client context per kind, made at the first HTTPS check: loading the system bundle and
// seeding a random generator are too slow to repeat per run. nullptr with `error` if it failed.
std::shared_ptr<const loop::TlsContext> check_tls_context(bool skip_verify, std::string& error) {
  static std::shared_ptr<const loop::TlsContext> verified, unverified;
  std::shared_ptr<const loop::TlsContext>& ctx = skip_verify ? unverified : verified;
  if (!ctx) ctx = loop::TlsContext::client({.verify = skip_verify ? loop::TlsVerify::none : loop::TlsVerify::system}, error);
  return ctx;
}

bool split_host_port(const std::string& addr, Target& t) {
  auto parts = loop::split_host_port(addr);
  if (!parts) return false;
  t.host = std::move(parts->host);
  t.port = std::move(parts->port);
  return true;
}

class NetCheck : public CheckRun {
 public:
  NetCheck(uv_loop_t* loop, const catalog::CheckSpec& spec, Done done, bool http)
      : CheckRun(loop, std::move(done)), spec_(spec), http_(http) {}

  void start() {
    std::string error;
    if (http_ ? !parse_http_url(spec_.http, target_, error) : !split_host_port(spec_.tcp, target_)) {
      if (error.empty()) error = "invalid TCP address " + spec_.tcp;
      // Report on the next loop turn: results always arrive asynchronously.
      pending_error_ = error;
    }
    method_ = spec_.method.empty() ? "GET" : spec_.method;
    loop::Connection::Options options{.name = "check", .read_size = kReadSize};
    if (pending_error_.empty() && target_.tls) {
      options.tls = check_tls_context(spec_.tls_skip_verify, pending_error_);
      options.tls_server_name = spec_.tls_server_name.empty() ? target_.host : spec_.tls_server_name;
      options.tls_handshake_timeout_ms = 24 * 3600 * 1000;  // the check's own timeout bounds it
    }
    int rc = 0;
    conn_ = loop::Connection::create(loop_, std::move(options), &rc);
    if (!conn_) return finish({HealthStatus::critical, what() + ": " + uv_strerror(rc)});
    keep_alive();
    count_open();
    conn_->set_callbacks({
        .read = [this](const char* data, std::size_t n) {
          if (!finished()) on_bytes(data, n);
        },
        .read_end = [this](int status) {
          if (finished()) return;
          // Servers often close without a TLS close_notify: the bytes so far decide.
          if (status == UV_EOF) complete_response();
          else fail(std::string("read: ") + uv_strerror(status));
        },
        .connected = [this](int status) { on_connected(status); },
        .timer = [this] {
          if (!pending_error_.empty()) return finish({HealthStatus::critical, pending_error_});
          fail("timeout after " + timeout_text_);
        },
        .failed = [this](const char* operation, int status) {
          if (!finished()) fail(std::string(operation) + ": " + uv_strerror(status));
        },
        .tls_failed = [this](const std::string& why) {
          if (!finished()) fail(why);
        },
        .closed = [this] {
          if (!finished()) fail("connection closed");  // a callback threw: still report
          handle_closed();
        },
    });
    auto timeout = spec_.timeout.count() > 0 ? spec_.timeout : catalog::Duration(kDefaultTimeout);
    timeout_text_ = catalog::format_go_duration(timeout);
    if (!pending_error_.empty()) return conn_->start_timer(0);
    conn_->start_timer(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()));

    resolver_ = new uv_getaddrinfo_t{};
    resolver_->data = this;
    resolving_ = shared_from_this();  // the request's callback always runs, even after cancel
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    rc = uv_getaddrinfo(loop_, resolver_, on_resolved, target_.host.c_str(), target_.port.c_str(), &hints);
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
    auto* self = static_cast<NetCheck*>(req->data);
    auto keep = std::move(self->resolving_);
    delete req;
    self->resolver_ = nullptr;
    try {
      if (self->finished()) {
        uv_freeaddrinfo(res);
        return;
      }
      if (status != 0 || !res) {
        uv_freeaddrinfo(res);
        self->fail(std::string("lookup ") + self->target_.host + ": " + uv_strerror(status));
        return;
      }
      int rc = self->conn_->connect(res->ai_addr);
      uv_freeaddrinfo(res);
      if (rc != 0) self->fail(std::string("connect: ") + uv_strerror(rc));
    } catch (const std::exception& e) {
      spdlog::error("check lookup: {}", e.what());
      self->fail("internal error");
    }
  }

  void on_connected(int status) {
    if (finished()) return;
    if (status != 0) return fail(std::string("connect: ") + uv_strerror(status));
    if (!http_) return finish({HealthStatus::passing, what() + ": Success"});
    send_request();
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

    conn_->write(request_);  // with TLS: sealed once the handshake is done
    if (int rc = conn_->start_reading(); rc != 0) return fail(std::string("read: ") + uv_strerror(rc));
  }

  void on_bytes(const char* data, std::size_t n) {
    response_.append(data, n);
    total_ += n;
    if (response_.size() >= kMaxResponseBytes) complete_response();
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
    if (conn_) conn_->close();
    if (resolver_) uv_cancel(reinterpret_cast<uv_req_t*>(resolver_));
  }

  catalog::CheckSpec spec_;
  bool http_;
  Target target_;
  std::string method_;
  std::string timeout_text_;
  std::string pending_error_;
  std::shared_ptr<loop::Connection> conn_;  // the socket and the timeout's timer
  uv_getaddrinfo_t* resolver_ = nullptr;
  std::shared_ptr<CheckRun> resolving_;
  std::string request_;
  std::string response_;
  std::size_t total_ = 0;
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
