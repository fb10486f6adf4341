// Messages waiting to be piggybacked on gossip (memberlist's TransmitLimitedQueue): each is sent
// a limited number of times, least-sent first; a newer message about the same node replaces the
// queued one, so stale alive/suspect/dead news is never spread. Ordered containers keep push
// and take logarithmic: a 1,000-member simulation queues thousands of these per node.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gossip/messages.h"

namespace hearsay::gossip {

class BroadcastQueue {
 public:
  // `node`: the member the message is about ("" for messages that replace nothing).
  void push(const std::string& node, Bytes message);
  using Shared = std::shared_ptr<const Bytes>;  // handed out without copying
  // Takes messages that fit in `budget` bytes, `per_message_overhead` each on top of their
  // size, and counts one transmission for each; those sent `limit` times leave the queue.
  std::vector<Shared> take(std::size_t budget, std::size_t per_message_overhead, std::size_t limit);
  std::size_t size() const { return items_.size(); }
  // Drops the most sent (then oldest) messages until at most `max` are left; returns how many
  // went. memberlist bounds its queues the same way.
  std::size_t prune(std::size_t max);

 private:
  using Slot = std::pair<std::size_t, std::uint64_t>;  // (transmits, id) of a node's queued item
  struct Item {
    std::size_t transmits = 0;
    std::uint64_t id = 0;  // newer is larger
    std::string node;
    Shared message;
    Slot* slot = nullptr;  // its by_node_ entry (stable: unordered_map never moves values)
    bool operator<(const Item& o) const {  // least transmitted first; among equals, newest first
      return transmits != o.transmits ? transmits < o.transmits : id > o.id;
    }
  };
  std::set<Item> items_;
  // node -> (transmits, id): what identifies its queued item. take() updates it through
  // Item::slot without a lookup, because a 1,000-member simulation sends millions of messages.
  std::unordered_map<std::string, Slot> by_node_;
  std::uint64_t next_id_ = 0;
};

}  // namespace hearsay::gossip
