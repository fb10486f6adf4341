// serf's message handling (serf 0.9.4: delegate.go NotifyMsg and MergeRemoteState, serf.go
// handleNodeJoinIntent / handleNodeLeaveIntent / handleUserEvent / handleQuery, query.go),
// restated in memberlist-wire.md 8. hearsay keeps no serf member list of its own: it follows
// serf's clocks, passes serf's messages on as serf does, and answers key queries.
#include "gossip/serf/serf.h"

#include <algorithm>
#include <cmath>
#include <string_view>

#include "gossip/wire/codec.h"
#include "gossip/wire/msgpack_io.h"

namespace hearsay::gossip {
namespace {

constexpr std::uint8_t kLeaveIntent = 0;  // serf message types (memberlist-wire.md 8.2)
constexpr std::uint8_t kJoinIntent = 1;
constexpr std::uint8_t kPushPullState = 2;
constexpr std::uint8_t kUserEvent = 3;
constexpr std::uint64_t kQueryBuffer = 512;  // serf's QueryBuffer: query clock values remembered
constexpr unsigned kQueryTimeoutMult = 16;   // serf's QueryTimeoutMult
constexpr std::size_t kMaxRelayed = 1024;    // user events remembered as already passed on
constexpr std::size_t kDirectLeaveIntents = 32;  // members told of our leave directly (Serf::leave)

Bytes leave_intent(std::uint64_t ltime, const std::string& node) {
  Bytes payload{kLeaveIntent};
  mp::MapWriter(payload, 3).uint("LTime", ltime).str("Node", node).boolean("Prune", false);
  return payload;
}

}  // namespace

Serf::Serf(Membership& membership, std::uint64_t seed) : membership_(membership), rng_(seed) {
  membership_.set_delegate(this);
}

Serf::~Serf() { membership_.set_delegate(nullptr); }

// ---------------------------------------------------------------------------------------------
// Leaving

void Serf::leave(Clock::time_point now) {
  if (membership_.has_left()) return;
  broadcast_leave_intent(membership_.config().name);
  // Gossip alone leaves a small chance, in a small cluster, that a serf member never hears the
  // intent (few relays, a few transmissions, some of them to the recently dead) and then lists
  // us as failed once our departure arrives. So the intent also goes straight to up to
  // kDirectLeaveIntents alive members, once; in a larger cluster the epidemic's many relays
  // make a miss unlikely, and the unicast stays bounded.
  std::vector<const Member*> alive;
  for (const Member& m : membership_.members()) {
    if (m.name != membership_.config().name && m.state == NodeState::alive) alive.push_back(&m);
  }
  std::shuffle(alive.begin(), alive.end(), rng_);
  if (alive.size() > kDirectLeaveIntents) alive.resize(kDirectLeaveIntents);
  for (const Member* m : alive) packets_.push_back(OutgoingPacket{m->address, encode(UserMessage{broadcasts_.back()})});
  membership_.leave(now);
}

std::string Serf::force_leave(const std::string& node, Clock::time_point now) {
  if (node == membership_.config().name) return "cannot force-leave this agent itself (use leave)";
  if (!membership_.is_failed(node)) {
    const Member* m = membership_.members().find(node);
    if (!m) return "no member named " + node;
    if (m->state == NodeState::left) return {};  // already gone: nothing to do
    return node + " is not failed; only failed members can be forced to leave";
  }
  // serf's RemoveFailedNode: a leave intent about the node. serf members then list it as left,
  // and hearsay members do the same when the intent reaches them (on_intent).
  broadcast_leave_intent(node);
  membership_.mark_left(node, now);
  return {};
}

void Serf::broadcast_leave_intent(const std::string& node) {
  intent_ltimes_[node] = ++member_clock_;
  broadcasts_.push_back(leave_intent(member_clock_, node));
}

// ---------------------------------------------------------------------------------------------
// Receiving

void Serf::notify_user_message(const Bytes& payload, Clock::time_point now) {
  if (payload.empty()) return;
  switch (payload[0]) {
    case kLeaveIntent:
    case kJoinIntent: return on_intent(payload, now);
    case kUserEvent: return relay_event(payload);
    case kSerfQueryType: return on_query(payload);
    case kSerfQueryResponseType: return on_query_response(payload);
    default: return;  // conflict/key messages travel inside queries; relay is not ours to do
  }
}

bool Serf::known(const std::string& node) const {
  return membership_.members().contains(node) || membership_.failed_members().contains(node);
}

void Serf::on_intent(const Bytes& message, Clock::time_point now) {
  // We follow serf's member clock so that our leave intent is newer than anything serf has
  // seen about us, and we honour a leave intent about a failed member (a force-leave).
  msgpack::zone zone;
  std::size_t offset = 1;
  auto object = mp::unpack_one(zone, message.data(), message.size(), offset);
  if (!object) return;
  mp::StructReader reader(*object);
  std::uint64_t ltime = 0;
  std::string node;
  if (!reader.u64("LTime", ltime, UINT64_MAX - 1) || !reader.str("Node", node)) return;
  member_clock_ = std::max(member_clock_, ltime);
  // Pass on intents that are news, as serf does; serf members that only hear of a departure
  // through us would otherwise list a member that left as failed. Only intents about members
  // we know are kept, so the table is bounded by the membership.
  if (!known(node)) return;
  forget_departed_intents();
  std::uint64_t& newest = intent_ltimes_[node];
  if (ltime <= newest) return;
  newest = ltime;
  broadcasts_.push_back(message);
  if (message[0] == kJoinIntent) {
    leaving_.erase(node);  // back (or never gone): a later death is a failure again
    return;
  }
  if (node == membership_.config().name) return;
  if (membership_.is_failed(node)) membership_.mark_left(node, now);  // a force-leave
  else leaving_.insert(node);
}

void Serf::forget_departed_intents() {
  // Members Membership has forgotten (reaped, and no longer failed) take their intents with
  // them. Swept only when the table holds more names than Membership can know, so that an
  // intent costs one lookup, not a pass over the membership.
  if (intent_ltimes_.size() <= membership_.members().size() + membership_.failed_members().size()) return;
  std::erase_if(intent_ltimes_, [&](const auto& kv) { return !known(kv.first); });
  std::erase_if(leaving_, [&](const std::string& node) { return !known(node); });
}

void Serf::relay_event(const Bytes& message) {
  // serf members pass on every user event they have not seen; doing the same keeps serf's own
  // dissemination from stalling at hearsay members. The event is relayed as it came, so its
  // bytes identify it.
  const std::size_t id =
      std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(message.data()), message.size()));
  if (!relayed_.insert(id).second) return;
  relayed_order_.push_back(id);
  if (relayed_order_.size() > kMaxRelayed) {
    relayed_.erase(relayed_order_.front());
    relayed_order_.pop_front();
  }
  broadcasts_.push_back(message);
}

