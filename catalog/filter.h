// Consul's `filter` query parameter: the go-bexpr expression subset of consul-compat.md 5.3.
//   expr := or;  or := and ("or" and)*;  and := unary ("and" unary)*;
//   unary := "not" unary | "(" or ")" | match
//   match := Sel ("==" | "!=") Val | Sel "is" ["not"] "empty" | Val ["not"] "in" Sel
//          | Sel ["not"] "contains" Val | Sel ["not"] "matches" Val
// `matches` uses RE2 (Go regexp syntax, linear time). Values: "double-quoted" (Go escapes), `raw`, numbers, true/false, or bare words taken as
// strings (so `Service.Meta.version == local` works). Items are seen through a Lookup function,
// so this file knows nothing of nodes or services (filter_selectors.h adapts them).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "catalog/model.h"

namespace hearsay::catalog::filter {

using Value = std::variant<std::string, std::int64_t, bool, std::vector<std::string>, StringMap>;

// What an item says about a selector path such as {"Service", "Meta", "version"}.
struct FieldLookup {
  enum class Kind { found, missing_key, unknown_selector };
  Kind kind = Kind::unknown_selector;
  Value value;
  static FieldLookup found(Value v) { return {Kind::found, std::move(v)}; }
  static FieldLookup missing() { return {Kind::missing_key, {}}; }
  static FieldLookup unknown() { return {Kind::unknown_selector, {}}; }
};
using Lookup = std::function<FieldLookup(const std::vector<std::string>& path)>;

inline constexpr std::size_t kMaxExpressionLength = 4096;
inline constexpr int kMaxNestingDepth = 64;
inline constexpr std::size_t kMaxRegexLength = 256;

struct ExprNode;  // the parsed expression tree (filter.cpp)

class Filter {
 public:
  // The compiled filter, or an error text for a 400 answer.
  [[nodiscard]] static std::variant<Filter, std::string> parse(std::string_view text);
  // true/false, or an error text (unknown selector, value of the wrong type).
  [[nodiscard]] std::variant<bool, std::string> matches(const Lookup& lookup) const;

 private:
  explicit Filter(std::shared_ptr<const ExprNode> root) : root_(std::move(root)) {}
  std::shared_ptr<const ExprNode> root_;
};

}  // namespace hearsay::catalog::filter
