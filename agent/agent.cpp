// Agent lifecycle and wiring. The loop thread does everything; nothing here blocks except the
// SQLite commit, which is one transaction per loop turn.
#include "agent/agent.h"

#include <spdlog/spdlog.h>

#include <malloc.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <algorithm>

#include "agent/identity.h"
#include "agent/keyring_file.h"
#include "agent/process_setup.h"
#include "agent/startup_pages.h"
#include "gossip/serf_tags.h"

namespace hearsay::agent {
namespace {

constexpr const char* kNodeIdSetting = "node_id";
constexpr const char* kVersion = "0.1.0";

template <typename Handle>
uv_handle_t* as_handle(Handle* h) {
  return reinterpret_cast<uv_handle_t*>(h);
}

void check_uv(int rc, const char* what) {
  if (rc != 0) throw ConfigError(std::string(what) + ": " + uv_strerror(rc));
}

}  // namespace

Agent::Agent(AgentConfig config, TimeSource now) : config_(std::move(config)), now_(std::move(now)) {
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
  blocking_ = std::make_unique<http::BlockingQueries>(&loop_);
  api_ = std::make_unique<http::Api>(http::ApiContext{catalog_, *this, *blocking_, config_.datacenter, config_.node_name});
  {
    ConnectionLimitsConfig lc;
    const std::uint64_t descriptors = open_files_limit();
    lc.max_total = config_.limits.max_connections ? config_.limits.max_connections : default_max_connections(descriptors);
    lc.per_client[static_cast<std::size_t>(Listener::http)] = config_.limits.http_max_conns_per_client;
    lc.per_client[static_cast<std::size_t>(Listener::dns)] = config_.limits.dns_max_conns_per_client;
    lc.per_client[static_cast<std::size_t>(Listener::gossip)] = config_.limits.serf_max_conns_per_client;
    limits_ = std::make_unique<ConnectionLimits>(lc);
    spdlog::info("connection limits: {} in total (descriptor limit {}), per client address: http {}, dns {}, gossip {}",
                 lc.max_total, descriptors, lc.per_client[0], lc.per_client[1], lc.per_client[2]);
  }
  http::ServerConfig server_config;
  server_config.admit = [this](const sockaddr_storage& peer) { return admit_connection(Listener::http, peer); };
  http_server_ = std::make_unique<http::Server>(&loop_, server_config, [this](http::Request req, http::Responder res) {
    api_->handle(std::move(req), std::move(res));
  });

  if (config_.dns_port >= 0) {
    dns::ResolverConfig resolver_config = config_.dns;
    resolver_config.node_name = config_.node_name;
    resolver_config.datacenter = config_.datacenter;
    dns_resolver_ = std::make_unique<dns::Resolver>(catalog_, resolver_config);
    std::vector<sockaddr_storage> recursors;
    for (const auto& r : config_.recursors) recursors.push_back(*dns::parse_recursor(r));  // validated
    dns_server_ = std::make_unique<dns::Server>(&loop_, *dns_resolver_, config_.dns_serve, std::move(recursors),
                                                config_.recursor_timeout);
    dns_server_->set_admission([this](const sockaddr_storage& peer) { return admit_connection(Listener::dns, peer); });
  }

  {
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
    membership_ = std::make_unique<gossip::Membership>(mc, std::random_device{}(), now_());
    serf_ = std::make_unique<gossip::Serf>(*membership_, std::random_device{}());
    gossip_ = std::make_unique<gossip::Transport>(
        &loop_, *membership_, [this](const gossip::MemberEvent& e) { on_member_event(e); }, &keyring_);
    gossip_->set_admission([this](const sockaddr_storage& peer) { return admit_connection(Listener::gossip, peer); });

    // The catalog rides on the same sockets, to hearsay peers only.
    gossip::ReplicationConfig rc;
    rc.name = config_.node_name;
    rc.packet_budget = mc.udp_buffer_size - 64;  // room for the user-message framing
    rc.tombstone_grace = config_.tombstone_grace;
    replication_ = std::make_unique<gossip::Replication>(rc, std::random_device{}(), now_());
    catalog_replication_ = std::make_unique<CatalogReplication>(
        catalog_, *store_, *replication_, *membership_, config_.node_name, [this] { return local_->next_version(); },
        config_.reap_after);
    replication_->set_owner_filter([this](const std::string& owner) { return catalog_replication_->accepts(owner); });
    replication_->set_generation_source([this](std::uint64_t above) { return local_->new_generation(above); });
    gossip_->attach(*replication_, [this](std::vector<gossip::ReplicaChange> changes) {
      catalog_replication_->apply(changes);
    });

    // Keyring operations reach every member as serf's key queries, and we answer theirs.
    cluster_keyring_ = std::make_unique<ClusterKeyring>(
        *serf_, config_.datacenter,
        [this](http::KeyringOp op, const gossip::Bytes& key) { return apply_keyring_change(op, key); },
        [this] { return keyring(); });
    gossip_->attach(*serf_, [this](std::vector<gossip::SerfQuery> queries, std::vector<gossip::SerfQueryResponse> answers) {
      for (const gossip::SerfQuery& q : queries) cluster_keyring_->answer(q);
      for (const gossip::SerfQueryResponse& a : answers) cluster_keyring_->on_response(a);
      arm_keyring_timer();
    });
  }

  check_uv(uv_timer_init(&loop_, &limits_log_timer_), "uv_timer_init");
  limits_log_timer_.data = this;
  check_uv(uv_timer_init(&loop_, &keyring_timer_), "uv_timer_init");
  keyring_timer_.data = this;
  group_commit_ = std::make_unique<GroupCommit>(&loop_, commit_steps());
  catalog_.set_listener([this](std::uint64_t) { group_commit_->request(); });
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
    if (!dirty.empty() && gossip_) gossip_->flush();  // broadcasts out at the next gossip round
  };
  return steps;
}

