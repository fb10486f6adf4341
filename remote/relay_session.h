// The relay side of one remote session, sans-I/O: the hello and its authorization, keepalive,
// and the check of everything the remote sends up before it reaches the replication engine.
// Fed received bytes and the time; returns bytes to write, whether to close (with the reason)
// and events for the agent. One object per accepted TLS connection (server_uv.h).
//
// Checks, each refusal counted by reason (RelayRefusal) and the entry dropped, the session kept:
// - an entry whose owner is not the session's node (a remote writes only as itself);
// - an entry the agent's check refuses (another node's record, a service the token does not
//   allow, a key remotes may not write);
// - replication messages the relay never asked for (a sync reply) or that do not decode.
// A broken frame stream, a hello that is not first, a second hello, or silence for
// `dead_after` closes the session with a logged reason.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "gossip/replication/replication_messages.h"
#include "remote/frame.h"
#include "remote/link.h"

namespace hearsay::remote {

enum class RelayRefusal : std::uint8_t {
  none,
  foreign_owner,     // an entry or block of another owner than the session's node
  not_allowed,       // the agent's entry check said no (see EntryCheck)
  bad_message,       // a replication message that does not decode, or a sync reply unasked
  count_
};
inline constexpr std::size_t kRelayRefusals = static_cast<std::size_t>(RelayRefusal::count_);
const char* relay_refusal_name(RelayRefusal refusal);

// What the agent decides about a hello: "" to accept, or why not (sent in the Refuse frame).
struct HelloVerdict {
  std::string refusal;
  bool retry = true;  // Refuse::retry
};
using Authorize = std::function<HelloVerdict(const Hello& hello)>;
// Whether the session's remote may write this entry (owner already checked): "" or why not.
using EntryCheck = std::function<std::string(const Hello& hello, const gossip::ReplicaEntry& entry)>;

struct RelaySessionConfig {
  std::string relay;  // our node name (Welcome::relay)
  std::uint64_t session = 0;
  Duration keepalive{2000};
  Duration dead_after{10000};
  Duration hello_timeout{15000};  // from the accept: TLS handshake and hello, over a lossy link
  Authorize authorize;
  EntryCheck check_entry;
};

struct RelayEvent {
  enum class Kind : std::uint8_t {
    opened,       // hello accepted, welcome sent: hello() is valid
    replication,  // `replication` (checked; refused entries removed) for the engine
    goodbye,      // the remote leaves gracefully
  } kind;
  ReplicationFrame replication{};
};

struct RelaySessionStats {
  std::uint64_t frames_in = 0, frames_out = 0, bytes_in = 0, bytes_out = 0;
  std::uint64_t entries_in = 0;  // entries passed to the engine
  std::array<std::uint64_t, kRelayRefusals> refused{};
  std::array<std::uint64_t, kFrameErrors> frame_errors{};
};

class RelaySession {
 public:
  RelaySession(RelaySessionConfig config, Clock::time_point now);

  void received(const std::uint8_t* data, std::size_t size, Clock::time_point now);
  // Down to the remote (only once open; false otherwise).
  bool send(ReplicationFrame frame);
  bool send_ack(const Ack& ack);
  bool send_members(Members members);
  // Closes with a refusal frame first (a revoked token): the reason goes to the remote.
  void refuse(const std::string& reason, bool retry);
  void tick(Clock::time_point now);
  Clock::time_point next_deadline() const;

  std::vector<Bytes> take_writes();
  // Set once the session must end (the reason for the log); the shell closes after writing
  // what take_writes() returned.
  const std::optional<std::string>& close_reason() const { return close_; }
  std::vector<RelayEvent> take_events();

  bool open() const;
  const Hello& hello() const { return hello_; }
  std::optional<Duration> rtt() const { return rtt_; }
  Clock::time_point last_contact() const { return last_contact_; }
  const RelaySessionStats& stats() const { return stats_; }

 private:
  // (the implementation's choice)
  enum class Phase : std::uint8_t { awaiting_hello, open, closed };
  void write(const Frame& frame, bool counts_as_sent = true);
  void close(std::string reason);
  void handle(Frame frame, Clock::time_point now);
  void on_hello(Hello hello, Clock::time_point now);
  // A replication frame from the remote, checked (relay_session.h): the event, or nothing.
  void on_replication(ReplicationFrame frame);
  void refused(RelayRefusal why, std::uint64_t n = 1) { stats_.refused[static_cast<std::size_t>(why)] += n; }
  // Whether an entry may go on: the session's owner, and the agent's check.
  bool allowed(const gossip::ReplicaEntry& entry);

  FrameReader reader_;
  Phase phase_ = Phase::awaiting_hello;
  Clock::time_point started_{}, last_sent_{};
  bool sent_since_tick_ = false;  // send() has no clock: the next tick dates its frames
  std::vector<Bytes> writes_;
  std::vector<RelayEvent> events_;

  RelaySessionConfig config_;
  Hello hello_;
  std::optional<std::string> close_;
  std::optional<Duration> rtt_;
  Clock::time_point last_contact_;
  RelaySessionStats stats_;
};

}  // namespace hearsay::remote
