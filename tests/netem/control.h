// The forwarder's control protocol: one command per line on stdin, one reply line on stdout.
//   set ab|ba|both KEY=VALUE...   change only the keys given; reply "ok"
//       delay_us, jitter_us (0..60000000), loss (0..1), rate (bytes/s, 0 = unlimited),
//       queue (bytes, 0..33554432), cut (0|1)
//   stats                          reply "ok ab.received=N ... ba.received=N ..."
//   quit                           reply "ok" and exit (so does end of input)
// A bad line gets "error TEXT" and changes nothing. Parsing is pure and unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "tests/netem/link_model.h"

namespace hearsay::netem {

enum class Which { ab, ba, both };

// The keys a `set` line gave; the others keep their current value.
struct Change {
  std::optional<std::chrono::microseconds> delay;
  std::optional<std::chrono::microseconds> jitter;
  std::optional<double> loss;
  std::optional<uint64_t> rate;
  std::optional<uint64_t> queue;
  std::optional<bool> cut;

  void apply_to(Impairment& impairment) const;
};

struct SetCommand {
  Which which = Which::both;
  Change change;
};
struct StatsCommand {};
struct QuitCommand {};
using Command = std::variant<SetCommand, StatsCommand, QuitCommand>;

// One line without its newline: the command, or the text of the error to reply.
[[nodiscard]] std::variant<Command, std::string> parse_command(std::string_view line);

}  // namespace hearsay::netem
