// Agent lifecycle: start-up (the first commit, the listeners, -join and -retry-join, the
// periodic reaper), the signals, a graceful leave and the shutdown that closes every handle.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>

#include "agent/agent.h"
#include "agent/build_info.h"
#include "agent/join_address.h"
#include "agent/sd_notify.h"
#include "agent/startup_pages.h"
#include "agent/uv_guard.h"

namespace hearsay::agent {
namespace {

// During start-up a libuv refusal stops the start: logged, then run() returns 1.
bool started(int rc, const char* what) {
  if (rc != 0) spdlog::critical("cannot start: {}: {}", what, uv_strerror(rc));
  return rc == 0;
}

// A listener that cannot bind stops the start too, logged with what and where.
bool listening(int rc, const char* what, const std::string& host, int port) {
  if (rc != 0) spdlog::critical("cannot listen for {} on {}:{}: {}", what, host, port, uv_strerror(rc));
  return rc == 0;
}

}  // namespace

int Agent::run() {
  catalog_replication_->restore(local_->generation(), local_->last_version(), now_());
  local_->start(now_());
  group_commit_->flush();  // our node and restored registrations are durable before we serve anything
  if (!listen_clients() || !start_https() || !start_dns() || !start_gossip() || !start_remote() || !start_timers() ||
      !start_signals()) {
    shutdown();
    return 1;
  }
  spdlog::info("hearsay agent {} started: node={} id={} dc={} address={} http={}:{} https={} dns={} data_dir={}{}",
               kVersion, config_.node_name, node_id_, config_.datacenter, advertise_, config_.client_addr,
               http_server_->bound_port(), https_server_ ? std::to_string(https_server_->bound_port()) : "off",
               dns_server_ ? std::to_string(dns_server_->bound_port()) : "off",
               config_.data_dir, config_.dev ? " (dev mode)" : "");
  notify_systemd("READY=1\nSTATUS=serving");
  uv_run(&loop_, UV_RUN_DEFAULT);
  spdlog::info("agent stopped");
  return exit_code_;
}

namespace {

// The first server on the first client address, the others on the rest, in order; false
// (logged) at the first address that cannot be bound.
template <typename Server>
bool listen_on_each(const char* what, const std::vector<std::string>& addresses, int port, Server& first,
                    const std::vector<std::unique_ptr<Server>>& others) {
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    Server& server = i == 0 ? first : *others.at(i - 1);
    if (!listening(server.listen(addresses[i], port), what, addresses[i], port)) return false;
  }
  return true;
}

}  // namespace

bool Agent::listen_clients() {
  return listen_on_each("HTTP", client_addresses(config_), config_.http_port, *http_server_, extra_http_servers_);
}

bool Agent::start_timers() {
  if (!started(reap_timer_.init(&loop_, this), "uv_timer_init (reaper)")) return false;
  auto reap_ms = static_cast<std::uint64_t>(config_.check_reap_interval.count());
  auto reap = [](uv_timer_t* t) {
    guard_callback("check reaper", [self = static_cast<Agent*>(t->data)] {
      self->local_->reap_critical_services(self->now_());
      self->catalog_replication_->reap(self->now_());
      if (self->relay_members_) self->apply_relay_members(self->relay_members_->tick(self->now_()));
      self->relay_members_reaped();
      self->flush_replication();
    });
  };
  if (!started(uv_timer_start(reap_timer_.get(), reap, reap_ms, reap_ms), "uv_timer_start (reaper)")) return false;

  // Remote nodes' health turns critical a grace after their session ended: checked often
  // enough for that to show within a second (a map walk over the remotes this agent knows).
  if (!started(remotes_timer_.init(&loop_, this), "uv_timer_init (remotes)")) return false;
  const auto remotes_ms = static_cast<std::uint64_t>(std::clamp<std::int64_t>(config_.remote.grace.count() / 4, 100, 1000));
  auto remotes = [](uv_timer_t* t) {
    guard_callback("remote liveness", [self = static_cast<Agent*>(t->data)] {
      self->catalog_replication_->tick_remotes(self->now_());
    });
  };
  if (!started(uv_timer_start(remotes_timer_.get(), remotes, remotes_ms, remotes_ms), "uv_timer_start (remotes)")) {
    return false;
  }

  // Start-up (the catalog load, the listeners, the first joins and syncs) is over by then.
  constexpr std::uint64_t kSettleMs = 10000;
  if (!started(settle_timer_.init(&loop_, this), "uv_timer_init (start-up over)")) return false;
  auto settle = [](uv_timer_t*) {
    guard_callback("start-up over", [] {
      const ReleasedPages r = release_startup_pages();
      spdlog::debug("start-up over: dropped the mappings of {} KiB of the executable{}", r.executable_bytes / 1024,
                    r.heap_trimmed ? ", trimmed the heap" : "");
    });
  };
  return started(uv_timer_start(settle_timer_.get(), settle, kSettleMs, 0), "uv_timer_start (start-up over)");
}