Agent::~Agent() {
  // Every handle was closed by shutdown(); let libuv run their close callbacks, then close.
  uv_run(&loop_, UV_RUN_DEFAULT);
  http_server_.reset();
  if (uv_loop_close(&loop_) != 0) spdlog::warn("event loop closed with handles still open");
  if (!dev_data_dir_.empty()) {
    std::error_code ec;
    store_.reset();
    std::filesystem::remove_all(dev_data_dir_, ec);
  }
}

void Agent::on_member_event(const gossip::MemberEvent& e) {
  static const char* kinds[] = {"joined", "updated", "failed", "left"};
  spdlog::info("member {} {} ({})", e.member.name, kinds[static_cast<int>(e.kind)], e.member.address.to_string());
  catalog_replication_->on_member_event(e, now_());
}

int Agent::run() {
  catalog_replication_->restore(local_->generation(), local_->last_version(), now_());
  local_->start(now_());
  group_commit_->flush();  // our node and restored registrations are durable before we serve anything
  int rc = http_server_->listen(config_.client_addr, config_.http_port);
  if (rc != 0) {
    spdlog::critical("cannot listen for HTTP on {}:{}: {}", config_.client_addr, config_.http_port, uv_strerror(rc));
    shutdown();
    return 1;
  }
  if (!start_dns() || !start_gossip()) {
    shutdown();
    return 1;
  }
  reap_timer_.data = this;
  uv_timer_init(&loop_, &reap_timer_);
  auto reap_ms = static_cast<std::uint64_t>(config_.check_reap_interval.count());
  uv_timer_start(&reap_timer_, [](uv_timer_t* t) {
    auto* self = static_cast<Agent*>(t->data);
    try {
      self->local_->reap_critical_services(self->now_());
      self->catalog_replication_->reap(self->now_());
      self->gossip_->flush();
    } catch (const std::exception& e) {
      spdlog::error("check reaper: {}", e.what());
    }
  }, reap_ms, reap_ms);

  // Start-up (the catalog load, the listeners, the first joins and syncs) is over by then.
  constexpr std::uint64_t kSettleMs = 10000;
  settle_timer_.data = this;
  uv_timer_init(&loop_, &settle_timer_);
  uv_timer_start(&settle_timer_, [](uv_timer_t*) {
    const ReleasedPages r = release_startup_pages();
    spdlog::debug("start-up over: dropped the mappings of {} KiB of the executable{}", r.executable_bytes / 1024,
                  r.heap_trimmed ? ", trimmed the heap" : "");
  }, kSettleMs, 0);

  for (uv_signal_t* sig : {&sigint_, &sigterm_}) {
    uv_signal_init(&loop_, sig);
    sig->data = this;
  }
  auto on_signal = [](uv_signal_t* h, int signum) {
    auto* self = static_cast<Agent*>(h->data);
    const bool wants_leave = signum == SIGTERM ? self->config_.leave_on_terminate : !self->config_.skip_leave_on_interrupt;
    // A graceful leave first (others then list us as left, not failed), unless we are alone,
    // already leaving, or told not to; a second signal stops at once.
    if (wants_leave && !self->membership_->has_left() && self->membership_->alive_count() > 1) {
      spdlog::info("caught signal {}; leaving the cluster, then stopping (signal again to stop now)", signum);
      self->leave();
      return;
    }
    spdlog::info("caught signal {}; shutting down", signum);
    self->shutdown();
  };
  uv_signal_start(&sigint_, on_signal, SIGINT);
  uv_signal_start(&sigterm_, on_signal, SIGTERM);

  spdlog::info("hearsay agent {} started: node={} id={} dc={} address={} http={}:{} dns={} data_dir={}{}", kVersion,
               config_.node_name, node_id_, config_.datacenter, advertise_, config_.client_addr,
               http_server_->bound_port(), dns_server_ ? std::to_string(dns_server_->bound_port()) : "off",
               config_.data_dir, config_.dev ? " (dev mode)" : "");
  uv_run(&loop_, UV_RUN_DEFAULT);
  spdlog::info("agent stopped");
  return exit_code_;
}

