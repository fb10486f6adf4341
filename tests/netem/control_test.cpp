// The link emulator's control lines (control.h): what `set` changes, and one malformed line per
// check refused with a reason.
#include "tests/netem/control.h"

#include <catch2/catch.hpp>

using namespace hearsay::netem;
using namespace std::chrono_literals;

TEST_CASE("netem control: set changes only the keys given", "[unit]") {
  auto parsed = parse_command("set ab delay_us=50000 loss=0.25 cut=1");
  auto* command = std::get_if<Command>(&parsed);
  REQUIRE(command);
  auto* set = std::get_if<SetCommand>(command);
  REQUIRE(set);
  CHECK(set->which == Which::ab);
  Impairment impairment{.rate = 1000};
  set->change.apply_to(impairment);
  CHECK(impairment.delay == 50ms);
  CHECK(impairment.loss == 0.25);
  CHECK(impairment.cut);
  CHECK(impairment.rate == 1000);
}

TEST_CASE("netem control: stats and quit", "[unit]") {
  CHECK(std::holds_alternative<StatsCommand>(std::get<Command>(parse_command("stats"))));
  CHECK(std::holds_alternative<QuitCommand>(std::get<Command>(parse_command(" quit \r"))));
}

TEST_CASE("netem control: malformed lines are refused with a reason", "[unit]") {
  for (const char* line : {"", "   ", "bogus", "set", "set ab", "set up delay_us=1", "set ab delay_us",
                           "set ab delay_us=-1", "set ab delay_us=1x", "set ab delay_us=60000001", "set ab loss=1.5",
                           "set ab loss=nan", "set ab loss=-0.1", "set ab cut=2", "set ab rate=abc",
                           "set ab queue=999999999", "set ab color=red", "stats now"}) {
    INFO(line);
    CHECK(std::holds_alternative<std::string>(parse_command(line)));
  }
}