void Serf::on_query(const Bytes& message) {
  // serf's handleQuery: every query is passed on once (unless it says not to) and delivered
  // once; we act on the key-management ones, which keep every member's keyring in step.
  auto query = decode_serf_query(message);
  if (!query || query->ltime == UINT64_MAX) {
    ++stats_.messages_dropped;
    return;
  }
  query_clock_ = std::max(query_clock_, query->ltime);
  if (query_clock_ > kQueryBuffer && query->ltime < query_clock_ - kQueryBuffer) return;  // too old to tell
  if (!first_sight_of_query(query->ltime, query->id)) return;
  if (!(query->flags & kSerfQueryNoBroadcast)) broadcasts_.push_back(message);
  if (query->filtered) return;  // node or tag filters: never on key queries, which are all we answer
  if (!usable_address(query->addr, query->port)) return;  // nowhere to answer (a port 0: membership_fuzz)
  if (query->flags & kSerfQueryAck) {
    const SerfQueryResponse ack{query->ltime, query->id, membership_.config().name, kSerfQueryAck, {}};
    send_query_response(*query, ack);
  }
  const std::string& name = query->name;
  if (name == kInstallKeyQuery || name == kUseKeyQuery || name == kRemoveKeyQuery || name == kListKeysQuery) {
    queries_.push_back(std::move(*query));
  }
}

