// Responder forwards to its sink while the sink lives.
#include "http-api/responder.h"

namespace hearsay::http {

void Responder::send(Response response) const {
  auto sink = sink_.lock();
  if (!sink) return;
  if (header_name_) response.headers.emplace_back(header_name_, header_value_);
  sink->send(sequence_, std::move(response));
}

bool Responder::connected() const {
  auto sink = sink_.lock();
  return sink && sink->connected(sequence_);
}

}  // namespace hearsay::http
