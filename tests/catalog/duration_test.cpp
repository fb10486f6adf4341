// Go duration text, both ways (cases checked against Go's time package behaviour).
#include <catch2/catch.hpp>

#include "catalog/duration.h"

using hearsay::catalog::format_go_duration;
using hearsay::catalog::parse_go_duration;
using namespace std::chrono;

TEST_CASE("parse_go_duration accepts Go's forms", "[unit]") {
  CHECK(parse_go_duration("0") == nanoseconds{0});
  CHECK(parse_go_duration("10s") == seconds{10});
  CHECK(parse_go_duration("1m30s") == seconds{90});
  CHECK(parse_go_duration("120000ms") == seconds{120});
  CHECK(parse_go_duration("1.5h") == minutes{90});
  CHECK(parse_go_duration("500us") == microseconds{500});
  CHECK(parse_go_duration("500\xC2\xB5s") == microseconds{500});
  CHECK(parse_go_duration("2h45m") == minutes{165});
  CHECK(parse_go_duration("-1s") == seconds{-1});
  CHECK(parse_go_duration(".5s") == milliseconds{500});
}

TEST_CASE("parse_go_duration rejects malformed text", "[unit]") {
  for (const char* bad : {"", "10", "s", "1x", "1.s5", "--1s", "1s2", "9999999999999999999h", "1e3s", " 1s"}) {
    INFO(bad);
    CHECK_FALSE(parse_go_duration(bad).has_value());
  }
}

TEST_CASE("format_go_duration matches time.Duration.String", "[unit]") {
  CHECK(format_go_duration(nanoseconds{0}) == "0s");
  CHECK(format_go_duration(seconds{10}) == "10s");
  CHECK(format_go_duration(seconds{60}) == "1m0s");
  CHECK(format_go_duration(seconds{90}) == "1m30s");
  CHECK(format_go_duration(hours{1}) == "1h0m0s");
  CHECK(format_go_duration(milliseconds{1500}) == "1.5s");
  CHECK(format_go_duration(milliseconds{500}) == "500ms");
  CHECK(format_go_duration(microseconds{2}) == "2\xC2\xB5s");
  CHECK(format_go_duration(nanoseconds{7}) == "7ns");
  CHECK(format_go_duration(seconds{-5}) == "-5s");
}

TEST_CASE("formatted durations parse back to the same value", "[unit]") {
  for (auto d : {nanoseconds{1}, nanoseconds{1500}, nanoseconds{123456789}, nanoseconds{3723000000000},
                 nanoseconds{86400000000000}}) {
    CHECK(parse_go_duration(format_go_duration(d)) == d);
  }
}
