// memberlist's TransmitLimitedQueue (queue.go): ordering by transmit count, size and age, and
// replacement by name (broadcast_queue.h).
#include "gossip/membership/broadcast_queue.h"

#include <algorithm>
#include <utility>

namespace hearsay::gossip {
namespace {
constexpr std::size_t kMaxScan = 64;          // items looked at per take: enough to fill a packet
constexpr std::size_t kSmallestMessage = 16;  // below this much room nothing more fits
constexpr std::size_t kStaleSlack = 64;       // stale entries tolerated beyond the live count
constexpr std::size_t kTypicalTake = 32;      // room reserved up front for a take's results
}  // namespace

void BroadcastQueue::push(const std::string& node, Bytes message) {
  Item item{next_id_++, node, std::make_shared<const Bytes>(std::move(message))};
  const std::uint64_t id = item.id;
  std::uint32_t slot = 0;
  if (node.empty()) {
    slot = store(std::move(item));
  } else {
    auto [it, fresh] = by_node_.try_emplace(node, 0);
    if (!fresh) {  // replaced: its entry stays behind, stale
      items_[it->second] = Item{};
      free_slots_.push_back(it->second);
      --live_;
      ++stale_;
    }
    slot = store(std::move(item));
    it->second = slot;
  }
  insert(0, Entry{id, slot});
  ++live_;
  if (stale_ > live_ + kStaleSlack) drop_stale();
}

std::vector<BroadcastQueue::Shared> BroadcastQueue::take(std::size_t budget, std::size_t per_message_overhead,
                                                         std::size_t limit) {
  std::vector<Shared> out;
  std::vector<std::pair<std::size_t, Entry>> taken;  // (transmits after this one, entry)
  out.reserve(kTypicalTake);
  taken.reserve(kTypicalTake);
  std::size_t used = 0, scanned = 0;
  bool full = false;
  for (std::size_t t = 0; t < buckets_.size() && !full && scanned < kMaxScan; ++t) {
    std::vector<Entry>& bucket = buckets_[t];
    // Newest first: walk from the back. What is looked at leaves the bucket; what did not fit
    // goes back afterwards, in its order.
    std::size_t next = bucket.size();
    skipped_.clear();
    while (next > 0 && scanned < kMaxScan) {
      if (budget - used < per_message_overhead + kSmallestMessage) {
        full = true;
        break;
      }
      const Entry e = bucket[--next];
      if (!live(e)) {
        --stale_;
        continue;
      }
      ++scanned;
      const Shared& message = items_[e.slot].message;
      const std::size_t cost = message->size() + per_message_overhead;
      if (used + cost > budget) {
        skipped_.push_back(e);
        continue;
      }
      used += cost;
      out.push_back(message);
      taken.emplace_back(t + 1, e);
    }
    bucket.resize(next);
    bucket.insert(bucket.end(), skipped_.rbegin(), skipped_.rend());
  }
  // Only now, so that a take never sends the same item twice. Oldest first, so that each
  // tends to be the newest of its new bucket and goes on the end.
  for (auto it = taken.rbegin(); it != taken.rend(); ++it) {
    if (it->first >= limit) release(it->second.slot);
    else insert(it->first, it->second);
  }
  return out;
}

std::size_t BroadcastQueue::prune(std::size_t max) {
  std::size_t dropped = 0;
  for (std::size_t t = buckets_.size(); t-- > 0 && live_ > max;) {
    std::vector<Entry>& bucket = buckets_[t];
    std::size_t i = 0;
    for (; i < bucket.size() && live_ > max; ++i) {  // ascending ids: the oldest first
      if (!live(bucket[i])) {
        --stale_;
        continue;
      }
      release(bucket[i].slot);
      ++dropped;
    }
    bucket.erase(bucket.begin(), bucket.begin() + static_cast<std::ptrdiff_t>(i));
  }
  return dropped;
}

std::uint32_t BroadcastQueue::store(Item item) {
  if (free_slots_.empty()) {
    items_.push_back(std::move(item));
    return static_cast<std::uint32_t>(items_.size() - 1);
  }
  const std::uint32_t slot = free_slots_.back();
  free_slots_.pop_back();
  items_[slot] = std::move(item);
  return slot;
}

void BroadcastQueue::release(std::uint32_t slot) {
  Item& item = items_[slot];
  if (!item.node.empty()) by_node_.erase(item.node);
  item = Item{};
  free_slots_.push_back(slot);
  --live_;
}

void BroadcastQueue::insert(std::size_t transmits, Entry e) {
  if (buckets_.size() <= transmits) buckets_.resize(transmits + 1);
  std::vector<Entry>& bucket = buckets_[transmits];
  // Usually the newest of its bucket: then this is a push_back.
  auto at = std::upper_bound(bucket.begin(), bucket.end(), e.id, [](std::uint64_t id, const Entry& x) { return id < x.id; });
  bucket.insert(at, e);
}

void BroadcastQueue::drop_stale() {
  for (std::vector<Entry>& bucket : buckets_) std::erase_if(bucket, [&](const Entry& e) { return !live(e); });
  stale_ = 0;
}

}  // namespace hearsay::gossip
