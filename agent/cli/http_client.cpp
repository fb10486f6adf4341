// Blocking client over POSIX sockets with a 10 s send/receive timeout.
#include "agent/cli/http_client.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>

namespace hearsay::agent::cli {
namespace {

bool split_address(std::string address, std::string& host, std::string& port) {
  if (address.starts_with("http://")) address = address.substr(7);
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
    port = "8500";
  } else {
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  return !host.empty() && !port.empty();
}

}  // namespace

std::optional<HttpReply> http_request(const std::string& address, const std::string& method, const std::string& path,
                                      const std::string& body, std::string& error) {
  std::string host, port;
  if (!split_address(address, host, port)) {
    error = "invalid HTTP address \"" + address + "\"";
    return std::nullopt;
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
                        "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  for (std::size_t sent = 0; sent < request.size();) {
    ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      error = std::string("send: ") + std::strerror(errno);
      close(fd);
      return std::nullopt;
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string response;
  char buf[16384];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0) {
      error = std::string("receive: ") + std::strerror(errno);
      close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    response.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
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
