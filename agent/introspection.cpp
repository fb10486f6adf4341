// The members list and the metric table, from the parts' own state and counters.
#include "agent/introspection.h"

#include <algorithm>

#include "agent/process_stats.h"
#include "gossip/serf/serf_tags.h"

namespace hearsay::agent {

std::vector<http::MemberInfo> member_list(const gossip::Membership& membership) {
  std::vector<http::MemberInfo> out;
  // Failed members stay listed after memberlist reaps them, as serf (and so Consul) lists them
  // until reconnect_timeout.
  std::vector<const gossip::Member*> all;
  for (const gossip::Member& m : membership.members()) all.push_back(&m);
  for (const auto& [name, m] : membership.failed_members()) {
    if (!membership.members().contains(name)) all.push_back(&m);
  }
  for (const gossip::Member* member : all) {
    const gossip::Member& m = *member;
    http::MemberInfo info;
    info.name = m.name;
    info.addr = m.address.ip_text();
    info.port = m.address.port;
    if (auto tags = gossip::decode_tags(m.meta)) info.tags = *tags;
    // Consul's serf status: 1 alive (suspect members are still listed alive), 3 left, 4 failed.
    info.status = m.state == gossip::NodeState::left ? 3 : m.state == gossip::NodeState::dead ? 4 : 1;
    if (m.vsn.size() == 6) {
      info.protocol_min = m.vsn[0], info.protocol_max = m.vsn[1], info.protocol_cur = m.vsn[2];
      info.delegate_min = m.vsn[3], info.delegate_max = m.vsn[4], info.delegate_cur = m.vsn[5];
    }
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

namespace {

// The latency histograms, each name's series together (the text format wants them adjacent).
void add_histograms(http::MetricSet& out, const MetricSources& s) {
  for (std::size_t g = 0; g < http::kEndpointGroups; ++g) {
    for (std::size_t c = 0; c < http::kStatusClasses.size(); ++c) {
      const loop::Histogram& h = s.http.stats().latency[g][c];
      out.histograms.push_back({"hearsay.http.request_duration_seconds",
                                {{"group", std::string(http::to_string(static_cast<http::EndpointGroup>(g)))},
                                 {"status", std::string(http::kStatusClasses[c])}},
                                h});
    }
  }
  if (s.dns) out.histograms.push_back({"hearsay.dns.answer_duration_seconds", {}, s.dns->answer_latency()});
  out.histograms.push_back({"hearsay.gossip.probe_rtt_seconds", {}, s.membership.stats().probe_rtt});
  out.histograms.push_back({"hearsay.store.commit_duration_seconds", {}, s.commit_latency});
  out.histograms.push_back(
      {"hearsay.replication.propagation_lag_seconds", {}, s.catalog_replication.propagation_lag()});
}

// The process_* figures every Prometheus client library exports, under their usual names so
// stock dashboards and alerts find them.
void add_process_metrics(http::MetricSet& out) {
  const ProcessFigures p = read_process_figures();
  out.gauge("process.resident_memory_bytes", p.resident_bytes);
  out.gauge("process.virtual_memory_bytes", p.virtual_bytes);
  out.counter("process.cpu_seconds", p.cpu_seconds);
  out.gauge("process.open_fds", p.open_fds);
  out.gauge("process.max_fds", p.max_fds);
  out.gauge("process.start_time_seconds", p.start_time_seconds);
}

}  // namespace

http::MetricSet metric_table(const MetricSources& s) {
  http::MetricSet out;
  // Totals since start are counters; the few figures that go down are gauges.
  auto add = [&out](const char* name, std::uint64_t value) { out.counter(name, static_cast<double>(value)); };
  auto gauge = [&out](const char* name, std::uint64_t value) { out.gauge(name, static_cast<double>(value)); };
  const gossip::TransportStats t = s.transport ? s.transport->stats() : gossip::TransportStats{};
  add("hearsay.gossip.udp_in", t.udp_in);
  add("hearsay.gossip.udp_out", t.udp_out);
  add("hearsay.gossip.udp_send_failed", t.udp_send_failed);
  add("hearsay.gossip.streams_in", t.streams_in);
  add("hearsay.gossip.streams_out", t.streams_out);
  add("hearsay.gossip.streams_failed", t.streams_failed);
  add("hearsay.gossip.decrypt_failed", t.decrypt_failed);
  const gossip::MembershipStats& m = s.membership.stats();
  add("hearsay.gossip.packets_received", m.packets_received);
  add("hearsay.gossip.messages_dropped", m.messages_dropped + s.serf.stats().messages_dropped);
  for (std::size_t why = 1; why < gossip::kDropReasons; ++why) {  // 0 is "none"
    out.counter(std::string("hearsay.gossip.dropped.") + gossip::drop_reason_name(static_cast<gossip::DropReason>(why)),
                static_cast<double>(m.dropped[why]));
  }
  add("hearsay.gossip.probes", m.probes);
  add("hearsay.gossip.probes_failed", m.probes_failed);
  add("hearsay.gossip.probes_answered_over_tcp_only", m.probes_answered_over_tcp_only);
  add("hearsay.gossip.ports_unreachable", m.ports_unreachable);
  add("hearsay.gossip.refutations", m.refutations);
  gauge("hearsay.gossip.members_alive", s.membership.alive_count());
  gauge("hearsay.catalog.nodes", s.catalog.node_count());
  gauge("hearsay.catalog.services", s.catalog.service_count());
  gauge("hearsay.catalog.index", s.catalog.index());
  const gossip::ReplicationStats& r = s.replication.stats();
  gauge("hearsay.replication.entries", s.replication.entry_count());
  add("hearsay.replication.broadcasts_sent", r.broadcasts_sent);
  add("hearsay.replication.entries_applied", r.entries_applied);
  add("hearsay.replication.entries_stale", r.entries_stale);
  add("hearsay.replication.entries_rejected", r.entries_rejected);
  add("hearsay.replication.messages_invalid", r.messages_invalid);
  add("hearsay.replication.syncs_started", r.syncs_started);
  add("hearsay.replication.syncs_completed", r.syncs_completed);
  add("hearsay.replication.syncs_failed", r.syncs_failed);
  add("hearsay.replication.full_states_sent", r.full_states_sent);
  add("hearsay.replication.tombstones_dropped", r.tombstones_dropped);
  add("hearsay.replication.broadcasts_dropped", r.broadcasts_dropped);
  add("hearsay.replication.generations_started", r.generations_started);
  add("hearsay.replication.divergent_marks", r.divergent_marks);
  add("hearsay.replication.entries_awaiting_full", r.entries_awaiting_full);
  add("hearsay.replication.datagrams_not_broadcast", r.datagrams_not_broadcast);
  for (std::size_t kind = 1; kind < gossip::kDecodeErrorKinds; ++kind) {  // 0 is "none"
    out.counter(std::string("hearsay.replication.invalid.") + gossip::to_string(static_cast<gossip::DecodeError>(kind)),
                static_cast<double>(r.invalid_by_kind[kind]));
  }
  const catalog::StoreStats& st = s.store.stats();
  add("hearsay.store.commits", st.commits);
  add("hearsay.store.commit_failures", st.commit_failures);
  add("hearsay.store.records_reverted", st.records_reverted);
  const CatalogReplicationStats& c = s.catalog_replication.stats();
  add("hearsay.replication.records_applied", c.records_applied);
  add("hearsay.replication.records_removed", c.records_removed);
  add("hearsay.replication.records_invalid", c.records_invalid);
  gauge("hearsay.replication.records_waiting", c.records_waiting);
  add("hearsay.replication.conflicts_lost", c.conflicts_lost);
  const http::ServerStats& h = s.http.stats();
  add("hearsay.http.connections_accepted", h.connections_accepted);
  add("hearsay.http.connections_refused", h.connections_refused);
  add("hearsay.http.output_pauses", h.output_pauses);
  add("hearsay.http.parse_errors", h.parse_errors);
  add("hearsay.http.callback_errors", h.callback_errors);
  add("hearsay.http.requests", h.requests);
  add("hearsay.http.responses_2xx", h.responses_2xx);
  add("hearsay.http.responses_4xx", h.responses_4xx);
  add("hearsay.http.responses_5xx", h.responses_5xx);
  gauge("hearsay.http.blocking_queries_parked", s.blocking.parked_count());
  const http::ResponseCacheStats& rc = s.response_cache;
  add("hearsay.http.cache_hits", rc.hits);
  add("hearsay.http.cache_misses", rc.misses);
  if (s.https) {
    const http::ServerStats& hs = s.https->stats();
    add("hearsay.https.connections_accepted", hs.connections_accepted);
    add("hearsay.https.connections_refused", hs.connections_refused);
    add("hearsay.https.tls_handshakes", hs.tls.handshakes);
    add("hearsay.https.tls_handshake_failures", hs.tls.handshake_failures);
    add("hearsay.https.tls_handshake_timeouts", hs.tls.handshake_timeouts);
    add("hearsay.https.tls_record_errors", hs.tls.record_errors);
  }
  for (Listener l : {Listener::http, Listener::dns, Listener::gossip}) {
    const ListenerLimitStats& ls = s.limits.stats(l);
    const std::string prefix = std::string("hearsay.limits.") + listener_name(l) + ".";
    out.gauge(prefix + "connections_open", static_cast<double>(ls.open));
    out.counter(prefix + "refused_per_client", static_cast<double>(ls.refused_per_client));
    out.counter(prefix + "refused_total", static_cast<double>(ls.refused_total));
  }
  add("hearsay.gossip.streams_refused", t.streams_refused);
  if (s.dns) {
    add("hearsay.dns.tcp_refused", s.dns->tcp_refused());
    add("hearsay.dns.tcp_output_pauses", s.dns->tcp_output_pauses());
    const dns::DnsStats& d = s.dns->stats();
    add("hearsay.dns.queries", d.queries);
    add("hearsay.dns.dropped", d.dropped);
    add("hearsay.dns.formerr", d.formerr);
    add("hearsay.dns.notimp", d.notimp);
    add("hearsay.dns.refused", d.refused);
    add("hearsay.dns.nxdomain", d.nxdomain);
    add("hearsay.dns.trimmed", d.trimmed);
    add("hearsay.dns.forwarded", d.forwarded);
    add("hearsay.dns.servfail", d.servfail);
  }
  add_histograms(out, s);
  add_process_metrics(out);
  return out;
}

}  // namespace hearsay::agent
