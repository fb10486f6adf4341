// SWIM with Lifeguard: probing, gossip of alive/suspect/dead, refutation, push/pull, join and
// leave. The rules are memberlist 0.2.2's (state.go), restated in memberlist-wire.md 4.7, 5 and
// 7; the comments say why where the rule is not obvious.
#include "gossip/membership/membership.h"

#include <algorithm>

#include "gossip/wire/codec.h"
#include "gossip/wire/framing.h"

namespace hearsay::gossip {
namespace {


constexpr std::size_t kCompoundHeader = 2;  // type byte + part count
constexpr std::size_t kCompoundPart = 2;    // length of each part
constexpr std::size_t kMaxCompoundParts = 127;  // serf 0.9.4 miscounts 128 and more
constexpr Duration kFastPushPullDelay{1000};  // see push_pull_soon()
constexpr unsigned kFastPushPulls = 3;
constexpr std::size_t kBacklogFanout = 2;  // see gossip()
// serf's BroadcastTimeout (wait for the leave intent to go out) and LeavePropagateDelay (wait
// for our departure to spread before stopping).
constexpr Duration kLeaveBroadcastTimeout{5000};
constexpr Duration kLeavePropagateDelay{1000};

}  // namespace

Membership::Membership(MembershipConfig config, std::uint64_t seed, Clock::time_point now)
    : config_(std::move(config)), rng_(seed) {
  Member self;
  self.name = config_.name;
  self.address = config_.advertise;
  self.meta = config_.meta;
  self.incarnation = 1;
  self.state = NodeState::alive;
  self.state_change = now;
  members_.add(self);  // id 0: kSelf
  probe_order_.push_back(kSelf);
  // Spread the first probe and gossip over one interval, so nodes started together do not
  // probe in lockstep.
  auto jitter = [&](Duration d) { return Duration(static_cast<std::int64_t>(rng_() % static_cast<std::uint64_t>(d.count() + 1))); };
  next_probe_ = now + jitter(config_.probe_interval);
  next_gossip_ = now + jitter(config_.gossip_interval);
  next_push_pull_ = now + config_.push_pull_interval + jitter(config_.push_pull_interval);
  next_reconnect_ = now + config_.reconnect_interval + jitter(config_.reconnect_interval);
}

void Membership::set_state(Member& m, NodeState state, Clock::time_point now) {
  ++state_changes_;
  if (m.state == NodeState::alive) --alive_count_;
  if (state == NodeState::alive) ++alive_count_;
  m.state = state;
  m.state_change = now;
}

// ---------------------------------------------------------------------------------------------
// Joining and leaving

void Membership::join(const std::vector<Address>& seeds) {
  for (const Address& seed : seeds) push_pulls_.push_back(PushPullRequest{seed, local_state(true)});
}

void Membership::leave(Clock::time_point now) {
  take_delegate_broadcasts();
  if (leaving_) return;
  leaving_ = true;
  // Our own "dead" (From = us, which means left to memberlist) goes a few gossip rounds later,
  // from tick(), after what is queued: serf lists a member that just dies as failed, and as
  // left only when its leave intent came first (memberlist-wire.md 8.5).
  leave_started_ = now;
  leave_at_ = now + config_.gossip_interval * 2;
}

bool Membership::leave_complete(Clock::time_point now) const {
  return left_ && now >= left_at_ + kLeavePropagateDelay;
}

void Membership::mark_left(const std::string& node, Clock::time_point now) {
  auto failed = failed_.find(node);
  Member gone;
  bool known = false;
  if (failed != failed_.end()) {
    gone = failed->second;
    known = true;
    failed_.erase(failed);
  }
  if (Member* m = members_.find(node); m && m->state == NodeState::dead) {
    set_state(*m, NodeState::left, now);
    gone = *m;
    known = true;
  }
  gone.state = NodeState::left;
  if (known) events_.push_back(MemberEvent{MemberEvent::Kind::left, gone});
}

void Membership::on_user_message(const Address& from, const UserMessage& m, Clock::time_point now) {
  ++stats_.user_messages;
  if (!m.payload.empty() && m.payload[0] == kHearsayUserMessage) {
    app_messages_.push_back(AppMessage{from, Bytes(m.payload.begin() + 1, m.payload.end())});
    return;
  }
  if (!delegate_) return;
  delegate_->notify_user_message(m.payload, now);
  take_delegate_broadcasts();
}

void Membership::take_delegate_broadcasts() {
  // Queued as they come, with our own news: they then go out exactly as our broadcasts do.
  if (!delegate_ || !delegate_->has_broadcasts()) return;
  for (Bytes& payload : delegate_->take_broadcasts()) broadcast("", UserMessage{std::move(payload)});
}

bool Membership::is_failed(const std::string& node) const {
  if (failed_.contains(node)) return true;
  const Member* m = members_.find(node);
  return m && m->state == NodeState::dead;
}

bool Membership::forget(const std::string& node) {
  const Member* m = members_.find(node);
  if (node == config_.name || (m && m->state != NodeState::dead && m->state != NodeState::left)) return false;
  bool dropped = failed_.erase(node) > 0;
  if (m) {
    const std::vector<MemberTable::Id> new_ids = members_.remove_if([&](const Member& x) { return x.name == node; });
    suspicions_.renumber(new_ids);
    // The probe order holds ids (gossip picks its targets there too): renumbered in place.
    std::size_t kept = 0, index = 0;
    for (std::size_t i = 0; i < probe_order_.size(); ++i) {
      const MemberTable::Id moved = new_ids[probe_order_[i]];
      if (moved == MemberTable::npos) continue;
      if (i < probe_index_) ++index;
      probe_order_[kept++] = moved;
    }
    probe_order_.resize(kept);
    probe_index_ = index;
    dropped = true;
  }
  return dropped;
}

PushPull Membership::local_state(bool join) const {
  PushPull p;
  p.join = join;
  if (delegate_) p.user_state = delegate_->local_state(join);
  p.nodes.reserve(members_.size());
  for (const Member& m : members_) {
    p.nodes.push_back(PushNodeState{m.name, m.address.ip, m.address.port, m.meta, m.incarnation, m.state, m.vsn});
  }
  return p;
}

PushPull Membership::handle_push_pull(const PushPull& request, Clock::time_point now) {
  take_delegate_broadcasts();
  PushPull reply = local_state(request.join);  // the reply goes first, then we merge (as memberlist)
  if (merge(request, now)) push_pull_soon(now);
  return reply;
}

void Membership::push_pull_reply(const PushPull& reply, Clock::time_point now) {
  take_delegate_broadcasts();
  if (merge(reply, now)) {
    push_pull_soon(now);
  } else {
    fast_push_pulls_ = 0;  // our view and a peer's agree: the burst is over
  }
}

void Membership::push_pull_soon(Clock::time_point now) {
  // An exchange that changed our view (a join storm, a healed partition) means others may
  // also have missed what we just learned, or we what they hold: another exchange with a
  // random member follows shortly instead of a whole push/pull interval later. Gossip alone
  // leaves some members a full interval behind when many join at once (each alive message is
  // sent a bounded number of times). At most kFastPushPulls in a row, so steady churn cannot
  // turn push/pull into a once-a-second full-state exchange; an idle cluster never gets here.
  if (fast_push_pull_due_ || fast_push_pulls_ >= kFastPushPulls) return;
  fast_push_pull_due_ = true;
  next_push_pull_ = std::min(next_push_pull_, now + kFastPushPullDelay);
}

bool Membership::merge(const PushPull& remote, Clock::time_point now) {
  // memberlist's verifyProtocol: refuse the whole state if any entry lacks a usable Vsn.
  for (const PushNodeState& n : remote.nodes) {
    if (!valid_versions(n.vsn)) {
      drop(DropReason::invalid_field);
      return false;
    }
  }
  const std::uint64_t changes_before = state_changes_;
  if (delegate_) delegate_->merge_remote_state(remote.user_state, remote.join);
  for (const PushNodeState& n : remote.nodes) {
    switch (n.state) {
      case NodeState::alive: {
        Alive a;
        a.incarnation = n.incarnation;
        a.node = n.name;
        a.addr = n.addr;
        a.port = n.port;
        a.meta = n.meta;
        a.vsn = n.vsn;
        on_alive(a, now);
        break;
      }
      case NodeState::left: on_dead(Dead{n.incarnation, n.name, n.name}, now); break;
      // Someone else's "dead" only makes us suspect: we check for ourselves.
      case NodeState::dead:
      case NodeState::suspect: on_suspect(Suspect{n.incarnation, n.name, config_.name}, now); break;
    }
  }
  return state_changes_ != changes_before;
}

// ---------------------------------------------------------------------------------------------
// Receiving

namespace {

// The member an alive, suspect or dead message is about.
const std::string* subject(const Message& m) {
  if (const auto* a = std::get_if<Alive>(&m)) return &a->node;
  if (const auto* s = std::get_if<Suspect>(&m)) return &s->node;
  if (const auto* d = std::get_if<Dead>(&m)) return &d->node;
  return nullptr;
}

}  // namespace

void Membership::receive_packet(const Address& from, const std::uint8_t* data, std::size_t size, Clock::time_point now) {
  ++stats_.packets_received;
  take_delegate_broadcasts();
  UnwrappedPacket packet = unwrap_packet(data, size);
  for (DropReason why : packet.dropped) drop(why);
  if (packet.error != DropReason::none) drop(packet.error);
  // Decode the whole packet first and prefetch the members its messages are about: a gossip
  // packet carries a few dozen, and in a large cluster each lookup is two cache misses, which
  // then overlap instead of coming one after another.
  std::vector<DecodeResult>& decoded = decoded_;  // a member, so its buffer is reused
  decoded.clear();
  for (const ByteView& message : packet.messages) decoded.push_back(decode(message.data(), message.size()));
  for (const DecodeResult& d : decoded) {
    if (const std::string* node = d.message ? subject(*d.message) : nullptr) members_.prefetch_slot(*node);
  }
  for (const DecodeResult& d : decoded) {
    if (const std::string* node = d.message ? subject(*d.message) : nullptr) members_.prefetch_member(*node);
  }
  for (const DecodeResult& d : decoded) handle_message(from, d, now);
  decoded.clear();
}

void Membership::handle_message(const Address& from, const DecodeResult& decoded, Clock::time_point now) {
  if (!decoded.message) {
    drop(decoded.error);
    return;
  }
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Ping>) on_ping(from, m);
        else if constexpr (std::is_same_v<T, IndirectPing>) on_indirect_ping(from, m, now);
        else if constexpr (std::is_same_v<T, Ack>) on_ack(m, now);
        else if constexpr (std::is_same_v<T, Nack>) on_nack(m, now);
        else if constexpr (std::is_same_v<T, Alive>) on_alive(m, now);
        else if constexpr (std::is_same_v<T, Suspect>) on_suspect(m, now);
        else if constexpr (std::is_same_v<T, Dead>) on_dead(m, now);
        else if constexpr (std::is_same_v<T, UserMessage>) on_user_message(from, m, now);
        else drop(DropReason::not_for_us);  // err belongs to streams
      },
      *decoded.message);
}

