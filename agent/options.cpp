// `agent [flags]`: Consul's flag names, parsed with cxxopts after single-dash rewriting.
#include "agent/options.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <sstream>
#include <cxxopts.hpp>

#include "agent/config_file.h"
#include "agent/identity.h"
#include "agent/join_address.h"
#include "catalog/duration.h"
#include "dns/forwarder_uv.h"
#include "gossip/wire/address.h"
#include "gossip/wire/keyring.h"

namespace hearsay::agent {
namespace {

cxxopts::Options make_options() {
  cxxopts::Options opts("hearsay agent", "hearsay agent: gossip-based service registry with a Consul-compatible API.\n"
                                 "Flags take one dash or two (-data-dir or --data-dir).");
  opts.custom_help("[flags]  |  hearsay <members|services|catalog|leave|reload|validate> ... (see `hearsay help`)");
  opts.add_options()
      ("node", "Name of this node; must be unique in the cluster (default: host name)", cxxopts::value<std::string>())
      ("node-id", "UUID of this node (default: generated once and kept in the data dir)", cxxopts::value<std::string>())
      ("datacenter", "Datacenter of this agent", cxxopts::value<std::string>()->default_value("dc1"))
      ("data-dir", "Directory for the SQLite catalog and local registrations (required unless -dev)",
       cxxopts::value<std::string>())
      ("bind", "Address to bind gossip to (an IP or a template such as {{ GetPrivateIP }})", cxxopts::value<std::string>()->default_value("0.0.0.0"))
      ("advertise", "Address to advertise to other nodes (default: the bind address when it is not 0.0.0.0)",
       cxxopts::value<std::string>())
      ("client", "Address(es) the HTTP and DNS interfaces listen on (space-separated; templates work)", cxxopts::value<std::string>()->default_value("127.0.0.1"))
      ("http-port", "HTTP API port", cxxopts::value<int>()->default_value("8500"))
      ("https-port", "HTTPS API port (-1: off); needs tls.defaults.cert_file and key_file, or -dev",
       cxxopts::value<int>()->default_value("-1"))
      ("dns-port", "DNS port (UDP and TCP)", cxxopts::value<int>()->default_value("8600"))
      ("domain", "DNS domain the agent answers for", cxxopts::value<std::string>()->default_value("consul."))
      ("recursor", "Upstream DNS server (ip or ip:port) for names outside the domain (repeatable)",
       cxxopts::value<std::vector<std::string>>())
      ("dns-only-passing", "DNS answers leave out instances with warning checks too (dns_config.only_passing)")
      ("join", "Address of an agent to join at start (ip, host name, either with :port; repeatable)", cxxopts::value<std::vector<std::string>>())
      ("retry-join", "Address to join at start, retried with backoff until it succeeds (repeatable)",
       cxxopts::value<std::vector<std::string>>())
      ("retry-interval", "Longest wait between -retry-join attempts (Go duration)",
       cxxopts::value<std::string>()->default_value("30s"))
      ("retry-max", "Give up (and exit) after this many failed -retry-join attempts; 0 retries forever",
       cxxopts::value<unsigned>()->default_value("0"))
      ("encrypt", "Gossip encryption key: base64 of 16, 24 or 32 bytes (ignored once a keyring exists in the data dir)",
       cxxopts::value<std::string>())
      ("serf-lan-port", "Gossip port (UDP and TCP)", cxxopts::value<int>()->default_value("8301"))
      ("config-file", "Config file to load, JSON or HCL (repeatable)", cxxopts::value<std::vector<std::string>>())
      ("config-dir", "Directory of *.json and *.hcl config files to load (repeatable)",
       cxxopts::value<std::vector<std::string>>())
      ("log-level", "trace, debug, info, warn, error or off", cxxopts::value<std::string>()->default_value("info"))
      ("log-json", "Log one JSON object per line (for log shippers)")
      ("node-meta", "Node metadata key:value (repeatable)", cxxopts::value<std::vector<std::string>>())
      ("enable-script-checks", "Run script checks registered over the HTTP API")
      ("enable-local-script-checks", "Run script checks from config files")
      ("dev", "Development mode: data in a fresh temporary directory, nothing persists")
      ("check-deregister-min", "Lower bound of DeregisterCriticalServiceAfter (Go duration)",
       cxxopts::value<std::string>()->default_value("1m"))
      ("check-reap-interval", "How often critical services are checked for deregistration (Go duration)",
       cxxopts::value<std::string>()->default_value("30s"))
      ("reap-after", "Remove a failed node's records from the catalog after this long (Go duration)",
       cxxopts::value<std::string>()->default_value("72h"))
      ("tombstone-grace", "Keep catalog deletions this long for peers that missed them (Go duration)",
       cxxopts::value<std::string>()->default_value("24h"))
      ("sync-writes", "fsync every group commit (true/false)", cxxopts::value<bool>()->default_value("true"))
      ("relay-port", "Accept remote agents' sessions on this TLS port (-1: off; 8302 is the usual one)",
       cxxopts::value<int>()->default_value("-1"))
      ("relay-cert-file", "PEM certificate of the relay listener (-dev: a generated one)", cxxopts::value<std::string>())
      ("relay-key-file", "PEM key of the relay listener", cxxopts::value<std::string>())
      ("remote", "Be a remote agent: reach the cluster through this relay, host:port (repeatable); no gossip",
       cxxopts::value<std::vector<std::string>>())
      ("remote-token-file", "File holding the token this remote presents to relays", cxxopts::value<std::string>())
      ("remote-ca-file", "PEM CA bundle that signs the relays' certificates", cxxopts::value<std::string>())
      ("remote-fingerprint", "SHA-256 fingerprint of the relay certificate to pin (instead of a CA)",
       cxxopts::value<std::string>())
      ("remote-keepalive", "How often a remote session pings when idle (Go duration)",
       cxxopts::value<std::string>()->default_value("5s"))
      ("remote-grace", "A remote no relay holds a session with stays passing this long (Go duration)",
       cxxopts::value<std::string>()->default_value("45s"))
      ("remote-lease", "... and its records stay this long, 1m to 24h (Go duration)",
       cxxopts::value<std::string>()->default_value("15m"))
      ("h,help", "Show this help");
  return opts;
}

std::vector<std::string> long_names_of(const cxxopts::Options& opts) {
  std::vector<std::string> names;
  for (const auto& group : opts.groups()) {
    for (const auto& option : opts.group_help(group).options) names.push_back(option.l.empty() ? "" : option.l.front());
  }
  return names;
}

std::chrono::milliseconds duration_flag(const cxxopts::ParseResult& r, const std::string& name) {
  const std::string text = r[name].as<std::string>();
  auto d = catalog::parse_go_duration(text);
  if (!d || d->count() <= 0) throw ConfigError("-" + name + ": invalid duration \"" + text + "\"");
  return std::chrono::duration_cast<std::chrono::milliseconds>(*d);
}

bool is_ip_literal(const std::string& text) {
  unsigned char buf[16];
  return inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "hearsay";
  std::string name(buf);
  return name.substr(0, name.find('.'));  // short name, as Consul's default
}

// cxxopts says "Argument 'abc' failed to parse" without the flag: find the flag that got it.
std::string name_bad_value(const std::vector<std::string>& args, const std::string& message) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto eq = a.find('=');
    if (a.starts_with("--") && eq != std::string::npos && message.find("\u2018" + a.substr(eq + 1) + "\u2019") != std::string::npos) {
      return "-" + a.substr(2, eq - 2) + ": invalid value \"" + a.substr(eq + 1) + "\"";
    }
    if (i > 0 && args[i - 1].starts_with("--") && message.find("\u2018" + a + "\u2019") != std::string::npos) {
      return "-" + args[i - 1].substr(2) + ": invalid value \"" + a + "\"";
    }
  }
  return message;
}