bool Serf::first_sight_of_query(std::uint64_t ltime, std::uint32_t id) {
  std::vector<std::uint32_t>& ids = queries_seen_[ltime];
  if (std::find(ids.begin(), ids.end(), id) != ids.end()) return false;
  ids.push_back(id);
  while (queries_seen_.size() > kQueryBuffer) queries_seen_.erase(queries_seen_.begin());
  return true;
}

void Serf::on_query_response(const Bytes& message) {
  auto response = decode_serf_query_response(message);
  if (!response) {
    ++stats_.messages_dropped;
    return;
  }
  query_responses_.push_back(std::move(*response));
}

Bytes Serf::local_state(bool) const { return {}; }

void Serf::merge_remote_state(const Bytes& state, bool) {
  // A serf peer's push/pull carries its member-status clock (memberlist-wire.md 8.2, type 2).
  // Intents alone can leave ours behind (we need not have heard every join intent), and serf
  // ignores a leave intent whose LTime is not newer than the member's last status change.
  if (state.empty() || state[0] != kPushPullState) return;
  msgpack::zone zone;
  std::size_t offset = 1;
  auto object = mp::unpack_one(zone, state.data(), state.size(), offset);
  if (!object) return;
  mp::StructReader reader(*object);
  std::uint64_t ltime = 0;
  if (reader.u64("LTime", ltime, UINT64_MAX - 1)) member_clock_ = std::max(member_clock_, ltime);
  // And its query clock: serf drops queries more than kQueryBuffer behind its own.
  std::uint64_t query_ltime = 0;
  if (reader.u64("QueryLTime", query_ltime, UINT64_MAX - 1)) query_clock_ = std::max(query_clock_, query_ltime);
}

// ---------------------------------------------------------------------------------------------
// Our queries and answers

SerfQuery Serf::start_query(const std::string& name, Bytes payload) {
  const Member& self = membership_.self();
  SerfQuery q;
  q.ltime = ++query_clock_;
  q.id = static_cast<std::uint32_t>(rng_() & 0x7fffffff);  // serf: rand.Int31()
  q.addr = self.address.ip;
  q.port = self.address.port;
  q.source_node = self.name;
  q.timeout = query_timeout();
  q.name = name;
  q.payload = std::move(payload);
  first_sight_of_query(q.ltime, q.id);  // our own, coming back by gossip, is not news
  broadcasts_.push_back(encode_serf_query(q));
  return q;
}

void Serf::respond(const SerfQuery& query, Bytes payload) {
  send_query_response(query, SerfQueryResponse{query.ltime, query.id, membership_.config().name, 0, std::move(payload)});
}

void Serf::send_query_response(const SerfQuery& query, const SerfQueryResponse& response) {
  // Straight to the asker, never gossiped (serf's SendToAddress): a user message of its own.
  const Address asker{query.addr, query.port};
  packets_.push_back(OutgoingPacket{asker, encode(UserMessage{encode_serf_query_response(response)})});
}

std::chrono::nanoseconds Serf::query_timeout() const {
  const double alive = static_cast<double>(membership_.alive_count());
  const auto scale = static_cast<unsigned>(std::ceil(std::log10(alive + 1.0)));
  return std::chrono::duration_cast<std::chrono::nanoseconds>(membership_.config().gossip_interval) *
         kQueryTimeoutMult * std::max(1u, scale);
}

}  // namespace hearsay::gossip