void Membership::on_ping(const Address& from, const Ping& p) {
  // A ping for another name reached us (a restarted node on a reused address): not ours.
  if (!p.node.empty() && p.node != config_.name) {
    drop(DropReason::not_for_us);
    return;
  }
  Address reply_to = from;
  if (usable_address(p.source_addr, p.source_port)) reply_to = Address{p.source_addr, p.source_port};
  send(reply_to, Ack{p.seq_no, {}});
}

void Membership::on_indirect_ping(const Address& from, const IndirectPing& p, Clock::time_point now) {
  // A target we cannot send to (found by membership_fuzz: no "Target", so we pinged ":7946").
  if (!usable_address(p.target, p.port)) {
    drop(DropReason::unusable_address);
    return;
  }
  Address requester = from;
  if (usable_address(p.source_addr, p.source_port)) requester = Address{p.source_addr, p.source_port};
  const std::uint32_t seq = next_seq_++;
  // The nack goes at 4/5 of the probe timeout, the ack window stays the whole of it. memberlist
  // nacks at the full timeout, and the requester, which sent us this request a probe timeout
  // after its ping, stops counting nacks one probe interval (two timeouts) after it: the nack
  // lands just too late, nearly always, and a requester probing a member that is really dead
  // counts every helper as silent and raises its own awareness (slowing its probes, and so the
  // confirmations that shorten the suspicion) for a fault that is not its own. Lifeguard's
  // nack only works if it arrives in time; swift-cluster-membership fixed the same at 80 %.
  const auto nack_at = now + config_.probe_timeout * 4 / 5;
  relays_[seq] = Relay{requester, Address{p.target, p.port}, p.seq_no, p.nack, nack_at, now + config_.probe_timeout};
  send(Address{p.target, p.port}, Ping{p.node, seq, config_.advertise.ip, config_.name, config_.advertise.port});
}

