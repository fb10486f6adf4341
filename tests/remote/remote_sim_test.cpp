// Remote mode end to end on virtual time (remote_sim.h): one remote against three relays, its
// writes up into the LAN, the LAN's down into its mirror, through a 60 s cut, a relay killed and
// a token revoked. The engines' traffic goes through the production RemoteReplication and
// RelayReplication, so these cases check the routing that ships.
#include <catch2/catch.hpp>

#include "remote_sim.h"

using namespace hearsay::remote;
using namespace std::chrono_literals;

namespace {

void establish(rsim::Sim& sim) {
  REQUIRE(sim.run_until_true([&] { return sim.link().established(); }, 2s));
}

// No record twice: the remote's keys only under its own owner, on every live relay and in the
// mirror, and each LAN relay's only under that relay; nobody's state re-sent in a new generation.
void check_no_duplicates(rsim::Sim& sim) {
  for (std::size_t r = 0; r < 3; ++r) {
    if (!sim.relay_alive(r)) continue;
    CHECK(rsim::Sim::owners_with_prefix(sim.relay(r), "svc/dev-") == std::set<std::string>{"laptop"});
  }
  CHECK(rsim::Sim::owners_with_prefix(sim.mirror(), "svc/dev-") == std::set<std::string>{"laptop"});
  CHECK(rsim::Sim::holds(sim.mirror(), "laptop", sim.remote_truth()));
  CHECK(sim.generations_unchanged());
}

}  // namespace

TEST_CASE("remote sim: the remote's writes reach every relay, LAN writes reach its mirror", "[sim][remote]") {
  const std::uint64_t seed = GENERATE(range(std::uint64_t{1}, std::uint64_t{11}));
  rsim::Sim sim({.seed = seed});
  establish(sim);
  for (int i = 0; i < 20; ++i) sim.remote_write("svc/dev-" + std::to_string(i), "v1");
  auto up = sim.run_until_true([&] { return sim.remote_writes_everywhere(); }, 10s);
  REQUIRE(up);
  CHECK(*up <= 2s);
  for (std::size_t r = 0; r < 3; ++r) sim.relay_write(r, "svc/web-" + std::to_string(r), "lan");
  auto down = sim.run_until_true([&] { return sim.mirror_complete(); }, 10s);
  REQUIRE(down);
  CHECK(*down <= 2s);
  // Overwrites too.
  sim.remote_write("svc/dev-3", "v2");
  sim.relay_write(1, "svc/web-1", "lan2");
  REQUIRE(sim.run_until_true([&] { return sim.remote_writes_everywhere() && sim.mirror_complete(); }, 10s));
  CHECK(sim.link().status().sessions == 1);
  // The relay acknowledged all of the remote's writes.
  std::optional<Ack> last;
  for (const LinkEvent& e : sim.link_events()) {
    if (e.kind == LinkEvent::Kind::ack) last = e.ack;
  }
  REQUIRE(last);
  CHECK(last->watermark == sim.remote_truth().at("svc/dev-3"));
  check_no_duplicates(sim);
  // Nothing the engines asked for was dropped by the routing while the session was up.
  CHECK(sim.mirror_bridge().frames_dropped() == 0);
}

TEST_CASE("remote sim: a 60 s cut, back within 2 s of the restore, the writes of the cut arrive", "[sim][remote]") {
  const std::uint64_t seed = GENERATE(range(std::uint64_t{1}, std::uint64_t{21}));
  rsim::Sim sim({.seed = seed});
  establish(sim);
  // A catalog of 300 LAN records (100 a relay), so that a resume re-sending it would show.
  const std::uint64_t bytes_before = sim.link().status().bytes_in;
  sim.remote_write("svc/dev-a", "1");
  for (int i = 0; i < 100; ++i) {
    for (std::size_t r = 0; r < 3; ++r) {
      sim.relay_write(r, "svc/lan-" + std::to_string(i), std::string(64, static_cast<char>('a' + r)));
    }
  }
  REQUIRE(sim.run_until_true([&] { return sim.remote_writes_everywhere() && sim.mirror_complete(); }, 10s));
  sim.run_for(std::chrono::milliseconds(137 * seed));  // another phase of the keepalive each seed
  const std::uint64_t catalog_bytes = sim.link().status().bytes_in - bytes_before;

  sim.cut();
  const auto cut_at = sim.now();
  bool written = false;
  while (sim.now() - cut_at < 60s) {
    sim.run_for(10ms);
    // Never "connected" without a frame in the last dead_after; so not at all once the frames
    // in flight at the cut (one latency) are dead_after old.
    INFO("at " << std::chrono::duration_cast<Duration>(sim.now() - cut_at).count() << " ms into the cut");
    if (sim.link().established()) REQUIRE(sim.now() - *sim.link().status().last_contact < 6s);
    if (sim.now() - cut_at > 6s + 20ms) REQUIRE_FALSE(sim.link().established());
    if (!written && sim.now() - cut_at >= 30s) {
      sim.remote_write("svc/dev-offline", "made during the cut");
      sim.relay_write(2, "svc/lan-offline", "made during the cut");
      written = true;
    }
  }
  CHECK(sim.link().status().state != LinkState::established);
  const std::uint64_t full_states = sim.full_states_sent();
  sim.restore();
  const std::uint64_t bytes_at_restore = sim.link().status().bytes_in;
  auto back = sim.run_until_true([&] { return sim.link().established(); }, 10s, 1ms);
  REQUIRE(back);
  INFO("back after " << back->count() << " ms");
  CHECK(*back <= 2s);
  auto arrived = sim.run_until_true([&] { return sim.remote_writes_everywhere() && sim.mirror_complete(); }, 10s);
  REQUIRE(arrived);
  CHECK(*arrived <= 3s);
  // The resume went from the per-owner marks: the one LAN change of the cut came down, not the
  // catalog again (the frames held during the cut, the hello, digests and keepalives aside).
  const std::uint64_t resume_bytes = sim.link().status().bytes_in - bytes_at_restore;
  INFO("catalog " << catalog_bytes << " bytes, resume " << resume_bytes << " bytes");
  CHECK(resume_bytes * 10 < catalog_bytes);
  CHECK(sim.full_states_sent() == full_states);
  check_no_duplicates(sim);
}

