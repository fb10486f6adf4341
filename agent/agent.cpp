// Agent wiring: builds every part in dependency order and connects their callbacks; the
// group commit's steps (agent/group_commit.h) and the connection admission are wired here too.
// Lifecycle is in agent_lifecycle.cpp, the HTTP API's operations in agent_ops.cpp, and the
// members list and metric table in introspection.h.
#include "agent/agent.h"

#include <spdlog/spdlog.h>

#include <malloc.h>

#include <filesystem>
#include <random>

#include "agent/acl_setup.h"
#include "agent/https_tls.h"
#include "agent/build_info.h"
#include "agent/identity.h"
#include "agent/keyring_file.h"
#include "agent/process_setup.h"
#include "agent/uv_guard.h"
#include "gossip/serf/serf_tags.h"

namespace hearsay::agent {
namespace {

constexpr const char* kNodeIdSetting = "node_id";

}  // namespace

Agent::Agent(AgentConfig config, TimeSource now)
    : config_(std::move(config)), now_(std::move(now)), started_(now_()) {
  if (config_.dev && config_.data_dir.empty()) {
    dev_data_dir_ = make_temp_dir("hearsay-dev-");
    config_.data_dir = dev_data_dir_;
  }
  check_uv(uv_loop_init(&loop_), "uv_loop_init");
  store_ = catalog::SqliteStore::open(config_.data_dir, config_.sync_writes ? catalog::SqliteStore::Durability::full
                                                                            : catalog::SqliteStore::Durability::normal);
  store_->load(catalog_);

  node_id_ = config_.node_id;
  if (node_id_.empty()) node_id_ = store_->get_setting(kNodeIdSetting).value_or("");
  if (node_id_.empty()) node_id_ = random_uuid();
  store_->stage_setting(kNodeIdSetting, node_id_);
  advertise_ = choose_advertise_address(config_);

  wire_local_state();
  blocking_ = std::make_unique<http::BlockingQueries>(&loop_);
  acl_tokens_ = build_token_table(config_, ++acl_generation_);
  http::ApiContext api_context{catalog_, *this, *blocking_, config_.datacenter, config_.node_name};
  api_context.acl = &acl_tokens_;
  api_ = std::make_unique<http::Api>(std::move(api_context));
  if (auto warning = open_api_warning(config_)) spdlog::warn("{}", *warning);
  wire_listeners();
  wire_gossip();
  wire_remote();

  check_uv(limits_log_timer_.init(&loop_, this), "uv_timer_init (connection limits log)");
  check_uv(keyring_timer_.init(&loop_, this), "uv_timer_init (keyring)");
  group_commit_ = std::make_unique<GroupCommit>(&loop_, commit_steps());
  catalog_.set_listener([this](std::uint64_t) { group_commit_->request(); });
}

Agent::~Agent() {
  // Every handle was closed by shutdown(); let libuv run their close callbacks, then close.
  uv_run(&loop_, UV_RUN_DEFAULT);
  http_server_.reset();
  https_server_.reset();
  extra_http_servers_.clear();
  if (uv_loop_close(&loop_) != 0) spdlog::warn("event loop closed with handles still open");
  if (!dev_data_dir_.empty()) {
    std::error_code ec;
    store_.reset();
    std::filesystem::remove_all(dev_data_dir_, ec);
  }
}

void Agent::wire_local_state() {
  scheduler_ = std::make_unique<checks::CheckScheduler>(
      &loop_, std::random_device{}(), [this](const std::string& id, checks::CheckResult result) {
        local_->on_check_result(id, result, now_());
      });
  LocalState::CheckRunner runner{
      [this](const std::string& id, const catalog::CheckSpec& spec) { scheduler_->start(id, spec); },
      [this](const std::string& id) { scheduler_->stop(id); },
      [this](const std::string& id, catalog::HealthStatus status, std::string output) {
        return scheduler_->ttl_update(id, status, std::move(output));
      }};
  local_ = std::make_unique<LocalState>(catalog_, *store_, std::move(runner), config_, node_id_, advertise_);
}

void Agent::wire_listeners() {
  ConnectionLimitsConfig lc;
  const std::uint64_t descriptors = open_files_limit();
  lc.max_total = config_.limits.max_connections ? config_.limits.max_connections : default_max_connections(descriptors);
  lc.per_client[static_cast<std::size_t>(Listener::http)] = config_.limits.http_max_conns_per_client;
  lc.per_client[static_cast<std::size_t>(Listener::dns)] = config_.limits.dns_max_conns_per_client;
  lc.per_client[static_cast<std::size_t>(Listener::gossip)] = config_.limits.serf_max_conns_per_client;
  limits_ = std::make_unique<ConnectionLimits>(lc);
  spdlog::info("connection limits: {} in total (descriptor limit {}), per client address: http {}, dns {}, gossip {}",
               lc.max_total, descriptors, lc.per_client[0], lc.per_client[1], lc.per_client[2]);

  http::ServerConfig server_config;
  server_config.admit = [this](const sockaddr_storage& peer) { return admit_connection(Listener::http, peer); };
  auto handler = [this](http::Request req, http::Responder res) { api_->handle(std::move(req), std::move(res)); };
  const std::size_t clients = client_addresses(config_).size();
  http_server_ = std::make_unique<http::Server>(&loop_, server_config, handler);
  for (std::size_t i = 1; i < clients; ++i) {
    extra_http_servers_.push_back(std::make_unique<http::Server>(&loop_, server_config, handler));
  }
  if (config_.https_port > 0) {
    // The same API over TLS on its own port (on the first client address), under the same
    // per-client limits as HTTP.
    std::string error;
    server_config.tls = https_tls_context(config_, error);
    if (!server_config.tls) throw ConfigError(error);
    https_server_ = std::make_unique<http::Server>(&loop_, server_config, handler);
  }

  if (config_.dns_port < 0) return;
  dns::ResolverConfig resolver_config = config_.dns;
  resolver_config.node_name = config_.node_name;
  resolver_config.datacenter = config_.datacenter;
  resolver_config.local_first = config_.remote.remote();  // the laptop's own instances first
  restrict_dns_to_default_token(acl_tokens_, resolver_config);
  dns_resolver_ = std::make_unique<dns::Resolver>(catalog_, resolver_config);
  std::vector<sockaddr_storage> recursors;
  for (const auto& r : config_.recursors) recursors.push_back(*dns::parse_recursor(r));  // validated
  auto admit_dns = [this](const sockaddr_storage& peer) { return admit_connection(Listener::dns, peer); };
  for (std::size_t i = 1; i < clients; ++i) {
    extra_dns_servers_.push_back(std::make_unique<dns::Server>(&loop_, *dns_resolver_, config_.dns_serve, recursors,
                                                               config_.recursor_timeout));
    extra_dns_servers_.back()->set_admission(admit_dns);
  }
  dns_server_ = std::make_unique<dns::Server>(&loop_, *dns_resolver_, config_.dns_serve, std::move(recursors),
                                              config_.recursor_timeout);
  dns_server_->set_admission(admit_dns);
}

bool Agent::reload_tls(const AgentConfig& config, std::string& error) {
  if (!https_server_) {
    error = "no HTTPS listener (ports.https was not set at start)";
    return false;
  }
  auto tls = https_tls_context(config, error);
  if (!tls) return false;
  https_server_->set_tls(std::move(tls));
  return true;
}

void Agent::wire_gossip() {
  gossip::MembershipConfig mc;
  mc.name = config_.node_name;
  auto advertise = gossip::parse_address(advertise_, static_cast<std::uint16_t>(config_.serf_lan_port));
  if (!advertise) throw ConfigError("-advertise: \"" + advertise_ + "\" cannot be gossiped to");
  mc.advertise = *advertise;
  // Serf's tag encoding, so serf lists us with tags; "hs" marks hearsay peers.
  auto meta = gossip::encode_tags({{gossip::kHearsayTag, "1"}, {"role", "node"}, {"dc", config_.datacenter},
                                   {"id", node_id_}, {"build", kVersion}});
  if (!meta) throw ConfigError("node tags exceed 512 bytes");
  mc.meta = *meta;
  keyring_ = load_or_create_keyring(config_.data_dir, config_.encrypt);
  // Sealing adds 29 bytes; memberlist leaves room for them when it fills a packet.
  if (keyring_.enabled()) mc.udp_buffer_size -= gossip::kEncryptionOverhead;
  // The catalog rides on the same sockets, to hearsay peers only.
  gossip::NodeConfig nc;
  nc.membership = mc;
  nc.replication.packet_budget = mc.udp_buffer_size - 64;  // room for the user-message framing
  nc.replication.tombstone_grace = config_.tombstone_grace;
  if (config_.remote.remote()) {
    // The one peer is the relay, over a reliable stream: each broadcast once, in large frames.
    nc.replication.gossip_nodes = 1;
    nc.replication.retransmit_mult = 1;
    nc.replication.packet_budget = 256 * 1024;
  }
  std::random_device random;
  nc.seed = (std::uint64_t{random()} << 32) | random();
  node_ = std::make_unique<gossip::Node>(nc, now_());
  gossip::Replication& engine = node_->replication();
  catalog_replication_ = std::make_unique<CatalogReplication>(
      catalog_, *store_, engine, node_->membership(), config_.node_name, [this] { return local_->next_version(); },
      config_.reap_after, RemoteLivenessConfig{config_.remote.grace, config_.remote.lease});
  engine.set_owner_filter([this](const std::string& owner) { return catalog_replication_->accepts(owner); });
  engine.set_generation_source([this](std::uint64_t above) { return local_->new_generation(above); });

  // Keyring operations reach every member as serf's key queries, and we answer theirs.
  cluster_keyring_ = std::make_unique<ClusterKeyring>(
      node_->serf(), config_.datacenter,
      [this](http::KeyringOp op, const gossip::Bytes& key) { return apply_keyring_change(op, key); },
      [this] { return keyring(); });

  gossip::Transport::Handlers handlers{
      .event = [this](const gossip::MemberEvent& e) { on_member_event(e); },
      .changes = [this](std::vector<gossip::ReplicaChange> changes) {
        catalog_replication_->apply(changes, now_(), wall_clock_microseconds());
      },
      .queries = [this](std::vector<gossip::SerfQuery> queries, std::vector<gossip::SerfQueryResponse> answers) {
        for (const gossip::SerfQuery& q : queries) cluster_keyring_->answer(q);
        for (const gossip::SerfQueryResponse& a : answers) cluster_keyring_->on_response(a);
        arm_keyring_timer();
      },
  };
  if (config_.remote.remote()) return;  // no gossip: the link to a relay carries replication
  gossip_ = std::make_unique<gossip::Transport>(&loop_, *node_, std::move(handlers), &keyring_);
  gossip_->set_admission([this](const sockaddr_storage& peer) { return admit_connection(Listener::gossip, peer); });
}

void Agent::on_member_event(const gossip::MemberEvent& e) {
  static const char* kinds[] = {"joined", "updated", "failed", "left"};
  spdlog::info("member {} {} ({})", e.member.name, kinds[static_cast<int>(e.kind)], e.member.address.to_string());
  catalog_replication_->on_member_event(e, now_());
  relay_members_changed();
}

GroupCommit::Steps Agent::commit_steps() {
  GroupCommit::Steps steps;
  steps.take_dirty = [this] { return catalog_.take_dirty(); };
  // Our writes reach the replication engine (and so peers) only once durable; a tombstone
  // takes its version now, persisted with this commit.
  steps.prepare = [this](const catalog::DirtyKeys& dirty) { return catalog_replication_->prepare(dirty); };
  steps.commit = [this](const catalog::DirtyKeys& dirty) {
    return dirty.empty() && !store_->has_staged() ? true : store_->commit(catalog_, dirty);
  };
  steps.publish = [this](GroupCommit::Outgoing writes) { catalog_replication_->publish(std::move(writes), now_()); };
  steps.undo = [this] { undo_failed_commit(); };
  steps.after = [this](const catalog::DirtyKeys& dirty) {
    return_memory_after_bulk_work(dirty.nodes.size() + dirty.services.size() + dirty.checks.size());
    if (!dirty.empty() && blocking_) blocking_->wake();
    if (!dirty.empty()) flush_replication();  // broadcasts out at the next gossip round
  };
  return steps;
}

void Agent::undo_failed_commit() {
  // The writers of this turn are answered with an error, so their writes take no effect: our
  // records go back to their durable rows, our registrations and checks to the durable ones.
  spdlog::error("SQLite commit to {} failed (disk full?): this turn's writes are undone and answered with an error; "
                "replicated records are written with the next commit", store_->path().string());
  store_->revert(catalog_, config_.node_name);
  (void)catalog_.take_dirty();  // the revert put back what is durable: nothing to write
  local_->reload_definitions(now_());
}

void Agent::return_memory_after_bulk_work(std::size_t keys_committed) {
  // After a bulk change (a full sync applied, or sent: many small allocations freed at once),
  // free heap pages go back to the system rather than stay in RSS. Rare, and cheap then.
  constexpr std::size_t kBulkKeys = 10000;
  constexpr std::uint64_t kBulkStreamBytes = 4 << 20;
  const std::uint64_t streamed = gossip_ ? gossip_->stats().stream_bytes_out + gossip_->stats().stream_bytes_in : 0;
  // The same after a burst of connections has closed (a flood, a crowd of blocking queries):
  // their buffers are freed, but glibc keeps the pages unless asked.
  constexpr std::size_t kBurstConnections = 32;
  const bool burst_over = limits_ && limits_->peak_open() >= kBurstConnections &&
                          limits_->open_total() <= limits_->peak_open() / 4;
  if (keys_committed < kBulkKeys && streamed - stream_bytes_at_trim_ < kBulkStreamBytes && !burst_over) return;
  stream_bytes_at_trim_ = streamed;
  if (limits_) limits_->reset_peak();
  malloc_trim(0);
}

std::shared_ptr<void> Agent::admit_connection(Listener listener, const sockaddr_storage& peer) {
  std::shared_ptr<void> ticket = limits_->admit(listener, peer);
  if (!ticket) {
    log_refusals();
    // What the throttle holds back is reported when its interval is over.
    if (!shutting_down_ && limits_log_timer_.open() && !uv_is_active(limits_log_timer_.base())) {
      const auto ms = static_cast<std::uint64_t>(limits_->config().log_interval.count());
      auto report = [](uv_timer_t* t) {
        guard_callback("connection limits log", [t] { static_cast<Agent*>(t->data)->log_refusals(); });
      };
      const int rc = uv_timer_start(limits_log_timer_.get(), report, ms, 0);
      if (rc != 0) spdlog::warn("connection limits: uv_timer_start: {}", uv_strerror(rc));
    }
  }
  return ticket;
}

void Agent::log_refusals() {
  for (const std::string& line : limits_->take_log_lines(now_())) spdlog::warn("{}", line);
}

}  // namespace hearsay::agent
