#include "gossip/broadcast_queue.h"

namespace hearsay::gossip {
namespace {
constexpr std::size_t kMaxScan = 64;       // items looked at per take: enough to fill a packet
constexpr std::size_t kSmallestMessage = 16;  // below this much room nothing more fits
}

void BroadcastQueue::push(const std::string& node, Bytes message) {
  if (!node.empty()) {
    if (auto it = by_node_.find(node); it != by_node_.end()) {
      items_.erase(Item{it->second.first, it->second.second, {}, {}});
      by_node_.erase(it);
    }
  }
  Item item{0, next_id_++, node, std::make_shared<const Bytes>(std::move(message))};
  if (!node.empty()) {
    item.slot = &by_node_[node];
    *item.slot = {0, item.id};
  }
  items_.insert(std::move(item));
}

std::vector<BroadcastQueue::Shared> BroadcastQueue::take(std::size_t budget, std::size_t per_message_overhead, std::size_t limit) {
  std::vector<Shared> out;
  std::vector<Item> taken;
  std::size_t used = 0, scanned = 0;
  for (auto it = items_.begin(); it != items_.end() && scanned < kMaxScan;) {
    ++scanned;
    if (budget - used < per_message_overhead + kSmallestMessage) break;
    const std::size_t cost = it->message->size() + per_message_overhead;
    if (used + cost > budget) {
      ++it;
      continue;
    }
    used += cost;
    out.push_back(it->message);
    taken.push_back(std::move(items_.extract(it++).value()));
  }
  for (Item& item : taken) {
    ++item.transmits;
    if (item.transmits >= limit) {
      if (!item.node.empty()) by_node_.erase(item.node);
      continue;
    }
    if (item.slot) item.slot->first = item.transmits;
    items_.insert(std::move(item));
  }
  return out;
}

std::size_t BroadcastQueue::prune(std::size_t max) {
  std::size_t dropped = 0;
  while (items_.size() > max) {
    auto last = std::prev(items_.end());  // most transmits; among equals, the oldest
    if (!last->node.empty()) by_node_.erase(last->node);
    items_.erase(last);
    ++dropped;
  }
  return dropped;
}

}  // namespace hearsay::gossip
