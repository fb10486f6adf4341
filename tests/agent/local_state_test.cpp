// LocalState without an event loop: a recording check runner and a virtual clock. Covers
// registration, TTL updates, persistence across a restart, deregistration and the
// DeregisterCriticalServiceAfter reaper.
#include <catch2/catch.hpp>

#include <filesystem>
#include <random>

#include "../temp_dir.h"
#include "agent/local_state.h"

using namespace hearsay;
using namespace hearsay::agent;
using hearsay::test::TempDir;
using catalog::HealthStatus;
using Clock = LocalState::Clock;

namespace {

struct RecordingRunner {
  std::map<std::string, catalog::CheckSpec> running;
  LocalState::CheckRunner runner() {
    return {[this](const std::string& id, const catalog::CheckSpec& spec) { running[id] = spec; },
            [this](const std::string& id) { running.erase(id); },
            [this](const std::string& id, HealthStatus, std::string) {
              auto it = running.find(id);
              return it != running.end() && it->second.type == catalog::CheckType::ttl;
            }};
  }
};

// One agent's state over a data dir; destroy and rebuild it to simulate a restart.
struct Fixture {
  TempDir& dir;
  AgentConfig config;
  std::unique_ptr<catalog::SqliteStore> store;
  catalog::Catalog catalog;
  RecordingRunner runner;
  std::unique_ptr<LocalState> local;
  Clock::time_point t0 = Clock::time_point{} + std::chrono::hours(1);

  explicit Fixture(TempDir& d) : dir(d) {
    config.node_name = "node1";
    config.deregister_critical_min = std::chrono::seconds(1);
    store = catalog::SqliteStore::open(dir.path, catalog::SqliteStore::Durability::normal);
    store->load(catalog);
    local = std::make_unique<LocalState>(catalog, *store, runner.runner(), config, "uuid-1", "127.0.0.1");
    local->start(t0);
    commit();
  }
  void commit() { REQUIRE(store->commit(catalog, catalog.take_dirty())); }
};

catalog::ServiceDefinition web_with_ttl(std::chrono::nanoseconds deregister_after = {}) {
  catalog::ServiceDefinition def;
  def.name = "web";
  def.id = "web1";
  def.port = 8080;
  catalog::CheckDefinition check;
  check.spec.ttl = std::chrono::seconds(30);
  check.spec.deregister_critical_after = deregister_after;
  def.checks.push_back(check);
  REQUIRE_FALSE(catalog::normalize_service(def));
  return def;
}

// A normalized script check running /bin/true every 10 s.
catalog::CheckDefinition script_check() {
  catalog::CheckDefinition script;
  script.name = "s";
  script.spec.type = catalog::CheckType::script;
  script.spec.args = {"/bin/true"};
  script.spec.interval = std::chrono::seconds(10);
  REQUIRE_FALSE(catalog::normalize_check(script));
  return script;
}

}  // namespace

TEST_CASE("start registers the node with a passing serfHealth check", "[unit]") {
  TempDir dir;
  Fixture f(dir);
  REQUIRE(f.catalog.node("node1"));
  CHECK(f.catalog.node("node1")->address == "127.0.0.1");
  const catalog::Check* health = f.catalog.check("node1", "serfHealth");
  REQUIRE(health);
  CHECK(health->status == HealthStatus::passing);
}

TEST_CASE("a registered service's TTL check starts critical and follows updates", "[unit]") {
  TempDir dir;
  Fixture f(dir);
  REQUIRE(f.local->register_service(web_with_ttl(), false, Source::api, f.t0).succeeded());
  REQUIRE(f.catalog.service("node1", "web1"));
  CHECK(f.catalog.check("node1", "service:web1")->status == HealthStatus::critical);
  CHECK(f.runner.running.count("service:web1") == 1);

  REQUIRE(f.local->update_ttl("service:web1", HealthStatus::passing, "ok", f.t0).succeeded());
  CHECK(f.catalog.check("node1", "service:web1")->status == HealthStatus::passing);
  CHECK(f.catalog.check("node1", "service:web1")->output == "ok");

  auto unknown = f.local->update_ttl("nope", HealthStatus::passing, "", f.t0);
  CHECK(unknown.status == 404);
  CHECK(unknown.error.find("Unknown check ID \"nope\"") == 0);
}

TEST_CASE("an unchanged check result does not bump the change index", "[unit]") {
  TempDir dir;
  Fixture f(dir);
  REQUIRE(f.local->register_service(web_with_ttl(), false, Source::api, f.t0).succeeded());
  f.local->on_check_result("service:web1", {HealthStatus::passing, "ok"}, f.t0);
  auto index = f.catalog.index();
  f.local->on_check_result("service:web1", {HealthStatus::passing, "ok"}, f.t0);
  CHECK(f.catalog.index() == index);
}

TEST_CASE("registrations and check state survive a restart", "[unit]") {
  TempDir dir;
  {
    Fixture f(dir);
    REQUIRE(f.local->register_service(web_with_ttl(), false, Source::api, f.t0).succeeded());
    REQUIRE(f.local->update_ttl("service:web1", HealthStatus::passing, "before", f.t0).succeeded());
    catalog::CheckDefinition standalone;
    standalone.name = "disk";
    standalone.spec.ttl = std::chrono::seconds(10);
    REQUIRE_FALSE(catalog::normalize_check(standalone));
    REQUIRE(f.local->register_check(standalone, Source::api, f.t0).succeeded());
    f.commit();
  }
  Fixture again(dir);
  const catalog::Service* svc = again.catalog.service("node1", "web1");
  REQUIRE(svc);
  CHECK(svc->port == 8080);
  const catalog::Check* check = again.catalog.check("node1", "service:web1");
  REQUIRE(check);
  CHECK(check->status == HealthStatus::passing);
  CHECK(check->output == "before");
  CHECK(again.catalog.check("node1", "disk") != nullptr);
  // The checks run again after the restart.
  CHECK(again.runner.running.count("service:web1") == 1);
  CHECK(again.runner.running.count("disk") == 1);
}