void Membership::on_ack(const Ack& a, Clock::time_point now) {
  if (auto relay = relays_.find(a.seq_no); relay != relays_.end()) {
    send(relay->second.requester, Ack{relay->second.requester_seq, {}});
    relays_.erase(relay);
    return;
  }
  if (probe_ && probe_->seq == a.seq_no && !probe_->acked) {
    probe_->acked = true;
    stats_.probe_rtt.observe(now - probe_->start);
    finish_probe(now);
  }
}

void Membership::on_nack(const Nack& n, Clock::time_point now) {
  if (!probe_ || probe_->seq != n.seq_no) return;
  ++probe_->nacks;
  finish_probe_if_certain(now);
}

void Membership::stream_ping_result(std::uint32_t seq, bool answered, Clock::time_point now) {
  take_delegate_broadcasts();
  if (!probe_ || probe_->seq != seq) return;
  probe_->stream_ping_pending = false;
  if (answered) probe_->acked_over_tcp = true;
  else finish_probe_if_certain(now);
}

void Membership::port_unreachable(const Address& to, Clock::time_point now) {
  take_delegate_broadcasts();
  for (auto& [seq, relay] : relays_) {
    if (relay.target != to || !relay.nack) continue;
    ++stats_.ports_unreachable;
    send_nack(relay);
  }
  if (!probe_ || probe_->acked) return;
  const Member* target = members_.find(probe_->target);
  if (!target || target->address != to) return;
  ++stats_.ports_unreachable;
  probe_->unreachable = true;
  if (!probe_->indirect_sent) probe_indirect(*probe_);
  finish_probe_if_certain(now);
}

