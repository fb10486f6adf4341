// GroupCommit with fake steps on a real libuv loop run a turn at a time: the order of the steps
// for a durable and a failed commit (nothing published, the turn undone, writers told), the
// idle handle that keeps the loop from sleeping while a commit is pending, and close().
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "agent/group_commit.h"

using namespace hearsay;
using agent::GroupCommit;

namespace {

struct Fixture {
  uv_loop_t loop{};
  std::vector<std::string> log;  // the steps, in the order they ran
  catalog::DirtyKeys pending;    // what take_dirty returns next
  bool commit_succeeds = true;
  std::vector<GroupCommit::Outgoing> published;
  std::unique_ptr<GroupCommit> commit;

  Fixture() {
    REQUIRE(uv_loop_init(&loop) == 0);
    GroupCommit::Steps steps;
    steps.take_dirty = [this] {
      log.push_back("take_dirty");
      return std::exchange(pending, {});
    };
    steps.prepare = [this](const catalog::DirtyKeys& dirty) {
      log.push_back("prepare");
      GroupCommit::Outgoing out;
      for (const std::string& node : dirty.nodes) out.push_back({1, node, std::nullopt});
      return out;
    };
    steps.commit = [this](const catalog::DirtyKeys&) {
      log.push_back("commit");
      return commit_succeeds;
    };
    steps.publish = [this](GroupCommit::Outgoing out) {
      log.push_back("publish");
      published.push_back(std::move(out));
    };
    steps.undo = [this] { log.push_back("undo"); };
    steps.after = [this](const catalog::DirtyKeys&) { log.push_back("after"); };
    commit = std::make_unique<GroupCommit>(&loop, std::move(steps));
  }
  ~Fixture() {
    commit->close();
    uv_run(&loop, UV_RUN_DEFAULT);  // the close callbacks
    CHECK(uv_loop_close(&loop) == 0);
  }
};

}  // namespace

TEST_CASE("group commit: a durable commit publishes, then answers the writers", "[unit]") {
  Fixture f;
  f.pending.nodes.insert("n1");
  std::vector<std::string> answered;
  f.commit->after_commit([&](bool durable) {
    answered.push_back(durable ? "durable" : "failed");
    f.log.push_back("answer");
  });
  f.commit->flush();
  CHECK(f.log == std::vector<std::string>{"take_dirty", "prepare", "commit", "publish", "answer", "after"});
  CHECK(answered == std::vector<std::string>{"durable"});
  REQUIRE(f.published.size() == 1);
  REQUIRE(f.published[0].size() == 1);
  CHECK(f.published[0][0].key == "n1");
}

TEST_CASE("group commit: a failed commit publishes nothing, is undone and the writers are told", "[unit]") {
  Fixture f;
  f.pending.nodes.insert("n1");
  f.commit_succeeds = false;
  bool answered = false, durable = true;
  f.commit->after_commit([&](bool d) {
    answered = true;
    durable = d;
  });
  f.commit->flush();
  CHECK(f.log == std::vector<std::string>{"take_dirty", "prepare", "commit", "undo", "after"});
  CHECK(f.published.empty());
  CHECK(answered);
  CHECK_FALSE(durable);

  // The next commit is a new turn: its writers are told about it alone.
  f.log.clear();
  f.commit_succeeds = true;
  f.pending.nodes.insert("n2");
  int answers = 0;
  f.commit->after_commit([&](bool d) { answers += d ? 1 : 100; });
  f.commit->flush();
  CHECK(answers == 1);
  CHECK(f.log == std::vector<std::string>{"take_dirty", "prepare", "commit", "publish", "after"});
}

TEST_CASE("group commit: a turn with no changed keys commits what is staged but prepares nothing", "[unit]") {
  Fixture f;
  f.commit->flush();
  CHECK(f.log == std::vector<std::string>{"take_dirty", "commit", "publish", "after"});
  REQUIRE(f.published.size() == 1);
  CHECK(f.published[0].empty());
}

TEST_CASE("group commit: a request keeps the loop from sleeping until the check phase commits", "[unit]") {
  Fixture f;
  f.pending.nodes.insert("n1");
  bool answered = false;
  f.commit->after_commit([&](bool) { answered = true; });
  // With only the check handle active, UV_RUN_ONCE would block in poll for good: the pending
  // request's idle handle makes it return after one turn, committed.
  uv_run(&f.loop, UV_RUN_ONCE);
  CHECK(answered);
  CHECK(f.published.size() == 1);
  // The idle handle is stopped by the commit: nothing keeps the loop busy any more.
  CHECK(uv_loop_alive(&f.loop) != 0);  // the check handle is still active
  f.log.clear();
  uv_run(&f.loop, UV_RUN_NOWAIT);
  CHECK(f.log == std::vector<std::string>{"take_dirty", "commit", "publish", "after"});  // every turn commits
}

TEST_CASE("group commit: close commits what is pending and ignores later requests", "[unit]") {
  Fixture f;
  f.pending.nodes.insert("n1");
  int answers = 0;
  f.commit->after_commit([&](bool) { ++answers; });
  f.commit->close();
  CHECK(answers == 1);
  CHECK(f.published.size() == 1);
  f.commit->after_commit([&](bool) { ++answers; });  // not answered: no commit after close
  uv_run(&f.loop, UV_RUN_DEFAULT);  // returns: the handles are closed and nothing is pending
  CHECK(answers == 1);
}

TEST_CASE("group commit: a step that throws is logged and the loop goes on", "[unit]") {
  Fixture f;
  f.commit_succeeds = true;
  bool thrown = false;
  f.commit->after_commit([&](bool) {
    thrown = true;
    throw std::runtime_error("writer callback failed");
  });
  f.commit->flush();  // does not throw
  CHECK(thrown);
  f.log.clear();
  f.commit->flush();
  CHECK(f.log == std::vector<std::string>{"take_dirty", "commit", "publish", "after"});
}
