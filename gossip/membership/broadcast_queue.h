// Messages waiting to be piggybacked on gossip (memberlist's TransmitLimitedQueue): each is sent
// a limited number of times, least-sent first and, among equals, newest first; a newer message
// about the same node replaces the queued one, so stale alive/suspect/dead news is never
// spread. A 1,000-member simulation queues thousands of these per node and takes from the
// queue for every packet sent, so the items sit in one bucket per transmit count (a sorted
// vector each) rather than in one tree: a take touches only the items it looks at.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "gossip/wire/messages.h"

namespace hearsay::gossip {

class BroadcastQueue {
 public:
  // `node`: the member the message is about ("" for messages that replace nothing).
  void push(const std::string& node, Bytes message);
  using Shared = std::shared_ptr<const Bytes>;  // handed out without copying
  // Takes messages that fit in `budget` bytes, `per_message_overhead` each on top of their
  // size, and counts one transmission for each; those sent `limit` times leave the queue.
  std::vector<Shared> take(std::size_t budget, std::size_t per_message_overhead, std::size_t limit);
  std::size_t size() const { return live_; }
  // Drops the most sent (and among those the oldest) messages until at most `max` are left;
  // returns how many went. memberlist bounds its queues the same way.
  std::size_t prune(std::size_t max);

 private:
  struct Item {
    std::uint64_t id = 0;  // newer is larger; 0 marks a free slot
    std::string node;
    Shared message;
  };
  // A queued item in a bucket. A replaced item leaves its entry behind, stale (the slot's id
  // no longer matches); stale entries are dropped when a take walks over them, or all at
  // once when there are more of them than live items.
  struct Entry {
    std::uint64_t id = 0;
    std::uint32_t slot = 0;
  };

  bool live(const Entry& e) const { return items_[e.slot].id == e.id; }
  std::uint32_t store(Item item);
  void release(std::uint32_t slot);  // forgets the item (and its node's claim on it)
  void insert(std::size_t transmits, Entry e);
  void drop_stale();

  std::vector<Item> items_;
  std::vector<std::uint32_t> free_slots_;
  // buckets_[t]: the items sent t times, ascending by id (the newest at the back).
  std::vector<std::vector<Entry>> buckets_;
  std::unordered_map<std::string, std::uint32_t> by_node_;  // node -> slot of its queued item
  std::vector<Entry> skipped_;  // scratch for take()
  std::size_t live_ = 0;
  std::size_t stale_ = 0;
  std::uint64_t next_id_ = 1;
};

}  // namespace hearsay::gossip
