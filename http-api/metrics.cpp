// Formats a MetricSet as Prometheus text (exposition format 0.0.4) or as Consul's JSON.
#include "http-api/metrics.h"

#include <charconv>
#include <cmath>

#include "http-api/json_encode.h"

namespace hearsay::http {
namespace {

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == ':';
}

// Go's strconv.FormatFloat(v, 'g', -1, 64) as the Prometheus client writes sample values:
// the shortest text that reads back to the same double, and +Inf / -Inf / NaN spelled so.
void append_number(std::string& out, double v) {
  if (std::isnan(v)) return void(out += "NaN");
  if (std::isinf(v)) return void(out += v > 0 ? "+Inf" : "-Inf");
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, ec == std::errc() ? end : buf);
}

// Label values escape backslash, double quote and line feed (the format's only escapes).
void append_label_value(std::string& out, const std::string& value) {
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

// {a="x",b="y"} with an optional extra pair last (a histogram bucket's le); nothing when empty.
void append_labels(std::string& out, const MetricLabels& labels, const char* extra_name = nullptr,
                   const std::string& extra_value = {}) {
  if (labels.empty() && !extra_name) return;
  out += '{';
  bool first = true;
  auto add = [&](const std::string& name, const std::string& value) {
    if (!first) out += ',';
    first = false;
    out += prometheus_label_name(name);
    out += "=\"";
    append_label_value(out, value);
    out += '"';
  };
  for (const auto& [name, value] : labels) add(name, value);
  if (extra_name) add(extra_name, extra_value);
  out += '}';
}

std::string bound_text(std::size_t i) {
  if (i >= loop::Histogram::kBoundsNs.size()) return "+Inf";
  std::string out;
  append_number(out, static_cast<double>(loop::Histogram::kBoundsNs[i]) / 1e9);
  return out;
}

void write_labels_json(JsonWriter& w, const MetricLabels& labels) {
  w.StartObject();
  for (const auto& [name, value] : labels) write_string_field(w, name, value);
  w.EndObject();
}

}  // namespace

std::string prometheus_name(const std::string& dotted) {
  std::string out;
  out.reserve(dotted.size() + 1);
  if (!dotted.empty() && dotted[0] >= '0' && dotted[0] <= '9') out += '_';
  for (char c : dotted) out += name_char(c) ? c : '_';
  return out;
}

std::string prometheus_label_name(const std::string& name) {
  std::string out = prometheus_name(name);
  for (char& c : out) {
    if (c == ':') c = '_';
  }
  return out;
}

std::string to_prometheus_text(const MetricSet& set) {
  std::string out;
  out.reserve(set.metrics.size() * 64 + set.histograms.size() * 1200);
  std::string previous_metric;  // series of one name share one TYPE line (they are adjacent)
  for (const Metric& m : set.metrics) {
    std::string name = prometheus_name(m.name);
    const bool counter = m.kind == Metric::Kind::counter;
    if (counter && !name.ends_with("_total")) name += "_total";
    if (name != previous_metric) out += "# TYPE " + name + (counter ? " counter\n" : " gauge\n");
    previous_metric = name;
    out += name;
    append_labels(out, m.labels);
    out += ' ';
    append_number(out, m.value);
    out += '\n';
  }
  const std::string* previous = nullptr;
  for (const HistogramMetric& h : set.histograms) {
    const std::string name = prometheus_name(h.name);
    if (!previous || *previous != h.name) out += "# TYPE " + name + " histogram\n";
    previous = &h.name;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < loop::Histogram::kBuckets; ++i) {
      cumulative += h.histogram.bucket(i);
      out += name + "_bucket";
      append_labels(out, h.labels, "le", bound_text(i));
      out += ' ';
      append_number(out, static_cast<double>(cumulative));
      out += '\n';
    }
    out += name + "_sum";
    append_labels(out, h.labels);
    out += ' ';
    append_number(out, static_cast<double>(h.histogram.sum_ns()) / 1e9);
    out += '\n' + name + "_count";
    append_labels(out, h.labels);
    out += ' ';
    append_number(out, static_cast<double>(cumulative));
    out += '\n';
  }
  return out;
}

std::string to_consul_json(const MetricSet& set) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  const double uptime = set.uptime_seconds > 0 ? set.uptime_seconds : 1;
  w.StartObject();
  write_string_field(w, "Timestamp", "");
  w.Key("Gauges");
  w.StartArray();
  for (const Metric& m : set.metrics) {
    if (m.kind != Metric::Kind::gauge) continue;
    w.StartObject();
    write_string_field(w, "Name", m.name);
    w.Key("Value"), w.Double(m.value);
    w.Key("Labels"), write_labels_json(w, m.labels);
    w.EndObject();
  }
  w.EndArray();
  w.Key("Points"), w.StartArray(), w.EndArray();
  w.Key("Counters");
  w.StartArray();
  for (const Metric& m : set.metrics) {
    if (m.kind != Metric::Kind::counter) continue;
    w.StartObject();
    write_string_field(w, "Name", m.name);
    w.Key("Count"), w.Double(m.value);
    w.Key("Rate"), w.Double(m.value / uptime);
    w.Key("Sum"), w.Double(m.value);
    w.Key("Labels"), write_labels_json(w, m.labels);
    w.EndObject();
  }
  w.EndArray();
  w.Key("Samples");
  w.StartArray();
  for (const HistogramMetric& h : set.histograms) {
    const std::uint64_t count = h.histogram.count();
    if (count == 0) continue;
    const double sum_ms = static_cast<double>(h.histogram.sum_ns()) / 1e6;
    w.StartObject();
    write_string_field(w, "Name", h.name);
    w.Key("Count"), w.Double(static_cast<double>(count));
    w.Key("Rate"), w.Double(sum_ms / uptime);
    w.Key("Sum"), w.Double(sum_ms);
    w.Key("Mean"), w.Double(sum_ms / static_cast<double>(count));
    w.Key("Labels"), write_labels_json(w, h.labels);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace hearsay::http
