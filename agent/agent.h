// The running agent: owns the event loop and every component and implements the HTTP API's
// AgentOps. This is the only place that knows all the parts. Its jobs live in separate files:
// wiring (agent.cpp), lifecycle (agent_lifecycle.cpp), the operations (agent_ops.cpp), the
// members list and metrics (introspection.h) and the group commit (group_commit.h).
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "agent/catalog_replication.h"
#include "agent/clock.h"
#include "agent/cluster_keyring.h"
#include "agent/checks/scheduler.h"
#include "agent/config.h"
#include "agent/connection_limits.h"
#include "agent/group_commit.h"
#include "agent/local_state.h"
#include "agent/retry_join.h"
#include "catalog/catalog.h"
#include "catalog/store_sqlite.h"
#include "dns/resolver.h"
#include "dns/server_uv.h"
#include "gossip/node.h"
#include "gossip/shell/transport_uv.h"
#include "http-api/api.h"
#include "http-api/blocking_uv.h"
#include "http-api/server_uv.h"
#include "loop/handle.h"
#include "remote/client_uv.h"
#include "remote/relay_members.h"
#include "remote/server_uv.h"

namespace hearsay::agent {

class Agent final : public http::AgentOps {
 public:
  // Opens the store and loads the catalog; throws ConfigError / StoreError on startup failure.
  // `now` is the one clock every part of the agent reads (agent/clock.h).
  explicit Agent(AgentConfig config, TimeSource now = steady_time_source());
  ~Agent() override;

  // Binds the listeners and runs until SIGINT/SIGTERM or a leave. Returns the exit code.
  int run();
  // Where a reload (SIGHUP, PUT /v1/agent/reload) reads the config again: the command line
  // parsed anew, files included. Throws ConfigError. Unset: reloads are refused.
  using ConfigSource = std::function<AgentConfig()>;
  void set_config_source(ConfigSource source) { config_source_ = std::move(source); }

  // Certificate reload (issue 18), for the config reload to call with the new config: the
  // HTTPS listener takes a context built from `config`'s TLS files for connections accepted
  // from now on; established ones keep theirs. False with `error` (and the old certificate
  // kept) when the files do not make a valid context. Turning HTTPS on or off needs a restart.
  bool reload_tls(const AgentConfig& config, std::string& error);

  // ---- http::AgentOps
  http::OpResult register_service(catalog::ServiceDefinition def, bool replace_existing_checks) override;
  http::OpResult deregister_service(const std::string& service_id) override;
  http::OpResult register_check(catalog::CheckDefinition def) override;
  http::OpResult deregister_check(const std::string& check_id) override;
  http::OpResult update_ttl_check(const std::string& check_id, catalog::HealthStatus status, std::string output) override;
  http::OpResult set_node_maintenance(bool enable, const std::string& reason) override;
  http::OpResult set_service_maintenance(const std::string& service_id, bool enable, const std::string& reason) override;
  http::OpResult catalog_register(const http::CatalogRegistration& registration) override;
  http::OpResult catalog_deregister(const http::CatalogDeregistration& deregistration) override;
  void join(const std::string& address, std::function<void(http::OpResult)> done) override;
  http::OpResult leave() override;
  http::OpResult force_leave(const std::string& node) override;
  http::OpResult reload() override;  // agent_reload.cpp
  void keyring_operation(http::KeyringOp op, const std::string& key,
                         std::function<void(http::OpResult, http::KeyringReport)> done) override;
  std::optional<http::KeyringInfo> keyring() const override;
  std::vector<http::MemberInfo> members() const override;
  http::MetricSet metrics() const override;
  http::AgentIdentity identity() const override;
  Freshness freshness() const override;  // agent_remote.cpp
  void after_commit(std::function<void(bool durable)> done) override;

