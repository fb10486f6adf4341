// A config reload (SIGHUP, `hearsay reload`, PUT /v1/agent/reload), as Consul's: the command
// line is parsed again with its files; a file that does not parse or validate is refused with
// its message and nothing changes. Applied at once: the services and checks of the files, the
// log level, the script-check switches, the ACL tokens and policies (a remote's session whose
// token no longer allows it is closed), dns_config and domain, and the HTTPS certificate (read
// again from its files, so a certificate rotated in place is taken too). Everything else
// (addresses, ports, names, recursors, keys, limits) is fixed at start: a change to it is
// reported as waiting for a restart.
#include <spdlog/spdlog.h>

#include <utility>

#include "agent/acl_setup.h"
#include "agent/agent.h"
#include "agent/https_tls.h"
#include "agent/logging.h"

namespace hearsay::agent {
namespace {

// The settings a reload does not apply, with a way to compare them.
std::vector<std::string> restart_only_changes(const AgentConfig& a, const AgentConfig& b) {
  std::vector<std::string> out;
  auto note = [&](bool differs, const char* key) {
    if (differs) out.emplace_back(key);
  };
  note(a.node_name != b.node_name, "node_name");
  note(a.datacenter != b.datacenter, "datacenter");
  note(a.data_dir != b.data_dir && !a.dev, "data_dir");
  note(a.bind_addr != b.bind_addr, "bind_addr");
  note(a.advertise_addr != b.advertise_addr, "advertise_addr");
  note(a.client_addr != b.client_addr, "client_addr");
  note(a.http_port != b.http_port || a.https_port != b.https_port || a.dns_port != b.dns_port ||
           a.serf_lan_port != b.serf_lan_port,
       "ports");
  note(a.check_output_max_size != b.check_output_max_size, "check_output_max_size");
  note(a.encrypt != b.encrypt, "encrypt");
  note(a.node_meta != b.node_meta, "node_meta");
  note(a.recursors != b.recursors || a.recursor_timeout != b.recursor_timeout, "recursors");
  note(a.log_json != b.log_json, "log_json");
  return out;
}

}  // namespace

http::OpResult Agent::reload() {
  if (!config_source_) return http::OpResult::fail(500, "this agent has no config files to reload");
  // systemd (Type=notify) waits for READY=1 again before it calls the reload done.
  notify_systemd("RELOADING=1");
  AgentConfig next;
  try {
    next = config_source_();
  } catch (const ConfigError& e) {
    spdlog::error("reload refused, the running config is kept: {}", e.what());
    notify_systemd("READY=1\nSTATUS=reload refused: " + std::string(e.what()));
    return http::OpResult::fail(400, std::string("Reload refused, the running config is kept: ") + e.what());
  }
  // The certificate first: a file that does not load refuses the whole reload, as a config file
  // that does not parse does, and the listener keeps its certificate. Connections accepted from
  // now on get the new one; established ones keep the session they have. A -dev agent's
  // generated certificate stays: a new one would break the fingerprint its clients pinned. With
  // ports.https gone from the files, the listener stays as it is until the restart (noted below).
  const bool keeps_generated = config_.dev && !effective_https_tls(next).cert_file;
  if (https_server_ && next.https_port > 0 && !keeps_generated) {
    std::string error;
    if (!reload_tls(next, error)) {
      spdlog::error("reload refused, the running config and HTTPS certificate are kept: {}", error);
      notify_systemd("READY=1\nSTATUS=reload refused: " + error);
      return http::OpResult::fail(400, "Reload refused, the running config is kept: " + error);
    }
    config_.tls_defaults = next.tls_defaults;
    config_.tls_https = next.tls_https;
    spdlog::info("reload: HTTPS certificate read again from its files; new connections use it");
  }
  for (const std::string& key : restart_only_changes(config_, next)) {
    spdlog::warn("reload: {} changed; it takes effect at the next start", key);
  }
  if (next.log_level != config_.log_level) {
    spdlog::info("reload: log level {} -> {}", config_.log_level, next.log_level);  // said at the old level
    set_log_level(next.log_level);
    config_.log_level = next.log_level;
  }
  // ACLs: the new table serves every request from now on; a token that is gone is refused.
  config_.acl = next.acl;
  config_.enable_remote_script_checks = next.enable_remote_script_checks;
  const std::shared_ptr<const acl::TokenTable> next_tokens = build_token_table(next, ++acl_generation_);
  acl_tokens_ = next_tokens;
  recheck_remote_sessions();
  spdlog::info("reload: ACLs {}: {} policies, {} tokens", next.acl.enabled ? "enabled" : "disabled",
               next.acl.policies.size(), next.acl.tokens.size());
  if (dns_resolver_) {
    dns::ResolverConfig resolver_config = next.dns;
    resolver_config.node_name = config_.node_name;
    resolver_config.datacenter = config_.datacenter;
    resolver_config.local_first = config_.remote.remote();
    restrict_dns_to_default_token(next_tokens, resolver_config);
    dns_resolver_->reconfigure(resolver_config);
    dns_server_->reconfigure(next.dns_serve);
    for (auto& server : extra_dns_servers_) server->reconfigure(next.dns_serve);
  }
  config_.dns = next.dns;
  config_.dns_serve = next.dns_serve;
  config_.enable_script_checks = next.enable_script_checks;
  config_.enable_local_script_checks = next.enable_local_script_checks;
  // LocalState reads config_ (a reference): the new definitions go in first, the old are kept
  // aside to compare.
  std::vector<catalog::ServiceDefinition> before_services = std::exchange(config_.services, next.services);
  std::vector<catalog::CheckDefinition> before_checks = std::exchange(config_.checks, next.checks);
  const std::string summary = local_->reload_config_definitions(before_services, before_checks, now_());
  spdlog::info("config reloaded: services and checks from files: {}", summary);
  notify_systemd("READY=1\nSTATUS=serving");
  return http::OpResult::ok();
}

}  // namespace hearsay::agent
