// CheckRun lifetime plumbing and the output cap.
#include "agent/checks/check_run.h"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "agent/uv_guard.h"

namespace hearsay::agent::checks {

std::string cap_output(std::string output, std::size_t total_bytes, std::size_t limit) {
  if (total_bytes <= limit && output.size() <= limit) return output;
  output.resize(std::min(output.size(), limit));
  output += "\n\n... (captured " + std::to_string(limit) + " of " + std::to_string(total_bytes) + " bytes)";
  return output;
}

void CheckRun::cancel() {
  if (finished_) return;
  finished_ = true;
  done_ = nullptr;
  release();
}

void CheckRun::finish(CheckResult result) {
  if (finished_) return;
  finished_ = true;
  Done done = std::move(done_);
  auto keep = shared_from_this();  // release() may drop the last reference
  release();
  if (done) {
    try {
      done(std::move(result));
    } catch (const std::exception& e) {
      spdlog::error("check result handler: {}", e.what());
    }
  }
}

void CheckRun::handle_closed() {
  // The last handle gone: drop the self-reference (the run may be destroyed here).
  if (--open_handles_ == 0) self_.reset();
}

AnyHandle* CheckRun::new_handle() {
  auto* h = new AnyHandle{};
  ++open_handles_;
  return h;
}

void CheckRun::on_handle_closed(uv_handle_t* handle) {
  auto* run = static_cast<CheckRun*>(handle->data);
  delete reinterpret_cast<AnyHandle*>(handle);
  run->handle_closed();
}

bool CheckRun::initialised(AnyHandle*& handle, int rc) {
  if (rc == 0) return true;
  delete handle;
  handle = nullptr;
  handle_closed();  // the caller holds the run: it outlives a dropped self-reference
  return false;
}

void CheckRun::start_failed(const char* what, int rc) {
  cancel();
  throw std::runtime_error(std::string(what) + ": " + uv_strerror(rc));
}

}  // namespace hearsay::agent::checks
