// The libuv shell around Membership: one UDP socket and one TCP listener on the gossip port,
// push/pull over short TCP connections (one request, one reply, as memberlist), and a timer
// armed at Membership::next_deadline(). Everything protocol-related stays in Membership and
// the layers it carries (Serf, Replication).
// With an enabled keyring every datagram and stream is sealed with AES-GCM, and anything that
// does not open with one of its keys is counted and dropped before it is parsed.
// What we send is LZW-compressed as serf's is: streams always, datagrams when that makes them
// smaller.
// hearsay's own traffic (catalog replication) rides the same sockets as memberlist user
// messages whose payload starts with kHearsayUserMessage; only hearsay peers are sent any.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "gossip/keyring.h"
#include "gossip/membership.h"
#include "gossip/replication.h"
#include "gossip/serf.h"
#include "loop/handle.h"
#include "loop/listener.h"

namespace hearsay::gossip {

struct TransportStats {
  std::uint64_t udp_in = 0, udp_out = 0, udp_send_failed = 0;
  std::uint64_t streams_in = 0, streams_out = 0, streams_failed = 0;
  std::uint64_t stream_bytes_in = 0, stream_bytes_out = 0;  // on the wire, as read / once written
  std::uint64_t decrypt_failed = 0;  // packets and streams no key opened (or plaintext when encrypting)
  std::uint64_t streams_refused = 0;  // incoming streams the admission check turned away
  std::uint64_t callback_errors = 0;  // exceptions caught in libuv callbacks
};

class Transport {
 public:
  using EventHandler = std::function<void(const MemberEvent&)>;

  // `keyring` may change while the transport runs (rotation) and must outlive it; when it is
  // null or empty, gossip is plaintext.
  Transport(uv_loop_t* loop, Membership& membership, EventHandler on_event, const Keyring* keyring = nullptr);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Carries hearsay's state replication too: its packets, its streams and its timer. The
  // handler gets the changes it produced after each input. Both must outlive the transport.
  using ChangeHandler = std::function<void(std::vector<ReplicaChange>)>;
  void attach(Replication& replication, ChangeHandler on_changes);

  // Carries serf's layer too (Membership's delegate): its answers to queries go out, and the
  // queries for this agent to answer and the answers to its own (Serf::take_queries,
  // take_query_responses) are handed over after each input. `serf` must outlive the transport.
  using QueryHandler = std::function<void(std::vector<SerfQuery>, std::vector<SerfQueryResponse>)>;
  void attach(Serf& serf, QueryHandler on_queries);

  // Asked once per incoming stream with the peer's address: a ticket the stream keeps until
  // it closes, or null to refuse (close) it. Unset: every stream is admitted.
  using Admission = std::function<std::shared_ptr<void>(const sockaddr_storage& peer)>;
  void set_admission(Admission admit) { admit_ = std::move(admit); }

  // Binds UDP and TCP on host:port; 0 or a libuv error code.
  int listen(const std::string& host, int port);
  // Sends what Membership produced and re-arms the timer; call after driving Membership
  // directly (join, leave).
  void flush();
  // Joins through `seed` now; `done` gets "" once its push/pull reply is merged, or why it failed.
  using JoinDone = std::function<void(const std::string& error)>;
  void join(const Address& seed, JoinDone done);
  void close();
  const TransportStats& stats() const { return stats_; }

  static Clock::time_point now() { return Clock::now(); }

 private:
  class Stream;
  loop::Connection::Options stream_options();
  // An outgoing stream, started (its deadline running); it fails at connect() if its
  // connection could not be set up.
  std::shared_ptr<Stream> new_stream(const Address& to);
  void on_udp_read(ssize_t n, const uv_buf_t* b, const sockaddr* from);
  void on_datagram(const std::uint8_t* data, std::size_t size, const sockaddr* from);
  void read_port_unreachable();
  void start_push_pull(PushPullRequest request, JoinDone done = {});
  void start_app_stream(StreamSend send);
  void start_stream_ping(StreamPing ping);
  void send_datagram(OutgoingPacket& packet);
  void flush_replication();
  void arm_timer();
  bool encrypting() const { return keyring_ && keyring_->enabled(); }

  uv_loop_t* loop_;
  Membership& membership_;
  EventHandler on_event_;
  const Keyring* keyring_;
  Replication* replication_ = nullptr;
  ChangeHandler on_changes_;
  Serf* serf_ = nullptr;
  QueryHandler on_queries_;
  loop::Handle<uv_udp_t> udp_;
  loop::Handle<uv_timer_t> timer_;
  std::unique_ptr<loop::Listener> listener_;
  bool open_ = false;
  bool reports_pending_ = false;  // a send took an ICMP report's error: the queue needs reading
  std::vector<char> buffer_;
  Admission admit_;
  std::set<std::shared_ptr<Stream>> streams_;
  TransportStats stats_;
};

// Address <-> socket address.
bool to_sockaddr(const Address& address, sockaddr_storage& out);
Address from_sockaddr(const sockaddr* addr);

}  // namespace hearsay::gossip
