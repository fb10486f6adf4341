// A parser of the HCL subset Consul's agent configs use (HCL 1, hashicorp/hcl v1): attributes
// `key = value`, blocks `key { ... }` and labelled blocks `key "label" { ... }` (= key { label
// { ... } }), object literals, lists, strings with escapes, heredocs (<<EOF, <<-EOF), numbers,
// booleans and the three comment forms. The result is the JSON tree Consul would decode the same
// file to, so the JSON config reader (config_file.h) validates both formats with one code path.
// Pure (bytes in, a RapidJSON document or an error out): the ACL rule language reuses it.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <string_view>

namespace hearsay::catalog {

// A key given more than once in one body becomes an array of its values, as HCL 1 decodes
// repeated blocks (`service { } service { }` -> "service": [{...}, {...}]); when every value is
// a list, the lists are concatenated instead (`retry_join = [a]` twice -> [a, b]).
// Returns "" and fills `out` (an object), or a message "line L, column C: what".
// Nesting deeper than kMaxHclDepth is refused rather than recursed into.
inline constexpr int kMaxHclDepth = 64;
std::string parse_hcl(std::string_view text, rapidjson::Document& out);

}  // namespace hearsay::catalog
