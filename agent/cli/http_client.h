// A tiny blocking HTTP/1.1 client for the CLI subcommands: one request per connection to the
// local agent (127.0.0.1:8500 by default, or CONSUL_HTTP_ADDR, or -http-addr). An https://
// address speaks TLS (loop/tls_session.h driven over the blocking socket), verifying the agent
// against -ca-file / CONSUL_CACERT (else the system CAs), as Consul's CLI does.
#pragma once

#include <optional>
#include <string>

namespace hearsay::agent::cli {

struct HttpReply {
  int status = 0;
  std::string body;
};

// Consul's CLI TLS settings (flag / environment variable).
struct HttpTls {
  bool https = false;         // CONSUL_HTTP_SSL=true: https even without "https://"
  std::string ca_file;        // -ca-file / CONSUL_CACERT
  std::string ca_path;        // -ca-path / CONSUL_CAPATH: a directory of PEM CA files
  std::string client_cert;    // -client-cert / CONSUL_CLIENT_CERT (for verify_incoming)
  std::string client_key;     // -client-key / CONSUL_CLIENT_KEY
  std::string server_name;    // -tls-server-name / CONSUL_TLS_SERVER_NAME; default: the host
  bool skip_verify = false;   // CONSUL_HTTP_SSL_VERIFY=false
};

// "host:port", "http://host:port", "https://host:port" or "[v6]:port". nullopt with `error` set
// on failure. A non-empty `token` is sent as X-Consul-Token.
std::optional<HttpReply> http_request(const std::string& address, const std::string& method, const std::string& path,
                                      const std::string& body, const HttpTls& tls, std::string& error,
                                      const std::string& token = {});

}  // namespace hearsay::agent::cli