// A DNS domain: labels of 1-63 letters, digits, '-' or '_', 253 characters at most.
void validate_domain(const std::string& domain) {
  std::string d = domain.ends_with(".") ? domain.substr(0, domain.size() - 1) : domain;
  bool ok = !d.empty() && d.size() <= 253;
  std::size_t label = 0;
  for (char ch : d) {
    if (ch == '.') {
      ok = ok && label > 0;
      label = 0;
    } else {
      ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_') && ++label <= 63;
    }
  }
  if (!ok || label == 0) throw ConfigError("-domain: \"" + domain + "\" is not a valid DNS domain");
}

// Remote mode's flags hang together (issue 16): a remote joins no gossip and always verifies
// its relays; a relay's listener needs a certificate.
void validate_remote(const AgentConfig& c) {
  const RemoteConfig& r = c.remote;
  if (r.relay_port != -1 && (r.relay_port < 1 || r.relay_port > 65535)) {
    throw ConfigError("-relay-port: invalid port " + std::to_string(r.relay_port));
  }
  if (r.relay_cert_file.has_value() != r.relay_key_file.has_value()) {
    throw ConfigError("-relay-cert-file and -relay-key-file go together (one of them is missing)");
  }
  if (r.relay_port != -1 && !r.relay_cert_file && !c.dev) {
    throw ConfigError("-relay-port: needs -relay-cert-file and -relay-key-file (or -dev, which generates a pair)");
  }
  if (r.lease < std::chrono::minutes(1) || r.lease > std::chrono::hours(24)) {
    throw ConfigError("-remote-lease: must be between 1m and 24h");
  }
  if (!r.remote()) return;
  for (const auto& relay : r.relays) {
    if (!parse_join_address(relay, 8302)) throw ConfigError("-remote: \"" + relay + "\" is not host:port");
  }
  if (!c.join.empty() || !c.retry_join.empty()) {
    throw ConfigError("-remote: a remote agent joins no gossip; -join and -retry-join do not go with it");
  }
  if (r.relay_port != -1) throw ConfigError("-remote: a remote agent cannot be a relay (-relay-port)");
  if (r.ca_file.empty() == r.fingerprint.empty()) {
    throw ConfigError("-remote: give exactly one of -remote-ca-file and -remote-fingerprint (the relay's certificate is "
                      "always verified)");
  }
}

}  // namespace