bool Agent::start_signals() {
  for (loop::Handle<uv_signal_t>* sig : {&sigint_, &sigterm_, &sighup_}) {
    if (!started(sig->init(&loop_, this), "uv_signal_init")) return false;
  }
  auto on_signal = [](uv_signal_t* h, int signum) {
    guard_callback("signal", [self = static_cast<Agent*>(h->data), signum] { self->on_signal(signum); });
  };
  return started(uv_signal_start(sigint_.get(), on_signal, SIGINT), "uv_signal_start (SIGINT)") &&
         started(uv_signal_start(sigterm_.get(), on_signal, SIGTERM), "uv_signal_start (SIGTERM)") &&
         started(uv_signal_start(sighup_.get(), on_signal, SIGHUP), "uv_signal_start (SIGHUP)");
}

void Agent::on_signal(int signum) {
  if (signum == SIGHUP) {  // systemd's ExecReload, as Consul's agent: re-read the config files
    spdlog::info("caught SIGHUP; reloading the config");
    (void)reload();  // a refusal is logged by reload()
    return;
  }
  const bool wants_leave = signum == SIGTERM ? config_.leave_on_terminate : !config_.skip_leave_on_interrupt;
  // A graceful leave first (others then list us as left, not failed), unless we are alone,
  // already leaving, or told not to; a second signal stops at once.
  if (wants_leave && remote_client_ && remote_client_->link().established()) {
    spdlog::info("caught signal {}; saying goodbye to the relay, then stopping (signal again to stop now)", signum);
    leave();
    return;
  }
  if (wants_leave && gossip_ && !node_->membership().has_left() && node_->membership().alive_count() > 1) {
    spdlog::info("caught signal {}; leaving the cluster, then stopping (signal again to stop now)", signum);
    leave();
    return;
  }
  spdlog::info("caught signal {}; shutting down", signum);
  shutdown();
}

bool Agent::start_dns() {
  return !dns_server_ ||
         listen_on_each("DNS", client_addresses(config_), config_.dns_port, *dns_server_, extra_dns_servers_);
}

bool Agent::start_https() {
  return !https_server_ || listening(https_server_->listen(client_addresses(config_).front(), config_.https_port),
                                     "HTTPS", client_addresses(config_).front(), config_.https_port);
}

bool Agent::start_gossip() {
  if (!gossip_) return true;  // a remote agent
  // -dev keeps gossip on loopback unless told otherwise, as Consul's dev mode does.
  const std::string bind = config_.dev && config_.bind_addr == "0.0.0.0" ? "127.0.0.1" : config_.bind_addr;
  int rc = gossip_->listen(bind, config_.serf_lan_port);
  if (rc != 0) {
    spdlog::critical("cannot listen for gossip on {}:{}: {}", bind, config_.serf_lan_port, uv_strerror(rc));
    return false;
  }
  start_join();
  spdlog::info("gossip on {}:{}{}", bind, config_.serf_lan_port, keyring_.enabled() ? ", encrypted" : "");
  if (!started(retry_join_timer_.init(&loop_, this), "uv_timer_init (retry-join)")) return false;
  if (!config_.retry_join.empty()) {
    retry_join_schedule_.emplace(std::chrono::seconds(1), config_.retry_interval, config_.retry_max);
    retry_join();
  }
  return true;
}

void Agent::start_join() {
  if (config_.join.empty()) return;
  // Host names are resolved now (they may name several agents); the join starts when all are.
  resolve_join_addresses(&loop_, config_.join, 8301, [this](std::vector<gossip::Address> seeds,
                                                            std::vector<std::string> errors) {
    if (!shutting_down_) start_join_resolved(std::move(seeds), std::move(errors));
  });
}

void Agent::start_join_resolved(std::vector<gossip::Address> seeds, std::vector<std::string> errors) {
  // Consul and serf fail the start when -join reaches no address (-retry-join is the flag
  // that retries): an agent left alone would otherwise serve a one-node cluster for good.
  // Joined = the push/pull with at least one address succeeded.
  struct Outcome {
    std::size_t pending = 0;
    bool joined = false;
    std::vector<std::string> errors;
  };
  auto outcome = std::make_shared<Outcome>();
  outcome->errors = std::move(errors);
  auto give_up = [this](const Outcome& o) {
    std::string all;
    for (const std::string& e : o.errors) all += (all.empty() ? "" : "; ") + e;
    spdlog::critical("-join: could not join any of the {} address(es) ({}); exiting (use -retry-join to retry)",
                     config_.join.size(), all);
    exit_code_ = 1;
    shutdown();
  };
  if (seeds.empty()) return give_up(*outcome);
  outcome->pending = seeds.size();
  for (const gossip::Address& seed : seeds) {
    gossip_->join(seed, [this, outcome, give_up, address = seed.to_string()](const std::string& error) {
      if (error.empty()) outcome->joined = true;
      else outcome->errors.push_back(address + ": " + error);
      if (--outcome->pending != 0 || outcome->joined || shutting_down_) return;
      give_up(*outcome);
    });
  }
  gossip_->flush();
}

