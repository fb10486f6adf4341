// The HCL subset parser (catalog/hcl.h): each construct Consul configs use, compared with the JSON
// Consul decodes the same text to, and one malformed input per error path.
#include <catch2/catch.hpp>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "catalog/hcl.h"

using hearsay::catalog::parse_hcl;

namespace {

// The parsed tree as compact JSON, or "error: ..." with the parser's message.
std::string json_of(const std::string& hcl) {
  rapidjson::Document doc;
  const std::string error = parse_hcl(hcl, doc);
  if (!error.empty()) return "error: " + error;
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  doc.Accept(w);
  return buf.GetString();
}

}  // namespace

TEST_CASE("HCL attributes of every value type", "[unit]") {
  CHECK(json_of(R"(datacenter = "dc1"
port = 8500
ratio = 0.5
neg = -3
exp = 1e3
hex = 0x1F
on = true
off = false
list = ["a", "b",]
empty = []
)") == R"({"datacenter":"dc1","port":8500,"ratio":0.5,"neg":-3,"exp":1000.0,"hex":31,"on":true,"off":false,)"
          R"("list":["a","b"],"empty":[]})");
  CHECK(json_of("") == "{}");
  CHECK(json_of("\xEF\xBB\xBF" "a = 1") == R"({"a":1})");  // a byte order mark is skipped
  CHECK(json_of(R"("quoted key" = 1)") == R"({"quoted key":1})");
}

TEST_CASE("HCL blocks, nested blocks, labels and object literals", "[unit]") {
  CHECK(json_of(R"(ports { http = 8500  dns = 8600 })") == R"({"ports":{"http":8500,"dns":8600}})");
  CHECK(json_of("ports = {\n  http = 1,\n  dns = 2\n}") == R"({"ports":{"http":1,"dns":2}})");
  CHECK(json_of(R"(a { b { c = 1 } })") == R"({"a":{"b":{"c":1}}})");
  CHECK(json_of(R"(service "web" { port = 80 })") == R"({"service":{"web":{"port":80}}})");
  CHECK(json_of(R"(list = [{ a = 1 }, { b = 2 }])") == R"({"list":[{"a":1},{"b":2}]})");
  CHECK(json_of(R"(x: 1)") == R"({"x":1})");  // HCL 1 takes ':' as well
}

TEST_CASE("repeated HCL blocks become an array and repeated lists are concatenated", "[unit]") {
  CHECK(json_of("service { name = \"a\" }\nservice { name = \"b\" }") ==
        R"({"service":[{"name":"a"},{"name":"b"}]})");
  CHECK(json_of("retry_join = [\"a\"]\nretry_join = [\"b\", \"c\"]") == R"({"retry_join":["a","b","c"]})");
  // A key's position is its first appearance.
  CHECK(json_of("a = 1\nb = 2\na = 3") == R"({"a":[1,3],"b":2})");
}

TEST_CASE("HCL strings: escapes, interpolations and templates kept as text", "[unit]") {
  CHECK(json_of(R"(s = "tab\there \"q\" back\\slash \u00e9 \U0001F600")") ==
        "{\"s\":\"tab\\there \\\"q\\\" back\\\\slash \xC3\xA9 \xF0\x9F\x98\x80\"}");
  CHECK(json_of(R"(bind_addr = "{{ GetInterfaceIP \"eth0\" }}")") ==
        R"({"bind_addr":"{{ GetInterfaceIP \"eth0\" }}"})");
  CHECK(json_of(R"(x = "${var.a["k"]}")") == R"({"x":"${var.a[\"k\"]}"})");
}

TEST_CASE("HCL heredocs keep their lines and the indented form drops the common indentation", "[unit]") {
  CHECK(json_of("script = <<EOF\n#!/bin/sh\necho \"hi\"\nEOF\nnext = 1") ==
        R"({"script":"#!/bin/sh\necho \"hi\"\n","next":1})");
  CHECK(json_of("x = <<-EOT\n    a\n      b\n    EOT\n") == R"({"x":"a\n  b\n"})");
}

TEST_CASE("HCL comments of the three kinds", "[unit]") {
  CHECK(json_of("# hash\na = 1 // slashes\n/* block\n b = 2 */ c = 3") == R"({"a":1,"c":3})");
}

TEST_CASE("HCL errors name the line and column and what was wrong", "[unit]") {
  CHECK(json_of("a = 1\nb = ") == "error: line 2, column 5: unexpected end of input, expected a value");
  CHECK(json_of("a = \"open") == "error: line 1, column 10: unterminated string");
  CHECK(json_of("a { b = 1") == "error: line 1, column 10: block not closed by }");
  CHECK(json_of("}") == "error: line 1, column 1: unexpected }");
  CHECK(json_of("a = [1, 2") == "error: line 1, column 10: list not closed by ]");
  CHECK(json_of("a = yes") == "error: line 1, column 5: unquoted text \"yes\" (strings need quotes; booleans are "
                                "true and false)");
  CHECK(json_of("a = \"\\q\"") == "error: line 1, column 6: unknown escape \\q");
  CHECK(json_of("a = <<EOF\nno end\n") == "error: line 3, column 1: heredoc not closed by EOF");
  CHECK(json_of("/* never closed") == "error: line 1, column 1: unterminated /* comment");
  CHECK(json_of("a b") == "error: line 1, column 4: expected = or { after \"a\"");
  CHECK(json_of("= 1") == "error: line 1, column 1: expected a key");
  CHECK(json_of("a = 12abc") == "error: line 1, column 7: unexpected text after a number");
}

TEST_CASE("HCL nesting past the limit is refused, not recursed into", "[unit]") {
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "a {";
  CHECK(json_of(deep).find("nested deeper than 64 levels") != std::string::npos);
  std::string lists = "a = ";
  for (int i = 0; i < 100000; ++i) lists += "[";
  CHECK(json_of(lists).find("nested deeper than 64 levels") != std::string::npos);
}
