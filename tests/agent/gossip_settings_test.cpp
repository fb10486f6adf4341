// The agent's gossip settings: -encrypt and the keyring file, -retry-join and its backoff.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/config.h"
#include "agent/keyring_file.h"
#include "agent/options.h"
#include "agent/retry_join.h"

using namespace hearsay::agent;
using namespace std::chrono_literals;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/hearsay-keyring-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

constexpr const char* kKeyA = "AAECAwQFBgcICQoLDA0ODw==";
constexpr const char* kKeyB = "bj2FPlBbNRrk0esu/b75T9Qx61ycOWyF6pnBuSkLNvI=";

}  // namespace

TEST_CASE("retry-join backs off from 1 s, doubling up to the interval, until retry_max", "[unit]") {
  RetryJoinSchedule forever(1s, 30s, 0);
  std::vector<std::chrono::milliseconds> waits;
  for (int i = 0; i < 8; ++i) waits.push_back(*forever.after_failure());
  CHECK(waits == std::vector<std::chrono::milliseconds>{1s, 2s, 4s, 8s, 16s, 30s, 30s, 30s});

  RetryJoinSchedule bounded(1s, 30s, 3);
  CHECK(bounded.after_failure() == 1000ms);
  CHECK(bounded.after_failure() == 2000ms);
  CHECK_FALSE(bounded.after_failure());  // the third failure is the last
  CHECK(bounded.failures() == 3);
}

TEST_CASE("keyring file: -encrypt starts it, an existing one wins, changes persist", "[unit]") {
  TempDir dir;
  CHECK_FALSE(load_or_create_keyring(dir.path, "").enabled());  // no key, no file: plaintext
  CHECK_FALSE(std::filesystem::exists(keyring_path(dir.path)));

  auto ring = load_or_create_keyring(dir.path, kKeyA);
  REQUIRE(ring.enabled());
  CHECK(read(keyring_path(dir.path)) == std::string("[\"") + kKeyA + "\"]");
  CHECK((std::filesystem::status(keyring_path(dir.path)).permissions() & std::filesystem::perms::others_read) ==
        std::filesystem::perms::none);

  std::string error;
  REQUIRE(ring.add(*hearsay::gossip::decode_key(kKeyB, error)).empty());
  REQUIRE(ring.use(*hearsay::gossip::decode_key(kKeyB, error)).empty());
  save_keyring(dir.path, ring);
  // A restart with the old -encrypt keeps the rotated ring, primary first.
  auto restarted = load_or_create_keyring(dir.path, kKeyA);
  CHECK(restarted.keys() == ring.keys());
  CHECK(hearsay::gossip::encode_key(restarted.primary()) == kKeyB);
}

TEST_CASE("bad keys and keyring files are refused with a message", "[unit]") {
  TempDir dir;
  CHECK_THROWS_WITH(load_or_create_keyring(dir.path, "c2hvcnQ="), Catch::Contains("-encrypt: the key must be 16"));
  std::filesystem::create_directories(dir.path + "/serf");
  std::ofstream(keyring_path(dir.path)) << "{\"not\": \"an array\"}";
  CHECK_THROWS_WITH(load_or_create_keyring(dir.path, ""), Catch::Contains("not a JSON array"));
  std::ofstream(keyring_path(dir.path)) << "[\"AAEC\"]";
  CHECK_THROWS_WITH(load_or_create_keyring(dir.path, ""), Catch::Contains("must be 16, 24 or 32 bytes"));
}

TEST_CASE("gossip flags: -encrypt, -retry-join, -retry-interval, -retry-max", "[unit]") {
  auto parsed = parse_agent_command_line({"-node", "n1", "-dev", "-encrypt", kKeyA, "-retry-join", "127.0.0.1:8301",
                                          "-retry-join", "10.0.0.2", "-retry-interval", "5s", "-retry-max", "4"});
  CHECK(parsed.config.encrypt == kKeyA);
  CHECK(parsed.config.retry_join == std::vector<std::string>{"127.0.0.1:8301", "10.0.0.2"});
  CHECK(parsed.config.retry_interval == 5s);
  CHECK(parsed.config.retry_max == 4);
  CHECK_THROWS_WITH(parse_agent_command_line({"-node", "n1", "-dev", "-encrypt", "xyz"}), Catch::Contains("-encrypt"));
  CHECK_THROWS_WITH(parse_agent_command_line({"-node", "n1", "-dev", "-retry-join", "nohost:x"}),
                    Catch::Contains("-retry-join"));
}
