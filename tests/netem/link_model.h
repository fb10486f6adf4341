// One direction of the emulated link: for each packet, decides whether it is dropped and when it
// is delivered (delay ± jitter, loss, a token-bucket-like rate limit with a bounded queue, cut).
// Pure: the time is handed in and the randomness comes from a seeded generator, so a run is
// reproducible and the model is unit-tested without TUN devices (link_model_test.cpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

namespace hearsay::netem {

using Clock = std::chrono::steady_clock;

struct Impairment {
  std::chrono::microseconds delay{0};   // one way; "RTT 100 ms" is 50 ms in each direction
  std::chrono::microseconds jitter{0};  // each packet gets delay + uniform(-jitter, +jitter), never < 0;
                                        // packets may then overtake each other (as with netem)
  double loss = 0.0;                    // probability that an arriving packet is dropped
  uint64_t rate = 0;                    // bytes/s of IP packets put on the wire; 0 = unlimited
  uint64_t queue = 64 * 1024;           // bytes allowed to wait for the rate limit; arrivals
                                        // beyond it are dropped (a router's tail drop)
  bool cut = false;                     // drop every packet, also those already in flight
};

struct Counters {
  uint64_t received = 0;    // packets read from the sending side
  uint64_t delivered = 0;   // packets handed to the other side
  uint64_t bytes = 0;       // bytes of the delivered packets
  uint64_t lost = 0;        // dropped by the loss probability
  uint64_t cut = 0;         // dropped because the link was cut (on arrival or in flight)
  uint64_t queue_full = 0;  // dropped because the rate limit's queue was full
  uint64_t overflow = 0;    // dropped because kMaxInFlightBytes were already in flight
  uint64_t write_errors = 0;  // the other side's TUN refused the packet (counted by the caller)
};

class Direction {
 public:
  // Memory bound: 100 ms at 1 Gbit/s is 12.5 MB, so 32 MiB covers every sane setting.
  static constexpr std::size_t kMaxInFlightBytes = 32u << 20;

  explicit Direction(uint64_t seed) : rng_(seed) {}

  void configure(const Impairment& impairment) { impairment_ = impairment; }
  [[nodiscard]] const Impairment& impairment() const { return impairment_; }

  // A packet read from the sending side at `now`: scheduled for delivery, or dropped and counted.
  void arrive(std::vector<uint8_t> bytes, Clock::time_point now);

  // When the next packet is due; nothing when none is in flight.
  [[nodiscard]] std::optional<Clock::time_point> next_due() const;

  // Hands `deliver` the packets due at `now`, at most `max` of them, earliest first (so in arrival
  // order when jitter is 0). Packets found in flight while the link is cut are dropped instead.
  template <typename Deliver>
  void deliver_due(Clock::time_point now, std::size_t max, Deliver&& deliver) {
    for (std::size_t n = 0; n < max && !heap_.empty() && heap_.front().due <= now; ++n) {
      Packet packet = pop();
      if (impairment_.cut) {
        ++counters_.cut;
        continue;
      }
      ++counters_.delivered;
      counters_.bytes += packet.bytes.size();
      deliver(packet.bytes);
    }
  }

  [[nodiscard]] Counters& counters() { return counters_; }
  [[nodiscard]] std::size_t in_flight_packets() const { return heap_.size(); }
  [[nodiscard]] std::size_t in_flight_bytes() const { return in_flight_bytes_; }

 private:
  struct Packet {
    Clock::time_point due;
    uint64_t seq;  // breaks ties so equal due times keep arrival order
    std::vector<uint8_t> bytes;
  };
  Packet pop();

  Impairment impairment_;
  Counters counters_;
  std::mt19937_64 rng_;
  std::vector<Packet> heap_;  // min-heap on (due, seq)
  std::size_t in_flight_bytes_ = 0;
  uint64_t next_seq_ = 0;
  Clock::time_point wire_free_{};  // when the rate limit finishes sending what it has accepted
  Clock::time_point last_due_{};   // latest due time given, to keep order when jitter is 0
};

}  // namespace hearsay::netem
