// HTTP and TCP checks (consul-compat.md 4.1): resolve, connect, and for HTTP send one request
// and read the status line and the body up to the check's output cap (4 KiB unless set).
// Default timeout 10 s. https:// is the same connection with loop/'s TLS layer: the system CA
// bundle, or none with TLSSkipVerify, and TLSServerName (else the URL's host) as the name
// checked, as Consul does.
// Redirects are followed as Go's http.Client (so Consul) follows them: at most 10, 301/302/303
// turning the request into a GET without a body, 307/308 keeping both; not with DisableRedirects.
#include <http_parser.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
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
constexpr std::size_t kMaxHeaderBytes = 64 * 1024;  // read beyond the output cap: the headers
constexpr int kMaxRedirects = 10;  // Go's http.Client default policy

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

// The redirect's target: an absolute URL, "//host/path", "/path", or a path relative to the
// current one (RFC 3986 section 5.2, the cases servers send).
std::string resolve_location(const Target& from, const std::string& location) {
  if (location.starts_with("http://") || location.starts_with("https://")) return location;
  const std::string scheme = from.tls ? "https:" : "http:";
  if (location.starts_with("//")) return scheme + location;
  const std::string origin = scheme + "//" + from.host + ":" + from.port;
  if (location.starts_with("/")) return origin + location;
  std::string dir = from.request_path.substr(0, from.request_path.find('?'));
  dir = dir.substr(0, dir.rfind('/') + 1);
  return origin + (dir.empty() ? "/" : dir) + location;
}

// The value of a response header (case-insensitive name), or "".
std::string header_value(const std::string& response, const std::string& name) {
  const std::size_t end = response.find("\r\n\r\n");
  std::size_t pos = response.find("\r\n");
  while (pos != std::string::npos && pos < end) {
    const std::size_t next = response.find("\r\n", pos + 2);
    const std::string line = response.substr(pos + 2, next - pos - 2);
    const std::size_t colon = line.find(':');
    if (colon == name.size() && std::equal(name.begin(), name.end(), line.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      const std::size_t start = line.find_first_not_of(" \t", colon + 1);
      return start == std::string::npos ? "" : line.substr(start, line.find_last_not_of(" \t") - start + 1);
    }
    pos = next;
  }
  return "";
}

class NetCheck : public CheckRun {
 public:
  NetCheck(uv_loop_t* loop, const catalog::CheckSpec& spec, Done done, bool http, int redirects_left = kMaxRedirects)
      : CheckRun(loop, std::move(done)), spec_(spec), http_(http), redirects_left_(redirects_left) {}

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
          if (!done_here()) on_bytes(data, n);
        },
        .read_end = [this](int status) {
          if (done_here()) return;
          // Servers often close without a TLS close_notify: the bytes so far decide.
          if (status == UV_EOF) complete_response();
          else fail(std::string("read: ") + uv_strerror(status));
        },
        .connected = [this](int status) { on_connected(status); },
        .timer = [this] {
          if (done_here()) return;
          if (!pending_error_.empty()) return finish({HealthStatus::critical, pending_error_});
          fail("timeout after " + timeout_text_);
        },
        .failed = [this](const char* operation, int status) {
          if (!done_here()) fail(std::string(operation) + ": " + uv_strerror(status));
        },
        .tls_failed = [this](const std::string& why) {
          if (!finished()) fail(why);
        },
        .closed = [this] {
          if (!done_here()) fail("connection closed");  // a callback threw: still report
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
  // Reported, or handed to the redirect's run: this hop's connection has nothing more to say.
  bool done_here() const { return finished() || next_ != nullptr; }

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
    if (response_.size() >= kMaxHeaderBytes + output_limit(spec_)) complete_response();
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
    if ((code == 301 || code == 302 || code == 303 || code == 307 || code == 308) && !spec_.disable_redirects) {
      if (const std::string location = header_value(response_, "Location"); !location.empty()) return redirect(code, location);
    }
    HealthStatus status = code >= 200 && code <= 299 ? HealthStatus::passing
                          : code == 429              ? HealthStatus::warning
                                                     : HealthStatus::critical;
    finish({status, cap_output(what() + ": " + status_line + " Output: " + body, body_total + what().size() + 32,
                               output_limit(spec_))});
  }

  // The next request of the chain runs as a run of its own; its result is this run's.
  void redirect(int code, const std::string& location) {
    if (redirects_left_ == 0) return fail("stopped after " + std::to_string(kMaxRedirects) + " redirects");
    catalog::CheckSpec next = spec_;
    next.http = resolve_location(target_, location);
    if (code != 307 && code != 308) {
      if (method_ != "HEAD") next.method = "GET";
      next.body.clear();
    }
    conn_->close();  // done with this hop's connection
    next_ = std::make_shared<NetCheck>(loop_, next, [self = shared_from_this()](CheckResult r) {
      static_cast<NetCheck*>(self.get())->finish(std::move(r));
    }, true, redirects_left_ - 1);
    next_->start();
  }

  void release() override {
    if (conn_) conn_->close();
    if (resolver_) uv_cancel(reinterpret_cast<uv_req_t*>(resolver_));
    if (next_) next_->cancel();  // stopped mid-chain: the later hop reports nothing either
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
  int redirects_left_;
  std::shared_ptr<NetCheck> next_;  // the redirect being followed
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
