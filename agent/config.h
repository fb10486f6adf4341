// The agent's runtime configuration: Consul-named settings from flags and JSON config files
// (flags win over files, later files win over earlier ones, as in Consul's config builder).
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "acl/acl_config.h"
#include "catalog/definitions.h"
#include "dns/packet.h"
#include "dns/resolver.h"

namespace hearsay::agent {

// A bad flag or config value: the message names it. main() prints it and exits 2.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Connection limits for the TCP listeners (connection_limits.h). Consul's `limits` block;
// only http_max_conns_per_client is Consul's, the others are hearsay's.
struct LimitsConfig {
  std::size_t http_max_conns_per_client = 200;   // Consul's default; 0: no cap
  std::size_t dns_max_conns_per_client = 100;    // DNS over TCP; 0: no cap
  std::size_t serf_max_conns_per_client = 128;   // incoming gossip streams; 0: no cap
  // All listeners together; 0: from RLIMIT_NOFILE (default_max_connections).
  std::size_t max_connections = 0;
};

// Consul's TLS settings for one interface (issue 18): `tls { defaults {...} }`, the legacy
// top-level keys, and `tls { https {...} }`, whose fields win over the defaults'. Unset: not given.
struct TlsFiles {
  std::optional<std::string> ca_file;    // PEM bundle: CAs of client certificates (verify_incoming)
  std::optional<std::string> ca_path;    // a directory of PEM CA files, as ca_file
  std::optional<std::string> cert_file;  // PEM: the HTTPS certificate (chain)
  std::optional<std::string> key_file;   // PEM: its private key
  std::optional<bool> verify_incoming;   // require client certificates signed by those CAs
};

// Remote mode (issue 16, docs/remote-mode.md). A relay is a LAN agent with relay_port set; a
// remote is an agent with `relays` set, which then joins no gossip.
struct RemoteConfig {
  int relay_port = -1;  // -relay-port: the TLS listener for remote sessions; -1: off
  std::optional<std::string> relay_cert_file, relay_key_file;  // PEM; -dev makes a pair
  std::vector<std::string> relays;  // -remote host:port (repeatable): this agent is a remote
  std::string token;                // the secret (read from token_file at start and at reload)
  std::string token_file;
  std::string ca_file;              // the relays' CA, or:
  std::string fingerprint;          // the relay certificate's SHA-256 fingerprint (pinned)
  // Each side pings this often when idle; the session is given up after three silent ones (at
  // least 10 s). 5 s keeps an idle link under 100 B/s (a ping, its pong and an ACK cost ~250 B
  // with TLS and TCP/IP headers; at 2 s that alone was 130 B/s, bench/relay.sh).
  std::chrono::milliseconds keepalive{5000};
  std::chrono::milliseconds grace{45000};     // a remote no relay holds stays passing this long
  std::chrono::milliseconds lease{15 * 60 * 1000};  // and its records stay this long
  bool remote() const { return !relays.empty(); }
};

struct AgentConfig {
  std::string node_name;    // default: host name
  std::string node_id;      // UUID; default: generated once and kept in the data dir
  std::string datacenter = "dc1";
  std::string data_dir;     // required unless dev
  std::string bind_addr = "0.0.0.0";   // gossip bind address
  std::string advertise_addr;          // address other nodes use; default: first private IP or bind
  // HTTP and DNS listen address; Consul takes a space-separated list ("127.0.0.1 10.0.0.5"):
  // HTTP and DNS listen on each (client_addresses()). Templates are expanded by options.cpp.
  std::string client_addr = "127.0.0.1";
  int http_port = 8500;
  int https_port = -1;  // Consul's default: no HTTPS listener
  TlsFiles tls_defaults;
  TlsFiles tls_https;
  int dns_port = 8600;
  int serf_lan_port = 8301;
  std::string log_level = "info";
  bool log_json = false;  // one JSON object per log line (hclog's keys), for log shippers
  bool dev = false;
  // Script checks registered over HTTP run only when enabled (Consul enable_script_checks);
  // those from config files need enable_local_script_checks.
  bool enable_script_checks = false;
  bool enable_local_script_checks = false;
  // Consul's check_output_max_size: bytes of check output kept; a check's OutputMaxSize lowers it.
  int check_output_max_size = 4096;
  // hearsay's: script checks over HTTP even while the API listens beyond loopback without ACLs
  // (refused otherwise, acl_setup.h).
  bool enable_remote_script_checks = false;
  acl::AclConfig acl;  // the acl block: tokens and policies (acl/acl_config.h)
  catalog::StringMap node_meta;
  std::vector<catalog::ServiceDefinition> services;  // from config files
  std::vector<catalog::CheckDefinition> checks;      // from config files
  // Consul's check_deregister_interval_min (1 min) and check_reap_interval (30 s); tests shorten them.
  std::chrono::milliseconds deregister_critical_min{std::chrono::minutes(1)};
  std::chrono::milliseconds check_reap_interval{std::chrono::seconds(30)};
  // A failed node's records (critical meanwhile) leave the catalog after this long; Consul's
  // reconnect_timeout. Tests shorten it.
  std::chrono::milliseconds reap_after{std::chrono::hours(72)};
  // Deleted catalog records are remembered this long; a peer further behind gets full state.
  std::chrono::milliseconds tombstone_grace{std::chrono::hours(24)};
  // SQLite PRAGMA synchronous=FULL (fsync per group commit) unless off.
  bool sync_writes = true;
  // DNS (consul-compat.md 3.1): `domain`, `recursors` and `dns_config`. The agent fills in the
  // resolver's node name and datacenter. dns_port -1 disables the DNS interface.
  dns::ResolverConfig dns;
  dns::ServeConfig dns_serve;
  std::vector<std::string> recursors;  // "ip" or "ip:port"
  std::vector<std::string> join;       // gossip addresses to join at start ("ip" or "ip:port")
  // Joined at start and again with backoff until it works (retry_join.h).
  std::vector<std::string> retry_join;
  std::chrono::milliseconds retry_interval{std::chrono::seconds(30)};  // the backoff's cap
  unsigned retry_max = 0;                                              // 0: retry forever
  std::string encrypt;  // base64 gossip key; a keyring file in the data dir wins over it
  // Consul's client defaults: SIGTERM and SIGINT both leave the cluster gracefully first.
  bool leave_on_terminate = true;
  bool skip_leave_on_interrupt = false;
  std::chrono::milliseconds recursor_timeout{std::chrono::seconds(2)};
  LimitsConfig limits;
  RemoteConfig remote;
};

void validate(const AgentConfig& config);  // throws ConfigError

// client_addr split at whitespace, in order.
std::vector<std::string> client_addresses(const AgentConfig& config);

}  // namespace hearsay::agent