 private:
  // Wiring (agent.cpp), in the constructor's order.
  void wire_local_state();
  void wire_listeners();  // connection limits, HTTP, DNS
  void wire_gossip();     // membership, serf, transport, replication, cluster keyring
  GroupCommit::Steps commit_steps();
  void undo_failed_commit();
  void return_memory_after_bulk_work(std::size_t keys_committed);
  std::shared_ptr<void> admit_connection(Listener listener, const sockaddr_storage& peer);
  void log_refusals();
  // Lifecycle (agent_lifecycle.cpp). The start_* return false after logging why the start failed.
  void shutdown();
  bool start_dns();
  bool start_https();
  bool start_gossip();
  bool start_timers();   // the reaper, the start-up-over timer
  bool start_signals();  // SIGINT, SIGTERM, SIGHUP (reload)
  bool listen_clients();  // HTTP and DNS on every client address
  void on_signal(int signum);
  void notify_systemd(const std::string& state);  // sd_notify.h; a failure is logged
  void retry_join();        // one -retry-join attempt, then a check after the backoff
  void check_retry_join();  // that check: joined, or the next attempt, or give up
  void start_join();        // -join: push/pull with every address; exits when none of them answers
  void start_join_resolved(std::vector<gossip::Address> seeds, std::vector<std::string> errors);
  void on_member_event(const gossip::MemberEvent& event);
  // Remote mode (agent_remote.cpp): a remote's link in place of gossip, or a relay's listener.
  void wire_remote();
  bool start_remote();
  void flush_replication();  // after our writes: gossip or the link, and the relay's sessions
  remote::HelloVerdict authorize_remote(const remote::Hello& hello) const;
  remote::HelloVerdict authorize_remote_token(const std::string& token, const std::string& node) const;
  void recheck_remote_sessions();  // after a reload: revoked tokens end their sessions
  std::string check_remote_entry(const remote::Hello& hello, const gossip::ReplicaEntry& entry) const;
  std::map<std::string, std::string> remote_status() const;
  void add_remote_metrics(http::MetricSet& set) const;
  void relay_members_changed();  // a relay tells its sessions
  // A relay's members state: each member it lists, and failed members it still lists after
  // memberlist dropped them (as member_list shows them), so its remotes see its listing.
  gossip::Bytes relay_members_state() const;
  void relay_members_reaped();  // the reaper's turn: a listing shorter by a reap goes out too
  void merge_relay_members(const gossip::Bytes& state);  // a remote hears it
  void apply_relay_members(remote::RelayMembers::Update update);  // into our (never ticked) membership
  std::string apply_keyring_change(http::KeyringOp op, const gossip::Bytes& key);  // durable; "" or why not
  void arm_keyring_timer();

  AgentConfig config_;
  TimeSource now_;
  std::chrono::steady_clock::time_point started_;  // for the metrics' uptime
  std::string node_id_;
  std::string advertise_;
  uv_loop_t loop_{};
  std::unique_ptr<catalog::SqliteStore> store_;
  catalog::Catalog catalog_;
  std::unique_ptr<checks::CheckScheduler> scheduler_;
  std::unique_ptr<LocalState> local_;
  std::unique_ptr<http::BlockingQueries> blocking_;
  std::unique_ptr<http::Api> api_;
  // The ACL tokens the API enforces; a reload builds a new table (acl_setup.h).
  std::shared_ptr<const acl::TokenTable> acl_tokens_;
  std::uint64_t acl_generation_ = 0;
  // Before the listeners: the connections hold tickets into it (they would outlive it safely,
  // but the order keeps the counts meaningful to the end).
  std::unique_ptr<ConnectionLimits> limits_;
  loop::Handle<uv_timer_t> limits_log_timer_;  // reports refusals the throttle held back
  std::unique_ptr<http::Server> http_server_;   // on the first client address
  std::unique_ptr<http::Server> https_server_;  // null without ports.https
  // On the other client addresses (client_addr "A B"); their counters are not in the metrics.
  std::vector<std::unique_ptr<http::Server>> extra_http_servers_;
  std::vector<std::unique_ptr<dns::Server>> extra_dns_servers_;
  std::unique_ptr<dns::Resolver> dns_resolver_;
  std::unique_ptr<dns::Server> dns_server_;  // null when -dns-port is -1
  gossip::Keyring keyring_;  // empty: gossip in plaintext
  std::unique_ptr<gossip::Node> node_;  // membership, serf and the catalog's replication
  std::unique_ptr<CatalogReplication> catalog_replication_;
  std::unique_ptr<gossip::Transport> gossip_;  // null on a remote agent
  std::unique_ptr<remote::Client> remote_client_;       // a remote agent's link to its relays
  std::unique_ptr<remote::RelayServer> relay_server_;   // a relay's remote sessions
  std::optional<remote::Ack> remote_ack_;               // the relay's last word on our writes
  std::optional<remote::RelayMembers> relay_members_;   // a remote's view of its relay's members
  std::size_t relay_members_listed_ = 0;                // a relay's listed names, hashed, at the last reaper turn
  std::unique_ptr<ClusterKeyring> cluster_keyring_;
  loop::Handle<uv_timer_t> keyring_timer_;  // the earliest cluster keyring operation's time-out

  std::unique_ptr<GroupCommit> group_commit_;
  loop::Handle<uv_timer_t> reap_timer_;
  loop::Handle<uv_timer_t> remotes_timer_;  // remote nodes' grace and lease
  loop::Handle<uv_timer_t> retry_join_timer_;
  loop::Handle<uv_timer_t> settle_timer_;  // once, when start-up is over: agent/startup_pages.h
  loop::Handle<uv_timer_t> leave_timer_;   // after a leave: stops the agent once it has spread
  std::optional<RetryJoinSchedule> retry_join_schedule_;
  int exit_code_ = 0;  // what run() returns
  std::uint64_t stream_bytes_at_trim_ = 0;
  loop::Handle<uv_signal_t> sigint_;
  loop::Handle<uv_signal_t> sigterm_;
  loop::Handle<uv_signal_t> sighup_;
  ConfigSource config_source_;
  bool shutting_down_ = false;
  std::string dev_data_dir_;  // removed at exit in -dev mode
};

}  // namespace hearsay::agent
