// The width rule is the part that must match Go exactly: writer and reader both count `hi`, the
// next free code, from 257; after every code but clear it grows by one, and when it reaches
// 2^width the width grows (up to 12 bits). Go's writer emits a clear at hi == 4095.
#include "gossip/wire/lzw.h"

#include <array>
#include <memory>

namespace hearsay::gossip::lzw {
namespace {

constexpr std::uint32_t kClear = 256;
constexpr std::uint32_t kEof = 257;
constexpr std::uint32_t kFirstWidth = 9;
constexpr std::uint32_t kMaxWidth = 12;
constexpr std::uint32_t kMaxCode = (1u << kMaxWidth) - 1;  // 4095

class BitWriter {
 public:
  explicit BitWriter(std::vector<std::uint8_t>& out) : out_(out) {}
  void write(std::uint32_t code, std::uint32_t width) {
    bits_ |= static_cast<std::uint64_t>(code) << count_;
    count_ += width;
    while (count_ >= 8) {
      out_.push_back(static_cast<std::uint8_t>(bits_ & 0xff));
      bits_ >>= 8;
      count_ -= 8;
    }
  }
  void flush() {
    if (count_ > 0) out_.push_back(static_cast<std::uint8_t>(bits_ & 0xff));
    bits_ = 0;
    count_ = 0;
  }

 private:
  std::vector<std::uint8_t>& out_;
  std::uint64_t bits_ = 0;
  std::uint32_t count_ = 0;
};

// (prefix code, next byte) -> code, open addressing. Entries hold key << 12 | code; 0 is empty
// (a real entry never has code 0: codes in the table start at 258).
class Table {
 public:
  void reset() { slots_.fill(0); }
  std::uint32_t find(std::uint32_t key) const {
    for (std::uint32_t h = hash(key);; h = (h + 1) & kMask) {
      const std::uint32_t e = slots_[h];
      if (e == 0) return 0;
      if (e >> 12 == key) return e & 0xfff;
    }
  }
  void insert(std::uint32_t key, std::uint32_t code) {
    std::uint32_t h = hash(key);
    while (slots_[h] != 0) h = (h + 1) & kMask;
    slots_[h] = key << 12 | code;
  }

 private:
  static constexpr std::uint32_t kSize = 1 << 14;  // 4x the codes: short probe chains
  static constexpr std::uint32_t kMask = kSize - 1;
  static std::uint32_t hash(std::uint32_t key) { return ((key >> 12) ^ key) * 0x9e3779b1u >> 18 & kMask; }
  std::array<std::uint32_t, kSize> slots_{};
};

}  // namespace

std::vector<std::uint8_t> compress(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> out;
  out.reserve(size / 2 + 8);
  BitWriter bits(out);
  auto table = std::make_unique<Table>();
  std::uint32_t width = kFirstWidth;
  std::uint32_t hi = kEof;
  std::uint32_t overflow = 1u << kFirstWidth;
  // Go's incHi: a new code is used; widen, or start over when the table is full. Returns
  // false when it started over (the current code must then not go into the table).
  auto next_code = [&]() {
    ++hi;
    if (hi == overflow) {
      ++width;
      overflow <<= 1;
    }
    if (hi == kMaxCode) {
      bits.write(kClear, width);
      width = kFirstWidth;
      hi = kEof;
      overflow = 1u << kFirstWidth;
      table->reset();
      return false;
    }
    return true;
  };

  bits.write(kClear, width);  // Go 1.19 starts every stream with a clear code
  if (size > 0) {
    std::uint32_t code = data[0];
    for (std::size_t i = 1; i < size; ++i) {
      const std::uint32_t key = code << 8 | data[i];
      if (std::uint32_t found = table->find(key)) {
        code = found;
        continue;
      }
      bits.write(code, width);
      code = data[i];
      if (next_code()) table->insert(key, hi);
    }
    bits.write(code, width);
    next_code();
  }
  bits.write(kEof, width);
  bits.flush();
  return out;
}

std::vector<std::uint8_t> decompress(const std::uint8_t* data, std::size_t size, std::size_t max_output,
                                     std::optional<DecodeError>& error) {
  error.reset();
  std::vector<std::uint8_t> out;
  std::array<std::uint16_t, 1 << kMaxWidth> prefix{};
  std::array<std::uint8_t, 1 << kMaxWidth> suffix{};
  std::array<std::uint8_t, 1 << kMaxWidth> scratch{};  // one code's expansion, written backwards
  constexpr std::uint32_t kNone = 0xffff;
  std::uint32_t width = kFirstWidth, hi = kEof, overflow = 1u << kFirstWidth, last = kNone;
  std::uint64_t bits = 0;
  std::uint32_t count = 0;
  std::size_t at = 0;
  auto fail = [&](const char* why) {
    error = DecodeError{why};
    return std::vector<std::uint8_t>{};
  };

  for (;;) {
    while (count < width) {
      if (at == size) return fail("lzw: stream ends before the EOF code");
      bits |= static_cast<std::uint64_t>(data[at++]) << count;
      count += 8;
    }
    const auto code = static_cast<std::uint32_t>(bits & ((1u << width) - 1));
    bits >>= width;
    count -= width;

    if (code == kClear) {
      width = kFirstWidth;
      hi = kEof;
      overflow = 1u << kFirstWidth;
      last = kNone;
      continue;
    }
    if (code == kEof) return out;

    std::size_t start = scratch.size();  // the expansion is scratch[start, end)
    std::uint32_t first = 0;
    if (code < kClear) {
      scratch[--start] = static_cast<std::uint8_t>(code);
      first = code;
    } else if (code < hi || (code == hi && last != kNone)) {
      std::uint32_t c = code;
      if (code == hi) {
        // KwKwK: the code being defined right now is the last expansion plus its own first byte.
        std::uint32_t head = last;
        while (head >= kClear) head = prefix[head];
        scratch[--start] = static_cast<std::uint8_t>(head);
        c = last;
      }
      while (c >= kClear) {
        scratch[--start] = suffix[c];
        c = prefix[c];
      }
      scratch[--start] = static_cast<std::uint8_t>(c);
      first = c;
    } else {
      return fail("lzw: invalid code");
    }
    if (out.size() + (scratch.size() - start) > max_output) return fail("lzw: output larger than allowed");
    out.insert(out.end(), scratch.begin() + static_cast<long>(start), scratch.end());
    if (last != kNone) {
      suffix[hi] = static_cast<std::uint8_t>(first);
      prefix[hi] = static_cast<std::uint16_t>(last);
    }
    last = code;
    ++hi;
    if (hi >= overflow) {
      if (width == kMaxWidth) {
        last = kNone;  // table full: no new entries until the writer's clear
        --hi;
      } else {
        ++width;
        overflow = 1u << width;
      }
    }
  }
}

}  // namespace hearsay::gossip::lzw
