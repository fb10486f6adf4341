// The in-memory read model of the catalog: every query (HTTP, DNS) reads from here, never from
// SQLite. Each mutation bumps one change index (Consul's X-Consul-Index) and records which keys
// are dirty so the store can persist them in one transaction (group commit). It also keeps
// per-query indexes (per service name, per node, ...) so a blocking query on one service is not
// woken by changes to another (consul-compat.md section 2).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "catalog/model.h"

namespace hearsay::catalog {

// A record key: node name plus service or check ID.
using InstanceKey = std::pair<std::string, std::string>;

// Keys changed since the last take_dirty(): the store writes each one's current state, or
// deletes the row when the record no longer exists. Coalesces many writes to one key.
struct DirtyKeys {
  std::set<std::string> nodes;
  std::set<InstanceKey> services;
  std::set<InstanceKey> checks;
  bool empty() const { return nodes.empty() && services.empty() && checks.empty(); }
};

class Catalog {
 public:
  Catalog() = default;

  // Current change index; never 0, only grows (persisted by the store across restarts).
  std::uint64_t index() const { return index_; }
  void restore_index(std::uint64_t index);

  // ---- Mutations. Each bumps the change index, stamps create/modify indexes and marks dirty.
  // Upserts leave create_index as it was when the record existed before.
  void upsert_node(Node node);
  // Removes the node with every service and check on it. False when absent.
  bool remove_node(const std::string& name);
  // The node must exist (callers register it first).
  void upsert_service(Service service);
  // Removes the instance and its checks. False when absent.
  bool remove_service(const std::string& node, const std::string& service_id);
  // Fills service_name/service_tags from the instance when service_id is set.
  void upsert_check(Check check);
  bool remove_check(const std::string& node, const std::string& check_id);

  // Loading from the store at startup: no index bump, nothing marked dirty.
  void load(Node node);
  void load(Service service);
  void load(Check check);

  DirtyKeys take_dirty();

  // Called after every mutation with the new change index (blocking queries subscribe).
  using Listener = std::function<void(std::uint64_t index)>;
  void set_listener(Listener listener) { listener_ = std::move(listener); }

  // ---- Reads. Pointers stay valid until the next mutation.
  const Node* node(const std::string& name) const;
  const Service* service(const std::string& node, const std::string& service_id) const;
  const Check* check(const std::string& node, const std::string& check_id) const;
  std::vector<const Node*> nodes() const;  // by name
  std::vector<const Service*> services_of_node(const std::string& node) const;
  std::vector<const Check*> checks_of_node(const std::string& node) const;  // all, node and service level
  // Instances of a service name, ordered by (node, id).
  std::vector<const Service*> instances(const std::string& service_name) const;
  // The checks that decide an instance's health: its node's node-level checks + its own.
  std::vector<const Check*> instance_checks(const Service& service) const;
  std::vector<const Check*> checks_of_service_name(const std::string& service_name) const;
  std::vector<const Check*> all_checks() const;
  // Service name -> union of tags of its instances (sorted), as /v1/catalog/services.
  std::map<std::string, std::set<std::string>> service_names() const;
  std::size_t node_count() const { return nodes_.size(); }
  std::size_t service_count() const { return services_.size(); }

  // ---- Indexes for blocking queries: the change index of the last change that could alter
  // the answer. Unknown names report the index of the last time they changed (or 1).
  std::uint64_t services_index() const { return at_least_one(services_index_); }
  std::uint64_t nodes_index() const { return at_least_one(nodes_index_); }
  std::uint64_t checks_index() const { return at_least_one(checks_index_); }
  std::uint64_t service_index(const std::string& service_name) const;
  std::uint64_t node_index(const std::string& node) const;

 private:
  static std::uint64_t at_least_one(std::uint64_t v) { return v == 0 ? 1 : v; }
  std::uint64_t bump();
  void touch_service_name(const std::string& name, std::uint64_t idx);
  void touch_node(const std::string& node, std::uint64_t idx);  // node and all names on it
  void refresh_check_service_fields(Check& check) const;
  void notify();

  std::uint64_t index_ = 1;
  std::map<std::string, Node> nodes_;
  std::map<InstanceKey, Service> services_;
  std::map<InstanceKey, Check> checks_;
  std::map<std::string, std::set<InstanceKey>> instances_by_name_;

  std::uint64_t services_index_ = 0;
  std::uint64_t nodes_index_ = 0;
  std::uint64_t checks_index_ = 0;
  std::map<std::string, std::uint64_t> service_name_index_;
  std::map<std::string, std::uint64_t> node_index_;

  DirtyKeys dirty_;
  Listener listener_;
};

}  // namespace hearsay::catalog
