// Raw recvmmsg/sendmmsg on a non-blocking socket, driven by a uv_poll_t on the agent's loop.
#include "dns/udp_listener_uv.h"

#include <fcntl.h>
#include <netinet/ip.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hearsay::dns {
namespace {

socklen_t length_of(const sockaddr_storage& addr) {
  return addr.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

}  // namespace

UdpListener::UdpListener(uv_loop_t* loop, Handler handler)
    : loop_(loop), handler_(std::move(handler)), buffers_(std::make_unique_for_overwrite<std::uint8_t[]>(kBatch * kMaxDatagram)) {}

UdpListener::~UdpListener() { close(); }

int UdpListener::bind(const sockaddr* addr) {
  fd_ = ::socket(addr->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return -errno;
  const socklen_t len = addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (::bind(fd_, addr, len) != 0) {
    int err = -errno;
    ::close(fd_);
    fd_ = -1;
    return err;
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  poll_ = new uv_poll_t;
  poll_->data = this;
  int rc = uv_poll_init_socket(loop_, poll_, fd_);
  if (rc == 0) rc = uv_poll_start(poll_, UV_READABLE, [](uv_poll_t* p, int status, int) {
    if (status == 0) static_cast<UdpListener*>(p->data)->on_readable();
  });
  return rc;
}

void UdpListener::on_readable() {
  std::array<mmsghdr, kBatch> messages{};
  std::array<iovec, kBatch> iov{};
  std::array<sockaddr_storage, kBatch> from{};
  for (std::size_t i = 0; i < kBatch; ++i) {
    iov[i] = {buffer(i), kMaxDatagram};
    messages[i].msg_hdr.msg_name = &from[i];
    messages[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    messages[i].msg_hdr.msg_iov = &iov[i];
    messages[i].msg_hdr.msg_iovlen = 1;
  }
  const int n = ::recvmmsg(fd_, messages.data(), kBatch, MSG_DONTWAIT, nullptr);
  if (n <= 0) return;  // EAGAIN (another reader was faster) or a transient error
  in_batch_ = true;
  for (int i = 0; i < n; ++i) {
    handler_(buffer(static_cast<std::size_t>(i)), messages[static_cast<std::size_t>(i)].msg_len,
             from[static_cast<std::size_t>(i)]);
  }
  in_batch_ = false;
  send_pending();
}

void UdpListener::reply(std::vector<std::uint8_t> bytes, const sockaddr_storage& to) {
  if (fd_ < 0) return;
  pending_.push_back(Pending{to, std::move(bytes)});
  if (!in_batch_) send_pending();
}

void UdpListener::send_pending() {
  if (pending_.empty() || fd_ < 0) return;
  std::vector<mmsghdr> messages(pending_.size());
  std::vector<iovec> iov(pending_.size());
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    iov[i] = {pending_[i].bytes.data(), pending_[i].bytes.size()};
    messages[i].msg_hdr = {};
    messages[i].msg_hdr.msg_name = &pending_[i].to;
    messages[i].msg_hdr.msg_namelen = length_of(pending_[i].to);
    messages[i].msg_hdr.msg_iov = &iov[i];
    messages[i].msg_hdr.msg_iovlen = 1;
  }
  std::size_t done = 0;
  while (done < messages.size()) {
    int n = ::sendmmsg(fd_, messages.data() + done, static_cast<unsigned>(messages.size() - done), MSG_DONTWAIT);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
      send_drops_ += messages.size() - done;  // the buffer is full: the clients will retry
      break;
    } else {
      ++send_drops_;  // this destination is unreachable; go on with the others
      ++done;
    }
  }
  pending_.clear();
}

void UdpListener::close() {
  if (poll_) {
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  pending_.clear();
}

}  // namespace hearsay::dns
