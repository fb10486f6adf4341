// One TCP connection on libuv, either side: a socket and one timer (idle or deadline), read
// start/stop, a write queue whose requests own their bytes until libuv is done with them, the
// count of bytes in writes not yet completed (output backpressure), and one close that ends
// with a single `closed` callback after both handles' close callbacks. It keeps itself alive
// until then (uvw's self-reference), so its owner may drop it at any time.
// Every libuv callback has a catch-all: it logs "<name> <operation>: <what>", counts into
// Options::callback_errors and closes the connection.
//
// TLS: with Options::tls set, a TlsSession (tls_session.h) sits between the socket and these
// callbacks, and the caller sees the same shape: `read` gets plaintext, write() takes
// plaintext (sealed at once, or kept until the handshake is done), the timer, close and the one
// `closed` are the caller's as before. The handshake starts when a client's TCP connect
// succeeds (before `connected(0)` runs) or when a server side first calls start_reading();
// `established` runs once the peer is verified; a failed or timed-out handshake, or a record
// that does not decrypt, runs `tls_failed` with the reason, counts into Options::tls_counters
// and closes. A second timer bounds the handshake, so the caller's timer stays its own.
// Byte counts (unsent_bytes, `written`) are ciphertext, plus plaintext waiting for the
// handshake. A TLS connection delivers every record of the bytes already received even after
// stop_reading() (at most one read's worth).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace hearsay::loop {

class TlsContext;
class TlsSession;
struct TlsCounters;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  struct Options {
    std::string name = "tcp";        // log prefix of the catch-alls ("http", "dns tcp", "gossip")
    std::size_t read_size = 65536;    // bytes asked per read (reads share one buffer per thread)
    // output_full() once more than this many bytes are in writes not yet completed.
    std::size_t max_unsent_output = 64 * 1024;
    std::uint64_t* callback_errors = nullptr;  // bumped by every catch-all, when set
    // TLS (see above): server or client as the context says. Each connection keeps its own
    // reference, so a listener's context can be swapped without touching open connections.
    std::shared_ptr<const TlsContext> tls{};
    std::string tls_server_name{};               // client: overrides the context's server name
    std::uint64_t tls_handshake_timeout_ms = 5000;  // Consul's https_handshake_timeout
    TlsCounters* tls_counters = nullptr;         // bumped on handshakes and failures, when set
  };
  // Each may be empty. None runs after `closed`, which runs once, last.
  struct Callbacks {
    std::function<void(const char* data, std::size_t size)> read{};
    std::function<void(int status)> read_end{};             // UV_EOF or an error; reading stopped
    std::function<void(int status)> connected{};            // 0 or why connect() failed
    std::function<void()> timer{};                          // the timer fired
    std::function<void(std::size_t bytes)> written{};       // a write completed
    std::function<void()> writable{};                       // after a completed write: !output_full()
    std::function<void(const char* operation, int status)> failed{};  // a write failed: closing
    std::function<void()> established{};                   // TLS: handshake done, peer verified
    std::function<void(const std::string& error)> tls_failed{};  // TLS: why; closing
    std::function<void()> closed{};
  };

  // Both handles initialized, or null (the reason logged at debug; `init_error` gets the code).
  static std::shared_ptr<Connection> create(uv_loop_t* loop, Options options, int* init_error = nullptr);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void set_callbacks(Callbacks callbacks) { callbacks_ = std::move(callbacks); }
  uv_tcp_t* tcp() { return &tcp_; }
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }

  // 0 or a libuv error code; the result comes to Callbacks::connected.
  [[nodiscard]] int connect(const sockaddr* to);
  // 0 or a libuv error code; reading() tells.
  [[nodiscard]] int start_reading();
  void stop_reading();
  bool reading() const { return reading_; }

  // Queues the bytes; false (and the connection closes) when libuv refused the write.
  bool write(std::string data);
  // Best effort, now: what the socket takes at once (a refusal's last words).
  void try_write(std::string_view data);
  std::size_t unsent_bytes() const { return unsent_bytes_; }
  std::size_t pending_writes() const { return pending_writes_; }
  bool output_full() const { return unsent_bytes_ > options_.max_unsent_output; }

  // (Re)arms the one timer; Callbacks::timer runs when it fires.
  void start_timer(std::uint64_t ms);
  void stop_timer();

  // Closes both handles (once); pending writes are cancelled.
  void close();
  // Closes once every queued write has completed.
  void close_when_flushed();
  // Closes when the peer does (reading ends: EOF, close_notify or an error), or after
  // `timeout_ms`; what arrives meanwhile still goes to `read`. For last words the peer answers by
  // closing (a remote's goodbye): closing first, with the peer's bytes unread, makes the kernel
  // reset the connection, and a peer still writing to us then fails its write and may drop our
  // last words unread. Replaces the `read_end` and `timer` callbacks.
  void close_when_peer_closes(std::uint64_t timeout_ms);
  bool closing() const { return closing_; }

  // The peer's address; false when the socket has none (already gone).
  bool peer(sockaddr_storage& out) const;

  // TLS: the session once the handshake has begun (peer fingerprint, version, cipher), else null.
  const TlsSession* tls() const { return tls_.get(); }
  bool tls_established() const;

 private:
  Connection(uv_loop_t* loop, Options options);
  struct Write;
  // Runs `f` under the catch-all: logs, counts and closes on an exception.
  template <typename F>
  void guarded(const char* operation, F&& f);
  static void on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_written(uv_write_t* req, int status);
  static void on_handle_closed(uv_handle_t* handle);
  // The plain socket under TLS, and the TLS layer between it and the callbacks.
  bool write_raw(std::string data);
  void try_write_raw(std::string_view data);
  void deliver(const char* data, std::size_t size);
  void begin_tls();
  void on_tls_bytes(const char* data, std::size_t size);
  void tls_fail(const std::string& error, std::uint64_t TlsCounters::*counter);
  bool tls_seal(std::string_view plaintext, std::string& ciphertext);
  void tls_flush();
  bool flushed() const;

  uv_loop_t* loop_;
  Options options_;
  Callbacks callbacks_;
  uv_tcp_t tcp_{};
  uv_timer_t timer_{};
  uv_connect_t connect_{};
  uv_timer_t handshake_timer_{};  // initialized only with Options::tls
  std::unique_ptr<TlsSession> tls_;
  std::string tls_pending_;  // plaintext written before the handshake finished
  int open_handles_ = 0;
  bool reading_ = false;
  bool closing_ = false;
  bool close_when_flushed_ = false;
  std::size_t pending_writes_ = 0;
  std::size_t unsent_bytes_ = 0;
  std::shared_ptr<Connection> self_;  // from create() until the last close callback
};

}  // namespace hearsay::loop
