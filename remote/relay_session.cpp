// The relay's side of one remote session (relay_session.h): the hello and its authorization,
// keepalive, and the check of every replication message the remote sends up.
#include "remote/relay_session.h"

#include <algorithm>
#include <utility>

namespace hearsay::remote {
namespace {

std::uint64_t micros(Clock::time_point t) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
}

}  // namespace

const char* relay_refusal_name(RelayRefusal refusal) {
  switch (refusal) {
    case RelayRefusal::none: return "none";
    case RelayRefusal::foreign_owner: return "foreign_owner";
    case RelayRefusal::not_allowed: return "not_allowed";
    case RelayRefusal::bad_message: return "bad_message";
    case RelayRefusal::count_: break;
  }
  return "unknown";
}

RelaySession::RelaySession(RelaySessionConfig config, Clock::time_point now)
    : started_(now), last_sent_(now), config_(std::move(config)), last_contact_(now) {}

bool RelaySession::open() const { return phase_ == Phase::open && !close_; }

void RelaySession::write(const Frame& frame, bool counts_as_sent) {
  Bytes bytes = encode_frame(frame);
  ++stats_.frames_out;
  stats_.bytes_out += bytes.size();
  writes_.push_back(std::move(bytes));
  if (counts_as_sent) sent_since_tick_ = true;
}

void RelaySession::close(std::string reason) {
  if (close_) return;
  close_ = std::move(reason);
  phase_ = Phase::closed;
}

void RelaySession::received(const std::uint8_t* data, std::size_t size, Clock::time_point now) {
  if (close_) return;
  stats_.bytes_in += size;
  reader_.feed(data, size);
  while (!close_) {
    std::optional<Frame> frame = reader_.next();
    if (!frame) {
      if (reader_.error() != FrameError::none) {
        ++stats_.frame_errors[static_cast<std::size_t>(reader_.error())];
        close(std::string("broken frame stream: ") + frame_error_name(reader_.error()));
      }
      return;
    }
    ++stats_.frames_in;
    last_contact_ = now;
    handle(std::move(*frame), now);
  }
}

void RelaySession::handle(Frame frame, Clock::time_point now) {
  if (phase_ == Phase::awaiting_hello) {
    auto* hello = std::get_if<Hello>(&frame);
    if (!hello) return close(std::string("the first frame is a ") + frame_name(frame) + ", not a hello");
    return on_hello(std::move(*hello), now);
  }
  // Our answer counts as sent: it keeps the session alive on the remote's side, so a remote
  // that pings gets no pings from us (idle bytes halved).
  if (auto* p = std::get_if<Ping>(&frame)) return write(Pong{p->sent_us});
  if (auto* p = std::get_if<Pong>(&frame)) {
    const std::uint64_t at = micros(now);
    if (p->echo_us <= at) rtt_ = std::chrono::duration_cast<Duration>(std::chrono::microseconds(at - p->echo_us));
    return;
  }
  if (auto* r = std::get_if<ReplicationFrame>(&frame)) return on_replication(std::move(*r));
  if (std::holds_alternative<Goodbye>(frame)) {
    events_.push_back(RelayEvent{RelayEvent::Kind::goodbye});
    return close("goodbye from " + hello_.node);
  }
  if (std::holds_alternative<Hello>(frame)) return close("a second hello");
  // welcome, refuse, ack, members: only a relay sends those.
  close(std::string("the remote sent a ") + frame_name(frame) + " frame");
}

void RelaySession::on_hello(Hello hello, Clock::time_point now) {
  HelloVerdict verdict;
  if (hello.protocol != kProtocolVersion) {
    verdict = {"protocol version " + std::to_string(hello.protocol) + " is not supported (this relay speaks " +
                   std::to_string(kProtocolVersion) + ")",
               false};
  } else if (hello.node.empty()) {
    verdict = {"a hello without a node name", false};
  } else if (!config_.authorize) {
    verdict = {"this relay authorizes no remote", false};
  } else {
    verdict = config_.authorize(hello);
  }
  hello_ = std::move(hello);
  if (!verdict.refusal.empty()) {
    write(Refuse{verdict.refusal, verdict.retry});
    return close("refused " + hello_.node + ": " + verdict.refusal);
  }
  phase_ = Phase::open;
  last_contact_ = now;
  write(Welcome{config_.relay, config_.session, static_cast<std::uint32_t>(config_.keepalive.count())});
  events_.push_back(RelayEvent{RelayEvent::Kind::opened});
}

