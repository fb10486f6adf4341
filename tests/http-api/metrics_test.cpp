// The metric formats (http-api/metrics.h): Prometheus text 0.0.4 as its parser reads it
// (TYPE lines, _total counters, cumulative buckets, label escaping) and Consul's JSON sections.
#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include "http-api/metrics.h"

using namespace hearsay;
using namespace hearsay::http;

TEST_CASE("prometheus names swap dots and other characters for underscores", "[unit]") {
  CHECK(prometheus_name("hearsay.dns.queries") == "hearsay_dns_queries");
  CHECK(prometheus_name("a-b:c") == "a_b:c");
  CHECK(prometheus_name("9lives") == "_9lives");
  CHECK(prometheus_label_name("odd-key.x:y") == "odd_key_x_y");
}

TEST_CASE("counters and gauges are typed and counters end in _total", "[unit]") {
  MetricSet set;
  set.counter("hearsay.http.requests", 12);
  set.counter("hearsay.limits.http.refused_total", 2);  // already "_total": not doubled
  set.gauge("hearsay.catalog.services", 3.5);
  set.gauge("hearsay.x", 1, {{"path", "a\"b\\c\nd"}});
  const std::string text = to_prometheus_text(set);
  CHECK(text ==
        "# TYPE hearsay_http_requests_total counter\nhearsay_http_requests_total 12\n"
        "# TYPE hearsay_limits_http_refused_total counter\nhearsay_limits_http_refused_total 2\n"
        "# TYPE hearsay_catalog_services gauge\nhearsay_catalog_services 3.5\n"
        "# TYPE hearsay_x gauge\nhearsay_x{path=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST_CASE("histograms are written as cumulative buckets with sum and count", "[unit]") {
  MetricSet set;
  loop::Histogram h;
  h.observe_ns(40'000);         // <= 50 µs
  h.observe_ns(3'000'000);      // <= 5 ms
  h.observe_ns(3'000'000);
  h.observe_ns(60'000'000'000);  // beyond 10 s: +Inf only
  set.histograms.push_back({"hearsay.t_seconds", {{"group", "catalog"}}, h});
  set.histograms.push_back({"hearsay.t_seconds", {{"group", "health"}}, {}});
  const std::string text = to_prometheus_text(set);
  CHECK(text.starts_with("# TYPE hearsay_t_seconds histogram\n"));
  CHECK(text.find("# TYPE", 1) == std::string::npos);  // one TYPE line for both series
  CHECK(text.find("hearsay_t_seconds_bucket{group=\"catalog\",le=\"5e-05\"} 1\n") != std::string::npos);
  CHECK(text.find("hearsay_t_seconds_bucket{group=\"catalog\",le=\"0.0025\"} 1\n") != std::string::npos);
  CHECK(text.find("hearsay_t_seconds_bucket{group=\"catalog\",le=\"0.005\"} 3\n") != std::string::npos);
  CHECK(text.find("hearsay_t_seconds_bucket{group=\"catalog\",le=\"10\"} 3\n") != std::string::npos);
  CHECK(text.find("hearsay_t_seconds_bucket{group=\"catalog\",le=\"+Inf\"} 4\n") != std::string::npos);
  CHECK(text.find("hearsay_t_seconds_sum{group=\"catalog\"} 60.00604\n") != std::string::npos);
  CHECK(text.find("hearsay_t_seconds_count{group=\"catalog\"} 4\n") != std::string::npos);
  CHECK(text.find("hearsay_t_seconds_count{group=\"health\"} 0\n") != std::string::npos);
}

TEST_CASE("consul json puts counters under Counters and gauges under Gauges", "[unit]") {
  MetricSet set;
  set.counter("hearsay.http.requests", 30);
  set.gauge("hearsay.catalog.services", 3);
  loop::Histogram h;
  h.observe_ns(2'000'000);
  set.histograms.push_back({"hearsay.t_seconds", {}, h});
  set.histograms.push_back({"hearsay.unused_seconds", {}, {}});
  set.uptime_seconds = 10;
  rapidjson::Document doc;
  doc.Parse(to_consul_json(set).c_str());
  REQUIRE(doc.IsObject());
  REQUIRE(doc["Gauges"].Size() == 1);
  CHECK(std::string(doc["Gauges"][0]["Name"].GetString()) == "hearsay.catalog.services");
  CHECK(doc["Gauges"][0]["Value"].GetDouble() == 3);
  REQUIRE(doc["Counters"].Size() == 1);
  CHECK(doc["Counters"][0]["Count"].GetDouble() == 30);
  CHECK(doc["Counters"][0]["Sum"].GetDouble() == 30);
  CHECK(doc["Counters"][0]["Rate"].GetDouble() == 3);
  REQUIRE(doc["Samples"].Size() == 1);  // the histogram without observations is left out
  CHECK(doc["Samples"][0]["Mean"].GetDouble() == 2);  // milliseconds, as go-metrics timers
}
