// A UDP socket served the way authoritative DNS servers serve it: on each readiness event one
// recvmmsg batch is read, every query in it handled, and the replies go out with one sendmmsg.
// libuv's own UDP handle reads until the socket is empty and sends one datagram per call; this
// reads one batch per loop turn (epoll is level-triggered, so the rest comes next turn), which
// keeps replies flowing as queries arrive instead of in large bursts.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace hearsay::dns {

class UdpListener {
 public:
  // Called for every datagram; it may call reply() before returning (sent with the batch).
  using Handler = std::function<void(const std::uint8_t* data, std::size_t size, const sockaddr_storage& from)>;

  UdpListener(uv_loop_t* loop, Handler handler);
  ~UdpListener();
  UdpListener(const UdpListener&) = delete;
  UdpListener& operator=(const UdpListener&) = delete;

  // 0, or a libuv error code (UV_EADDRINUSE, ...).
  int bind(const sockaddr* addr);
  int port() const { return port_; }
  // Queues `bytes` for `to` when called from the handler, else sends at once. A reply the
  // socket cannot take now (send buffer full) is dropped and counted: the client retries.
  void reply(std::vector<std::uint8_t> bytes, const sockaddr_storage& to);
  void close();
  std::uint64_t send_drops() const { return send_drops_; }

 private:
  static constexpr std::size_t kBatch = 10;  // as Knot DNS's RECVMMSG_BATCHLEN
  static constexpr std::size_t kMaxDatagram = 65535;
  struct Pending {
    sockaddr_storage to;
    std::vector<std::uint8_t> bytes;
  };
  void on_readable();
  void send_pending();

  uv_loop_t* loop_;
  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  uv_poll_t* poll_ = nullptr;  // heap: freed in its close callback
  bool in_batch_ = false;
  std::vector<Pending> pending_;
  // kBatch receive buffers of kMaxDatagram bytes in one block, deliberately not zero-filled:
  // untouched pages stay unmapped, so the 640 KiB costs only what queries actually write.
  std::unique_ptr<std::uint8_t[]> buffers_;
  std::uint8_t* buffer(std::size_t i) { return buffers_.get() + i * kMaxDatagram; }
  std::uint64_t send_drops_ = 0;
};

}  // namespace hearsay::dns
