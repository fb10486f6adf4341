// SQLite persistence. Schema migrations are numbered steps tracked in PRAGMA user_version.
#include "catalog/store_sqlite.h"

#include <sqlite3.h>

#include "catalog/record_codec.h"

namespace hearsay::catalog {
namespace {

// Each entry migrates the schema from version i to i+1. Append only; never edit a shipped step.
constexpr const char* kMigrations[] = {
    R"sql(
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE nodes (name TEXT PRIMARY KEY, owner TEXT NOT NULL, version INTEGER NOT NULL,
                        generation INTEGER NOT NULL, modify_index INTEGER NOT NULL, body BLOB NOT NULL);
    CREATE TABLE services (node TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, owner TEXT NOT NULL,
                           version INTEGER NOT NULL, generation INTEGER NOT NULL,
                           modify_index INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (node, id));
    CREATE TABLE checks (node TEXT NOT NULL, id TEXT NOT NULL, owner TEXT NOT NULL, version INTEGER NOT NULL,
                         generation INTEGER NOT NULL, modify_index INTEGER NOT NULL, body BLOB NOT NULL,
                         PRIMARY KEY (node, id));
    CREATE TABLE local_services (id TEXT PRIMARY KEY, definition TEXT NOT NULL);
    CREATE TABLE local_checks (id TEXT PRIMARY KEY, definition TEXT NOT NULL);
    )sql",
};

constexpr const char* kChangeIndexKey = "change_index";

std::string column_text(sqlite3_stmt* st, int col) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st, col))) : std::string();
}

std::string_view column_blob(sqlite3_stmt* st, int col) {
  const void* p = sqlite3_column_blob(st, col);
  return p ? std::string_view(static_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(st, col)))
           : std::string_view();
}

void bind_text(sqlite3_stmt* st, int i, std::string_view s) {
  sqlite3_bind_text(st, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
}
void bind_blob(sqlite3_stmt* st, int i, std::string_view s) {
  sqlite3_bind_blob(st, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
}
void bind_u64(sqlite3_stmt* st, int i, std::uint64_t v) { sqlite3_bind_int64(st, i, static_cast<sqlite3_int64>(v)); }

}  // namespace

std::unique_ptr<SqliteStore> SqliteStore::open(const std::filesystem::path& dir, Durability durability) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw StoreError("cannot create data dir " + dir.string() + ": " + ec.message());
  auto path = dir / "catalog.db";
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw StoreError("cannot open " + path.string() + ": " + msg);
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db, path));
  store->exec("PRAGMA journal_mode=WAL");
  store->exec(durability == Durability::full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  store->exec("PRAGMA foreign_keys=OFF");
  sqlite3_busy_timeout(db, 5000);
  store->migrate();
  return store;
}

SqliteStore::SqliteStore(sqlite3* db, std::filesystem::path path) : db_(db), path_(std::move(path)) {}

SqliteStore::~SqliteStore() {
  for (auto& [sql, st] : statements_) sqlite3_finalize(st);
  sqlite3_close(db_);
}

SqliteStore::Durability SqliteStore::durability() const {
  sqlite3_stmt* stmt = nullptr;
  int level = -1;
  if (sqlite3_prepare_v2(db_, "PRAGMA synchronous", -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
    level = sqlite3_column_int(stmt, 0);
  }
  sqlite3_finalize(stmt);
  return level >= 2 ? Durability::full : Durability::normal;  // 2 FULL, 3 EXTRA; 1 NORMAL, 0 OFF
}

void SqliteStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw StoreError("sqlite " + path_.string() + ": " + msg);
  }
}

sqlite3_stmt* SqliteStore::prepare(const char* sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) {
    sqlite3_reset(it->second);
    sqlite3_clear_bindings(it->second);
    return it->second;
  }
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK) {
    throw StoreError(std::string("sqlite prepare: ") + sqlite3_errmsg(db_));
  }
  statements_.emplace(sql, st);
  return st;
}

