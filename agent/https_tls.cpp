// https_tls_context (https_tls.h): files -> loop::TlsServerSettings -> loop::TlsContext.
#include "agent/https_tls.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <vector>

namespace hearsay::agent {
namespace {

// Every regular file of a CA directory, in name order, as one PEM bundle (Consul's ca_path).
bool read_ca_path(const std::string& dir, std::string& pem, std::string& error) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  if (ec) {
    error = "tls ca_path: cannot read " + dir + ": " + ec.message();
    return false;
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    auto text = loop::read_pem_file(f.string(), error);
    if (!text) return false;
    pem += *text + "\n";
  }
  return true;
}

}  // namespace

TlsFiles effective_https_tls(const AgentConfig& config) {
  TlsFiles out = config.tls_defaults;
  const TlsFiles& h = config.tls_https;
  if (h.ca_file) out.ca_file = h.ca_file;
  if (h.ca_path) out.ca_path = h.ca_path;
  if (h.cert_file) out.cert_file = h.cert_file;
  if (h.key_file) out.key_file = h.key_file;
  if (h.verify_incoming) out.verify_incoming = h.verify_incoming;
  return out;
}

std::shared_ptr<const loop::TlsContext> https_tls_context(const AgentConfig& config, std::string& error) {
  const TlsFiles files = effective_https_tls(config);
  loop::TlsServerSettings settings;
  settings.verify_incoming = files.verify_incoming.value_or(false);
  if (files.ca_file) {
    auto pem = loop::read_pem_file(*files.ca_file, error);
    if (!pem) {
      error = "tls ca_file: " + error;
      return nullptr;
    }
    settings.ca_pem = *pem;
  }
  if (files.ca_path && !read_ca_path(*files.ca_path, settings.ca_pem, error)) return nullptr;
  if (files.cert_file.has_value() != files.key_file.has_value()) {
    error = "tls: cert_file and key_file go together (one of them is missing)";
    return nullptr;
  }
  if (files.cert_file) {
    auto id = loop::load_identity(*files.cert_file, *files.key_file, error);
    if (!id) {
      error = "tls: " + error;
      return nullptr;
    }
    settings.identity = std::move(*id);
  } else if (config.dev) {
    // -dev: a throwaway certificate for this run; clients pin the fingerprint logged below.
    std::vector<std::string> ips{"127.0.0.1", "::1"};
    if (std::find(ips.begin(), ips.end(), config.client_addr) == ips.end() && config.client_addr != "0.0.0.0" &&
        config.client_addr != "::") {
      ips.push_back(config.client_addr);
    }
    auto id = loop::generate_self_signed({"localhost", config.node_name}, ips, 365, error);
    if (!id) return nullptr;
    settings.identity = std::move(*id);
  } else {
    error = "ports.https is set, but no certificate: set tls.defaults.cert_file and key_file (or use -dev)";
    return nullptr;
  }
  auto ctx = loop::TlsContext::server(settings, error);
  if (!ctx) {
    error = "tls (" + files.cert_file.value_or("generated certificate") + "): " + error;
    return nullptr;
  }
  spdlog::info("HTTPS certificate {}: SHA-256 fingerprint {}{}", files.cert_file.value_or("(generated, -dev)"),
               ctx->fingerprint(), settings.verify_incoming ? "; client certificates required" : "");
  return ctx;
}

}  // namespace hearsay::agent
