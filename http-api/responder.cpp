// Responder forwards to its sink while the sink lives.
#include "http-api/responder.h"

namespace hearsay::http {

void Responder::send(Response response) const {
  if (auto sink = sink_.lock()) sink->send(sequence_, std::move(response));
}

bool Responder::connected() const {
  auto sink = sink_.lock();
  return sink && sink->connected(sequence_);
}

}  // namespace hearsay::http
