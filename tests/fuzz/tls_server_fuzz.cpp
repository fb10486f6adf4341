// Fuzz target: arbitrary bytes from a would-be client into a TLS server session (loop/
// tls_session.h, mbedTLS underneath), whole and then again in chunks whose size comes from the
// first byte, as the socket would deliver them. It must fail cleanly with a reason, or wait for
// more bytes; it can never complete a handshake (no client key answers the server's).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>

#include "loop/tls_context.h"
#include "loop/tls_session.h"

namespace {

std::shared_ptr<const hearsay::loop::TlsContext> server_context() {
  static std::shared_ptr<const hearsay::loop::TlsContext> ctx = [] {
    std::string error;
    auto id = hearsay::loop::generate_self_signed({"localhost"}, {"127.0.0.1"}, 30, error);
    if (!id) __builtin_trap();
    // Client certificates asked for, so that path's parsing is reached too.
    auto made = hearsay::loop::TlsContext::server({*id, id->cert_pem, true}, error);
    if (!made) __builtin_trap();
    return made;
  }();
  return ctx;
}

void feed(const std::string& bytes, std::size_t chunk) {
  std::string error;
  auto session = hearsay::loop::TlsSession::create(server_context(), "", error);
  if (!session) __builtin_trap();
  for (std::size_t pos = 0; pos < bytes.size(); pos += chunk) {
    session->feed(bytes.data() + pos, std::min(chunk, bytes.size() - pos));
    auto step = session->handshake(error);
    (void)session->take_outgoing();
    if (step == hearsay::loop::TlsSession::Step::established) __builtin_trap();
    if (step == hearsay::loop::TlsSession::Step::failed) {
      if (error.empty()) __builtin_trap();
      return;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  feed(bytes, bytes.size() + 1);
  if (size > 0) feed(bytes.substr(1), 1 + data[0] % 64);
  return 0;
}