void Membership::send_nack(Relay& relay) {
  send(relay.requester, Nack{relay.requester_seq});
  relay.nack = false;  // one per request
}

void Membership::finish_probe_if_certain(Clock::time_point now) {
  // Only on the evidence port_unreachable needs; otherwise the probe runs to its deadline.
  const Probe& p = *probe_;
  if (!p.unreachable || !p.indirect_sent || p.acked || p.acked_over_tcp || p.stream_ping_pending) return;
  if (p.expected_nacks == 0 || p.nacks < p.expected_nacks) return;
  finish_probe(now);
}

// Alive messages arrive decoded (decode() refuses a bad Vsn) or from merge() (checked there).
void Membership::on_alive(const Alive& a, Clock::time_point now) {
  // A member we could never reach (no IPv4/IPv6 address, or port 0; found by membership_fuzz:
  // an alive without "Addr" made a member that we then probed at ":7946") is a counted drop.
  if (!usable_address(a.addr, a.port)) {
    drop(DropReason::unusable_address);
    return;
  }
  if (leaving_ && a.node == config_.name) return;  // our own old alive must not undo the leave
  MemberTable::Id id = members_.id_of(a.node);
  bool address_changed = false;
  if (id == MemberTable::npos) {
    Member fresh;
    fresh.name = a.node;
    fresh.address = Address{a.addr, a.port};
    fresh.state = NodeState::dead;  // new members start dead, so becoming alive is a join
    id = members_.add(std::move(fresh));
    // A random place in the probe order, so new members are not all probed last.
    probe_order_.push_back(id);
    std::uniform_int_distribution<std::size_t> pick(0, probe_order_.size() - 1);
    std::swap(probe_order_.back(), probe_order_[pick(rng_)]);
  } else if (members_[id].address.port != a.port || !members_[id].address.ip.equals(a.addr)) {
    // Same name, other address: a conflict unless the old one left (memberlist keeps the dead
    // entry until it is reaped).
    if (members_[id].state != NodeState::left) {
      drop(DropReason::address_conflict);
      return;
    }
    address_changed = true;
  }
  Member& m = members_[id];
  const bool is_self = id == kSelf;
  // Only newer news about others. A restarted member (incarnation 1 again) is therefore ignored
  // until it finds our view of it in a push/pull and refutes with a higher incarnation.
  if (!is_self && !address_changed && a.incarnation <= m.incarnation) return;
  if (is_self && a.incarnation < m.incarnation) return;
  suspicions_.clear(id);

  const NodeState old_state = m.state;
  const Bytes old_meta = m.meta;
  if (is_self) {
    // Same incarnation and same content: an echo of our own news. Anything else is refuted.
    if (a.incarnation == m.incarnation && a.meta == m.meta && a.vsn == m.vsn) return;
    refute(a.incarnation);
    return;
  }
  broadcast(a.node, a);
  if (!a.vsn.empty()) m.vsn = a.vsn;
  m.incarnation = a.incarnation;
  m.meta = a.meta;
  m.address = Address{a.addr, a.port};
  if (m.state != NodeState::alive) {
    set_state(m, NodeState::alive, now);
  }
  if (old_state == NodeState::dead || old_state == NodeState::left) {
    failed_.erase(m.name);
    events_.push_back(MemberEvent{MemberEvent::Kind::joined, m});
  } else if (old_meta != m.meta) {
    events_.push_back(MemberEvent{MemberEvent::Kind::updated, m});
  }
}