bool Agent::start_gossip() {
  // -dev keeps gossip on loopback unless told otherwise, as Consul's dev mode does.
  const std::string bind = config_.dev && config_.bind_addr == "0.0.0.0" ? "127.0.0.1" : config_.bind_addr;
  int rc = gossip_->listen(bind, config_.serf_lan_port);
  if (rc != 0) {
    spdlog::critical("cannot listen for gossip on {}:{}: {}", bind, config_.serf_lan_port, uv_strerror(rc));
    return false;
  }
  start_join();
  spdlog::info("gossip on {}:{}{}", bind, config_.serf_lan_port, keyring_.enabled() ? ", encrypted" : "");
  uv_timer_init(&loop_, &retry_join_timer_);
  retry_join_timer_.data = this;
  if (!config_.retry_join.empty()) {
    retry_join_schedule_.emplace(std::chrono::seconds(1), config_.retry_interval, config_.retry_max);
    retry_join();
  }
  return true;
}

void Agent::start_join() {
  if (config_.join.empty()) return;
  // Consul and serf fail the start when -join reaches no address (-retry-join is the flag
  // that retries): an agent left alone would otherwise serve a one-node cluster for good.
  // Joined = the push/pull with at least one address succeeded.
  struct Outcome {
    std::size_t pending = 0;
    bool joined = false;
    std::vector<std::string> errors;
  };
  auto outcome = std::make_shared<Outcome>();
  outcome->pending = config_.join.size();
  for (const std::string& address : config_.join) {
    auto seed = gossip::parse_address(address, 8301);  // validated
    gossip_->join(*seed, [this, outcome, address](const std::string& error) {
      if (error.empty()) outcome->joined = true;
      else outcome->errors.push_back(address + ": " + error);
      if (--outcome->pending != 0 || outcome->joined || shutting_down_) return;
      std::string all;
      for (const std::string& e : outcome->errors) all += (all.empty() ? "" : "; ") + e;
      spdlog::critical("-join: could not join any of the {} address(es) ({}); exiting (use -retry-join to retry)",
                       config_.join.size(), all);
      exit_code_ = 1;
      shutdown();
    });
  }
  gossip_->flush();
}

void Agent::retry_join() {
  std::vector<gossip::Address> seeds;
  for (const auto& j : config_.retry_join) seeds.push_back(*gossip::parse_address(j, 8301));  // validated
  membership_->join(seeds);
  gossip_->flush();
  // Success is being in a cluster: another member alive. Checked one backoff step later, which
  // is also when the next attempt goes out if this one failed.
  auto check = [](uv_timer_t* t) {
    auto* self = static_cast<Agent*>(t->data);
    if (self->membership_->alive_count() > 1) {
      spdlog::info("retry-join: joined the cluster ({} members alive)", self->membership_->alive_count());
      return;
    }
    const auto wait = self->retry_join_schedule_->after_failure();
    if (!wait) {
      spdlog::critical("retry-join: no member reached after {} attempts (retry_max); exiting",
                       self->retry_join_schedule_->failures());
      self->exit_code_ = 1;
      return self->shutdown();
    }
    spdlog::warn("retry-join: attempt {} failed; next in {} ms", self->retry_join_schedule_->failures(), wait->count());
    uv_timer_start(t, [](uv_timer_t* again) { static_cast<Agent*>(again->data)->retry_join(); },
                   static_cast<std::uint64_t>(wait->count()), 0);
  };
  uv_timer_start(&retry_join_timer_, check, 1000, 0);
}