std::vector<std::string> normalize_single_dash(const std::vector<std::string>& args,
                                               const std::vector<std::string>& long_names) {
  std::vector<std::string> out;
  out.reserve(args.size());
  bool expecting_value = false;  // the previous argument was a known option that takes a value
  for (const std::string& arg : args) {
    const bool flag_like = arg.size() > 2 && arg[0] == '-' && arg[1] != '-' && std::isalpha(static_cast<unsigned char>(arg[1]));
    std::string name = arg.substr(1, arg.find('=') == std::string::npos ? std::string::npos : arg.find('=') - 1);
    const bool known = std::find(long_names.begin(), long_names.end(), name) != long_names.end();
    // Known long names always; unknown flag-like words too (so the error names them), unless
    // they stand where a value is expected.
    if (flag_like && (known || !expecting_value)) {
      out.push_back("-" + arg);
      expecting_value = known && arg.find('=') == std::string::npos;
      continue;
    }
    expecting_value = arg.starts_with("--") && arg.find('=') == std::string::npos;
    out.push_back(arg);
  }
  return out;
}

void validate(const AgentConfig& c) {
  auto check_port = [](const char* name, int port) {
    if (port < 0 || port > 65535) throw ConfigError(std::string(name) + ": invalid port " + std::to_string(port));
  };
  check_port("-http-port", c.http_port);
  if (c.https_port != -1) check_port("-https-port", c.https_port);
  if (c.dns_port != -1) check_port("-dns-port", c.dns_port);  // -1: no DNS interface, as Consul
  validate_domain(c.dns.domain);
  for (const auto& j : c.join) {
    if (!parse_join_address(j, 8301)) throw ConfigError("-join: \"" + j + "\" is not an address or host name (with an optional :port)");
  }
  for (const auto& j : c.retry_join) {
    if (!parse_join_address(j, 8301)) {
      throw ConfigError("-retry-join: \"" + j + "\" is not an address or host name (with an optional :port)");
    }
  }
  if (!c.encrypt.empty()) {
    std::string error;
    if (!gossip::decode_key(c.encrypt, error)) throw ConfigError("-encrypt: " + error);
  }
  for (const auto& recursor : c.recursors) {
    if (!dns::parse_recursor(recursor)) throw ConfigError("-recursor: \"" + recursor + "\" is not an IP address or IP:port");
  }
  check_port("-serf-lan-port", c.serf_lan_port);
  const std::vector<std::string> levels{"trace", "debug", "info", "warn", "error", "err", "critical", "off"};
  if (std::find(levels.begin(), levels.end(), c.log_level) == levels.end()) {
    throw ConfigError("-log-level: unknown level \"" + c.log_level + "\" (trace, debug, info, warn, error, off)");
  }
  const std::vector<std::string> clients = client_addresses(c);
  if (clients.empty()) throw ConfigError("-client: no address given");
  for (const auto& a : clients) {
    if (!is_ip_literal(a)) throw ConfigError("-client: \"" + a + "\" is not an IP address");
  }
  if (!is_ip_literal(c.bind_addr)) throw ConfigError("-bind: \"" + c.bind_addr + "\" is not an IP address");
  if (!c.advertise_addr.empty() && !is_ip_literal(c.advertise_addr)) {
    throw ConfigError("-advertise: \"" + c.advertise_addr + "\" is not an IP address");
  }
  if (c.node_name.empty()) throw ConfigError("-node: node name must not be empty");
  if (c.datacenter.empty() || c.datacenter.find_first_of(". ") != std::string::npos) {
    throw ConfigError("-datacenter: \"" + c.datacenter + "\" is not a valid datacenter name");
  }
  if (c.data_dir.empty() && !c.dev) throw ConfigError("-data-dir: required (or use -dev)");
  validate_remote(c);
  if (std::string error = acl::check_acl_config(c.acl); !error.empty()) throw ConfigError(error);
  if (auto err = catalog::validate_meta(c.node_meta)) throw ConfigError("-node-meta: " + *err);
}