void Membership::on_suspect(const Suspect& s, Clock::time_point now) {
  const MemberTable::Id id = members_.id_of(s.node);
  if (id == MemberTable::npos) return;
  Member& m = members_[id];
  if (s.incarnation < m.incarnation) return;
  // Already suspected: a new accuser confirms, which shortens the timeout (Lifeguard).
  if (suspicions_.running(id)) {
    if (suspicions_.confirm(id, s.from)) broadcast(s.node, s);
    return;
  }
  if (m.state != NodeState::alive) return;
  if (id == kSelf) {
    refute(s.incarnation);
    return;
  }
  broadcast(s.node, s);
  m.incarnation = s.incarnation;
  set_state(m, NodeState::suspect, now);
  suspicions_.start(id, s.from, estimated_members(), config_, now);
}

void Membership::on_dead(const Dead& d, Clock::time_point now) {
  const MemberTable::Id id = members_.id_of(d.node);
  if (id == MemberTable::npos) return;
  Member& m = members_[id];
  if (d.incarnation < m.incarnation) return;
  suspicions_.clear(id);
  if (m.state == NodeState::dead || m.state == NodeState::left) return;
  if (id == kSelf && !leaving_) {
    refute(d.incarnation);
    return;
  }
  broadcast(d.node, d);
  m.incarnation = d.incarnation;
  // Its own "dead" is a leave; so is any death after a leave intent (serf's StatusLeaving), as a
  // member whose last datagrams were lost is still one that left.
  const bool left = d.node == d.from || (delegate_ && delegate_->intends_to_leave(d.node));
  set_state(m, left ? NodeState::left : NodeState::dead, now);
  if (id != kSelf) {
    if (m.state == NodeState::dead) failed_[m.name] = m;
    else failed_.erase(m.name);
    events_.push_back(MemberEvent{m.state == NodeState::left ? MemberEvent::Kind::left : MemberEvent::Kind::failed, m});
  }
}

void Membership::refute(std::uint32_t accused_incarnation) {
  Member& me = members_[kSelf];
  me.incarnation = std::max(me.incarnation + 1, accused_incarnation + 1);
  ++stats_.refutations;
  apply_awareness(1);  // being accused is a hint that we are the slow one
  Alive a;
  a.incarnation = me.incarnation;
  a.node = me.name;
  a.addr = me.address.ip;
  a.port = me.address.port;
  a.meta = me.meta;
  a.vsn = me.vsn;
  broadcast(me.name, a);
}

// ---------------------------------------------------------------------------------------------
// Timers