void SqliteStore::migrate() {
  sqlite3_stmt* st = prepare("PRAGMA user_version");
  int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
  sqlite3_reset(st);
  const int target = static_cast<int>(std::size(kMigrations));
  if (version > target) {
    throw StoreError(path_.string() + " has schema version " + std::to_string(version) +
                     ", newer than this agent understands (" + std::to_string(target) + ")");
  }
  for (; version < target; ++version) {
    exec("BEGIN IMMEDIATE");
    try {
      exec(kMigrations[version]);
      exec(("PRAGMA user_version=" + std::to_string(version + 1)).c_str());
      exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
}

void SqliteStore::load(Catalog& catalog) {
  // Nodes first: services and checks refer to them.
  sqlite3_stmt* st = prepare("SELECT body FROM nodes");
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (auto node = decode_node(column_blob(st, 0))) catalog.load(std::move(*node));
    else ++stats_.corrupt_rows_skipped;
  }
  st = prepare("SELECT body FROM services");
  while (sqlite3_step(st) == SQLITE_ROW) {
    auto svc = decode_service(column_blob(st, 0));
    if (svc && catalog.node(svc->node)) catalog.load(std::move(*svc));
    else ++stats_.corrupt_rows_skipped;
  }
  st = prepare("SELECT body FROM checks");
  while (sqlite3_step(st) == SQLITE_ROW) {
    auto check = decode_check(column_blob(st, 0));
    if (!check || !catalog.node(check->node)) {
      ++stats_.corrupt_rows_skipped;
      continue;
    }
    if (!check->service_id.empty()) {
      if (const Service* svc = catalog.service(check->node, check->service_id)) {
        check->service_name = svc->name;
        check->service_tags = svc->tags;
      }
    }
    catalog.load(std::move(*check));
  }
  sqlite3_reset(st);
  if (auto idx = get_setting(kChangeIndexKey)) {
    catalog.restore_index(std::strtoull(idx->c_str(), nullptr, 10));
  }
}

std::map<std::string, std::string> SqliteStore::read_table(const char* sql) const {
  std::map<std::string, std::string> out;
  auto* self = const_cast<SqliteStore*>(this);  // statement cache only
  sqlite3_stmt* st = self->prepare(sql);
  while (sqlite3_step(st) == SQLITE_ROW) out.emplace(column_text(st, 0), column_text(st, 1));
  sqlite3_reset(st);
  return out;
}

std::map<std::string, std::string> SqliteStore::local_services() const {
  return read_table("SELECT id, definition FROM local_services");
}

std::map<std::string, std::string> SqliteStore::local_checks() const {
  return read_table("SELECT id, definition FROM local_checks");
}

void SqliteStore::stage_local_service(const std::string& id, std::optional<std::string> json) {
  staged_locals_.push_back({true, id, std::move(json)});
}

void SqliteStore::stage_local_check(const std::string& id, std::optional<std::string> json) {
  staged_locals_.push_back({false, id, std::move(json)});
}

std::optional<std::string> SqliteStore::get_setting(const std::string& key) const {
  auto it = staged_settings_.find(key);
  if (it != staged_settings_.end()) return it->second;
  auto* self = const_cast<SqliteStore*>(this);
  sqlite3_stmt* st = self->prepare("SELECT value FROM settings WHERE key = ?");
  bind_text(st, 1, key);
  std::optional<std::string> out;
  if (sqlite3_step(st) == SQLITE_ROW) out = column_text(st, 0);
  sqlite3_reset(st);
  return out;
}

void SqliteStore::stage_setting(const std::string& key, std::string value) { staged_settings_[key] = std::move(value); }

bool SqliteStore::commit(const Catalog& catalog, const DirtyKeys& new_dirty) {
  DirtyKeys dirty = std::exchange(retry_, DirtyKeys{});
  dirty.nodes.insert(new_dirty.nodes.begin(), new_dirty.nodes.end());
  dirty.services.insert(new_dirty.services.begin(), new_dirty.services.end());
  dirty.checks.insert(new_dirty.checks.begin(), new_dirty.checks.end());
  if (dirty.empty() && !has_staged()) return true;
  auto step_done = [&](sqlite3_stmt* st) {
    if (sqlite3_step(st) != SQLITE_DONE) throw StoreError(std::string("sqlite write: ") + sqlite3_errmsg(db_));
    sqlite3_reset(st);
    ++stats_.rows_written;
  };
  try {
    exec("BEGIN IMMEDIATE");
    for (const std::string& name : dirty.nodes) {
      if (const Node* n = catalog.node(name)) {
        sqlite3_stmt* st = prepare(
            "INSERT OR REPLACE INTO nodes (name, owner, version, generation, modify_index, body) VALUES (?,?,?,?,?,?)");
        bind_text(st, 1, n->name), bind_text(st, 2, n->origin.owner), bind_u64(st, 3, n->origin.version);
        bind_u64(st, 4, n->origin.generation), bind_u64(st, 5, n->indexes.modify_index);
        bind_blob(st, 6, encode_record(*n));
        step_done(st);
      } else {
        sqlite3_stmt* st = prepare("DELETE FROM nodes WHERE name = ?");
        bind_text(st, 1, name);
        step_done(st);
      }
    }
    for (const InstanceKey& key : dirty.services) {
      if (const Service* s = catalog.service(key.first, key.second)) {
        sqlite3_stmt* st = prepare(
            "INSERT OR REPLACE INTO services (node, id, name, owner, version, generation, modify_index, body) "
            "VALUES (?,?,?,?,?,?,?,?)");
        bind_text(st, 1, s->node), bind_text(st, 2, s->id), bind_text(st, 3, s->name);
        bind_text(st, 4, s->origin.owner), bind_u64(st, 5, s->origin.version), bind_u64(st, 6, s->origin.generation);
        bind_u64(st, 7, s->indexes.modify_index), bind_blob(st, 8, encode_record(*s));
        step_done(st);
      } else {
        sqlite3_stmt* st = prepare("DELETE FROM services WHERE node = ? AND id = ?");
        bind_text(st, 1, key.first), bind_text(st, 2, key.second);
        step_done(st);
      }
    }
    for (const InstanceKey& key : dirty.checks) {
      if (const Check* c = catalog.check(key.first, key.second)) {
        sqlite3_stmt* st = prepare(
            "INSERT OR REPLACE INTO checks (node, id, owner, version, generation, modify_index, body) "
            "VALUES (?,?,?,?,?,?,?)");
        bind_text(st, 1, c->node), bind_text(st, 2, c->id), bind_text(st, 3, c->origin.owner);
        bind_u64(st, 4, c->origin.version), bind_u64(st, 5, c->origin.generation);
        bind_u64(st, 6, c->indexes.modify_index), bind_blob(st, 7, encode_record(*c));
        step_done(st);
      } else {
        sqlite3_stmt* st = prepare("DELETE FROM checks WHERE node = ? AND id = ?");
        bind_text(st, 1, key.first), bind_text(st, 2, key.second);
        step_done(st);
      }
    }
    for (const StagedLocal& local : staged_locals_) {
      sqlite3_stmt* st = nullptr;
      if (local.json) {
        st = prepare(local.is_service ? "INSERT OR REPLACE INTO local_services (id, definition) VALUES (?,?)"
                                      : "INSERT OR REPLACE INTO local_checks (id, definition) VALUES (?,?)");
        bind_text(st, 2, *local.json);
      } else {
        st = prepare(local.is_service ? "DELETE FROM local_services WHERE id = ?"
                                      : "DELETE FROM local_checks WHERE id = ?");
      }
      bind_text(st, 1, local.id);
      step_done(st);
    }
    staged_settings_[kChangeIndexKey] = std::to_string(catalog.index());
    for (const auto& [key, value] : staged_settings_) {
      sqlite3_stmt* st = prepare("INSERT OR REPLACE INTO settings (key, value) VALUES (?,?)");
      bind_text(st, 1, key), bind_text(st, 2, value);
      step_done(st);
    }
    exec("COMMIT");
  } catch (const StoreError&) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    ++stats_.commit_failures;
    retry_ = std::move(dirty);
    return false;
  }
  staged_locals_.clear();
  staged_settings_.clear();
  ++stats_.commits;
  return true;
}