std::vector<std::string> client_addresses(const AgentConfig& config) {
  std::vector<std::string> out;
  std::istringstream words(config.client_addr);
  for (std::string a; words >> a;) out.push_back(a);
  return out;
}

static void expand_address_templates(AgentConfig& c) {
  const bool any = c.bind_addr.find("{{") != std::string::npos || c.advertise_addr.find("{{") != std::string::npos ||
                   c.client_addr.find("{{") != std::string::npos;
  if (!any) return;
  const std::vector<InterfaceAddress> interfaces = host_interfaces();
  auto expand = [&](const char* flag, std::string& value) {
    std::string error;
    auto out = expand_address_template(value, interfaces, error);
    if (!out) throw ConfigError(std::string(flag) + ": " + error);
    value = *out;
  };
  expand("-bind", c.bind_addr);
  expand("-advertise", c.advertise_addr);
  expand("-client", c.client_addr);
}

ParsedCommandLine parse_agent_command_line(const std::vector<std::string>& args) {
  cxxopts::Options opts = make_options();
  std::vector<std::string> normalized = normalize_single_dash(args, long_names_of(opts));
  // `-sync-writes BOOL` (README.md): cxxopts gives a bool flag an implicit "true" and would leave
  // a separate "false" behind as a stray argument, so the value is joined to its flag here.
  for (std::size_t i = 0; i + 1 < normalized.size(); ++i) {
    const std::string& v = normalized[i + 1];
    if (normalized[i] == "--sync-writes" && (v == "true" || v == "false" || v == "1" || v == "0")) {
      normalized[i] += "=" + v;
      normalized.erase(normalized.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    }
  }
  std::vector<char*> argv;
  std::string program = "hearsay";
  argv.push_back(program.data());
  for (std::string& a : normalized) argv.push_back(a.data());
  ParsedCommandLine out;
  cxxopts::ParseResult r;
  try {
    r = opts.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const cxxopts::exceptions::incorrect_argument_type& e) {
    throw ConfigError(name_bad_value(normalized, e.what()));
  } catch (const cxxopts::exceptions::exception& e) {
    throw ConfigError(e.what());
  }
  if (!r.unmatched().empty()) throw ConfigError("unexpected argument \"" + r.unmatched().front() + "\"");
  if (r.count("help")) {
    out.show_help = true;
    out.help_text = opts.help();
    return out;
  }

  AgentConfig& c = out.config;
  // Files first, then flags given explicitly override them (Consul's precedence). Files and
  // directories apply in the order they were named, so the last one named wins.
  for (const cxxopts::KeyValue& kv : r.arguments()) {
    if (kv.key() == "config-file") apply_config_file(kv.value(), c);
    if (kv.key() == "config-dir") apply_config_dir(kv.value(), c);
  }
  try {
    if (r.count("node")) c.node_name = r["node"].as<std::string>();
    if (r.count("node-id")) c.node_id = r["node-id"].as<std::string>();
    if (r.count("datacenter")) c.datacenter = r["datacenter"].as<std::string>();
    if (r.count("data-dir")) c.data_dir = r["data-dir"].as<std::string>();
    if (r.count("bind")) c.bind_addr = r["bind"].as<std::string>();
    if (r.count("advertise")) c.advertise_addr = r["advertise"].as<std::string>();
    if (r.count("client")) c.client_addr = r["client"].as<std::string>();
    if (r.count("http-port")) c.http_port = r["http-port"].as<int>();
    if (r.count("https-port")) c.https_port = r["https-port"].as<int>();
    if (r.count("dns-port")) c.dns_port = r["dns-port"].as<int>();
    if (r.count("domain")) c.dns.domain = r["domain"].as<std::string>();
    if (r.count("recursor")) {
      for (const auto& rec : r["recursor"].as<std::vector<std::string>>()) c.recursors.push_back(rec);
    }
    if (r.count("dns-only-passing")) c.dns.only_passing = true;
    if (r.count("join")) {
      for (const auto& j : r["join"].as<std::vector<std::string>>()) c.join.push_back(j);
    }
    if (r.count("retry-join")) {
      for (const auto& j : r["retry-join"].as<std::vector<std::string>>()) c.retry_join.push_back(j);
    }
    if (r.count("retry-interval")) c.retry_interval = duration_flag(r, "retry-interval");
    if (r.count("retry-max")) c.retry_max = r["retry-max"].as<unsigned>();
    if (r.count("encrypt")) c.encrypt = r["encrypt"].as<std::string>();
    if (r.count("serf-lan-port")) c.serf_lan_port = r["serf-lan-port"].as<int>();
    if (r.count("log-level")) {
      c.log_level = r["log-level"].as<std::string>();
      for (char& ch : c.log_level) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    if (r.count("log-json")) c.log_json = true;
    if (r.count("enable-script-checks")) c.enable_script_checks = true;
    if (r.count("enable-local-script-checks")) c.enable_local_script_checks = true;
    if (r.count("dev")) c.dev = true;
    if (r.count("sync-writes")) c.sync_writes = r["sync-writes"].as<bool>();
    if (r.count("node-meta")) {
      for (const auto& kv : r["node-meta"].as<std::vector<std::string>>()) {
        auto colon = kv.find(':');
        if (colon == std::string::npos) throw ConfigError("-node-meta: \"" + kv + "\" is not key:value");
        c.node_meta[kv.substr(0, colon)] = kv.substr(colon + 1);
      }
    }
    c.deregister_critical_min = duration_flag(r, "check-deregister-min");
    c.check_reap_interval = duration_flag(r, "check-reap-interval");
    if (r.count("reap-after")) c.reap_after = duration_flag(r, "reap-after");
    if (r.count("tombstone-grace")) c.tombstone_grace = duration_flag(r, "tombstone-grace");
    if (r.count("relay-port")) c.remote.relay_port = r["relay-port"].as<int>();
    if (r.count("relay-cert-file")) c.remote.relay_cert_file = r["relay-cert-file"].as<std::string>();
    if (r.count("relay-key-file")) c.remote.relay_key_file = r["relay-key-file"].as<std::string>();
    if (r.count("remote")) {
      for (const auto& relay : r["remote"].as<std::vector<std::string>>()) c.remote.relays.push_back(relay);
    }
    if (r.count("remote-token-file")) c.remote.token_file = r["remote-token-file"].as<std::string>();
    if (r.count("remote-ca-file")) c.remote.ca_file = r["remote-ca-file"].as<std::string>();
    if (r.count("remote-fingerprint")) c.remote.fingerprint = r["remote-fingerprint"].as<std::string>();
    c.remote.keepalive = duration_flag(r, "remote-keepalive");
    c.remote.grace = duration_flag(r, "remote-grace");
    c.remote.lease = duration_flag(r, "remote-lease");
  } catch (const cxxopts::exceptions::exception& e) {
    throw ConfigError(e.what());
  }
  if (c.node_name.empty()) c.node_name = host_name();
  expand_address_templates(c);
  validate(c);
  return out;
}

}  // namespace hearsay::agent
