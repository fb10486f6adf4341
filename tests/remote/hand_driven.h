// What the hand-driven tests of a session's two ends (link_test.cpp, relay_session_test.cpp)
// share: reading back the frames an end wrote, and running an end on virtual time.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include "remote/frame.h"
#include "remote/link.h"

namespace hearsay::remote::test {

// The frames in an end's writes (take_writes()), which must parse whole.
inline std::vector<Frame> frames_of(const std::vector<Bytes>& writes) {
  FrameReader reader;
  std::vector<Frame> out;
  for (const Bytes& b : writes) reader.feed(b.data(), b.size());
  while (auto f = reader.next()) out.push_back(*f);
  REQUIRE(reader.error() == FrameError::none);
  return out;
}

// Runs `end` (a Link or a RelaySession) from `now` to `now + d`, ticking it at each deadline on
// the way and at the end; `now` moves along.
template <typename End>
void advance(End& end, Clock::time_point& now, Duration d) {
  const auto until = now + d;
  while (true) {
    const auto next = end.next_deadline();
    if (next > until) break;
    now = std::max(now, next);
    end.tick(now);
  }
  now = until;
  end.tick(now);
}

}  // namespace hearsay::remote::test
