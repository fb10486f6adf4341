// SQLite persistence: records, local registrations and the change index survive a reopen; a
// store newer than the code is refused; a corrupt row is skipped and counted.
#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <filesystem>
#include <random>

#include "../temp_dir.h"
#include "catalog/store_sqlite.h"

using namespace hearsay::catalog;
using hearsay::test::TempDir;
namespace fs = std::filesystem;

namespace {
void fill(Catalog& cat) {
  Node n;
  n.name = "a";
  n.address = "10.0.0.1";
  n.meta = {{"rack", "r1"}};
  n.origin = {"a", 7, 1};
  cat.upsert_node(n);
  Service s;
  s.node = "a";
  s.id = "web1";
  s.name = "web";
  s.tags = {"v1"};
  s.port = 8080;
  s.tagged_addresses = {{"lan", {"10.0.0.1", 8080}}};
  s.weights = {3, 1};
  cat.upsert_service(s);
  Check c;
  c.node = "a";
  c.id = "service:web1";
  c.name = "web check";
  c.service_id = "web1";
  c.status = HealthStatus::warning;
  c.output = "slow";
  c.spec.type = CheckType::http;
  c.spec.http = "http://127.0.0.1:8080/health";
  c.spec.interval = std::chrono::seconds(10);
  c.spec.header = {{"X-Test", {"1", "2"}}};
  cat.upsert_check(c);
}
}  // namespace

TEST_CASE("the durability asked for is what the connection runs with (-sync-writes)", "[unit]") {
  TempDir dir;
  CHECK(SqliteStore::open(dir.path, SqliteStore::Durability::full)->durability() == SqliteStore::Durability::full);
  CHECK(SqliteStore::open(dir.path, SqliteStore::Durability::normal)->durability() == SqliteStore::Durability::normal);
}

TEST_CASE("records and the change index survive closing and reopening the store", "[unit]") {
  TempDir dir;
  std::uint64_t index_before = 0;
  {
    auto store = SqliteStore::open(dir.path, SqliteStore::Durability::normal);
    Catalog cat;
    store->load(cat);
    fill(cat);
    store->stage_local_service("web1", std::string("{\"Name\":\"web\"}"));
    store->stage_setting("owner_version", "42");
    REQUIRE(store->commit(cat, cat.take_dirty()));
    index_before = cat.index();
  }
  auto store = SqliteStore::open(dir.path, SqliteStore::Durability::normal);
  Catalog cat;
  store->load(cat);
  CHECK(cat.index() == index_before);
  REQUIRE(cat.node("a"));
  CHECK(cat.node("a")->meta.at("rack") == "r1");
  CHECK(cat.node("a")->origin.version == 7);
  REQUIRE(cat.service("a", "web1"));
  CHECK(cat.service("a", "web1")->weights.passing == 3);
  CHECK(cat.service("a", "web1")->tagged_addresses.at("lan").port == 8080);
  const Check* check = cat.check("a", "service:web1");
  REQUIRE(check);
  CHECK(check->status == HealthStatus::warning);
  CHECK(check->service_name == "web");
  CHECK(check->spec.interval == std::chrono::seconds(10));
  CHECK(check->spec.header.at("X-Test") == std::vector<std::string>{"1", "2"});
  CHECK(store->local_services().at("web1") == "{\"Name\":\"web\"}");
  CHECK(store->get_setting("owner_version") == "42");
  // New writes continue above the old index: a client's stored index is never reused.
  cat.upsert_node(*cat.node("a"));
  CHECK(cat.index() > index_before);
}

TEST_CASE("deletes are persisted", "[unit]") {
  TempDir dir;
  {
    auto store = SqliteStore::open(dir.path, SqliteStore::Durability::normal);
    Catalog cat;
    fill(cat);
    REQUIRE(store->commit(cat, cat.take_dirty()));
    REQUIRE(cat.remove_service("a", "web1"));
    store->stage_local_service("web1", std::nullopt);
    REQUIRE(store->commit(cat, cat.take_dirty()));
  }
  auto store = SqliteStore::open(dir.path, SqliteStore::Durability::normal);
  Catalog cat;
  store->load(cat);
  CHECK(cat.node("a") != nullptr);
  CHECK(cat.service("a", "web1") == nullptr);
  CHECK(cat.all_checks().empty());
  CHECK(store->local_services().empty());
}

TEST_CASE("a corrupt row is skipped and counted, the rest loads", "[unit]") {
  TempDir dir;
  {
    auto store = SqliteStore::open(dir.path, SqliteStore::Durability::normal);
    Catalog cat;
    fill(cat);
    REQUIRE(store->commit(cat, cat.take_dirty()));
  }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir.path / "catalog.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "UPDATE services SET body = x'c1c2c3'", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto store = SqliteStore::open(dir.path, SqliteStore::Durability::normal);
  Catalog cat;
  store->load(cat);
  CHECK(cat.node("a") != nullptr);
  CHECK(cat.service("a", "web1") == nullptr);
  CHECK(store->stats().corrupt_rows_skipped >= 1);
}

TEST_CASE("a store with a newer schema than the code is refused at open", "[unit]") {
  TempDir dir;
  { auto store = SqliteStore::open(dir.path, SqliteStore::Durability::normal); }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir.path / "catalog.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  CHECK_THROWS_AS(SqliteStore::open(dir.path, SqliteStore::Durability::normal), StoreError);
}