TEST_CASE("deregistering a service removes it, its checks and its persisted definition", "[unit]") {
  TempDir dir;
  {
    Fixture f(dir);
    REQUIRE(f.local->register_service(web_with_ttl(), false, Source::api, f.t0).succeeded());
    f.commit();
    REQUIRE(f.local->deregister_service("web1").succeeded());
    f.commit();
    CHECK(f.catalog.service("node1", "web1") == nullptr);
    CHECK(f.catalog.check("node1", "service:web1") == nullptr);
    CHECK(f.runner.running.empty());
    CHECK(f.local->deregister_service("web1").status == 404);
  }
  Fixture again(dir);
  CHECK(again.catalog.service("node1", "web1") == nullptr);
}

TEST_CASE("a service critical for longer than DeregisterCriticalServiceAfter is reaped", "[unit]") {
  TempDir dir;
  Fixture f(dir);
  REQUIRE(f.local->register_service(web_with_ttl(std::chrono::seconds(2)), false, Source::api, f.t0).succeeded());
  CHECK(f.local->reap_critical_services(f.t0 + std::chrono::seconds(1)) == 0);
  CHECK(f.catalog.service("node1", "web1") != nullptr);
  // Passing resets the clock.
  REQUIRE(f.local->update_ttl("service:web1", HealthStatus::passing, "", f.t0 + std::chrono::seconds(1)).succeeded());
  REQUIRE(f.local->update_ttl("service:web1", HealthStatus::critical, "", f.t0 + std::chrono::seconds(2)).succeeded());
  CHECK(f.local->reap_critical_services(f.t0 + std::chrono::seconds(3)) == 0);
  CHECK(f.local->reap_critical_services(f.t0 + std::chrono::seconds(4)) == 1);
  CHECK(f.catalog.service("node1", "web1") == nullptr);
}

TEST_CASE("script checks need enable_script_checks", "[unit]") {
  TempDir dir;
  Fixture f(dir);
  const catalog::CheckDefinition script = script_check();
  auto r = f.local->register_check(script, Source::api, f.t0);
  CHECK(r.status == 400);
  CHECK(r.error.find("enable_script_checks") != std::string::npos);
  f.config.enable_script_checks = true;
  CHECK(f.local->register_check(script, Source::api, f.t0).succeeded());
}

TEST_CASE("enable_local_script_checks allows script checks from config files only", "[unit]") {
  TempDir dir;
  Fixture f(dir);
  const catalog::CheckDefinition script = script_check();
  // Off (the default): refused from a config file too, and never started.
  auto refused = f.local->register_check(script, Source::config_file, f.t0);
  CHECK(refused.status == 400);
  CHECK(refused.error.find("script") != std::string::npos);
  CHECK(f.runner.running.empty());
  f.config.enable_local_script_checks = true;
  // On: a config file's script check registers and runs...
  REQUIRE(f.local->register_check(script, Source::config_file, f.t0).succeeded());
  REQUIRE(f.runner.running.count("s") == 1);
  CHECK(f.runner.running.at("s").type == catalog::CheckType::script);
  // ...but one registered over HTTP is still refused: that needs enable_script_checks.
  catalog::CheckDefinition over_http = script;
  over_http.name = "h";
  over_http.id = "h";
  auto http = f.local->register_check(over_http, Source::api, f.t0);
  CHECK(http.status == 400);
  CHECK(http.error.find("enable_script_checks") != std::string::npos);
  CHECK(f.runner.running.count("h") == 0);
}

TEST_CASE("maintenance mode adds and removes a critical check", "[unit]") {
  TempDir dir;
  Fixture f(dir);
  REQUIRE(f.local->register_service(web_with_ttl(), false, Source::api, f.t0).succeeded());
  REQUIRE(f.local->set_service_maintenance("web1", true, "deploying").succeeded());
  const catalog::Check* maint = f.catalog.check("node1", "_service_maintenance:web1");
  REQUIRE(maint);
  CHECK(maint->notes == "deploying");
  CHECK(catalog::aggregate_status(f.catalog.instance_checks(*f.catalog.service("node1", "web1"))) == "maintenance");
  REQUIRE(f.local->set_service_maintenance("web1", false, "").succeeded());
  CHECK(f.catalog.check("node1", "_service_maintenance:web1") == nullptr);
  CHECK(f.local->set_service_maintenance("nope", true, "").status == 404);
}

TEST_CASE("catalog register adds an external node owned by this agent", "[unit]") {
  TempDir dir;
  Fixture f(dir);
  http::CatalogRegistration reg;
  reg.node = "ext";
  reg.address = "192.0.2.10";
  catalog::Service svc;
  svc.id = "redis1";
  svc.name = "redis";
  svc.port = 6379;
  reg.service = svc;
  REQUIRE(f.local->catalog_register(reg).succeeded());
  REQUIRE(f.catalog.service("ext", "redis1"));
  CHECK(f.catalog.service("ext", "redis1")->origin.owner == "node1");
  http::CatalogDeregistration dereg;
  dereg.node = "ext";
  REQUIRE(f.local->catalog_deregister(dereg).succeeded());
  CHECK(f.catalog.node("ext") == nullptr);
  dereg.node = "node1";
  CHECK(f.local->catalog_deregister(dereg).status == 400);
}