Clock::time_point Membership::next_deadline() const {
  // While a probe runs, its own timers stand in for the next probe's start.
  Clock::time_point next = std::min({next_gossip_, next_push_pull_, next_reconnect_});
  if (news_queued()) next = std::min(next, eager_gossip_at());
  if (leaving_ && !left_) next = std::min(next, leave_at_);
  if (probe_) next = std::min(next, probe_->indirect_sent ? probe_->deadline : probe_->indirect_at);
  else next = std::min(next, next_probe_);
  for (const auto& [seq, relay] : relays_) next = std::min(next, relay.next_due());
  if (const auto s = suspicions_.next_deadline(); s) next = std::min(next, *s);
  return next;
}

void Membership::tick(Clock::time_point now) {
  take_delegate_broadcasts();
  if (leaving_ && !left_ && now >= leave_at_) {
    if (broadcasts_.size() > 0 && now - leave_started_ < kLeaveBroadcastTimeout) {
      // As serf: the leave intent goes out in full before our departure does, or members that
      // hear of the departure first list us as failed.
      leave_at_ = now + config_.gossip_interval;
    } else {
      left_ = true;
      left_at_ = now;
      const Member& me = members_[kSelf];
      on_dead(Dead{me.incarnation, me.name, me.name}, now);  // dead about ourselves, From = us: left
    }
  }
  fire_suspicions(now);
  expire_relays(now);
  if (probe_ && !probe_->indirect_sent && now >= probe_->indirect_at) probe_indirect(*probe_);
  if (probe_ && now >= probe_->deadline) finish_probe(now);
  if (!probe_ && now >= next_probe_) start_probe(now);
  if (now >= next_gossip_ || (broadcasts_.size() > 0 && now >= eager_gossip_at())) {
    gossip(now);
    next_gossip_ = now + config_.gossip_interval;
  }
  if (now >= next_push_pull_) {
    if (std::exchange(fast_push_pull_due_, false)) ++fast_push_pulls_;
    start_push_pull();
    next_push_pull_ = now + push_pull_scale(config_.push_pull_interval, estimated_members());
  }
  if (now >= next_reconnect_) {
    reconnect(now);
    next_reconnect_ = now + config_.reconnect_interval;
  }
}

void Membership::reconnect(Clock::time_point now) {
  std::erase_if(failed_, [&](const auto& kv) { return now - kv.second.state_change > config_.reconnect_timeout; });
  if (failed_.empty() || leaving_) return;
  const double alive = static_cast<double>(std::max<std::size_t>(1, alive_count()));
  if (std::uniform_real_distribution<double>(0, 1)(rng_) >= static_cast<double>(failed_.size()) / alive) return;
  auto it = failed_.begin();
  std::advance(it, static_cast<long>(std::uniform_int_distribution<std::size_t>(0, failed_.size() - 1)(rng_)));
  push_pulls_.push_back(PushPullRequest{it->second.address, local_state(false)});
}

void Membership::fire_suspicions(Clock::time_point now) {
  for (const auto& [id, suspected_at] : suspicions_.take_due(now)) {
    const Member& m = members_[id];
    // Only if nothing happened to the member since we suspected it.
    if (m.state == NodeState::suspect && m.state_change == suspected_at) {
      on_dead(Dead{m.incarnation, m.name, config_.name}, now);
    }
  }
}

void Membership::expire_relays(Clock::time_point now) {
  for (auto it = relays_.begin(); it != relays_.end();) {
    Relay& relay = it->second;
    if (relay.nack && now >= relay.nack_at) send_nack(relay);
    if (now < relay.deadline) ++it;
    else it = relays_.erase(it);
  }
}

void Membership::reset_probe_order(Clock::time_point now) {
  // Members dead or left for longer than gossip_to_the_dead are forgotten here, once per round.
  const std::vector<MemberTable::Id> new_ids = members_.remove_if([&](const Member& m) {
    return m.name != config_.name && (m.state == NodeState::dead || m.state == NodeState::left) &&
           now - m.state_change > config_.gossip_to_the_dead;
  });
  suspicions_.renumber(new_ids);  // ids have moved; the timers of reaped members go
  probe_order_.clear();
  for (MemberTable::Id id = 0; id < members_.size(); ++id) probe_order_.push_back(id);
  std::shuffle(probe_order_.begin(), probe_order_.end(), rng_);
  probe_index_ = 0;
}