void Agent::retry_join() {
  if (!retry_join_timer_.open()) return;  // shut down meanwhile
  // Names are resolved at every attempt: the seeds behind a name may change while we retry.
  resolve_join_addresses(&loop_, config_.retry_join, 8301, [this](std::vector<gossip::Address> seeds,
                                                                  std::vector<std::string> errors) {
    if (shutting_down_) return;
    for (const std::string& e : errors) spdlog::warn("retry-join: {}", e);
    if (!seeds.empty()) node_->membership().join(seeds);
    gossip_->flush();
    // Success is being in a cluster: another member alive. Checked one backoff step later, which
    // is also when the next attempt goes out if this one failed.
    auto check = [](uv_timer_t* t) {
      guard_callback("retry-join", [self = static_cast<Agent*>(t->data)] { self->check_retry_join(); });
    };
    log_uv(uv_timer_start(retry_join_timer_.get(), check, 1000, 0), "retry-join: uv_timer_start");
  });
}

void Agent::check_retry_join() {
  if (node_->membership().alive_count() > 1) {
    spdlog::info("retry-join: joined the cluster ({} members alive)", node_->membership().alive_count());
    return;
  }
  const auto wait = retry_join_schedule_->after_failure();
  if (!wait) {
    spdlog::critical("retry-join: no member reached after {} attempts (retry_max); exiting",
                     retry_join_schedule_->failures());
    exit_code_ = 1;
    return shutdown();
  }
  spdlog::warn("retry-join: attempt {} failed; next in {} ms", retry_join_schedule_->failures(), wait->count());
  auto again = [](uv_timer_t* t) {
    guard_callback("retry-join", [self = static_cast<Agent*>(t->data)] { self->retry_join(); });
  };
  log_uv(uv_timer_start(retry_join_timer_.get(), again, static_cast<std::uint64_t>(wait->count()), 0),
         "retry-join: uv_timer_start");
}

http::OpResult Agent::leave() {
  if (remote_client_) {
    // A remote's leave is its goodbye: the relay ends the session and the cluster drops our
    // records at once (a crash instead leaves them until the lease ends).
    // The answer goes out first; the goodbye a moment later, then we stop once it is written.
    after_commit([this](bool) {
      if (shutting_down_ || leave_timer_.open()) return;
      if (!log_uv(leave_timer_.init(&loop_, this), "leave: uv_timer_init")) return shutdown();
      auto goodbye = [](uv_timer_t* t) {
        guard_callback("leave", [self = static_cast<Agent*>(t->data)] {
          if (self->shutting_down_) return;
          self->remote_client_->stop(true, [self] { self->shutdown(); });
          // A relay that takes no more bytes does not hold us up for long.
          auto anyway = [](uv_timer_t* t2) {
            guard_callback("leave", [s = static_cast<Agent*>(t2->data)] { s->shutdown(); });
          };
          if (self->leave_timer_.open()) log_uv(uv_timer_start(self->leave_timer_.get(), anyway, 3000, 0), "leave: uv_timer_start");
        });
      };
      if (!log_uv(uv_timer_start(leave_timer_.get(), goodbye, 100, 0), "leave: uv_timer_start")) shutdown();
    });
    return http::OpResult::ok();
  }
  // Tell the cluster first (dead about ourselves = left), answer, then stop a little later so
  // the news is gossiped out: Consul's leave also shuts the agent down.
  node_->serf().leave(now_());  // serf's leave intent, then our departure
  gossip_->flush();
  after_commit([this](bool) {
    // Stop once our departure has gone out and had a second to spread (at most ~6 s).
    if (shutting_down_ || leave_timer_.open()) return;  // stopping already
    if (!log_uv(leave_timer_.init(&loop_, this), "leave: uv_timer_init")) return shutdown();
    auto poll = [](uv_timer_t* t) {
      guard_callback("leave", [self = static_cast<Agent*>(t->data)] {
        if (!self->shutting_down_ && !self->node_->membership().leave_complete(self->now_())) return;
        self->shutdown();  // closes this timer too
      });
    };
    if (!log_uv(uv_timer_start(leave_timer_.get(), poll, 100, 100), "leave: uv_timer_start")) shutdown();
  });
  return http::OpResult::ok();
}

void Agent::notify_systemd(const std::string& state) {
  if (const std::string error = sd_notify(state); !error.empty()) spdlog::warn("sd_notify: {}", error);
}

void Agent::shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  notify_systemd("STOPPING=1");
  group_commit_->close();  // commits what is pending first
  blocking_->close();
  http_server_->close([] {});
  if (https_server_) https_server_->close([] {});
  for (auto& server : extra_http_servers_) server->close([] {});
  if (dns_server_) dns_server_->close();
  for (auto& server : extra_dns_servers_) server->close();
  if (gossip_) gossip_->close();
  if (remote_client_) remote_client_->close();
  if (relay_server_) relay_server_->close();
  scheduler_->stop_all([] {});
  for (loop::Handle<uv_timer_t>* timer :
       {&reap_timer_, &remotes_timer_, &retry_join_timer_, &settle_timer_, &keyring_timer_, &limits_log_timer_,
        &leave_timer_}) {
    timer->close();
  }
  sigint_.close();
  sigterm_.close();
  sighup_.close();
}

}  // namespace hearsay::agent
