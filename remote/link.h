// The remote side of remote mode, sans-I/O: which relay to try, when to retry, the handshake,
// keepalive and round-trip time, and what the link's state honestly is. Fed connection events,
// received bytes and the time; it returns what to do (connect, send, close) and what happened
// (events). The libuv shell (client_uv.h) moves the bytes over TLS; the agent feeds
// replication frames to its engine and gets the engine's output to send.
//
// Reconnect: the first retry within `first_retry`, then doubling up to `max_backoff`, each with
// up to 50 % jitter, over the relays in a shuffled order (the next relay at each attempt). The
// backoff separates the starts of failed attempts: after one that timed out (handshake_timeout
// >= the backoff) the next goes at once; after a lost session it counts from the loss. A
// refusal that says retrying cannot help (a bad token) waits `max_backoff` and is shown.
// Liveness: a ping every `keepalive` when nothing was sent; the link is dead when nothing at
// all was received for `dead_after` (any frame counts), which closes it and reconnects. The
// state is `established` only between a welcome and the first sign of death: never "connected"
// without a frame from the relay in the last `dead_after`.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gossip/membership/config.h"
#include "remote/frame.h"

namespace hearsay::remote {

using Clock = gossip::Clock;
using Duration = gossip::Duration;

struct LinkConfig {
  std::vector<std::string> relays;  // "host:port", as given (-remote); resolved by the shell
  std::string node;
  std::string node_id;
  std::string token;
  std::uint64_t started_us = 0;  // this process's start, wall clock µs (Hello::started_us)
  Duration first_retry{100};
  Duration max_backoff{5000};
  Duration keepalive{2000};
  // TCP over a bad link stalls for seconds (a segment lost three times: 1 + 2 + 4 s of
  // retransmission timeouts), so a session is given up only after 10 s of silence; the status
  // says "unresponsive" well before that (see the agent's remote status).
  Duration dead_after{10000};
  Duration handshake_timeout{15000};  // TCP connect + TLS + hello..welcome, over 30 % loss too
  std::uint64_t seed = 0;
};

enum class LinkState : std::uint8_t {
  idle,         // before start()
  connecting,   // TCP/TLS to a relay, or hello sent and no welcome yet
  established,  // welcome received, frames arriving
  waiting,      // between attempts (backoff)
  stopped,      // after stop()
};
const char* link_state_name(LinkState state);

// What happened, for the agent (in order).
struct LinkEvent {
  enum class Kind : std::uint8_t {
    established,  // welcome: `relay`, `session`
    lost,         // an established session ended: `reason`
    attempt_failed,  // connect, handshake or hello failed: `reason`
    refused,      // the relay refused us: `reason`
    replication,  // `replication` to hand to the engine
    ack,          // `ack`
    members,      // `members`: the relay's view of the gossip members
  } kind;
  std::string relay;
  std::uint64_t session = 0;
  std::string reason;
  ReplicationFrame replication{};
  Ack ack{};
  Members members{};
};

struct LinkStatus {
  LinkState state = LinkState::idle;
  std::string relay;            // in use (established) or being tried: its host:port
  std::string relay_name;       // the node name of the relay of the last welcome
  std::uint64_t session = 0;
  std::optional<Duration> rtt;  // the last ping's round trip
  std::optional<Clock::time_point> last_contact;  // the last frame received, any session
  std::uint64_t sessions = 0;    // established so far
  std::uint64_t reconnects = 0;  // sessions established after the first
  std::uint64_t attempts_failed = 0;
  std::string last_error;        // why the last attempt or session ended
  std::uint64_t frames_in = 0, frames_out = 0, bytes_in = 0, bytes_out = 0;
  std::array<std::uint64_t, kFrameErrors> frame_errors{};
};

class Link {
 public:
  Link(LinkConfig config, Clock::time_point now);

  void start(Clock::time_point now);  // the first attempt at once
  // Sends a goodbye when established, then stops: no more attempts.
  void stop(bool goodbye, Clock::time_point now);

  // ---- What to do. Each attempt has an id; events of an older attempt are ignored.
  struct Connect {
    std::uint64_t attempt = 0;
    std::string relay;  // "host:port"
  };
  std::optional<Connect> take_connect();
  // Bytes to write on the current attempt's connection (frames, encoded), in order.
  std::vector<Bytes> take_writes();
  // Close the current attempt's connection (the link already counts it as gone). A Connect of a
  // next attempt comes at least 1 ms later: take the close first.
  bool take_close();

  // ---- What the shell saw, for attempt `attempt`.
  void connected(std::uint64_t attempt, Clock::time_point now);  // TCP and TLS (peer verified) done
  void connect_failed(std::uint64_t attempt, const std::string& why, Clock::time_point now);
  void received(std::uint64_t attempt, const std::uint8_t* data, std::size_t size, Clock::time_point now);
  void closed(std::uint64_t attempt, const std::string& why, Clock::time_point now);  // EOF, error

  // ---- The engine's traffic, sent only while established (otherwise false: dropped, and the
  // engine's anti-entropy resends after the next welcome).
  bool send(ReplicationFrame frame);

  void tick(Clock::time_point now);
  Clock::time_point next_deadline() const;

  std::vector<LinkEvent> take_events();
  const LinkStatus& status() const { return status_; }
  bool established() const { return status_.state == LinkState::established; }
  // Bytes written on the session and not yet known to be sent, as the shell reports them.
  void set_unsent_bytes(std::size_t bytes) { unsent_bytes_ = bytes; }

 private:
  // (the implementation's choice)
  bool current(std::uint64_t attempt) const;
  void begin_attempt(Clock::time_point now);
  // The current attempt or session is over: events, counters, the close, and the next attempt.
  // `refused`: a Refuse frame ended it (`wait`: how long until the next attempt, if not the
  // backoff's).
  void end_attempt(const std::string& reason, bool close, Clock::time_point now, bool refused = false,
                   std::optional<Duration> wait = std::nullopt);
  Duration next_wait();
  // `counts_as_sent`: puts off the next keepalive ping (not a pong: see handle()).
  void write(const Frame& frame, Clock::time_point now, bool counts_as_sent = true);
  void handle(Frame frame, Clock::time_point now);
  Clock::time_point ping_due() const;

  LinkConfig config_;
  LinkStatus status_;
  std::size_t unsent_bytes_ = 0;
  std::mt19937_64 rng_;
  std::vector<std::string> order_;  // the relays, shuffled once
  std::size_t next_relay_ = 0;
  std::uint64_t attempt_ = 0;       // the current (or last) attempt's id
  unsigned failures_ = 0;           // attempts failed since the last established session
  Duration keepalive_;
  FrameReader reader_;
  std::optional<Connect> connect_;
  std::vector<Bytes> writes_;
  bool close_ = false;
  bool hello_sent_ = false;
  bool sent_since_tick_ = false;  // send() has no clock: the next tick dates its frames
  Clock::time_point next_attempt_{}, attempt_started_{}, attempt_deadline_{};
  Clock::time_point last_received_{}, last_sent_{}, last_ping_{};
  std::vector<LinkEvent> events_;
};

}  // namespace hearsay::remote
