// The remote side's state machine (link.h): attempts over the shuffled relays, backoff,
// handshake, keepalive and the honest state.
#include "remote/link.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace hearsay::remote {
namespace {

std::uint64_t micros(Clock::time_point t) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
}

}  // namespace

const char* link_state_name(LinkState state) {
  switch (state) {
    case LinkState::idle: return "idle";
    case LinkState::connecting: return "connecting";
    case LinkState::established: return "established";
    case LinkState::waiting: return "waiting";
    case LinkState::stopped: return "stopped";
  }
  return "unknown";
}

Link::Link(LinkConfig config, Clock::time_point now)
    : config_(std::move(config)), rng_(config_.seed), order_(config_.relays), keepalive_(config_.keepalive) {
  std::shuffle(order_.begin(), order_.end(), rng_);
  last_received_ = last_sent_ = last_ping_ = now;
}

bool Link::current(std::uint64_t attempt) const {
  return attempt == attempt_ &&
         (status_.state == LinkState::connecting || status_.state == LinkState::established);
}

void Link::start(Clock::time_point now) {
  if (status_.state != LinkState::idle) return;
  begin_attempt(now);
}

void Link::begin_attempt(Clock::time_point now) {
  if (order_.empty()) {
    status_.state = LinkState::waiting;
    status_.last_error = "no relay configured";
    next_attempt_ = Clock::time_point::max();
    return;
  }
  ++attempt_;
  const std::string& relay = order_[next_relay_++ % order_.size()];
  status_.state = LinkState::connecting;
  status_.relay = relay;
  status_.session = 0;
  connect_ = Connect{attempt_, relay};
  writes_.clear();
  close_ = false;
  hello_sent_ = false;
  reader_ = FrameReader();
  keepalive_ = config_.keepalive;
  attempt_started_ = now;
  attempt_deadline_ = now + config_.handshake_timeout;
}

Duration Link::next_wait() {
  // first_retry, doubled per failure since the last session, capped; then up to 50 % less.
  Duration base = config_.first_retry;
  for (unsigned i = 1; i < failures_ && base < config_.max_backoff; ++i) base *= 2;
  base = std::min(base, config_.max_backoff);
  const std::int64_t cut = std::uniform_int_distribution<std::int64_t>(0, base.count() / 2)(rng_);
  return Duration(std::max<std::int64_t>(1, base.count() - cut));
}

void Link::end_attempt(const std::string& reason, bool close, Clock::time_point now, bool refused,
                       std::optional<Duration> wait) {
  const bool was_established = status_.state == LinkState::established;
  LinkEvent event{refused ? LinkEvent::Kind::refused
                          : was_established ? LinkEvent::Kind::lost : LinkEvent::Kind::attempt_failed,
                  status_.relay, status_.session, reason};
  events_.push_back(std::move(event));
  if (!was_established) ++status_.attempts_failed;
  ++failures_;
  status_.last_error = reason;
  status_.state = LinkState::waiting;
  status_.session = 0;
  connect_.reset();
  writes_.clear();  // for a connection that is gone or being closed
  close_ = close_ || close;
  // The backoff spaces attempts' starts: one that timed out after handshake_timeout has waited
  // already, and the next goes at once (a link back from a cut is then found by the next SYN,
  // not after a further backoff). After a session, or a refusal, the wait counts from now. At
  // least 1 ms, so the shell takes the close before the next connect.
  const Clock::time_point from = was_established || wait ? now : attempt_started_;
  next_attempt_ = std::max(now + Duration(1), from + (wait ? *wait : next_wait()));
}

void Link::stop(bool goodbye, Clock::time_point now) {
  if (status_.state == LinkState::stopped) return;
  if (goodbye && status_.state == LinkState::established) write(Goodbye{}, now);
  if (status_.state == LinkState::connecting || status_.state == LinkState::established) close_ = true;
  connect_.reset();
  status_.state = LinkState::stopped;
  status_.session = 0;
}

std::optional<Link::Connect> Link::take_connect() { return std::exchange(connect_, std::nullopt); }
std::vector<Bytes> Link::take_writes() { return std::exchange(writes_, {}); }
bool Link::take_close() { return std::exchange(close_, false); }

void Link::write(const Frame& frame, Clock::time_point now, bool counts_as_sent) {
  Bytes bytes = encode_frame(frame);
  ++status_.frames_out;
  status_.bytes_out += bytes.size();
  writes_.push_back(std::move(bytes));
  if (counts_as_sent) last_sent_ = now;
}

void Link::connected(std::uint64_t attempt, Clock::time_point now) {
  if (!current(attempt) || status_.state != LinkState::connecting || hello_sent_) return;
  hello_sent_ = true;
  write(Hello{kProtocolVersion, config_.node, config_.node_id, config_.token, config_.started_us, attempt_}, now);
}

void Link::connect_failed(std::uint64_t attempt, const std::string& why, Clock::time_point now) {
  if (!current(attempt)) return;
  end_attempt(why.empty() ? "connect failed" : why, false, now);
}

void Link::closed(std::uint64_t attempt, const std::string& why, Clock::time_point now) {
  if (!current(attempt)) return;
  end_attempt(why.empty() ? "closed by the relay" : why, false, now);
}