void Membership::start_probe(Clock::time_point now) {
  // The next member in the shuffled order that is worth probing; a full pass reshuffles.
  const Member* target = nullptr;
  for (std::size_t tried = 0; tried <= probe_order_.size() && !target; ++tried) {
    if (probe_index_ >= probe_order_.size()) reset_probe_order(now);
    const MemberTable::Id id = probe_order_[probe_index_++];
    if (id == kSelf) continue;
    const Member& m = members_[id];
    if (m.state == NodeState::dead || m.state == NodeState::left) continue;
    target = &m;
  }
  if (!target) {
    next_probe_ = now + config_.probe_interval;
    return;
  }
  ++stats_.probes;
  Probe p;
  p.target = target->name;
  p.seq = next_seq_++;
  p.start = now;
  p.indirect_at = now + config_.probe_timeout;
  p.deadline = now + scaled(config_.probe_interval);
  Ping ping{target->name, p.seq, config_.advertise.ip, config_.name, config_.advertise.port};
  if (target->state == NodeState::suspect) {
    // The buddy system: tell a suspect member it is suspected, so it can refute at once.
    Bytes packet = make_compound(std::vector<Bytes>{encode(ping), encode(Suspect{target->incarnation, target->name, config_.name})});
    packets_.push_back(OutgoingPacket{target->address, std::move(packet)});
  } else {
    send(target->address, ping);
  }
  probe_ = p;
}

void Membership::probe_indirect(Probe& probe) {
  probe.indirect_sent = true;
  const Member* found = members_.find(probe.target);
  if (!found) return;
  const Member target = *found;
  if (config_.tcp_pings && peer_supports_stream_ping(target)) {
    // Only the current probe's: a driver that never takes them does not collect them.
    stream_pings_.assign(1, StreamPing{target.address,
                                       Ping{target.name, probe.seq, config_.advertise.ip, config_.name, config_.advertise.port},
                                       probe.deadline});
    probe.stream_ping_pending = true;
  }
  auto helpers = random_members(config_.indirect_checks, [&](const Member& m) {
    return m.name != config_.name && m.name != probe.target && m.state == NodeState::alive;
  });
  for (const Member* helper : helpers) {
    IndirectPing ind;
    ind.seq_no = probe.seq;
    ind.target = target.address.ip;
    ind.port = target.address.port;
    ind.node = target.name;
    ind.nack = peer_supports_nack(*helper);
    ind.source_addr = config_.advertise.ip;
    ind.source_node = config_.name;
    ind.source_port = config_.advertise.port;
    if (ind.nack) ++probe.expected_nacks;
    send(helper->address, ind);
  }
}

void Membership::finish_probe(Clock::time_point now) {
  Probe p = *probe_;
  probe_.reset();
  next_probe_ = std::max(p.start + config_.probe_interval, now);
  if (p.acked) {
    apply_awareness(-1);
    return;
  }
  ++stats_.probes_failed;
  // Lifeguard: missing nacks mean our own network or CPU is the problem, not the target.
  if (p.expected_nacks > 0) apply_awareness(static_cast<int>(p.expected_nacks - std::min(p.nacks, p.expected_nacks)));
  else apply_awareness(1);
  stream_pings_.clear();  // an answer too late for this probe
  if (p.acked_over_tcp) {
    // Alive, but no UDP got through either way: memberlist warns and does not suspect.
    ++stats_.probes_answered_over_tcp_only;
    if (udp_silent_.size() < 16) udp_silent_.push_back(p.target);
    return;
  }
  // Also when the target is already suspect: our failed probe is then an independent
  // confirmation, and confirmations are what shorten Lifeguard's suspicion timeout from its
  // maximum towards its minimum (memberlist's probeNode does the same).
  const Member* target = members_.find(p.target);
  if (target && (target->state == NodeState::alive || target->state == NodeState::suspect)) {
    on_suspect(Suspect{target->incarnation, p.target, config_.name}, now);
  }
}

