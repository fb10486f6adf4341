// The durable side of the catalog: SQLite in WAL mode under the data dir. Holds the replica
// (nodes, services, checks as msgpack bodies), the change index, owner counters and the agent's
// own registration definitions. Writes are grouped: the agent stages changes during one event-loop
// turn and commits them in a single transaction (group commit) before answering the writers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "catalog/catalog.h"

struct sqlite3;
struct sqlite3_stmt;

namespace hearsay::catalog {

// Thrown only by open() (startup); everything afterwards reports through return values.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct StoreStats {
  std::uint64_t commits = 0;
  std::uint64_t rows_written = 0;
  std::uint64_t commit_failures = 0;
  std::uint64_t records_reverted = 0;  // by revert(), after failed commits
  std::uint64_t corrupt_rows_skipped = 0;
};

class SqliteStore {
 public:
  enum class Durability { full, normal };  // PRAGMA synchronous: FULL fsyncs every commit

  // Opens (creating if needed) <dir>/catalog.db and migrates the schema.
  static std::unique_ptr<SqliteStore> open(const std::filesystem::path& dir, Durability durability);
  ~SqliteStore();
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // What the connection really runs with (PRAGMA synchronous read back: FULL is `full`).
  [[nodiscard]] Durability durability() const;

  // Loads every record into `catalog` and restores its change index.
  void load(Catalog& catalog);

  // Agent-local registrations, kept as the JSON the client sent (normalized).
  std::map<std::string, std::string> local_services() const;
  std::map<std::string, std::string> local_checks() const;
  void stage_local_service(const std::string& id, std::optional<std::string> definition_json);
  void stage_local_check(const std::string& id, std::optional<std::string> definition_json);

  // Small persistent settings (owner version counter, node ID, ...).
  std::optional<std::string> get_setting(const std::string& key) const;
  void stage_setting(const std::string& key, std::string value);

  bool has_staged() const { return !staged_locals_.empty() || !staged_settings_.empty() || !retry_.empty(); }

  // Writes the dirty records' current state, staged locals and settings, and the change index
  // in one transaction. Returns false (and keeps nothing half-written) when SQLite fails; the
  // keys are then kept and written with the next commit.
  [[nodiscard]] bool commit(const Catalog& catalog, const DirtyKeys& dirty);

  // After a failed commit, so that a write answered with an error takes no effect: the records
  // written by `owner` among the failed keys go back to what the last durable commit left (their
  // rows, or their absence), and the staged registrations are dropped. Other owners' records
  // (replicas, durable at their owner) stay and are written with the next commit.
  void revert(Catalog& catalog, const std::string& owner);

  const StoreStats& stats() const { return stats_; }
  std::filesystem::path path() const { return path_; }

 private:
  SqliteStore(sqlite3* db, std::filesystem::path path);
  void exec(const char* sql);  // throws StoreError (startup and inside commit's try)
  sqlite3_stmt* prepare(const char* sql);
  void migrate();
  std::map<std::string, std::string> read_table(const char* sql) const;

  struct StagedLocal {
    bool is_service;
    std::string id;
    std::optional<std::string> json;
  };

  sqlite3* db_;
  std::filesystem::path path_;
  std::vector<StagedLocal> staged_locals_;
  std::map<std::string, std::string> staged_settings_;
  std::map<std::string, sqlite3_stmt*> statements_;
  DirtyKeys retry_;  // keys of a failed commit, written again with the next one
  StoreStats stats_;
};

}  // namespace hearsay::catalog
