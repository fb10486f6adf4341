// Keyring operations on the whole cluster, as Consul's /v1/operator/keyring and `serf keys` do
// them: the operation is applied here and sent to every member as one of serf's key queries
// (gossip/serf/serf_query.h); each member, serf or hearsay, applies it to its own keyring and
// answers. The same class answers the key queries other members send, so `serf keys -install`
// run on a serf agent installs the key on hearsay agents too.
//
// Sans-I/O apart from Serf (itself sans-I/O): fed answers and the time, it calls back the
// operation's `done` once every member alive at the start has answered, or at the time-out.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "gossip/serf/serf.h"
#include "gossip/serf/serf_query.h"
#include "http-api/agent_ops.h"

namespace hearsay::agent {

class ClusterKeyring {
 public:
  using Clock = std::chrono::steady_clock;
  // Applies install/use/remove to this agent's keyring (durably): "" or why it failed.
  using ApplyLocally = std::function<std::string(http::KeyringOp op, const gossip::Bytes& key)>;
  // This agent's keyring: nullopt when gossip is not encrypted.
  using ReadLocally = std::function<std::optional<http::KeyringInfo>()>;
  using Done = std::function<void(http::OpResult, http::KeyringReport)>;

  ClusterKeyring(gossip::Serf& serf, std::string datacenter, ApplyLocally apply, ReadLocally read);

  // Starts `op` (key: base64; empty for list). A malformed key or an agent without encryption
  // is refused at once, through `done`.
  void start(http::KeyringOp op, const std::string& key, Clock::time_point now, Done done);
  // A member's key query, answered through Serf::respond.
  void answer(const gossip::SerfQuery& query);
  // An answer to one of our queries (others are ignored).
  void on_response(const gossip::SerfQueryResponse& response);
  // Finishes the operations whose time is up.
  void expire(Clock::time_point now);
  std::optional<Clock::time_point> next_deadline() const;

 private:
  struct Pending {
    std::uint32_t id = 0;
    http::KeyringOp op{};
    http::KeyringReport report;
    std::map<std::string, bool> answered;  // member -> its answer counted
    Clock::time_point deadline;
    Done done;
  };
  gossip::KeyResponse run_locally(http::KeyringOp op, const gossip::Bytes& key);
  void record(Pending& pending, const std::string& member, const gossip::KeyResponse& answer);
  void finish(std::uint64_t ltime);

  gossip::Serf& serf_;
  std::string datacenter_;
  ApplyLocally apply_;
  ReadLocally read_;
  std::map<std::uint64_t, Pending> pending_;  // by query LTime, as serf tracks them
};

}  // namespace hearsay::agent
