// Test doubles for the pure half of http-api: a ReplySink that records answers, a BlockingWaiter
// woken by hand, an AgentOps that writes a real catalog::Catalog, and a client that sends
// requests through an Api and reads the answers. No libuv anywhere.
#pragma once

#include <rapidjson/document.h>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "http-api/agent_ops.h"
#include "http-api/api.h"
#include "http-api/blocking.h"
#include "http-api/responder.h"

namespace hearsay::http::test {

class RecordingSink : public ReplySink {
 public:
  void send(std::uint64_t sequence, Response response) override {
    if (answered_.insert(sequence).second) sent.push_back(std::move(response));
  }
  bool connected(std::uint64_t sequence) const override { return open && !answered_.count(sequence); }

  std::vector<Response> sent;
  bool open = true;  // false: the client went away

 private:
  std::set<std::uint64_t> answered_;
};

// Follows the rule of blocking.h; parked reads are answered by wake() or time_out().
class FakeWaiter : public BlockingWaiter {
 public:
  void serve(const QueryOptions& options, Responder responder, IndexFn index, RunFn run) override {
    const std::uint64_t current = index();
    if (answers_at_once(options, current)) return responder.send(run(current));
    parked_.push_back({options.index, std::move(responder), std::move(index), std::move(run)});
  }
  // As the agent after a commit: answers the reads whose own index moved.
  void wake() {
    for (auto it = parked_.begin(); it != parked_.end();) {
      if (it->index() != it->min_index) {
        it->responder.send(it->run(it->index()));
        it = parked_.erase(it);
      } else {
        ++it;
      }
    }
  }
  // As the ?wait timer: answers every parked read with the current state.
  void time_out() {
    for (Parked& p : parked_) p.responder.send(p.run(p.index()));
    parked_.clear();
  }
  std::size_t parked() const { return parked_.size(); }

 private:
  struct Parked {
    std::uint64_t min_index;
    Responder responder;
    IndexFn index;
    RunFn run;
  };
  std::vector<Parked> parked_;
};

// Writes go straight into the catalog, on node `node`; each call is recorded. `fail_next`
// makes the next operation fail with that result; commits are acknowledged at once unless
// `hold_commits`, then by commit().
class FakeOps : public AgentOps {
 public:
  FakeOps(catalog::Catalog& catalog, std::string node) : catalog_(catalog), node_(std::move(node)) {}

