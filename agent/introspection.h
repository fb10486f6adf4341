// What the agent reports about itself and its cluster: the members list of /v1/agent/members
// (serf's view, as Consul shows it) and the metric table of /v1/agent/metrics. Reads only.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "agent/catalog_replication.h"
#include "agent/connection_limits.h"
#include "catalog/catalog.h"
#include "catalog/store_sqlite.h"
#include "dns/server_uv.h"
#include "gossip/membership/membership.h"
#include "gossip/replication/replication.h"
#include "gossip/serf/serf.h"
#include "gossip/shell/transport_uv.h"
#include "http-api/api.h"
#include "http-api/blocking_uv.h"
#include "http-api/metrics.h"
#include "http-api/server_uv.h"

namespace hearsay::agent {

// Alive, suspect, left and failed members (failed ones until serf would forget them), by name.
std::vector<http::MemberInfo> member_list(const gossip::Membership& membership);

// Every part whose counters make the metric table; `dns` is null when DNS is off.
struct MetricSources {
  const gossip::Transport* transport;  // null on a remote agent (no gossip)
  const gossip::Membership& membership;
  const gossip::Serf& serf;
  const catalog::Catalog& catalog;
  const gossip::Replication& replication;
  const catalog::SqliteStore& store;
  const CatalogReplication& catalog_replication;
  const http::Server& http;
  const ConnectionLimits& limits;
  const dns::Server* dns;
  const http::Server* https = nullptr;  // null without ports.https
  const http::BlockingQueries& blocking;
  const http::ResponseCacheStats& response_cache;
  const loop::Histogram& commit_latency;  // the group commit's
};

// Counters, gauges and latency histograms, named as /v1/agent/metrics reports them, in a fixed
// order; process figures last.
http::MetricSet metric_table(const MetricSources& s);

}  // namespace hearsay::agent
