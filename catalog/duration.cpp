// Go's time.ParseDuration and time.Duration.String, re-implemented for nanosecond integers.
#include "catalog/duration.h"

#include <cstdint>
#include <limits>

namespace hearsay::catalog {
namespace {

struct Unit {
  std::string_view name;
  std::uint64_t nanos;
};
constexpr Unit kUnits[] = {
    {"ns", 1ULL},          {"us", 1000ULL},           {"\xC2\xB5s", 1000ULL},  // µs (U+00B5)
    {"\xCE\xBCs", 1000ULL},  // μs (U+03BC)
    {"ms", 1000000ULL},    {"s", 1000000000ULL},      {"m", 60000000000ULL},
    {"h", 3600000000000ULL},
};

constexpr std::uint64_t kMaxNanos = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Longest unit name that prefixes `rest`.
const Unit* match_unit(std::string_view rest) {
  const Unit* best = nullptr;
  for (const Unit& unit : kUnits) {
    if (rest.starts_with(unit.name) && (!best || unit.name.size() > best->name.size())) best = &unit;
  }
  return best;
}

}  // namespace

std::optional<std::chrono::nanoseconds> parse_go_duration(std::string_view text) {
  bool negative = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text == "0") return std::chrono::nanoseconds{0};
  if (text.empty()) return std::nullopt;

  std::uint64_t total = 0;
  while (!text.empty()) {
    // Integer part.
    std::uint64_t whole = 0;
    std::size_t i = 0;
    bool any_digits = false;
    for (; i < text.size() && is_digit(text[i]); ++i) {
      if (whole > (kMaxNanos - static_cast<std::uint64_t>(text[i] - '0')) / 10) return std::nullopt;
      whole = whole * 10 + static_cast<std::uint64_t>(text[i] - '0');
      any_digits = true;
    }
    // Fraction: keep up to 18 digits, enough for nanoseconds of an hour.
    std::uint64_t fraction = 0;
    std::uint64_t scale = 1;
    if (i < text.size() && text[i] == '.') {
      ++i;
      for (; i < text.size() && is_digit(text[i]); ++i) {
        any_digits = true;
        if (scale < 1000000000000000000ULL) {
          fraction = fraction * 10 + static_cast<std::uint64_t>(text[i] - '0');
          scale *= 10;
        }
      }
    }
    if (!any_digits) return std::nullopt;
    text.remove_prefix(i);
    const Unit* unit = match_unit(text);
    if (!unit) return std::nullopt;  // Go requires a unit on every number but a lone "0"
    text.remove_prefix(unit->name.size());

    if (whole > kMaxNanos / unit->nanos) return std::nullopt;
    std::uint64_t value = whole * unit->nanos;
    // fraction/scale * unit, computed without overflow: scale <= 1e18, unit <= 3.6e12.
    long double frac_nanos = static_cast<long double>(fraction) * static_cast<long double>(unit->nanos) /
                             static_cast<long double>(scale);
    value += static_cast<std::uint64_t>(frac_nanos);
    if (value > kMaxNanos - total) return std::nullopt;
    total += value;
  }
  auto signed_total = static_cast<std::int64_t>(total);
  return std::chrono::nanoseconds{negative ? -signed_total : signed_total};
}

namespace {

// Appends v/10^prec with trailing fractional zeros trimmed, like Go's fmtFrac + fmtInt.
void append_scaled(std::string& out, std::uint64_t v, int prec) {
  std::uint64_t divisor = 1;
  for (int i = 0; i < prec; ++i) divisor *= 10;
  out += std::to_string(v / divisor);
  std::uint64_t frac = v % divisor;
  if (frac == 0) return;
  std::string digits(static_cast<std::size_t>(prec), '0');
  for (int i = prec - 1; i >= 0; --i) {
    digits[static_cast<std::size_t>(i)] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  while (!digits.empty() && digits.back() == '0') digits.pop_back();
  out += '.';
  out += digits;
}

}  // namespace

std::string format_go_duration(std::chrono::nanoseconds d) {
  std::int64_t n = d.count();
  std::string out;
  if (n == 0) return "0s";
  std::uint64_t u = n < 0 ? static_cast<std::uint64_t>(-(n + 1)) + 1 : static_cast<std::uint64_t>(n);
  if (n < 0) out += '-';
  if (u < 1000000000ULL) {
    // Sub-second: a single unit with a fraction.
    if (u < 1000ULL) {
      out += std::to_string(u) + "ns";
    } else if (u < 1000000ULL) {
      append_scaled(out, u, 3);
      out += "\xC2\xB5s";
    } else {
      append_scaled(out, u, 6);
      out += "ms";
    }
    return out;
  }
  std::uint64_t seconds_part = u % 60000000000ULL;  // nanoseconds within the minute
  std::uint64_t minutes_total = u / 60000000000ULL;
  std::string seconds_text;
  append_scaled(seconds_text, seconds_part, 9);
  if (minutes_total == 0) return out + seconds_text + "s";
  std::uint64_t hours = minutes_total / 60;
  std::uint64_t minutes = minutes_total % 60;
  if (hours > 0) out += std::to_string(hours) + "h";
  out += std::to_string(minutes) + "m" + seconds_text + "s";
  return out;
}

}  // namespace hearsay::catalog