bool Agent::start_dns() {
  if (!dns_server_) return true;
  int rc = dns_server_->listen(config_.client_addr, config_.dns_port);
  if (rc != 0) {
    spdlog::critical("cannot listen for DNS on {}:{}: {}", config_.client_addr, config_.dns_port, uv_strerror(rc));
    return false;
  }
  return true;
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
    if (!shutting_down_ && !uv_is_active(as_handle(&limits_log_timer_))) {
      const auto ms = static_cast<std::uint64_t>(limits_->config().log_interval.count());
      const int rc = uv_timer_start(&limits_log_timer_, [](uv_timer_t* t) { static_cast<Agent*>(t->data)->log_refusals(); },
                                    ms, 0);
      if (rc != 0) spdlog::warn("connection limits: uv_timer_start: {}", uv_strerror(rc));
    }
  }
  return ticket;
}

void Agent::log_refusals() {
  for (const std::string& line : limits_->take_log_lines(now_())) spdlog::warn("{}", line);
}

void Agent::after_commit(std::function<void(bool)> done) { group_commit_->after_commit(std::move(done)); }

void Agent::shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  group_commit_->close();  // commits what is pending first
  blocking_->close();
  http_server_->close([] {});
  if (dns_server_) dns_server_->close();
  if (gossip_) gossip_->close();
  scheduler_->stop_all([] {});
  for (uv_handle_t* h : {as_handle(&reap_timer_),
                         as_handle(&retry_join_timer_), as_handle(&settle_timer_), as_handle(&keyring_timer_),
                         as_handle(&limits_log_timer_),
                         as_handle(&sigint_), as_handle(&sigterm_)}) {
    if (h->loop == &loop_ && !uv_is_closing(h)) uv_close(h, nullptr);
  }
}

http::OpResult Agent::register_service(catalog::ServiceDefinition def, bool replace_existing_checks) {
  return local_->register_service(std::move(def), replace_existing_checks, Source::api, now_());
}
http::OpResult Agent::deregister_service(const std::string& service_id) { return local_->deregister_service(service_id); }
http::OpResult Agent::register_check(catalog::CheckDefinition def) {
  return local_->register_check(std::move(def), Source::api, now_());
}
http::OpResult Agent::deregister_check(const std::string& check_id) { return local_->deregister_check(check_id); }
http::OpResult Agent::update_ttl_check(const std::string& check_id, catalog::HealthStatus status, std::string output) {
  return local_->update_ttl(check_id, status, std::move(output), now_());
}
http::OpResult Agent::set_node_maintenance(bool enable, const std::string& reason) {
  return local_->set_node_maintenance(enable, reason);
}
http::OpResult Agent::set_service_maintenance(const std::string& service_id, bool enable, const std::string& reason) {
  return local_->set_service_maintenance(service_id, enable, reason);
}
http::OpResult Agent::catalog_register(const http::CatalogRegistration& registration) {
  return local_->catalog_register(registration);
}
http::OpResult Agent::catalog_deregister(const http::CatalogDeregistration& deregistration) {
  return local_->catalog_deregister(deregistration);
}

void Agent::join(const std::string& address, std::function<void(http::OpResult)> done) {
  auto seed = gossip::parse_address(address, 8301);
  if (!seed) return done(http::OpResult::fail(400, "cannot join " + address + ": not an IP address or IP:port"));
  gossip_->join(*seed, [address, done = std::move(done)](const std::string& error) {
    done(error.empty() ? http::OpResult::ok() : http::OpResult::fail(500, "Failed to join " + address + ": " + error));
  });
}