void SqliteStore::revert(Catalog& catalog, const std::string& owner) {
  staged_locals_.clear();
  // A row's body, or nothing when the last durable commit left none.
  auto row = [this](const char* sql, const std::string& a, const std::string* b) -> std::optional<std::string> {
    sqlite3_stmt* st = prepare(sql);
    bind_text(st, 1, a);
    if (b) bind_text(st, 2, *b);
    std::optional<std::string> body;
    if (sqlite3_step(st) == SQLITE_ROW) body = std::string(column_blob(st, 0));
    sqlite3_reset(st);
    return body;
  };
  auto owned = [&owner](const RecordOrigin* in_memory, const RecordOrigin* durable) {
    auto ours = [&owner](const RecordOrigin* o) { return o && o->owner == owner && o->version != 0; };
    return ours(in_memory) || ours(durable);
  };
  DirtyKeys kept;
  for (const std::string& name : retry_.nodes) {
    auto body = row("SELECT body FROM nodes WHERE name = ?", name, nullptr);
    auto durable = body ? decode_node(*body) : std::nullopt;
    const Node* current = catalog.node(name);
    if (!owned(current ? &current->origin : nullptr, durable ? &durable->origin : nullptr)) {
      kept.nodes.insert(name);
      continue;
    }
    if (durable) catalog.upsert_node(std::move(*durable));
    else if (current) catalog.remove_node(name);
    ++stats_.records_reverted;
  }
  for (const InstanceKey& key : retry_.services) {
    auto body = row("SELECT body FROM services WHERE node = ? AND id = ?", key.first, &key.second);
    auto durable = body ? decode_service(*body) : std::nullopt;
    const Service* current = catalog.service(key.first, key.second);
    if (!owned(current ? &current->origin : nullptr, durable ? &durable->origin : nullptr)) {
      kept.services.insert(key);
      continue;
    }
    if (durable && catalog.node(key.first)) catalog.upsert_service(std::move(*durable));
    else if (current) catalog.remove_service(key.first, key.second);
    ++stats_.records_reverted;
  }
  for (const InstanceKey& key : retry_.checks) {
    auto body = row("SELECT body FROM checks WHERE node = ? AND id = ?", key.first, &key.second);
    auto durable = body ? decode_check(*body) : std::nullopt;
    const Check* current = catalog.check(key.first, key.second);
    if (!owned(current ? &current->origin : nullptr, durable ? &durable->origin : nullptr)) {
      kept.checks.insert(key);
      continue;
    }
    if (durable && catalog.node(key.first)) catalog.upsert_check(std::move(*durable));
    else if (current) catalog.remove_check(key.first, key.second);
    ++stats_.records_reverted;
  }
  retry_ = std::move(kept);
}

}  // namespace hearsay::catalog
