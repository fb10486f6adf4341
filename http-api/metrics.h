// The agent's metrics as /v1/agent/metrics answers them, in two forms: Consul's JSON (Gauges,
// Counters, Samples: go-metrics' MetricsSummary) and, with ?format=prometheus, the Prometheus
// text exposition format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
// Names are written once, dotted as Consul's ("hearsay.http.requests"); the Prometheus name
// swaps dots for underscores and gives counters their "_total". Pure: the agent fills a
// MetricSet from its parts' counters, this file only formats it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "loop/histogram.h"

namespace hearsay::http {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

struct Metric {
  enum class Kind { counter, gauge } kind = Kind::gauge;
  std::string name;  // dotted; a counter's total since the agent started
  double value = 0;
  MetricLabels labels;
};

// A latency histogram; series of one name must be adjacent in MetricSet::histograms.
struct HistogramMetric {
  std::string name;  // dotted, in seconds ("hearsay.http.request_duration_seconds")
  MetricLabels labels;
  loop::Histogram histogram;
};

struct MetricSet {
  std::vector<Metric> metrics;
  std::vector<HistogramMetric> histograms;
  double uptime_seconds = 0;  // Consul's rates are per second: totals over the agent's life

  void counter(std::string name, double value, MetricLabels labels = {}) {
    metrics.push_back({Metric::Kind::counter, std::move(name), value, std::move(labels)});
  }
  void gauge(std::string name, double value, MetricLabels labels = {}) {
    metrics.push_back({Metric::Kind::gauge, std::move(name), value, std::move(labels)});
  }
};

// Prometheus' name for a dotted one: every character outside [a-zA-Z0-9_:] becomes '_'
// ("hearsay.dns.queries" -> "hearsay_dns_queries"); a leading digit gets a '_' in front.
std::string prometheus_name(const std::string& dotted);

// A label name Prometheus accepts: every character outside [a-zA-Z0-9_] becomes '_', as its
// strutil.SanitizeLabelName does for consul_sd's meta labels; a leading digit gets a '_'.
std::string prometheus_label_name(const std::string& name);

// The text exposition format 0.0.4: one TYPE line per name, counters suffixed "_total",
// histograms as cumulative _bucket{le} series, _sum and _count.
std::string to_prometheus_text(const MetricSet& set);

// Consul's JSON: gauges under "Gauges" {Name, Value, Labels}; counters under "Counters" with
// Count and Sum the total since start and Rate = Sum / uptime; histograms under "Samples" in
// milliseconds (go-metrics timers), only those with observations.
std::string to_consul_json(const MetricSet& set);

}  // namespace hearsay::http
