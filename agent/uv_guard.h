// What every libuv call and callback in agent/ goes through (STYLE.md): a start-up init/start
// whose failure stops the start, a later one whose failure is logged with what it was for, and
// a catch-all around each callback body, since an exception must not unwind through libuv's C
// frames (it would end the process).
#pragma once

#include <spdlog/spdlog.h>
#include <uv.h>

#include <exception>
#include <string>

#include "agent/config.h"

namespace hearsay::agent {

// During start-up: a libuv refusal is a failed start (main reports it and exits 2).
inline void check_uv(int rc, const std::string& what) {
  if (rc != 0) throw ConfigError(what + ": " + uv_strerror(rc));
}

// Afterwards: logged with what it was for; returns whether the call succeeded.
inline bool log_uv(int rc, const char* what) {
  if (rc != 0) spdlog::error("{}: {} ({})", what, uv_strerror(rc), uv_err_name(rc));
  return rc == 0;
}

// The body of a libuv callback: whatever it throws is logged as `what`'s failure.
template <typename Body>
void guard_callback(const char* what, Body&& body) noexcept {
  try {
    body();
  } catch (const std::exception& e) {
    spdlog::error("{}: {}", what, e.what());
  } catch (...) {
    spdlog::error("{}: unknown exception", what);
  }
}

}  // namespace hearsay::agent