void Link::received(std::uint64_t attempt, const std::uint8_t* data, std::size_t size, Clock::time_point now) {
  if (!current(attempt) || !hello_sent_) return;
  status_.bytes_in += size;
  reader_.feed(data, size);
  while (current(attempt)) {
    std::optional<Frame> frame = reader_.next();
    if (!frame) {
      if (reader_.error() != FrameError::none) {
        ++status_.frame_errors[static_cast<std::size_t>(reader_.error())];
        end_attempt(std::string("broken frame stream from the relay: ") + frame_error_name(reader_.error()), true, now);
      }
      return;
    }
    ++status_.frames_in;
    last_received_ = now;
    status_.last_contact = now;
    handle(std::move(*frame), now);
  }
}

void Link::handle(Frame frame, Clock::time_point now) {
  const bool established = status_.state == LinkState::established;
  if (auto* w = std::get_if<Welcome>(&frame)) {
    if (established) return end_attempt("a second welcome from the relay", true, now);
    status_.state = LinkState::established;
    status_.session = w->session;
    status_.relay_name = w->relay;
    ++status_.sessions;
    if (status_.sessions > 1) ++status_.reconnects;
    failures_ = 0;
    if (w->keepalive_ms > 0) keepalive_ = std::min(config_.keepalive, Duration(w->keepalive_ms));
    last_ping_ = now;
    events_.push_back(LinkEvent{LinkEvent::Kind::established, w->relay, w->session, {}});
    return;
  }
  if (auto* r = std::get_if<Refuse>(&frame)) {
    // Retrying with the same token cannot help: wait the longest.
    return end_attempt("refused by " + status_.relay + ": " + r->reason, true, now, true,
                       r->retry ? std::nullopt : std::optional<Duration>(config_.max_backoff));
  }
  // A pong does not put off our own ping: the relay answers ours, so the RTT stays measured (and
  // the relay, whose rule counts its pongs as sent, need not ping an idle session at all).
  if (auto* p = std::get_if<Ping>(&frame)) return write(Pong{p->sent_us}, now, false);
  if (auto* p = std::get_if<Pong>(&frame)) {
    const std::uint64_t at = micros(now);
    if (p->echo_us <= at) {
      status_.rtt = std::chrono::duration_cast<Duration>(std::chrono::microseconds(at - p->echo_us));
    }
    return;
  }
  if (!established) {
    return end_attempt(std::string("the relay sent ") + frame_name(frame) + " before its welcome", true, now);
  }
  if (auto* r = std::get_if<ReplicationFrame>(&frame)) {
    LinkEvent event{LinkEvent::Kind::replication, status_.relay, status_.session, {}};
    event.replication = std::move(*r);
    events_.push_back(std::move(event));
    return;
  }
  if (auto* a = std::get_if<Ack>(&frame)) {
    LinkEvent event{LinkEvent::Kind::ack, status_.relay, status_.session, {}};
    event.ack = *a;
    events_.push_back(std::move(event));
    return;
  }
  if (auto* m = std::get_if<Members>(&frame)) {
    LinkEvent event{LinkEvent::Kind::members, status_.relay, status_.session, {}};
    event.members = std::move(*m);
    events_.push_back(std::move(event));
    return;
  }
  // hello, goodbye: only a remote sends those.
  end_attempt(std::string("the relay sent a ") + frame_name(frame) + " frame", true, now);
}

bool Link::send(ReplicationFrame frame) {
  if (status_.state != LinkState::established) return false;
  Bytes bytes = encode_frame(frame);
  ++status_.frames_out;
  status_.bytes_out += bytes.size();
  writes_.push_back(std::move(bytes));
  // last_sent_ is the time of the last write; without a clock here, the next tick's ping rule
  // sees the frame through `sent_since_tick_`.
  sent_since_tick_ = true;
  return true;
}

Clock::time_point Link::ping_due() const {
  // With bytes stuck in the shell's queue, what we wrote says nothing to the relay yet: pings
  // go every keepalive all the same (the shell sends them ahead of bulk).
  return (unsent_bytes_ > 0 ? last_ping_ : std::max(last_sent_, last_ping_)) + keepalive_;
}

void Link::tick(Clock::time_point now) {
  if (sent_since_tick_) {
    sent_since_tick_ = false;
    last_sent_ = std::max(last_sent_, now);
  }
  switch (status_.state) {
    case LinkState::waiting:
      if (now >= next_attempt_) begin_attempt(now);
      break;
    case LinkState::connecting:
      if (now >= attempt_deadline_) {
        end_attempt(hello_sent_ ? "no welcome from the relay in time" : "connect timed out", true, now);
      }
      break;
    case LinkState::established:
      if (now - last_received_ >= config_.dead_after) {
        end_attempt("nothing received from the relay for " + std::to_string(config_.dead_after.count()) + " ms", true,
                    now);
      } else if (now >= ping_due()) {
        write(Ping{micros(now)}, now);
        last_ping_ = now;
      }
      break;
    case LinkState::idle:
    case LinkState::stopped:
      break;
  }
}

Clock::time_point Link::next_deadline() const {
  switch (status_.state) {
    case LinkState::waiting: return next_attempt_;
    case LinkState::connecting: return attempt_deadline_;
    case LinkState::established: return std::min(last_received_ + config_.dead_after, ping_due());
    case LinkState::idle:
    case LinkState::stopped: break;
  }
  return Clock::time_point::max();
}

std::vector<LinkEvent> Link::take_events() { return std::exchange(events_, {}); }

}  // namespace hearsay::remote
