// RequestParser: request shapes, pipelining, byte-at-a-time input, chunked bodies, limits and
// malformed input (one case per check).
#include <catch2/catch.hpp>

#include "http-api/request_parser.h"

using namespace hearsay::http;

namespace {
// Feeds everything, collecting the requests (as a server does: take each, keep feeding).
std::vector<Request> parse_all(RequestParser& p, const std::string& bytes, std::size_t step = 0) {
  std::vector<Request> out;
  std::string pending;
  const std::size_t chunk = step == 0 ? std::max<std::size_t>(bytes.size(), 1) : step;
  for (std::size_t pos = 0; pos < bytes.size() && p.error() == ParseError::none; pos += chunk) {
    pending += bytes.substr(pos, chunk);
    for (;;) {
      std::size_t used = p.feed(pending.data(), pending.size());
      pending.erase(0, used);
      if (!p.has_request()) break;  // needs more bytes, or failed
      out.push_back(p.take_request());
    }
  }
  return out;
}
}  // namespace

TEST_CASE("a GET with a query is decoded", "[unit]") {
  RequestParser p;
  auto reqs = parse_all(p, "GET /v1/health/service/my%20web?passing&tag=a&tag=b%2Fc&q=x+y HTTP/1.1\r\nHost: h\r\n"
                           "X-Consul-Token: T\r\n\r\n");
  REQUIRE(reqs.size() == 1);
  const Request& r = reqs[0];
  CHECK(r.method == "GET");
  CHECK(r.path == "/v1/health/service/my web");
  CHECK(r.has_query("passing"));
  CHECK(*r.query_value("passing") == "");
  CHECK(r.query_values("tag") == std::vector<std::string>{"a", "b/c"});
  CHECK(*r.query_value("q") == "x y");
  CHECK(*r.header("x-consul-token") == "T");
  CHECK(r.keep_alive);
}

TEST_CASE("a PUT body arrives whole, also when fed byte by byte", "[unit]") {
  const std::string req = "PUT /v1/agent/service/register HTTP/1.1\r\nContent-Length: 12\r\n\r\n{\"Name\":\"x\"}";
  for (std::size_t step : {std::size_t{0}, std::size_t{1}, std::size_t{7}}) {
    RequestParser p;
    auto reqs = parse_all(p, req, step);
    REQUIRE(reqs.size() == 1);
    CHECK(reqs[0].body == "{\"Name\":\"x\"}");
  }
}

TEST_CASE("pipelined requests come out one at a time, in order", "[unit]") {
  RequestParser p;
  auto reqs = parse_all(p, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nPUT /c HTTP/1.1\r\nContent-Length: 1\r\n\r\nx");
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0].path == "/a");
  CHECK(reqs[1].path == "/b");
  CHECK(reqs[2].body == "x");
}

TEST_CASE("chunked request bodies are assembled", "[unit]") {
  RequestParser p;
  auto reqs = parse_all(p, "PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].body == "abcde");
}

TEST_CASE("HTTP/1.0 and Connection: close end keep-alive", "[unit]") {
  RequestParser p1;
  CHECK_FALSE(parse_all(p1, "GET / HTTP/1.0\r\n\r\n").at(0).keep_alive);
  RequestParser p2;
  CHECK_FALSE(parse_all(p2, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n").at(0).keep_alive);
}

TEST_CASE("an announced body over the limit is refused with 413", "[unit]") {
  ParserLimits limits;
  limits.max_body = 10;
  limits.max_discard = 100;
  SECTION("huge: refused before reading") {
    RequestParser p(limits);
    parse_all(p, "PUT /x HTTP/1.1\r\nContent-Length: 1000\r\n\r\n");
    CHECK(p.error() == ParseError::body_too_large);
    CHECK(p.error_status() == 413);
  }
  SECTION("moderately large: drained, then refused") {
    RequestParser p(limits);
    auto reqs = parse_all(p, "PUT /x HTTP/1.1\r\nContent-Length: 50\r\n\r\n" + std::string(50, 'a'));
    CHECK(reqs.empty());
    CHECK(p.error() == ParseError::body_too_large);
    CHECK(p.error_text().find("limit is 10 bytes") != std::string::npos);
  }
  SECTION("chunked, growing past the limit") {
    RequestParser p(limits);
    parse_all(p, "PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\naaaaaaaa\r\n8\r\naaaaaaaa\r\n0\r\n\r\n");
    CHECK(p.error() == ParseError::body_too_large);
  }
}

TEST_CASE("malformed requests are errors, one case each", "[unit]") {
  struct Case {
    std::string bytes;
    ParseError error;
    int status;
  };
  ParserLimits limits;
  limits.max_url = 64;
  limits.max_header_bytes = 128;
  const Case cases[] = {
      {"NOT A REQUEST\r\n\r\n", ParseError::malformed, 400},
      {"GET / HTTP/9.9\r\n\r\n", ParseError::malformed, 400},
      {"GET /%zz HTTP/1.1\r\n\r\n", ParseError::bad_escape, 400},
      {"GET /?a=%4 HTTP/1.1\r\n\r\n", ParseError::bad_escape, 400},
      {"GET /" + std::string(100, 'a') + " HTTP/1.1\r\n\r\n", ParseError::url_too_long, 414},
      {"GET / HTTP/1.1\r\nX: " + std::string(200, 'a') + "\r\n\r\n", ParseError::header_too_large, 431},
      {"PUT / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", ParseError::malformed, 400},
      {"\x16\x03\x01\x00\x05hello", ParseError::malformed, 400},
  };
  for (const Case& c : cases) {
    INFO(c.bytes.substr(0, 40));
    RequestParser p(limits);
    auto reqs = parse_all(p, c.bytes);
    CHECK(reqs.empty());
    CHECK(p.error() == c.error);
    CHECK(p.error_status() == c.status);
    CHECK(p.feed("GET / HTTP/1.1\r\n\r\n", 18) == 0);  // dead after an error
  }
}

TEST_CASE("the end of input cuts a request off into a malformed one but not between requests", "[unit]") {
  RequestParser cut;
  CHECK(parse_all(cut, "GET /v1/agent/self HTTP/1.1\r\nHost").empty());
  CHECK(cut.error() == ParseError::none);  // more bytes could still come
  cut.end_of_input();
  CHECK(cut.error() == ParseError::malformed);
  CHECK(cut.error_status() == 400);
  CHECK(cut.error_text().find("incomplete request") != std::string::npos);

  RequestParser whole;
  CHECK(parse_all(whole, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n").size() == 1);
  whole.end_of_input();
  CHECK(whole.error() == ParseError::none);

  RequestParser nothing;
  nothing.end_of_input();
  CHECK(nothing.error() == ParseError::none);
}