bool RelaySession::allowed(const gossip::ReplicaEntry& entry) {
  if (entry.owner != hello_.node) {
    refused(RelayRefusal::foreign_owner);
    return false;
  }
  if (config_.check_entry && !config_.check_entry(hello_, entry).empty()) {
    refused(RelayRefusal::not_allowed);
    return false;
  }
  return true;
}

void RelaySession::on_replication(ReplicationFrame frame) {
  using Kind = gossip::ReplicationMessage::Kind;
  gossip::DecodeError error = gossip::DecodeError::none;
  std::optional<gossip::ReplicationMessage> m = gossip::decode_replication(frame.message.data(), frame.message.size(), error);
  // Undecodable, a reply to a sync the relay never asked the remote for, or a message that
  // says it is from another agent than the session's.
  if (!m) return refused(RelayRefusal::bad_message);
  if (m->kind == Kind::sync_reply) return refused(RelayRefusal::bad_message);
  if (m->from != hello_.node) return refused(RelayRefusal::foreign_owner);
  bool changed = false;
  std::size_t entries = 0;
  switch (m->kind) {
    case Kind::broadcast: {
      const std::size_t before = m->entries.size();
      std::erase_if(m->entries, [this](const gossip::ReplicaEntry& e) { return !allowed(e); });
      changed = m->entries.size() != before;
      entries = m->entries.size();
      if (m->entries.empty()) return;  // nothing left for the engine
      break;
    }
    case Kind::sync_request:
      break;  // a digest: nothing written, the reply is the relay's own
    case Kind::push: {
      const std::size_t blocks = m->blocks.size();
      std::erase_if(m->blocks, [this](const gossip::OwnerBlock& b) {
        if (b.mark.owner == hello_.node) return false;
        refused(RelayRefusal::foreign_owner);
        return true;
      });
      changed = m->blocks.size() != blocks;
      for (gossip::OwnerBlock& b : m->blocks) {
        const std::size_t before = b.entries.size();
        std::erase_if(b.entries, [this](const gossip::ReplicaEntry& e) { return !allowed(e); });
        changed = changed || b.entries.size() != before;
        entries += b.entries.size();
      }
      if (m->blocks.empty()) return;
      break;
    }
    case Kind::sync_reply:
      return;
  }
  stats_.entries_in += entries;
  if (changed) frame.message = gossip::encode(*m);
  RelayEvent event{RelayEvent::Kind::replication};
  event.replication = std::move(frame);
  events_.push_back(std::move(event));
}

bool RelaySession::send(ReplicationFrame frame) {
  if (!open()) return false;
  write(frame);
  return true;
}

bool RelaySession::send_ack(const Ack& ack) {
  if (!open()) return false;
  write(ack);
  return true;
}

bool RelaySession::send_members(Members members) {
  if (!open()) return false;
  write(std::move(members));
  return true;
}

void RelaySession::refuse(const std::string& reason, bool retry) {
  if (close_) return;
  write(Refuse{reason, retry});
  close("refused " + (hello_.node.empty() ? std::string("the remote") : hello_.node) + ": " + reason);
}

void RelaySession::tick(Clock::time_point now) {
  if (sent_since_tick_) {
    sent_since_tick_ = false;
    last_sent_ = std::max(last_sent_, now);
  }
  switch (phase_) {
    case Phase::awaiting_hello:
      if (now - started_ >= config_.hello_timeout) {
        close("no hello within " + std::to_string(config_.hello_timeout.count()) + " ms");
      }
      break;
    case Phase::open:
      if (now - last_contact_ >= config_.dead_after) {
        close("nothing received from " + hello_.node + " for " + std::to_string(config_.dead_after.count()) + " ms");
      } else if (now - last_sent_ >= config_.keepalive) {
        write(Ping{micros(now)});
        last_sent_ = now;
        sent_since_tick_ = false;
      }
      break;
    case Phase::closed:
      break;
  }
}

Clock::time_point RelaySession::next_deadline() const {
  switch (phase_) {
    case Phase::awaiting_hello: return started_ + config_.hello_timeout;
    case Phase::open: return std::min(last_contact_ + config_.dead_after, last_sent_ + config_.keepalive);
    case Phase::closed: break;
  }
  return Clock::time_point::max();
}

std::vector<Bytes> RelaySession::take_writes() { return std::exchange(writes_, {}); }
std::vector<RelayEvent> RelaySession::take_events() { return std::exchange(events_, {}); }

}  // namespace hearsay::remote