TEST_CASE("remote sim: the relay in use killed, another within 10 s, nothing lost or duplicated", "[sim][remote]") {
  const std::uint64_t seed = GENERATE(range(std::uint64_t{1}, std::uint64_t{21}));
  rsim::Sim sim({.seed = seed});
  establish(sim);
  for (int i = 0; i < 10; ++i) sim.remote_write("svc/dev-" + std::to_string(i), "v1");
  for (std::size_t r = 0; r < 3; ++r) sim.relay_write(r, "svc/web-" + std::to_string(r), "lan");
  REQUIRE(sim.run_until_true([&] { return sim.remote_writes_everywhere() && sim.mirror_complete(); }, 10s));

  const auto in_use = sim.relay_in_use();
  REQUIRE(in_use);
  // Writes just before the kill: some may have reached only the dying relay, or nothing.
  sim.remote_write("svc/dev-last", "v1");
  sim.remote_write("svc/dev-0", "v2");
  sim.run_for(std::chrono::milliseconds(50 * seed));
  sim.kill_relay(*in_use);
  const auto moved = sim.run_until_true(
      [&] { return sim.relay_in_use() && *sim.relay_in_use() != *in_use; }, 10s);
  REQUIRE(moved);
  INFO("on relay " << *sim.relay_in_use() << " after " << moved->count() << " ms");
  CHECK(*moved <= 10s);
  // Writes after the move, both ways.
  sim.remote_write("svc/dev-after", "v1");
  const std::size_t lan = (*in_use + 1) % 3;
  sim.relay_write(lan, "svc/web-after", "lan");
  // Every live relay holds exactly the remote's writes, the mirror exactly every relay's.
  auto whole = sim.run_until_true([&] { return sim.remote_writes_everywhere() && sim.mirror_complete(); }, 15s);
  REQUIRE(whole);
  for (std::size_t r = 0; r < 3; ++r) {
    if (!sim.relay_alive(r)) continue;
    CHECK(rsim::Sim::holds(sim.relay(r), "laptop", sim.remote_truth()));
  }
  CHECK(sim.link().status().sessions == 2);
  check_no_duplicates(sim);
}

TEST_CASE("remote sim: a session ended by a refusal takes the relay from the mirror engine, the next one resumes",
          "[sim][remote]") {
  const std::uint64_t seed = GENERATE(range(std::uint64_t{1}, std::uint64_t{11}));
  rsim::Sim sim({.seed = seed});
  establish(sim);
  sim.remote_write("svc/dev-a", "1");
  sim.relay_write(0, "svc/web-a", "1");
  REQUIRE(sim.run_until_true([&] { return sim.remote_writes_everywhere() && sim.mirror_complete(); }, 10s));
  sim.run_for(std::chrono::milliseconds(173 * seed));

  // Revoked: the relay ends the established session with a Refuse (a "refused" link event, not
  // "lost"). The mirror engine must lose its peer with it: otherwise its anti-entropy goes on
  // asking a relay that is not there, and every such request is dropped by the routing.
  sim.revoke_token();
  REQUIRE(sim.run_until_true([&] { return !sim.link().established(); }, 1s));
  const std::uint64_t dropped = sim.mirror_bridge().frames_dropped();
  const std::uint64_t failed = sim.mirror().stats().syncs_failed;
  sim.remote_write("svc/dev-b", "made while refused");
  sim.relay_write(1, "svc/web-b", "made while refused");
  sim.run_for(90s);
  CHECK_FALSE(sim.link().established());
  CHECK(sim.mirror_bridge().frames_dropped() == dropped);
  CHECK(sim.mirror().stats().syncs_failed == failed);

  sim.restore_token();
  // A refusal that says retrying cannot help waits the longest backoff (5 s) between attempts.
  REQUIRE(sim.run_until_true([&] { return sim.link().established(); }, 10s));
  REQUIRE(sim.run_until_true([&] { return sim.remote_writes_everywhere() && sim.mirror_complete(); }, 5s));
  check_no_duplicates(sim);
}
