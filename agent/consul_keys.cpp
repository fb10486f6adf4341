// See consul_keys.h. Reasons are short: they end the warning "KEY is not used by hearsay (...)".
#include "agent/consul_keys.h"

#include <utility>

namespace hearsay::agent {
namespace {

constexpr std::string_view kNoServers = "no servers: every agent is equal";
constexpr std::string_view kNoAcl = "legacy ACL key: use the acl { } block";
constexpr std::string_view kNoTls = "no TLS listeners yet";
constexpr std::string_view kNoWan = "no WAN federation";
constexpr std::string_view kNoConnect = "no service mesh";
constexpr std::string_view kNoUi = "no web UI";
constexpr std::string_view kLogging = "logs go to stderr (journald under systemd)";
constexpr std::string_view kTuning = "Consul's server-side tuning";
constexpr std::string_view kOther = "not implemented";

constexpr std::pair<std::string_view, std::string_view> kIgnored[] = {
    // Servers, Raft, autopilot.
    {"server", kNoServers}, {"bootstrap", kNoServers}, {"bootstrap_expect", kNoServers},
    {"non_voting_server", kNoServers}, {"read_replica", kNoServers}, {"autopilot", kNoServers},
    {"raft_protocol", kNoServers}, {"raft_snapshot_threshold", kNoServers}, {"raft_snapshot_interval", kNoServers},
    {"raft_trailing_logs", kNoServers}, {"raft_logstore", kNoServers}, {"raft_boltdb", kNoServers},
    {"server_name", kNoServers}, {"server_rejoin_age_max", kNoServers}, {"session_ttl_min", kNoServers},
    {"primary_datacenter", kNoServers}, {"primary_gateways", kNoWan}, {"primary_gateways_retry_interval", kNoWan},
    {"ports.server", kNoServers}, {"segment", kNoServers}, {"segments", kNoServers}, {"config_entries", kNoServers},
    {"enable_central_service_config", kNoServers}, {"performance", kTuning}, {"protocol", kTuning},
    {"rpc", kTuning}, {"use_streaming_backend", kTuning}, {"cache", kTuning}, {"xds", kNoConnect},
    {"default_query_time", kTuning}, {"max_query_time", kTuning}, {"discovery_max_stale", kTuning},
    // Consul's pre-1.4 ACL keys; the acl { } block is read by config_file.cpp.
    {"acl_datacenter", kNoAcl}, {"acl_default_policy", kNoAcl}, {"acl_down_policy", kNoAcl},
    {"acl_master_token", kNoAcl}, {"acl_agent_master_token", kNoAcl}, {"acl_agent_token", kNoAcl},
    {"acl_token", kNoAcl}, {"acl_replication_token", kNoAcl}, {"acl_ttl", kNoAcl},
    {"acl_enforce_version_8", kNoAcl}, {"acl_enable_key_list_policy", kNoAcl}, {"enable_acl_replication", kNoAcl},
    // TLS that hearsay has no use for: tls {...}, ca_file, cert_file, key_file, verify_incoming(_https),
    // verify_outgoing, verify_server_hostname, tls_min_version, tls_cipher_suites and ports.https are read
    // by config_file.cpp's TLS block (the HTTPS listener).
    {"verify_incoming_rpc", kNoTls}, {"tls_prefer_server_cipher_suites", kNoTls}, {"auto_encrypt", kNoTls},
    {"auto_config", kNoTls}, {"enable_agent_tls_for_checks", kNoTls},
    {"addresses.https", kNoTls}, {"ports.grpc_tls", kNoTls}, {"addresses.grpc_tls", kNoTls},
    // WAN and mesh.
    {"advertise_addr_wan", kNoWan}, {"advertise_addr_wan_ipv4", kNoWan}, {"advertise_addr_wan_ipv6", kNoWan},
    {"advertise_addrs", kNoWan}, {"translate_wan_addrs", kNoWan}, {"serf_wan", kNoWan}, {"ports.serf_wan", kNoWan},
    {"retry_join_wan", kNoWan}, {"retry_interval_wan", kNoWan}, {"retry_max_wan", kNoWan},
    {"start_join_wan", kNoWan}, {"reconnect_timeout_wan", kNoWan}, {"gossip_wan", kNoWan},
    {"serf_wan_allowed_cidrs", kNoWan}, {"connect", kNoConnect}, {"ports.grpc", kNoConnect},
    {"addresses.grpc", kNoConnect}, {"ports.sidecar_min_port", kNoConnect}, {"ports.sidecar_max_port", kNoConnect},
    {"ports.expose_min_port", kNoConnect}, {"ports.expose_max_port", kNoConnect}, {"peering", kNoConnect},
    // UI, telemetry, logging.
    {"ui", kNoUi}, {"ui_config", kNoUi}, {"ui_dir", kNoUi}, {"ui_content_path", kNoUi},
    {"telemetry", "metrics are at /v1/agent/metrics"}, {"enable_syslog", kLogging}, {"syslog_facility", kLogging},
    {"log_file", kLogging}, {"log_rotate_bytes", kLogging}, {"log_rotate_duration", kLogging},
    {"log_rotate_max_files", kLogging},
    // Agent features hearsay does not have (yet).
    {"addresses", "HTTP and DNS listen on client_addr"}, {"http_config", kOther}, {"watches", kOther},
    {"unix_sockets", kOther}, {"disable_remote_exec", kOther}, {"disable_update_check", "it never checks"},
    {"disable_anonymous_signature", "it never checks for updates"}, {"disable_coordinates", kOther},
    {"disable_host_node_id", "the node ID is random, kept in the data dir"}, {"disable_keyring_file", kOther},
    {"disable_http_unprintable_char_filter", kOther}, {"rejoin_after_leave", "it joins its -join and -retry-join addresses at every start"},
    {"enable_debug", kOther}, {"check_update_interval", kOther}, {"discard_check_output", kOther},
    {"encrypt_verify_incoming", kOther}, {"encrypt_verify_outgoing", kOther}, {"pid_file", kOther},
    {"experiments", kOther}, {"license_path", kOther}, {"locality", kOther}, {"reporting", kOther},
    {"audit", kOther}, {"cloud", kOther}, {"auto_reload_config", "reload with SIGHUP or `hearsay reload`"},
    {"serf_lan_allowed_cidrs", kOther}, {"advertise_reconnect_timeout", kOther}, {"alt_domain", kOther},
    {"gossip_lan", "memberlist's LAN timings are fixed"}, {"serf_lan", "gossip binds to bind_addr"},
    {"advertise_addr_ipv4", "advertise_addr is the one address"}, {"advertise_addr_ipv6", "advertise_addr is the one address"},
    // Sub-keys of the blocks hearsay reads in part (dns_config, limits, ports).
    {"dns_config.allow_stale", "every answer is local"}, {"dns_config.max_stale", "every answer is local"},
    {"dns_config.use_cache", "every answer is local"}, {"dns_config.cache_max_age", "every answer is local"},
    {"dns_config.disable_compression", kOther}, {"dns_config.recursor_strategy", "recursors are tried in order"},
    {"dns_config.prefer_namespace", kOther},
    {"limits.rpc_max_conns_per_client", kNoServers}, {"limits.rpc_rate", kNoServers},
    {"limits.rpc_max_burst", kNoServers}, {"limits.https_handshake_timeout", kNoTls},
    {"limits.rpc_handshake_timeout", kNoServers}, {"limits.rpc_client_timeout", kNoServers},
    {"limits.kv_max_value_size", "no KV store"}, {"limits.txn_max_req_len", "no KV store"},
    {"limits.request_limits", kNoServers},
};

}  // namespace

std::optional<std::string_view> ignored_consul_key(std::string_view path) {
  for (const auto& [key, why] : kIgnored) {
    if (key == path) return why;
  }
  return std::nullopt;
}

}  // namespace hearsay::agent
