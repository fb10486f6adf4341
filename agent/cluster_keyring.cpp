// Cluster keyring operations as serf's key queries (serf 0.9 internal_query.go, keymanager.go):
// start one, count the members' answers, answer theirs. See cluster_keyring.h.
#include "agent/cluster_keyring.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "gossip/wire/keyring.h"

namespace hearsay::agent {
namespace {

const char* query_name(http::KeyringOp op) {
  switch (op) {
    case http::KeyringOp::install: return gossip::kInstallKeyQuery;
    case http::KeyringOp::use: return gossip::kUseKeyQuery;
    case http::KeyringOp::remove: return gossip::kRemoveKeyQuery;
    case http::KeyringOp::list: break;
  }
  return gossip::kListKeysQuery;
}

std::optional<http::KeyringOp> op_of(const std::string& query_name) {
  if (query_name == gossip::kInstallKeyQuery) return http::KeyringOp::install;
  if (query_name == gossip::kUseKeyQuery) return http::KeyringOp::use;
  if (query_name == gossip::kRemoveKeyQuery) return http::KeyringOp::remove;
  if (query_name == gossip::kListKeysQuery) return http::KeyringOp::list;
  return std::nullopt;
}

// Consul's keyringErrorsOrNil text, for the LAN pool of one datacenter.
std::string failure_text(const std::string& datacenter, const http::KeyringReport& report) {
  std::string what = report.num_errors > 0
                         ? std::to_string(report.num_errors) + "/" + std::to_string(report.num_nodes) +
                               " nodes reported failure"
                         : std::to_string(report.num_responses) + "/" + std::to_string(report.num_nodes) +
                               " nodes reported success";
  const std::size_t errors = 1 + report.messages.size();
  std::string text = std::to_string(errors) + (errors == 1 ? " error" : " errors") + " occurred:\n\t* " +
                     datacenter + " (LAN) error: " + what + "\n";
  for (const auto& [node, message] : report.messages) text += "\t* " + node + ": " + message + "\n";
  return text + "\n";
}

}  // namespace

ClusterKeyring::ClusterKeyring(gossip::Serf& serf, std::string datacenter, ApplyLocally apply, ReadLocally read)
    : serf_(serf), datacenter_(std::move(datacenter)), apply_(std::move(apply)), read_(std::move(read)) {}

gossip::KeyResponse ClusterKeyring::run_locally(http::KeyringOp op, const gossip::Bytes& key) {
  // serf's handlers (internal_query.go), messages included, so a report reads the same
  // whichever kind of member failed.
  gossip::KeyResponse answer;
  const std::optional<http::KeyringInfo> ring = read_();
  if (!ring) {
    answer.message = op == http::KeyringOp::list ? "Keyring is empty (encryption not enabled)"
                                                 : "No keyring to modify (encryption not enabled)";
    return answer;
  }
  if (op == http::KeyringOp::list) {
    answer.keys = ring->keys;
    answer.primary_key = ring->primary;
  } else if (std::string error = apply_(op, key); !error.empty()) {
    answer.message = std::move(error);
    return answer;
  }
  answer.result = true;
  return answer;
}

void ClusterKeyring::start(http::KeyringOp op, const std::string& key_text, Clock::time_point now, Done done) {
  if (!read_()) return done(http::OpResult::fail(500, "No keyring to modify (encryption not enabled)"), {});
  gossip::Bytes key;
  if (op != http::KeyringOp::list) {
    std::string error;
    auto decoded = gossip::decode_key(key_text, error);
    if (!decoded) return done(http::OpResult::fail(400, "bad key: " + error), {});
    key = std::move(*decoded);
  }
  const gossip::Bytes payload = op == http::KeyringOp::list ? gossip::Bytes{} : gossip::encode_key_request(key);
  const gossip::SerfQuery query = serf_.start_query(query_name(op), payload);
  Pending& pending = pending_[query.ltime];
  pending.id = query.id;
  pending.op = op;
  // Everyone alive, ourselves included, as serf counts (memberlist's NumMembers).
  pending.report.num_nodes = static_cast<int>(serf_.membership().alive_count());
  pending.deadline = now + query.timeout;
  pending.done = std::move(done);
  // We are not among the query's receivers: our own answer is recorded here, as serf's is when
  // it hands its query to itself.
  record(pending, serf_.membership().self().name, run_locally(op, key));
  if (pending.report.num_responses >= pending.report.num_nodes) finish(query.ltime);
}

void ClusterKeyring::answer(const gossip::SerfQuery& query) {
  const std::optional<http::KeyringOp> op = op_of(query.name);
  if (!op) return;
  gossip::KeyResponse answer;
  if (*op == http::KeyringOp::list) {
    answer = run_locally(*op, {});
  } else if (auto key = gossip::decode_key_request(query.payload)) {
    answer = run_locally(*op, *key);
  } else {
    answer.message = "Failed to decode key request";
  }
  spdlog::info("gossip: {} from {}: {}", query.name, query.source_node, answer.result ? "done" : answer.message);
  serf_.respond(query, gossip::encode_key_response(answer));
}

void ClusterKeyring::on_response(const gossip::SerfQueryResponse& response) {
  auto it = pending_.find(response.ltime);
  if (it == pending_.end() || it->second.id != response.id) return;
  if (response.flags & gossip::kSerfQueryAck) return;  // we ask for none
  gossip::KeyResponse answer;
  if (auto decoded = gossip::decode_key_response(response.payload)) {
    answer = std::move(*decoded);
  } else {
    answer.message = "Failed to decode key response";
  }
  record(it->second, response.from, answer);
  if (it->second.report.num_responses >= it->second.report.num_nodes) finish(it->first);
}

void ClusterKeyring::record(Pending& pending, const std::string& member, const gossip::KeyResponse& answer) {
  if (!pending.answered.emplace(member, true).second) return;  // once per member, as serf
  http::KeyringReport& report = pending.report;
  ++report.num_responses;
  if (!answer.result) {
    ++report.num_errors;
    report.messages[member] = answer.message;
    return;
  }
  if (pending.op != http::KeyringOp::list) return;
  for (const std::string& key : answer.keys) ++report.keys[key];
  if (!answer.primary_key.empty()) ++report.primary_keys[answer.primary_key];
}

void ClusterKeyring::expire(Clock::time_point now) {
  while (!pending_.empty()) {
    auto due = std::find_if(pending_.begin(), pending_.end(), [now](const auto& p) { return p.second.deadline <= now; });
    if (due == pending_.end()) return;
    finish(due->first);
  }
}

std::optional<ClusterKeyring::Clock::time_point> ClusterKeyring::next_deadline() const {
  std::optional<Clock::time_point> earliest;
  for (const auto& [ltime, pending] : pending_) {
    if (!earliest || pending.deadline < *earliest) earliest = pending.deadline;
  }
  return earliest;
}

void ClusterKeyring::finish(std::uint64_t ltime) {
  auto node = pending_.extract(ltime);
  Pending& pending = node.mapped();
  const http::KeyringReport& report = pending.report;
  const bool complete = report.num_errors == 0 && report.num_responses >= report.num_nodes;
  pending.done(complete ? http::OpResult::ok() : http::OpResult::fail(500, failure_text(datacenter_, report)), report);
}

}  // namespace hearsay::agent