void Membership::gossip(Clock::time_point now) {
  // memberlist sends to gossip_nodes members a round. While news is still queued after those,
  // we go on to as many more: in a join storm every member re-gossips every join, and with
  // hearsay's tags only ~7 alive messages fit in a packet, so the queue drained at memberlist's
  // pace held joins back for seconds. Each message is still sent `limit` times in all, only
  // sooner; an idle member (empty queue) sends nothing either way.
  auto targets = random_members(config_.gossip_nodes * kBacklogFanout, [&](const Member& m) {
    if (m.name == config_.name) return false;
    if (m.state == NodeState::alive || m.state == NodeState::suspect) return true;
    return m.state == NodeState::dead && now - m.state_change <= config_.gossip_to_the_dead;
  });
  const std::size_t limit = retransmit_limit(config_.retransmit_mult, estimated_members());
  bool sent = false;
  for (const Member* target : targets) {
    auto messages = broadcasts_.take(config_.udp_buffer_size - kCompoundHeader, kCompoundPart, limit);
    if (messages.empty()) break;  // the extra targets get packets only while news is queued
    if (messages.size() > kMaxCompoundParts) messages.resize(kMaxCompoundParts);
    std::vector<ByteView> parts;
    parts.reserve(messages.size());
    for (const auto& m : messages) parts.emplace_back(*m);
    Bytes packet = parts.size() == 1 ? Bytes(parts[0].begin(), parts[0].end()) : make_compound(parts);
    packets_.push_back(OutgoingPacket{target->address, std::move(packet)});
    sent = true;
  }
  // A round that sent news, or that had news and nobody to send it to (alone, say): either way
  // the next eager round is an interval away, so a queue nobody can take does not spin the loop.
  if (sent || broadcasts_.size() > 0) last_gossip_ = now;
}

void Membership::start_push_pull() {
  auto peers = random_members(1, [&](const Member& m) { return m.name != config_.name && m.state == NodeState::alive; });
  if (!peers.empty()) push_pulls_.push_back(PushPullRequest{peers[0]->address, local_state(false)});
}

// ---------------------------------------------------------------------------------------------
// Sending

void Membership::send_encoded(const Address& to, Bytes first) {
  // Piggyback pending broadcasts on everything we send, as memberlist does.
  const std::size_t limit = retransmit_limit(config_.retransmit_mult, estimated_members());
  const std::size_t room = config_.udp_buffer_size > first.size() + kCompoundHeader + kCompoundPart
                               ? config_.udp_buffer_size - first.size() - kCompoundHeader - kCompoundPart
                               : 0;
  auto extra = broadcasts_.take(room, kCompoundPart, limit);
  if (extra.empty()) {
    packets_.push_back(OutgoingPacket{to, std::move(first)});
    return;
  }
  std::vector<ByteView> parts;
  parts.reserve(std::min(extra.size() + 1, kMaxCompoundParts));
  parts.emplace_back(first);
  for (const auto& e : extra) {
    if (parts.size() == kMaxCompoundParts) break;
    parts.emplace_back(*e);
  }
  packets_.push_back(OutgoingPacket{to, make_compound(parts)});
}


void Membership::apply_awareness(int delta) {
  awareness_ = std::clamp(awareness_ + delta, 0, static_cast<int>(config_.awareness_max_multiplier) - 1);
}

template <typename Keep>
std::vector<const Member*> Membership::random_members(std::size_t k, const Keep& keep) {
  // As memberlist's kRandomNodes: up to 3k random picks from the probe order, skipping members
  // the filter refuses and repeats. Constant work per call however large the cluster is.
  std::vector<const Member*> chosen;
  const std::size_t n = probe_order_.size();
  if (n == 0) return chosen;
  std::uniform_int_distribution<std::size_t> pick(0, n - 1);
  for (std::size_t tries = 0; tries < 3 * n && tries < 3 * k + 32 && chosen.size() < k; ++tries) {
    const Member& m = members_[probe_order_[pick(rng_)]];
    if (!keep(m)) continue;
    if (std::find(chosen.begin(), chosen.end(), &m) != chosen.end()) continue;
    chosen.push_back(&m);
  }
  return chosen;
}

}  // namespace hearsay::gossip
