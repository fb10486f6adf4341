// One direction of the emulated link (link_model.h): the drop decisions and the delivery schedule.
#include "tests/netem/link_model.h"

#include <algorithm>

namespace hearsay::netem {
namespace {

bool later(const auto& a, const auto& b) { return a.due != b.due ? a.due > b.due : a.seq > b.seq; }

}  // namespace

void Direction::arrive(std::vector<uint8_t> bytes, Clock::time_point now) {
  ++counters_.received;
  if (impairment_.cut) {
    ++counters_.cut;
    return;
  }
  if (impairment_.loss > 0.0 && std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < impairment_.loss) {
    ++counters_.lost;
    return;
  }
  if (in_flight_bytes_ + bytes.size() > kMaxInFlightBytes) {
    ++counters_.overflow;
    return;
  }
  // The rate limit is a FIFO wire: a packet leaves when the ones accepted before it have been
  // sent, and the time they still need, in bytes, is the queue a real router would hold.
  Clock::time_point departure = now;
  if (impairment_.rate > 0) {
    Clock::time_point start = std::max(now, wire_free_);
    auto waiting = std::chrono::duration_cast<std::chrono::nanoseconds>(start - now);
    long double backlog = static_cast<long double>(waiting.count()) * impairment_.rate / 1e9L;
    if (backlog + static_cast<long double>(bytes.size()) > static_cast<long double>(impairment_.queue)) {
      ++counters_.queue_full;
      return;
    }
    auto send_time = std::chrono::nanoseconds(
        static_cast<int64_t>(static_cast<long double>(bytes.size()) * 1e9L / impairment_.rate));
    wire_free_ = start + send_time;
    departure = wire_free_;
  }
  auto delay = impairment_.delay;
  if (impairment_.jitter.count() > 0) {
    std::uniform_int_distribution<int64_t> spread(-impairment_.jitter.count(), impairment_.jitter.count());
    delay = std::max(std::chrono::microseconds(0), delay + std::chrono::microseconds(spread(rng_)));
  }
  Clock::time_point due = departure + delay;
  // Without jitter a packet never overtakes an earlier one, even after the delay was lowered.
  if (impairment_.jitter.count() == 0) due = std::max(due, last_due_);
  last_due_ = std::max(last_due_, due);
  in_flight_bytes_ += bytes.size();
  heap_.push_back(Packet{due, next_seq_++, std::move(bytes)});
  std::push_heap(heap_.begin(), heap_.end(), [](const Packet& a, const Packet& b) { return later(a, b); });
}

std::optional<Clock::time_point> Direction::next_due() const {
  if (heap_.empty()) return std::nullopt;
  return heap_.front().due;
}

Direction::Packet Direction::pop() {
  std::pop_heap(heap_.begin(), heap_.end(), [](const Packet& a, const Packet& b) { return later(a, b); });
  Packet packet = std::move(heap_.back());
  heap_.pop_back();
  in_flight_bytes_ -= packet.bytes.size();
  return packet;
}

}  // namespace hearsay::netem
