// An RAII owner of one libuv handle, as uvw's: the handle lives on the heap and is freed only
// in its close callback (libuv may still touch it until then), so the owner can go at any time.
// Every init result is returned for the caller to check (STYLE: every libuv return code).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <utility>

namespace hearsay::loop {

template <typename T>
class Handle {
 public:
  Handle() = default;
  ~Handle() { close(); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  // 0 or a libuv error code; on failure nothing is left open. `data` goes to handle->data.
  [[nodiscard]] int init(uv_loop_t* loop, void* data) {
    close();
    auto* block = new Block{};
    int rc = init_handle(loop, &block->handle);
    if (rc != 0) {
      delete block;  // libuv did not register a handle that failed to init
      return rc;
    }
    block->handle.data = data;
    block_ = block;
    return 0;
  }
  // Closes the handle (once); `closed` runs from its close callback, after which it is freed.
  void close(std::function<void()> closed = {}) {
    if (!block_) {
      if (closed) closed();
      return;
    }
    Block* block = std::exchange(block_, nullptr);
    block->closed = std::move(closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&block->handle), [](uv_handle_t* h) {
      std::unique_ptr<Block> owned(reinterpret_cast<Block*>(h));
      if (owned->closed) owned->closed();
    });
  }

  bool open() const { return block_ != nullptr; }
  T* get() const { return block_ ? &block_->handle : nullptr; }
  T* operator->() const { return get(); }
  uv_handle_t* base() const { return reinterpret_cast<uv_handle_t*>(get()); }

 private:
  struct Block {
    T handle;  // first: the close callback casts the handle back to its block
    std::function<void()> closed;
  };
  static int init_handle(uv_loop_t* loop, uv_timer_t* h) { return uv_timer_init(loop, h); }
  static int init_handle(uv_loop_t* loop, uv_tcp_t* h) { return uv_tcp_init(loop, h); }
  static int init_handle(uv_loop_t* loop, uv_udp_t* h) { return uv_udp_init(loop, h); }
  static int init_handle(uv_loop_t* loop, uv_idle_t* h) { return uv_idle_init(loop, h); }
  static int init_handle(uv_loop_t* loop, uv_check_t* h) { return uv_check_init(loop, h); }
  static int init_handle(uv_loop_t* loop, uv_signal_t* h) { return uv_signal_init(loop, h); }

  Block* block_ = nullptr;
};

}  // namespace hearsay::loop
