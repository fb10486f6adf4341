// A real uv loop for loop/ tests, bounded by a watchdog timer, and a listener on 127.0.0.1.
#pragma once

#include <catch2/catch.hpp>

#include <uv.h>

#include "loop/address.h"
#include "loop/handle.h"
#include "loop/listener.h"

namespace hearsay::loop::test {

struct TestLoop {
  uv_loop_t loop{};
  Handle<uv_timer_t> watchdog;
  bool timed_out = false;
  explicit TestLoop(std::uint64_t watchdog_ms = 5000) {
    REQUIRE(uv_loop_init(&loop) == 0);
    REQUIRE(watchdog.init(&loop, this) == 0);
    REQUIRE(uv_timer_start(watchdog.get(), [](uv_timer_t* t) {
      auto* self = static_cast<TestLoop*>(t->data);
      self->timed_out = true;
      uv_stop(t->loop);
    }, watchdog_ms, 0) == 0);
    uv_unref(watchdog.base());
  }
  ~TestLoop() {
    watchdog.close();
    uv_run(&loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&loop);
  }
  void run() { uv_run(&loop, UV_RUN_DEFAULT); }
};

// Listens on 127.0.0.1, a port the system picks; returns the address to connect to.
inline sockaddr_storage listen_on_localhost(Listener& listener) {
  sockaddr_storage addr{};
  REQUIRE(parse_ip_port("127.0.0.1", 0, addr) == 0);
  REQUIRE(listener.listen(reinterpret_cast<const sockaddr*>(&addr)) == 0);
  REQUIRE(parse_ip_port("127.0.0.1", listener.port(), addr) == 0);
  return addr;
}

}  // namespace hearsay::loop::test