http::OpResult Agent::leave() {
  // Tell the cluster first (dead about ourselves = left), answer, then stop a little later so
  // the news is gossiped out: Consul's leave also shuts the agent down.
  serf_->leave(now_());  // serf's leave intent, then our departure
  gossip_->flush();
  after_commit([this](bool) {
    // Stop once our departure has gone out and had a second to spread (at most ~6 s).
    auto* timer = new uv_timer_t;
    uv_timer_init(&loop_, timer);
    timer->data = this;
    uv_timer_start(timer, [](uv_timer_t* t) {
      auto* self = static_cast<Agent*>(t->data);
      if (!self->shutting_down_ && !self->membership_->leave_complete(self->now_())) return;
      self->shutdown();
      uv_close(as_handle(t), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    }, 100, 100);
  });
  return http::OpResult::ok();
}

http::OpResult Agent::force_leave(const std::string& node) {
  const std::string error = serf_->force_leave(node, now_());
  gossip_->flush();
  if (error.empty()) return http::OpResult::ok();
  return http::OpResult::fail(error.starts_with("no member") ? 404 : 400, error);
}

std::string Agent::apply_keyring_change(http::KeyringOp op, const gossip::Bytes& key) {
  gossip::Keyring changed = keyring_;
  std::string error;
  switch (op) {
    case http::KeyringOp::install: error = changed.add(key); break;
    case http::KeyringOp::use: error = changed.use(key); break;
    case http::KeyringOp::remove: error = changed.remove(key); break;
    case http::KeyringOp::list: return {};
  }
  if (!error.empty()) return error;
  // On disk first: a change that is not durable is not made.
  try {
    save_keyring(config_.data_dir, changed);
  } catch (const std::exception& e) {
    return e.what();
  }
  keyring_ = std::move(changed);
  return {};
}

void Agent::keyring_operation(http::KeyringOp op, const std::string& key,
                              std::function<void(http::OpResult, http::KeyringReport)> done) {
  cluster_keyring_->start(op, key, now_(), std::move(done));
  gossip_->flush();  // the query goes out with the next gossip round
  arm_keyring_timer();
}

void Agent::arm_keyring_timer() {
  if (shutting_down_) return;
  const auto deadline = cluster_keyring_->next_deadline();
  if (!deadline) {
    uv_timer_stop(&keyring_timer_);
    return;
  }
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(*deadline - now_());
  uv_timer_start(&keyring_timer_, [](uv_timer_t* t) {
    auto* self = static_cast<Agent*>(t->data);
    self->cluster_keyring_->expire(self->now_());
    self->arm_keyring_timer();
  }, static_cast<std::uint64_t>(std::max<std::int64_t>(wait.count(), 0)), 0);
}

std::optional<http::KeyringInfo> Agent::keyring() const {
  if (!keyring_.enabled()) return std::nullopt;
  http::KeyringInfo info;
  for (const auto& key : keyring_.keys()) info.keys.push_back(gossip::encode_key(key));
  info.primary = info.keys.front();
  return info;
}

std::vector<http::MemberInfo> Agent::members() const {
  std::vector<http::MemberInfo> out;
  // Failed members stay listed after memberlist reaps them, as serf (and so Consul) lists them
  // until reconnect_timeout.
  std::vector<const gossip::Member*> all;
  for (const gossip::Member& m : membership_->members()) all.push_back(&m);
  for (const auto& [name, m] : membership_->failed_members()) {
    if (!membership_->members().contains(name)) all.push_back(&m);
  }
  for (const gossip::Member* member : all) {
    const gossip::Member& m = *member;
    http::MemberInfo info;
    info.name = m.name;
    info.addr = m.address.ip_text();
    info.port = m.address.port;
    if (auto tags = gossip::decode_tags(m.meta)) info.tags = *tags;
    // Consul's serf status: 1 alive (suspect members are still listed alive), 3 left, 4 failed.
    info.status = m.state == gossip::NodeState::left ? 3 : m.state == gossip::NodeState::dead ? 4 : 1;
    if (m.vsn.size() == 6) {
      info.protocol_min = m.vsn[0], info.protocol_max = m.vsn[1], info.protocol_cur = m.vsn[2];
      info.delegate_min = m.vsn[3], info.delegate_max = m.vsn[4], info.delegate_cur = m.vsn[5];
    }
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

std::vector<std::pair<std::string, double>> Agent::metrics() const {
  std::vector<std::pair<std::string, double>> out;
  auto add = [&out](const char* name, std::uint64_t value) { out.emplace_back(name, static_cast<double>(value)); };
  const gossip::TransportStats& t = gossip_->stats();
  add("hearsay.gossip.udp_in", t.udp_in);
  add("hearsay.gossip.udp_out", t.udp_out);
  add("hearsay.gossip.udp_send_failed", t.udp_send_failed);
  add("hearsay.gossip.streams_in", t.streams_in);
  add("hearsay.gossip.streams_out", t.streams_out);
  add("hearsay.gossip.streams_failed", t.streams_failed);
  add("hearsay.gossip.decrypt_failed", t.decrypt_failed);
  const gossip::MembershipStats& m = membership_->stats();
  add("hearsay.gossip.packets_received", m.packets_received);
  add("hearsay.gossip.messages_dropped", m.messages_dropped + serf_->stats().messages_dropped);
  add("hearsay.gossip.probes", m.probes);
  add("hearsay.gossip.probes_failed", m.probes_failed);
  add("hearsay.gossip.probes_answered_over_tcp_only", m.probes_answered_over_tcp_only);
  add("hearsay.gossip.ports_unreachable", m.ports_unreachable);
  add("hearsay.gossip.refutations", m.refutations);
  add("hearsay.gossip.members_alive", membership_->alive_count());
  add("hearsay.catalog.nodes", catalog_.node_count());
  add("hearsay.catalog.services", catalog_.service_count());
  add("hearsay.catalog.index", catalog_.index());
  const gossip::ReplicationStats& r = replication_->stats();
  add("hearsay.replication.entries", replication_->entry_count());
  add("hearsay.replication.broadcasts_sent", r.broadcasts_sent);
  add("hearsay.replication.entries_applied", r.entries_applied);
  add("hearsay.replication.entries_stale", r.entries_stale);
  add("hearsay.replication.entries_rejected", r.entries_rejected);
  add("hearsay.replication.messages_invalid", r.messages_invalid);
  add("hearsay.replication.syncs_started", r.syncs_started);
  add("hearsay.replication.syncs_completed", r.syncs_completed);
  add("hearsay.replication.syncs_failed", r.syncs_failed);
  add("hearsay.replication.full_states_sent", r.full_states_sent);
  add("hearsay.replication.tombstones_dropped", r.tombstones_dropped);
  add("hearsay.replication.broadcasts_dropped", r.broadcasts_dropped);
  add("hearsay.replication.generations_started", r.generations_started);
  add("hearsay.replication.divergent_marks", r.divergent_marks);
  add("hearsay.replication.entries_awaiting_full", r.entries_awaiting_full);
  const catalog::StoreStats& st = store_->stats();
  add("hearsay.store.commits", st.commits);
  add("hearsay.store.commit_failures", st.commit_failures);
  add("hearsay.store.records_reverted", st.records_reverted);
  const CatalogReplicationStats& c = catalog_replication_->stats();
  add("hearsay.replication.records_applied", c.records_applied);
  add("hearsay.replication.records_removed", c.records_removed);
  add("hearsay.replication.records_invalid", c.records_invalid);
  add("hearsay.replication.records_waiting", c.records_waiting);
  add("hearsay.replication.conflicts_lost", c.conflicts_lost);
  const http::ServerStats& h = http_server_->stats();
  add("hearsay.http.connections_accepted", h.connections_accepted);
  add("hearsay.http.connections_refused", h.connections_refused);
  add("hearsay.http.output_pauses", h.output_pauses);
  add("hearsay.http.parse_errors", h.parse_errors);
  add("hearsay.http.callback_errors", h.callback_errors);
  for (Listener l : {Listener::http, Listener::dns, Listener::gossip}) {
    const ListenerLimitStats& ls = limits_->stats(l);
    const std::string prefix = std::string("hearsay.limits.") + listener_name(l) + ".";
    out.emplace_back(prefix + "connections_open", static_cast<double>(ls.open));
    out.emplace_back(prefix + "refused_per_client", static_cast<double>(ls.refused_per_client));
    out.emplace_back(prefix + "refused_total", static_cast<double>(ls.refused_total));
  }
  add("hearsay.gossip.streams_refused", t.streams_refused);
  if (dns_server_) {
    add("hearsay.dns.tcp_refused", dns_server_->tcp_refused());
    add("hearsay.dns.tcp_output_pauses", dns_server_->tcp_output_pauses());
    const dns::DnsStats& d = dns_server_->stats();
    add("hearsay.dns.queries", d.queries);
    add("hearsay.dns.dropped", d.dropped);
    add("hearsay.dns.formerr", d.formerr);
    add("hearsay.dns.notimp", d.notimp);
    add("hearsay.dns.refused", d.refused);
    add("hearsay.dns.nxdomain", d.nxdomain);
    add("hearsay.dns.trimmed", d.trimmed);
    add("hearsay.dns.forwarded", d.forwarded);
    add("hearsay.dns.servfail", d.servfail);
  }
  return out;
}

http::AgentIdentity Agent::identity() const {
  return http::AgentIdentity{config_.node_name, node_id_, config_.datacenter, kVersion, "", "", config_.node_meta};
}

}  // namespace hearsay::agent
