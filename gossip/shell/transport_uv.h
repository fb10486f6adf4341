// The libuv shell around a gossip Node (node.h): one UDP socket and one TCP listener on the
// gossip port, the node's streams over short TCP connections (one request, one reply, as
// memberlist), and a timer armed at Node::next_deadline(). It moves bytes and makes no
// protocol decision: which layer a packet or a stream is for is the node's business.
// With an enabled keyring every datagram and stream is sealed with AES-GCM, and anything that
// does not open with one of its keys is counted and dropped before it is parsed.
// What we send is LZW-compressed as serf's is: streams always, datagrams when that makes them
// smaller.
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "gossip/wire/keyring.h"
#include "gossip/node.h"
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
  // What the node produced that is the application's business. Each may be empty. A handler
  // may drive the node's layers (answer a query, forget an owner): what that produces goes out
  // in the same flush.
  struct Handlers {
    std::function<void(const MemberEvent&)> event{};
    std::function<void(std::vector<ReplicaChange>)> changes{};
    std::function<void(std::vector<SerfQuery>, std::vector<SerfQueryResponse>)> queries{};
  };

  // `node` and `keyring` must outlive the transport. `keyring` may change while it runs
  // (rotation); when it is null or empty, gossip is plaintext.
  Transport(uv_loop_t* loop, Node& node, Handlers handlers, const Keyring* keyring = nullptr);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Asked once per incoming stream with the peer's address: a ticket the stream keeps until
  // it closes, or null to refuse (close) it. Unset: every stream is admitted.
  using Admission = std::function<std::shared_ptr<void>(const sockaddr_storage& peer)>;
  void set_admission(Admission admit) { admit_ = std::move(admit); }

  // Binds UDP and TCP on host:port; 0 or a libuv error code.
  int listen(const std::string& host, int port);
  // Does what the node asks (sends, opens streams, calls the handlers) and re-arms the timer;
  // call after driving the node's layers directly (join, leave, a query).
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
  void on_udp_read(ssize_t n, const uv_buf_t* b, const sockaddr* from);
  void on_datagram(const std::uint8_t* data, std::size_t size, const sockaddr* from);
  void read_port_unreachable();
  void deliver(NodeOutput& output);
  void open_stream(StreamOpen open);
  void send_datagram(OutgoingPacket& packet);
  void arm_timer();
  bool encrypting() const { return keyring_ && keyring_->enabled(); }

  uv_loop_t* loop_;
  Node& node_;
  Handlers handlers_;
  const Keyring* keyring_;
  loop::Handle<uv_udp_t> udp_;
  loop::Handle<uv_timer_t> timer_;
  std::unique_ptr<loop::Listener> listener_;
  bool open_ = false;
  bool reports_pending_ = false;  // a send took an ICMP report's error: the queue needs reading
  std::vector<char> buffer_;
  Admission admit_;
  std::set<std::shared_ptr<Stream>> streams_;
  std::map<std::uint64_t, JoinDone> joins_;  // by the node's stream id
  TransportStats stats_;
};

// Address <-> socket address.
bool to_sockaddr(const Address& address, sockaddr_storage& out);
Address from_sockaddr(const sockaddr* addr);

}  // namespace hearsay::gossip
