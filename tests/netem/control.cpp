// Parses the control lines described in control.h; every value is range-checked, nothing throws.
#include "tests/netem/control.h"

#include <charconv>
#include <cmath>
#include <vector>

namespace hearsay::netem {
namespace {

constexpr uint64_t kMaxMicros = 60'000'000;         // a minute each way is beyond any WAN
constexpr uint64_t kMaxRate = 100'000'000'000ull;   // 100 GB/s: "unlimited" in practice
constexpr uint64_t kMaxQueue = Direction::kMaxInFlightBytes;

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size() && out.size() < 32) {  // a longer line is refused by the caller anyway
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::optional<uint64_t> unsigned_in(std::string_view text, uint64_t max) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > max) return std::nullopt;
  return value;
}

std::optional<double> probability(std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value) || value < 0.0 || value > 1.0) {
    return std::nullopt;
  }
  return value;
}

// One KEY=VALUE into `change`; the error text when the key or the value is bad.
std::optional<std::string> set_key(std::string_view word, Change& change) {
  auto eq = word.find('=');
  if (eq == std::string_view::npos) return "expected KEY=VALUE, got \"" + std::string(word) + "\"";
  std::string_view key = word.substr(0, eq), value = word.substr(eq + 1);
  auto bad = [&] { return "bad value for " + std::string(key) + ": \"" + std::string(value) + "\""; };
  if (key == "delay_us" || key == "jitter_us") {
    auto us = unsigned_in(value, kMaxMicros);
    if (!us) return bad();
    (key == "delay_us" ? change.delay : change.jitter) = std::chrono::microseconds(*us);
  } else if (key == "loss") {
    if (!(change.loss = probability(value))) return bad();
  } else if (key == "rate") {
    if (!(change.rate = unsigned_in(value, kMaxRate))) return bad();
  } else if (key == "queue") {
    if (!(change.queue = unsigned_in(value, kMaxQueue))) return bad();
  } else if (key == "cut") {
    if (value != "0" && value != "1") return bad();
    change.cut = value == "1";
  } else {
    return "unknown key \"" + std::string(key) + "\"";
  }
  return std::nullopt;
}

}  // namespace

void Change::apply_to(Impairment& impairment) const {
  if (delay) impairment.delay = *delay;
  if (jitter) impairment.jitter = *jitter;
  if (loss) impairment.loss = *loss;
  if (rate) impairment.rate = *rate;
  if (queue) impairment.queue = *queue;
  if (cut) impairment.cut = *cut;
}

std::variant<Command, std::string> parse_command(std::string_view line) {
  auto w = words(line);
  if (w.empty()) return std::string("empty command");
  if (w.size() >= 32) return std::string("too many words");
  if (w[0] == "stats" && w.size() == 1) return Command{StatsCommand{}};
  if (w[0] == "quit" && w.size() == 1) return Command{QuitCommand{}};
  if (w[0] != "set") return "unknown command \"" + std::string(w[0]) + "\" (set, stats, quit)";
  if (w.size() < 3) return std::string("usage: set ab|ba|both KEY=VALUE...");
  SetCommand set;
  if (w[1] == "ab") {
    set.which = Which::ab;
  } else if (w[1] == "ba") {
    set.which = Which::ba;
  } else if (w[1] == "both") {
    set.which = Which::both;
  } else {
    return "unknown direction \"" + std::string(w[1]) + "\" (ab, ba, both)";
  }
  for (std::size_t i = 2; i < w.size(); ++i) {
    if (auto error = set_key(w[i], set.change)) return *error;
  }
  return Command{set};
}

}  // namespace hearsay::netem
