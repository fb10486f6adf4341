// The read model: cascades, per-query indexes (a watcher of one service is not woken by another),
// dirty keys for the store.
#include <catch2/catch.hpp>

#include "catalog/catalog.h"

using namespace hearsay::catalog;

namespace {
Node make_node(const std::string& name) {
  Node n;
  n.name = name;
  n.address = "10.0.0.1";
  n.datacenter = "dc1";
  return n;
}
Service make_service(const std::string& node, const std::string& id, const std::string& name) {
  Service s;
  s.node = node;
  s.id = id;
  s.name = name;
  s.tags = {"v1"};
  return s;
}
Check make_check(const std::string& node, const std::string& id, const std::string& service_id,
                 HealthStatus status = HealthStatus::passing) {
  Check c;
  c.node = node;
  c.id = id;
  c.name = id;
  c.service_id = service_id;
  c.status = status;
  return c;
}
}  // namespace

TEST_CASE("the change index starts at 1 and grows with every mutation", "[unit]") {
  Catalog cat;
  CHECK(cat.index() == 1);
  cat.upsert_node(make_node("a"));
  CHECK(cat.index() == 2);
  cat.upsert_service(make_service("a", "web1", "web"));
  CHECK(cat.index() == 3);
  CHECK(cat.node("a")->indexes.create_index == 2);
  cat.upsert_node(make_node("a"));
  CHECK(cat.node("a")->indexes.create_index == 2);
  CHECK(cat.node("a")->indexes.modify_index == 4);
}

TEST_CASE("a service's index moves only for changes that alter its answers", "[unit]") {
  Catalog cat;
  cat.upsert_node(make_node("a"));
  cat.upsert_node(make_node("b"));
  cat.upsert_service(make_service("a", "web1", "web"));
  cat.upsert_service(make_service("b", "db1", "db"));
  const auto web_before = cat.service_index("web");
  const auto db_before = cat.service_index("db");

  SECTION("another service's instance changes") {
    cat.upsert_service(make_service("b", "db2", "db"));
    CHECK(cat.service_index("web") == web_before);
    CHECK(cat.service_index("db") > db_before);
  }
  SECTION("a check of the instance changes") {
    cat.upsert_check(make_check("a", "c1", "web1"));
    CHECK(cat.service_index("web") > web_before);
    CHECK(cat.service_index("db") == db_before);
  }
  SECTION("a node-level check on the instance's node changes") {
    cat.upsert_check(make_check("a", "serfHealth", ""));
    CHECK(cat.service_index("web") > web_before);
    CHECK(cat.service_index("db") == db_before);
  }
  SECTION("the instance is removed: its name's index still moves") {
    REQUIRE(cat.remove_service("a", "web1"));
    CHECK(cat.service_index("web") > web_before);
    CHECK(cat.instances("web").empty());
  }
  SECTION("a service is renamed: both names move") {
    cat.upsert_service(make_service("a", "web1", "www"));
    CHECK(cat.service_index("web") > web_before);
    CHECK(cat.instances("web").empty());
    CHECK(cat.instances("www").size() == 1);
  }
}

TEST_CASE("removing a node removes its services and checks", "[unit]") {
  Catalog cat;
  cat.upsert_node(make_node("a"));
  cat.upsert_service(make_service("a", "web1", "web"));
  cat.upsert_check(make_check("a", "c1", "web1"));
  cat.upsert_check(make_check("a", "serfHealth", ""));
  (void)cat.take_dirty();
  REQUIRE(cat.remove_node("a"));
  CHECK(cat.node("a") == nullptr);
  CHECK(cat.instances("web").empty());
  CHECK(cat.all_checks().empty());
  CHECK(cat.service_names().empty());
  DirtyKeys dirty = cat.take_dirty();
  CHECK(dirty.nodes.count("a") == 1);
  CHECK(dirty.services.count({"a", "web1"}) == 1);
  CHECK(dirty.checks.size() == 2);
  CHECK_FALSE(cat.remove_node("a"));
}

TEST_CASE("removing a service removes its checks but not the node's", "[unit]") {
  Catalog cat;
  cat.upsert_node(make_node("a"));
  cat.upsert_service(make_service("a", "web1", "web"));
  cat.upsert_check(make_check("a", "c1", "web1"));
  cat.upsert_check(make_check("a", "serfHealth", ""));
  REQUIRE(cat.remove_service("a", "web1"));
  auto checks = cat.checks_of_node("a");
  REQUIRE(checks.size() == 1);
  CHECK(checks[0]->id == "serfHealth");
}

TEST_CASE("instance checks are the node-level checks plus the instance's own", "[unit]") {
  Catalog cat;
  cat.upsert_node(make_node("a"));
  cat.upsert_service(make_service("a", "web1", "web"));
  cat.upsert_service(make_service("a", "web2", "web"));
  cat.upsert_check(make_check("a", "serfHealth", ""));
  cat.upsert_check(make_check("a", "c1", "web1", HealthStatus::critical));
  cat.upsert_check(make_check("a", "c2", "web2"));
  auto checks = cat.instance_checks(*cat.service("a", "web1"));
  REQUIRE(checks.size() == 2);
  CHECK(aggregate_status(checks) == "critical");
  CHECK(aggregate_status(cat.instance_checks(*cat.service("a", "web2"))) == "passing");
  CHECK(cat.checks_of_service_name("web").size() == 2);
}

TEST_CASE("checks carry the service's name and tags, and follow changes to them", "[unit]") {
  Catalog cat;
  cat.upsert_node(make_node("a"));
  cat.upsert_service(make_service("a", "web1", "web"));
  cat.upsert_check(make_check("a", "c1", "web1"));
  CHECK(cat.check("a", "c1")->service_name == "web");
  Service updated = make_service("a", "web1", "web");
  updated.tags = {"v2", "canary"};
  cat.upsert_service(updated);
  CHECK(cat.check("a", "c1")->service_tags == std::vector<std::string>{"v2", "canary"});
}

TEST_CASE("service_names unions the tags of all instances", "[unit]") {
  Catalog cat;
  cat.upsert_node(make_node("a"));
  Service s1 = make_service("a", "web1", "web");
  s1.tags = {"b", "a"};
  Service s2 = make_service("a", "web2", "web");
  s2.tags = {"c", "a"};
  cat.upsert_service(s1);
  cat.upsert_service(s2);
  auto names = cat.service_names();
  REQUIRE(names.count("web") == 1);
  CHECK(names["web"] == std::set<std::string>{"a", "b", "c"});
}

TEST_CASE("the listener hears every mutation with the new index", "[unit]") {
  Catalog cat;
  std::vector<std::uint64_t> heard;
  cat.set_listener([&](std::uint64_t idx) { heard.push_back(idx); });
  cat.upsert_node(make_node("a"));
  cat.upsert_service(make_service("a", "web1", "web"));
  cat.remove_service("a", "web1");
  CHECK(heard == std::vector<std::uint64_t>{2, 3, 4});
}

TEST_CASE("a node's index moves when its services change", "[unit]") {
  Catalog cat;
  cat.upsert_node(make_node("a"));
  cat.upsert_node(make_node("b"));
  auto a_before = cat.node_index("a");
  auto b_before = cat.node_index("b");
  cat.upsert_service(make_service("a", "web1", "web"));
  CHECK(cat.node_index("a") > a_before);
  CHECK(cat.node_index("b") == b_before);
  a_before = cat.node_index("a");
  REQUIRE(cat.remove_service("a", "web1"));
  CHECK(cat.node_index("a") > a_before);
}
