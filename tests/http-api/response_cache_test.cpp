// ResponseCache: hits only for the same key and index; body-shaping parameters are in the key,
// waiting and consistency parameters are not; size stays bounded.
#include <catch2/catch.hpp>

#include "http-api/response_cache.h"

using namespace hearsay::http;

namespace {
Request get(std::string path, std::vector<std::pair<std::string, std::string>> query) {
  Request r;
  r.method = "GET";
  r.path = std::move(path);
  r.query = std::move(query);
  return r;
}
}  // namespace

TEST_CASE("cache keys keep what shapes the body and drop what does not", "[unit]") {
  auto a = ResponseCache::key_of(get("/v1/health/service/web", {{"passing", ""}, {"index", "5"}, {"wait", "10s"}}));
  auto b = ResponseCache::key_of(get("/v1/health/service/web", {{"stale", ""}, {"passing", ""}, {"token", "t"}}));
  auto c = ResponseCache::key_of(get("/v1/health/service/web", {}));
  auto d = ResponseCache::key_of(get("/v1/health/service/web", {{"tag", "a"}, {"passing", ""}}));
  auto e = ResponseCache::key_of(get("/v1/health/service/web", {{"passing", ""}, {"tag", "a"}}));
  CHECK(a == b);
  CHECK(a != c);
  CHECK(d == e);  // order of different parameters does not matter
}

TEST_CASE("a cached answer is served only at the same index", "[unit]") {
  ResponseCache cache;
  Response r = Response::json("[1]");
  CHECK(cache.find("k", 7) == nullptr);
  cache.store("k", 7, r);
  REQUIRE(cache.find("k", 7) != nullptr);
  CHECK(cache.find("k", 7)->body == "[1]");
  CHECK(cache.find("k", 8) == nullptr);
  cache.store("k", 8, Response::json("[2]"));
  CHECK(cache.find("k", 7) == nullptr);
  CHECK(cache.find("k", 8)->body == "[2]");
  CHECK(cache.stats().hits == 3);
}

TEST_CASE("the cache stays within its byte budget", "[unit]") {
  ResponseCache cache(64 * 1024);
  for (int i = 0; i < 1000; ++i) cache.store("k" + std::to_string(i), 1, Response::json(std::string(1000, 'x')));
  CHECK(cache.stats().evictions > 0);
  cache.store("huge", 1, Response::json(std::string(60 * 1024, 'x')));
  CHECK(cache.find("huge", 1) == nullptr);  // larger than a quarter of the budget: not kept
}