  OpResult register_service(catalog::ServiceDefinition def, bool) override {
    if (auto failed = take_failure("register_service " + def.id)) return *failed;
    catalog::Service svc;
    svc.node = node_;
    svc.id = def.id;
    svc.name = def.name;
    svc.tags = def.tags;
    svc.address = def.address;
    svc.port = def.port;
    svc.meta = def.meta;
    catalog_.upsert_service(std::move(svc));
    return OpResult::ok();
  }
  OpResult deregister_service(const std::string& id) override {
    if (auto failed = take_failure("deregister_service " + id)) return *failed;
    if (!catalog_.remove_service(node_, id)) return OpResult::fail(404, "Unknown service ID \"" + id + "\"");
    return OpResult::ok();
  }
  OpResult register_check(catalog::CheckDefinition def) override { return record("register_check " + def.id); }
  OpResult deregister_check(const std::string& id) override { return record("deregister_check " + id); }
  OpResult update_ttl_check(const std::string& id, catalog::HealthStatus status, std::string output) override {
    return record("update_ttl_check " + id + " " + std::string(catalog::to_string(status)) + " " + output);
  }
  OpResult set_node_maintenance(bool enable, const std::string& reason) override {
    return record("set_node_maintenance " + std::to_string(enable) + " " + reason);
  }
  OpResult set_service_maintenance(const std::string& id, bool enable, const std::string& reason) override {
    return record("set_service_maintenance " + id + " " + std::to_string(enable) + " " + reason);
  }
  OpResult catalog_register(const CatalogRegistration& reg) override {
    if (auto failed = take_failure("catalog_register " + reg.node)) return *failed;
    if (!reg.skip_node_update) {
      catalog::Node node;
      node.name = reg.node;
      node.address = reg.address;
      node.meta = reg.node_meta;
      catalog_.upsert_node(std::move(node));
    }
    if (reg.service) {
      catalog::Service svc = *reg.service;
      svc.node = reg.node;
      if (svc.id.empty()) svc.id = svc.name;
      catalog_.upsert_service(std::move(svc));
    }
    for (catalog::Check check : reg.checks) {
      check.node = reg.node;
      catalog_.upsert_check(std::move(check));
    }
    return OpResult::ok();
  }
  OpResult catalog_deregister(const CatalogDeregistration& dereg) override {
    if (auto failed = take_failure("catalog_deregister " + dereg.node)) return *failed;
    if (!dereg.service_id.empty()) catalog_.remove_service(dereg.node, dereg.service_id);
    else if (!dereg.check_id.empty()) catalog_.remove_check(dereg.node, dereg.check_id);
    else catalog_.remove_node(dereg.node);
    return OpResult::ok();
  }
  void join(const std::string& address, std::function<void(OpResult)> done) override { done(record("join " + address)); }
  OpResult leave() override { return record("leave"); }
  OpResult force_leave(const std::string& node) override { return record("force_leave " + node); }
  void keyring_operation(KeyringOp, const std::string&, std::function<void(OpResult, KeyringReport)> done) override {
    done(OpResult::fail(500, "encryption is not enabled"), {});
  }
  std::optional<KeyringInfo> keyring() const override { return std::nullopt; }
  std::vector<MemberInfo> members() const override { return members_list; }
  MetricSet metrics() const override {
    MetricSet set;
    set.counter("hearsay.test.requests", 7);
    set.gauge("hearsay.test.members", 3);
    set.histograms.push_back({"hearsay.test.duration_seconds", {{"group", "catalog"}}, {}});
    set.histograms.back().histogram.observe_ns(2'000'000);
    set.uptime_seconds = 10;
    return set;
  }
  AgentIdentity identity() const override { return {node_, "id-1", "dc1", "0.1.0", "abc", "2026-01-01T00:00:00Z", {}}; }
  void after_commit(std::function<void(bool)> done) override {
    if (hold_commits) pending_commits.push_back(std::move(done));
    else done(true);
  }
  // Runs the held commit callbacks with `durable`.
  void commit(bool durable) {
    auto pending = std::move(pending_commits);
    pending_commits.clear();
    for (auto& done : pending) done(durable);
  }

  std::vector<std::string> calls;
  std::optional<OpResult> fail_next;
  bool hold_commits = false;
  std::vector<std::function<void(bool)>> pending_commits;
  std::vector<MemberInfo> members_list;

 private:
  std::optional<OpResult> take_failure(std::string call) {
    calls.push_back(std::move(call));
    auto failed = std::move(fail_next);
    fail_next.reset();
    return failed;
  }
  OpResult record(std::string call) {
    auto failed = take_failure(std::move(call));
    return failed ? *failed : OpResult::ok();
  }
  catalog::Catalog& catalog_;
  std::string node_;
};

// Builds a Request from "METHOD", "/path?a=1&b" (no percent-encoding: values are taken as is).
inline Request make_request(std::string method, const std::string& target, std::string body = {}) {
  Request r;
  r.method = std::move(method);
  r.raw_path = target;
  auto q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) {
    std::string rest = target.substr(q + 1);
    std::size_t start = 0;
    while (start <= rest.size()) {
      std::size_t amp = rest.find('&', start);
      std::string part = rest.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
      if (!part.empty()) {
        auto eq = part.find('=');
        if (eq == std::string::npos) r.query.emplace_back(part, "");
        else r.query.emplace_back(part.substr(0, eq), part.substr(eq + 1));
      }
      if (amp == std::string::npos) break;
      start = amp + 1;
    }
  }
  r.body = std::move(body);
  return r;
}

inline const std::string* header_of(const Response& res, const std::string& name) {
  for (const auto& [n, v] : res.headers) {
    if (n == name) return &v;
  }
  return nullptr;
}

// One request in flight: answered() once the handler (or a waiter, or a commit) replied.
struct Exchange {
  std::shared_ptr<RecordingSink> sink = std::make_shared<RecordingSink>();
  bool answered() const { return !sink->sent.empty(); }
  const Response& response() const { return sink->sent.front(); }
};

inline Exchange send(const std::function<void(Request, Responder)>& handler, std::string method,
                     const std::string& target, std::string body = {}) {
  Exchange e;
  handler(make_request(std::move(method), target, std::move(body)), Responder(e.sink, 1));
  return e;
}

inline rapidjson::Document parse_json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  return d;
}

}  // namespace hearsay::http::test
