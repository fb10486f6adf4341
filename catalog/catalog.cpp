// The in-memory catalog: records, change index, per-query indexes, dirty keys for the store.
#include "catalog/catalog.h"

#include <algorithm>
#include <cassert>

namespace hearsay::catalog {
namespace {

// All keys of a std::map<InstanceKey, T> for one node form a contiguous range.
template <typename Map>
auto node_range(Map& map, const std::string& node) {
  auto first = map.lower_bound(InstanceKey{node, std::string()});
  auto last = first;
  while (last != map.end() && last->first.first == node) ++last;
  return std::pair{first, last};
}

}  // namespace

void Catalog::restore_index(std::uint64_t index) { index_ = std::max<std::uint64_t>({index_, index, 1}); }

std::uint64_t Catalog::bump() { return ++index_; }

void Catalog::notify() {
  if (listener_) listener_(index_);
}

void Catalog::touch_service_name(const std::string& name, std::uint64_t idx) { service_name_index_[name] = idx; }

void Catalog::touch_node(const std::string& node, std::uint64_t idx) {
  node_index_[node] = idx;
  auto [first, last] = node_range(services_, node);
  for (auto it = first; it != last; ++it) touch_service_name(it->second.name, idx);
}

void Catalog::refresh_check_service_fields(Check& check) const {
  if (check.service_id.empty()) {
    check.service_name.clear();
    check.service_tags.clear();
    return;
  }
  if (const Service* svc = service(check.node, check.service_id)) {
    check.service_name = svc->name;
    check.service_tags = svc->tags;
  }
}

void Catalog::upsert_node(Node node) {
  const std::uint64_t idx = bump();
  auto it = nodes_.find(node.name);
  node.indexes.create_index = it == nodes_.end() ? idx : it->second.indexes.create_index;
  node.indexes.modify_index = idx;
  const std::string name = node.name;
  nodes_[name] = std::move(node);
  // Node fields appear in service and check answers (address, node-meta filters).
  nodes_index_ = services_index_ = checks_index_ = idx;
  touch_node(name, idx);
  dirty_.nodes.insert(name);
  notify();
}

bool Catalog::remove_node(const std::string& name) {
  auto it = nodes_.find(name);
  if (it == nodes_.end()) return false;
  const std::uint64_t idx = bump();
  touch_node(name, idx);  // before the services go: wakes watchers of their names
  auto [sfirst, slast] = node_range(services_, name);
  for (auto s = sfirst; s != slast; ++s) {
    instances_by_name_[s->second.name].erase(s->first);
    dirty_.services.insert(s->first);
  }
  if (sfirst != slast) services_index_ = idx;
  services_.erase(sfirst, slast);
  auto [cfirst, clast] = node_range(checks_, name);
  for (auto c = cfirst; c != clast; ++c) dirty_.checks.insert(c->first);
  if (cfirst != clast) checks_index_ = idx;
  checks_.erase(cfirst, clast);
  nodes_.erase(it);
  nodes_index_ = idx;
  dirty_.nodes.insert(name);
  notify();
  return true;
}

void Catalog::upsert_service(Service svc) {
  assert(nodes_.count(svc.node) == 1 && "register the node before its services");
  const std::uint64_t idx = bump();
  InstanceKey key{svc.node, svc.id};
  auto it = services_.find(key);
  if (it != services_.end()) {
    svc.indexes.create_index = it->second.indexes.create_index;
    if (it->second.name != svc.name) {
      instances_by_name_[it->second.name].erase(key);
      touch_service_name(it->second.name, idx);
    }
  } else {
    svc.indexes.create_index = idx;
  }
  svc.indexes.modify_index = idx;
  touch_service_name(svc.name, idx);
  node_index_[svc.node] = idx;  // catalog/node/<n> lists the node's services
  instances_by_name_[svc.name].insert(key);
  services_[key] = std::move(svc);
  services_index_ = idx;
  // Denormalized ServiceName/ServiceTags on the instance's checks follow the service.
  auto [cfirst, clast] = node_range(checks_, key.first);
  for (auto c = cfirst; c != clast; ++c) {
    if (c->second.service_id == key.second) {
      refresh_check_service_fields(c->second);
      dirty_.checks.insert(c->first);
    }
  }
  dirty_.services.insert(key);
  notify();
}

bool Catalog::remove_service(const std::string& node, const std::string& service_id) {
  InstanceKey key{node, service_id};
  auto it = services_.find(key);
  if (it == services_.end()) return false;
  const std::uint64_t idx = bump();
  touch_service_name(it->second.name, idx);
  node_index_[node] = idx;
  instances_by_name_[it->second.name].erase(key);
  if (instances_by_name_[it->second.name].empty()) instances_by_name_.erase(it->second.name);
  services_.erase(it);
  services_index_ = idx;
  auto [cfirst, clast] = node_range(checks_, node);
  for (auto c = cfirst; c != clast;) {
    if (c->second.service_id == service_id) {
      dirty_.checks.insert(c->first);
      c = checks_.erase(c);
      checks_index_ = idx;
    } else {
      ++c;
    }
  }
  dirty_.services.insert(key);
  notify();
  return true;
}

void Catalog::upsert_check(Check check) {
  const std::uint64_t idx = bump();
  InstanceKey key{check.node, check.id};
  auto it = checks_.find(key);
  check.indexes.create_index = it == checks_.end() ? idx : it->second.indexes.create_index;
  check.indexes.modify_index = idx;
  refresh_check_service_fields(check);
  if (check.service_id.empty()) {
    touch_node(check.node, idx);  // a node-level check changes every instance's health there
  } else {
    node_index_[check.node] = idx;
    if (!check.service_name.empty()) touch_service_name(check.service_name, idx);
  }
  if (it != checks_.end() && it->second.service_name != check.service_name) {
    touch_service_name(it->second.service_name, idx);
  }
  checks_[key] = std::move(check);
  checks_index_ = idx;
  dirty_.checks.insert(key);
  notify();
}

bool Catalog::remove_check(const std::string& node, const std::string& check_id) {
  InstanceKey key{node, check_id};
  auto it = checks_.find(key);
  if (it == checks_.end()) return false;
  const std::uint64_t idx = bump();
  if (it->second.service_id.empty()) {
    touch_node(node, idx);
  } else {
    node_index_[node] = idx;
    touch_service_name(it->second.service_name, idx);
  }
  checks_.erase(it);
  checks_index_ = idx;
  dirty_.checks.insert(key);
  notify();
  return true;
}

void Catalog::load(Node node) {
  std::string name = node.name;
  index_ = std::max(index_, node.indexes.modify_index);
  nodes_[name] = std::move(node);
}

void Catalog::load(Service svc) {
  InstanceKey key{svc.node, svc.id};
  index_ = std::max(index_, svc.indexes.modify_index);
  instances_by_name_[svc.name].insert(key);
  services_[key] = std::move(svc);
}

void Catalog::load(Check check) {
  InstanceKey key{check.node, check.id};
  index_ = std::max(index_, check.indexes.modify_index);
  checks_[key] = std::move(check);
}

DirtyKeys Catalog::take_dirty() { return std::exchange(dirty_, DirtyKeys{}); }

const Node* Catalog::node(const std::string& name) const {
  auto it = nodes_.find(name);
  return it == nodes_.end() ? nullptr : &it->second;
}

const Service* Catalog::service(const std::string& node, const std::string& service_id) const {
  auto it = services_.find(InstanceKey{node, service_id});
  return it == services_.end() ? nullptr : &it->second;
}

const Check* Catalog::check(const std::string& node, const std::string& check_id) const {
  auto it = checks_.find(InstanceKey{node, check_id});
  return it == checks_.end() ? nullptr : &it->second;
}

std::vector<const Node*> Catalog::nodes() const {
  std::vector<const Node*> out;
  out.reserve(nodes_.size());
  for (const auto& [name, node] : nodes_) out.push_back(&node);
  return out;
}

std::vector<const Service*> Catalog::services_of_node(const std::string& node) const {
  std::vector<const Service*> out;
  for (auto it = services_.lower_bound(InstanceKey{node, ""}); it != services_.end() && it->first.first == node; ++it) {
    out.push_back(&it->second);
  }
  return out;
}

std::vector<const Check*> Catalog::checks_of_node(const std::string& node) const {
  std::vector<const Check*> out;
  for (auto it = checks_.lower_bound(InstanceKey{node, ""}); it != checks_.end() && it->first.first == node; ++it) {
    out.push_back(&it->second);
  }
  return out;
}

std::vector<const Service*> Catalog::instances(const std::string& service_name) const {
  std::vector<const Service*> out;
  auto it = instances_by_name_.find(service_name);
  if (it == instances_by_name_.end()) return out;
  out.reserve(it->second.size());
  for (const InstanceKey& key : it->second) out.push_back(&services_.at(key));
  return out;
}

std::vector<const Check*> Catalog::instance_checks(const Service& svc) const {
  std::vector<const Check*> out;
  for (const Check* check : checks_of_node(svc.node)) {
    if (check->service_id.empty() || check->service_id == svc.id) out.push_back(check);
  }
  return out;
}

std::vector<const Check*> Catalog::checks_of_service_name(const std::string& service_name) const {
  std::vector<const Check*> out;
  for (const Service* svc : instances(service_name)) {
    for (const Check* check : checks_of_node(svc->node)) {
      if (check->service_id == svc->id) out.push_back(check);
    }
  }
  return out;
}

std::vector<const Check*> Catalog::all_checks() const {
  std::vector<const Check*> out;
  out.reserve(checks_.size());
  for (const auto& [key, check] : checks_) out.push_back(&check);
  return out;
}

std::map<std::string, std::set<std::string>> Catalog::service_names() const {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& [name, keys] : instances_by_name_) {
    if (keys.empty()) continue;
    auto& tags = out[name];
    for (const InstanceKey& key : keys) {
      const Service& svc = services_.at(key);
      tags.insert(svc.tags.begin(), svc.tags.end());
    }
  }
  return out;
}

std::uint64_t Catalog::service_index(const std::string& service_name) const {
  auto it = service_name_index_.find(service_name);
  return at_least_one(it == service_name_index_.end() ? 0 : it->second);
}

std::uint64_t Catalog::node_index(const std::string& node) const {
  auto it = node_index_.find(node);
  return at_least_one(it == node_index_.end() ? 0 : it->second);
}

}  // namespace hearsay::catalog
