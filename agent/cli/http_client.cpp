// Blocking client over POSIX sockets with a 10 s send/receive timeout; TLS through a
// loop::TlsSession whose ciphertext this file moves over the socket.
#include "agent/cli/http_client.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>

#include "loop/tls_context.h"
#include "loop/tls_session.h"

namespace hearsay::agent::cli {
namespace {

bool split_address(std::string address, bool& https, std::string& host, std::string& port) {
  if (address.starts_with("http://")) {
    https = false;
    address = address.substr(7);
  } else if (address.starts_with("https://")) {
    https = true;
    address = address.substr(8);
  }
  while (!address.empty() && address.back() == '/') address.pop_back();
  if (address.starts_with("[")) {
    auto close = address.find(']');
    if (close == std::string::npos || close + 2 > address.size() || address[close + 1] != ':') return false;
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
    return true;
  }
  auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    host = address;
    port = https ? "8501" : "8500";  // Consul's HTTPS and HTTP ports
  } else {
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  return !host.empty() && !port.empty();
}

bool send_all(int fd, const std::string& data, std::string& error) {
  for (std::size_t sent = 0; sent < data.size();) {
    ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      error = std::string("send: ") + std::strerror(errno);
      return false;
    }
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

// 0 at the end of the stream, -1 with `error` on failure, else bytes read into buf.
ssize_t receive(int fd, char* buf, std::size_t size, std::string& error) {
  ssize_t n = recv(fd, buf, size, 0);
  if (n < 0) error = std::string("receive: ") + std::strerror(errno);
  return n;
}

std::shared_ptr<const loop::TlsContext> client_context(const HttpTls& tls, const std::string& host, std::string& error) {
  loop::TlsClientSettings settings;
  settings.server_name = tls.server_name.empty() ? host : tls.server_name;
  if (tls.skip_verify) {
    settings.verify = loop::TlsVerify::none;
  } else if (tls.ca_file.empty() && tls.ca_path.empty()) {
    settings.verify = loop::TlsVerify::system;
  } else {
    settings.verify = loop::TlsVerify::ca;
    std::vector<std::string> files;
    if (!tls.ca_file.empty()) files.push_back(tls.ca_file);
    std::error_code ec;
    if (!tls.ca_path.empty()) {
      for (const auto& e : std::filesystem::directory_iterator(tls.ca_path, ec)) {
        if (e.is_regular_file()) files.push_back(e.path().string());
      }
    }
    for (const auto& f : files) {
      auto pem = loop::read_pem_file(f, error);
      if (!pem) return nullptr;
      settings.ca_pem += *pem + "\n";
    }
  }
  if (!tls.client_cert.empty() || !tls.client_key.empty()) {
    settings.identity = loop::load_identity(tls.client_cert, tls.client_key, error);
    if (!settings.identity) return nullptr;
  }
  auto ctx = loop::TlsContext::client(settings, error);
  if (!ctx) error = "TLS: " + error;
  return ctx;
}

// The request out and the whole response back (the agent closes: Connection: close).
bool exchange_plain(int fd, const std::string& request, std::string& response, std::string& error) {
  if (!send_all(fd, request, error)) return false;
  char buf[16384];
  for (;;) {
    ssize_t n = receive(fd, buf, sizeof(buf), error);
    if (n < 0) return false;
    if (n == 0) return true;
    response.append(buf, static_cast<std::size_t>(n));
  }
}

bool exchange_tls(int fd, loop::TlsSession& tls, const std::string& request, std::string& response, std::string& error) {
  char buf[16384];
  for (;;) {  // the handshake: each round sends what the session has and reads what it needs
    loop::TlsSession::Step step = tls.handshake(error);
    if (tls.has_outgoing() && !send_all(fd, tls.take_outgoing(), error)) return false;
    if (step == loop::TlsSession::Step::failed) return false;
    if (step == loop::TlsSession::Step::established) break;
    ssize_t n = receive(fd, buf, sizeof(buf), error);
    if (n <= 0) {
      if (n == 0) error = "the agent closed the connection during the TLS handshake (is it plain HTTP?)";
      return false;
    }
    tls.feed(buf, static_cast<std::size_t>(n));
  }
  if (!tls.write(request, error) || !send_all(fd, tls.take_outgoing(), error)) return false;
  for (;;) {
    auto result = tls.read([&](const char* d, std::size_t size) { response.append(d, size); }, error);
    if (result == loop::TlsSession::Read::failed) return false;
    if (result == loop::TlsSession::Read::peer_closed) return true;
    ssize_t n = receive(fd, buf, sizeof(buf), error);
    if (n < 0) return false;
    if (n == 0) return true;  // closed without close_notify: the response's length decides
    tls.feed(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace

std::optional<HttpReply> http_request(const std::string& address, const std::string& method, const std::string& path,
                                      const std::string& body, const HttpTls& tls, std::string& error,
                                      const std::string& token) {
  if (token.find_first_of("\r\n") != std::string::npos) {
    error = "the ACL token contains a line break";
    return std::nullopt;
  }
  std::string host, port;
  bool https = tls.https;
  if (!split_address(address, https, host, port)) {
    error = "invalid HTTP address \"" + address + "\"";
    return std::nullopt;
  }
  std::unique_ptr<loop::TlsSession> session;
  if (https) {
    auto ctx = client_context(tls, host, error);
    if (ctx) session = loop::TlsSession::create(ctx, "", error);
    if (!session) return std::nullopt;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    error = "cannot resolve " + host + ": " + gai_strerror(rc);
    return std::nullopt;
  }
  int fd = -1;
  for (addrinfo* ai = found; ai && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) continue;
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) {
    error = "cannot connect to the agent at " + address + ": " + std::strerror(errno) +
            " (is it running? set -http-addr or CONSUL_HTTP_ADDR)";
    return std::nullopt;
  }
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n" +
                        (token.empty() ? std::string() : "X-Consul-Token: " + token + "\r\n") +
                        "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  std::string response;
  const bool ok = session ? exchange_tls(fd, *session, request, response, error)
                          : exchange_plain(fd, request, response, error);
  close(fd);
  if (!ok) return std::nullopt;
  auto header_end = response.find("\r\n\r\n");
  if (!response.starts_with("HTTP/1.") || header_end == std::string::npos || response.size() < 12) {
    error = "malformed HTTP response from the agent";
    return std::nullopt;
  }
  HttpReply reply;
  reply.status = std::atoi(response.c_str() + 9);
  reply.body = response.substr(header_end + 4);
  return reply;
}

}  // namespace hearsay::agent::cli
