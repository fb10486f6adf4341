// The routing between Membership, Serf and Replication (see node.h). Stream framing is
// memberlist's: streams go LZW-compressed as serf sends them (a push/pull repeats every field
// name, and our tag names, for every member, which LZW takes out), and hearsay's replication
// rides as a user message whose payload starts with kHearsayUserMessage.
#include "gossip/node.h"

#include "gossip/wire/codec.h"
#include "gossip/wire/framing.h"
#include "gossip/serf/serf_tags.h"

namespace hearsay::gossip {
namespace {

// Each layer's randomness: distinct streams from one seed.
std::uint64_t derive(std::uint64_t seed, std::uint64_t layer) { return seed * 0x9E3779B97F4A7C15ULL + layer; }

ReplicationConfig named(ReplicationConfig config, const std::string& name) {
  config.name = name;
  return config;
}

Bytes replication_stream(const Bytes& message) {
  Bytes framed;
  framed.reserve(message.size() + 1);
  framed.push_back(kHearsayUserMessage);
  framed.insert(framed.end(), message.begin(), message.end());
  return compress_message(encode_stream_user_message(framed));
}

bool is_replication(const StreamMessage& m) {
  return m.kind == StreamMessage::Kind::user && !m.user.empty() && m.user[0] == kHearsayUserMessage;
}

template <typename T>
void append(std::vector<T>& to, std::vector<T> from) {
  if (to.empty()) {
    to = std::move(from);
    return;
  }
  for (T& x : from) to.push_back(std::move(x));
}

}  // namespace

bool NodeOutput::empty() const {
  return packets.empty() && streams.empty() && joins.empty() && events.empty() && changes.empty() && queries.empty() &&
         query_responses.empty() && udp_silent.empty();
}

bool carries_hearsay_tag(const Member& member) {
  auto tags = decode_tags(member.meta);
  return tags && tags->contains(std::string(kHearsayTag));
}

Node::Node(NodeConfig config, Clock::time_point now)
    : membership_(config.membership, derive(config.seed, 1), now),
      serf_(membership_, derive(config.seed, 2)),
      replication_(named(config.replication, config.membership.name), derive(config.seed, 3), now) {}

std::uint64_t Node::join(const Address& seed) {
  PushPullRequest r = membership_.join_request(seed);
  return open(PushPullRole{true}, r.to, compress_message(encode_push_pull(r.request)), true, std::nullopt);
}

std::uint64_t Node::open(Role role, Address to, Bytes request, bool wants_reply,
                         std::optional<Clock::time_point> deadline) {
  const std::uint64_t id = next_stream_id_++;
  open_.emplace(id, Open{std::move(role), to, wants_reply});
  output_.streams.push_back(StreamOpen{id, std::move(to), std::move(request), wants_reply, deadline});
  return id;
}

void Node::receive_packet(const Address& from, const std::uint8_t* data, std::size_t size, Clock::time_point now) {
  membership_.receive_packet(from, data, size, now);
  hand_app_messages_on(now);
}

void Node::hand_app_messages_on(Clock::time_point now) {
  for (const AppMessage& m : membership_.take_app_messages()) {
    replication_.receive(m.from, m.payload.data(), m.payload.size(), now);
  }
}

void Node::port_unreachable(const Address& to, Clock::time_point now) { membership_.port_unreachable(to, now); }

StreamAnswer Node::answer_stream(const Address& peer, const StreamMessage& m, Clock::time_point now) {
  switch (m.kind) {
    case StreamMessage::Kind::push_pull:
      return {compress_message(encode_push_pull(membership_.handle_push_pull(m.push_pull, now))), ""};
    case StreamMessage::Kind::ping:
      return {encode(Ack{m.ping.seq_no, {}}), ""};  // someone's TCP fallback probe
    case StreamMessage::Kind::user: {
      // serf's SendReliable, which nobody sends to us, is closed unanswered.
      if (!is_replication(m)) return {};
      std::optional<Bytes> reply = replication_.handle_stream(peer, m.user.data() + 1, m.user.size() - 1, now);
      if (!reply) return {};
      return {replication_stream(*reply), ""};
    }
    case StreamMessage::Kind::ack:
      return {encode(ErrorMessage{"an ack nobody asked for"}), "an ack nobody asked for"};
    case StreamMessage::Kind::unsupported:
    case StreamMessage::Kind::incomplete:
      break;
  }
  const std::string why = std::string("refused stream message: ") +
                          drop_reason_name(m.error == DropReason::none ? DropReason::truncated : m.error);
  return {encode(ErrorMessage{why}), why};
}

void Node::stream_reply(std::uint64_t id, const StreamMessage& reply, Clock::time_point now) {
  auto it = open_.find(id);
  if (it == open_.end()) return;
  const Open stream = std::move(it->second);
  open_.erase(it);
  if (const auto* push_pull = std::get_if<PushPullRole>(&stream.role)) {
    if (reply.kind != StreamMessage::Kind::push_pull) {
      return finish_push_pull(id, *push_pull, stream.to, "the peer answered with something else than its state");
    }
    membership_.push_pull_reply(reply.push_pull, now);
    finish_push_pull(id, *push_pull, stream.to, "");
  } else if (const auto* ping = std::get_if<PingRole>(&stream.role)) {
    membership_.stream_ping_result(ping->seq, reply.kind == StreamMessage::Kind::ack && reply.ack.seq_no == ping->seq, now);
  } else if (const auto* sync = std::get_if<ReplicationRole>(&stream.role)) {
    if (!is_replication(reply)) return replication_.stream_failed(sync->peer);
    (void)replication_.handle_stream(sync->peer, reply.user.data() + 1, reply.user.size() - 1, now);
  }
}

void Node::stream_written(std::uint64_t id) {
  auto it = open_.find(id);
  if (it != open_.end() && !it->second.wants_reply) open_.erase(it);
}

void Node::stream_failed(std::uint64_t id, const std::string& why, Clock::time_point now) {
  auto it = open_.find(id);
  if (it == open_.end()) return;
  const Open stream = std::move(it->second);
  open_.erase(it);
  if (const auto* push_pull = std::get_if<PushPullRole>(&stream.role)) {
    // A failed periodic exchange needs no report: the next one goes to another member.
    finish_push_pull(id, *push_pull, stream.to, why);
  } else if (const auto* ping = std::get_if<PingRole>(&stream.role)) {
    membership_.stream_ping_result(ping->seq, false, now);
  } else if (const auto* sync = std::get_if<ReplicationRole>(&stream.role)) {
    replication_.stream_failed(sync->peer);
  }
}

void Node::finish_push_pull(std::uint64_t id, const PushPullRole& role, const Address& to, const std::string& error) {
  if (role.join) output_.joins.push_back(JoinOutcome{id, to, error});
}

void Node::tick(Clock::time_point now) {
  membership_.tick(now);
  replication_.tick(now);
}

Clock::time_point Node::next_deadline() const {
  return std::min(membership_.next_deadline(), replication_.next_deadline());
}

void Node::update_replication_peers() {
  std::vector<ReplicationPeer> peers;
  for (const Member& m : membership_.members()) {
    if (m.name == membership_.self().name) continue;
    if (m.state != NodeState::alive && m.state != NodeState::suspect) continue;
    if (!carries_hearsay_tag(m)) continue;  // serf agents get none of it
    peers.push_back(ReplicationPeer{m.name, m.address});
  }
  replication_.set_peers(std::move(peers));
}

NodeOutput Node::take_output() {
  NodeOutput out = std::exchange(output_, {});
  // Serf first: its answers to queries are packets, sent with the rest.
  append(out.queries, serf_.take_queries());
  append(out.query_responses, serf_.take_query_responses());
  append(out.packets, serf_.take_packets());
  append(out.packets, membership_.take_packets());
  for (PushPullRequest& r : membership_.take_push_pulls()) {
    open(PushPullRole{r.request.join}, r.to, compress_message(encode_push_pull(r.request)), true, std::nullopt);
  }
  for (StreamPing& p : membership_.take_stream_pings()) {
    open(PingRole{p.ping.seq_no}, p.to, compress_message(encode(p.ping)), true, p.deadline);
  }
  append(out.udp_silent, membership_.take_udp_silent());
  append(out.events, membership_.take_events());
  // Replication follows membership: a member that joined, failed or left changes its peers
  // before it sends anything this round.
  if (!out.events.empty()) update_replication_peers();
  append(out.packets, replication_.take_packets());
  for (StreamSend& s : replication_.take_streams()) {
    open(ReplicationRole{s.to}, s.to, replication_stream(s.payload), s.wants_reply, std::nullopt);
  }
  append(out.changes, replication_.take_changes());
  // The streams opened just now, after those opened by join() since the last call.
  append(out.streams, std::exchange(output_.streams, {}));
  append(out.joins, std::exchange(output_.joins, {}));
  return out;
}

}  // namespace hearsay::gossip
