// Filter expressions: a small tokenizer, a recursive-descent parser bounded in depth, and an
// evaluator over FieldLookup. Semantics follow go-bexpr (consul-compat.md 5.3).
#include "catalog/filter.h"

#include <algorithm>
#include <charconv>
#include <re2/re2.h>

namespace hearsay::catalog::filter {

enum class Op { eq, ne, is_empty, is_not_empty, in, not_in, contains, not_contains, matches, not_matches };

struct ExprNode {
  enum class Kind { op_and, op_or, op_not, match } kind;
  std::shared_ptr<const ExprNode> left, right;  // and/or: both; not: left
  Op op = Op::eq;
  std::vector<std::string> selector;
  std::string value;
  std::shared_ptr<const re2::RE2> regex;  // compiled once for matches
};

namespace {

const std::string kPrefix = "Failed to create boolean expression evaluator: ";

struct Token {
  enum class Kind { end, lparen, rparen, eq, ne, word, string } kind;
  std::string text;
  std::vector<std::string> index_parts;  // ["key"] parts following a word
};

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == '-' || c == '/' || c == ':';
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  // Reads a token; false with `error` set on bad input.
  bool next(Token& out, std::string& error) {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) ++pos_;
    out = Token{};
    if (pos_ >= text_.size()) return true;
    char c = text_[pos_];
    if (c == '(') return ++pos_, out.kind = Token::Kind::lparen, true;
    if (c == ')') return ++pos_, out.kind = Token::Kind::rparen, true;
    if (c == '=' || c == '!') {
      if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '=') {
        out.kind = c == '=' ? Token::Kind::eq : Token::Kind::ne;
        pos_ += 2;
        return true;
      }
      error = "unexpected '" + std::string(1, c) + "' at position " + std::to_string(pos_);
      return false;
    }
    if (c == '"' || c == '`') {
      out.kind = Token::Kind::string;
      return read_string(out.text, error);
    }
    if (is_word_char(c)) {
      out.kind = Token::Kind::word;
      while (pos_ < text_.size() && is_word_char(text_[pos_])) out.text += text_[pos_++];
      // Map index parts: Meta["key"] (only directly after a word).
      while (pos_ < text_.size() && text_[pos_] == '[') {
        ++pos_;
        std::string key;
        if (pos_ >= text_.size() || (text_[pos_] != '"' && text_[pos_] != '`')) {
          error = "expected a quoted key after '['";
          return false;
        }
        if (!read_string(key, error)) return false;
        if (pos_ >= text_.size() || text_[pos_] != ']') {
          error = "expected ']' after map key";
          return false;
        }
        ++pos_;
        out.index_parts.push_back(std::move(key));
      }
      return true;
    }
    error = "unexpected character '" + std::string(1, c) + "' at position " + std::to_string(pos_);
    return false;
  }

 private:
  bool read_string(std::string& out, std::string& error) {
    const char quote = text_[pos_++];
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == quote) return true;
      if (c == '\\' && quote == '"') {
        if (pos_ >= text_.size()) break;
        char e = text_[pos_++];
        switch (e) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          case '\\': out += '\\'; break;
          case '"': out += '"'; break;
          case '\'': out += '\''; break;
          default:
            error = std::string("invalid escape \\") + e + " in string";
            return false;
        }
        continue;
      }
      out += c;
    }
    error = "unterminated string";
    return false;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

class Parser {
 public:
  explicit Parser(std::string_view text) : lexer_(text) {}

  std::shared_ptr<const ExprNode> parse(std::string& error) {
    if (!advance()) return fail(error);
    auto root = parse_or(0);
    if (!root) return fail(error);
    if (tok_.kind != Token::Kind::end) {
      error_ = "unexpected '" + describe(tok_) + "' after the expression";
      return fail(error);
    }
    return root;
  }

 private:
  std::shared_ptr<const ExprNode> fail(std::string& error) {
    error = kPrefix + error_;
    return nullptr;
  }
  static std::string describe(const Token& t) {
    switch (t.kind) {
      case Token::Kind::end: return "end of input";
      case Token::Kind::lparen: return "(";
      case Token::Kind::rparen: return ")";
      case Token::Kind::eq: return "==";
      case Token::Kind::ne: return "!=";
      default: return t.text;
    }
  }
  bool advance() { return lexer_.next(tok_, error_); }
  bool is_word(std::string_view w) const { return tok_.kind == Token::Kind::word && tok_.text == w && tok_.index_parts.empty(); }

  std::shared_ptr<const ExprNode> binary(ExprNode::Kind kind, std::shared_ptr<const ExprNode> l, std::shared_ptr<const ExprNode> r) {
    auto n = std::make_shared<ExprNode>();
    n->kind = kind;
    n->left = std::move(l);
    n->right = std::move(r);
    return n;
  }

  std::shared_ptr<const ExprNode> parse_or(int depth) {
    auto left = parse_and(depth);
    while (left && is_word("or")) {
      if (!advance()) return nullptr;
      auto right = parse_and(depth);
      if (!right) return nullptr;
      left = binary(ExprNode::Kind::op_or, left, right);
    }
    return left;
  }

  std::shared_ptr<const ExprNode> parse_and(int depth) {
    auto left = parse_unary(depth);
    while (left && is_word("and")) {
      if (!advance()) return nullptr;
      auto right = parse_unary(depth);
      if (!right) return nullptr;
      left = binary(ExprNode::Kind::op_and, left, right);
    }
    return left;
  }

  std::shared_ptr<const ExprNode> parse_unary(int depth) {
    if (depth > kMaxNestingDepth) {
      error_ = "expression nested too deeply (limit " + std::to_string(kMaxNestingDepth) + ")";
      return nullptr;
    }
    if (is_word("not")) {
      if (!advance()) return nullptr;
      auto inner = parse_unary(depth + 1);
      if (!inner) return nullptr;
      return binary(ExprNode::Kind::op_not, inner, nullptr);
    }
    if (tok_.kind == Token::Kind::lparen) {
      if (!advance()) return nullptr;
      auto inner = parse_or(depth + 1);
      if (!inner) return nullptr;
      if (tok_.kind != Token::Kind::rparen) {
        error_ = "expected ')' but found '" + describe(tok_) + "'";
        return nullptr;
      }
      if (!advance()) return nullptr;
      return inner;
    }
    return parse_match();
  }

  // A selector word with its index parts, split on '.'.
  static std::vector<std::string> selector_of(const Token& t) {
    std::vector<std::string> path;
    std::string_view text = t.text;
    while (true) {
      auto dot = text.find('.');
      path.emplace_back(text.substr(0, dot));
      if (dot == std::string_view::npos) break;
      text.remove_prefix(dot + 1);
    }
    for (const auto& k : t.index_parts) path.push_back(k);
    return path;
  }
  static bool valid_selector(const Token& t) {
    if (t.kind != Token::Kind::word || t.text.empty()) return false;
    const char c = t.text[0];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
    for (const auto& part : selector_of(t)) {
      if (part.empty()) return false;
    }
    return true;
  }
  bool read_value(std::string& out) {
    if (tok_.kind != Token::Kind::word && tok_.kind != Token::Kind::string) {
      error_ = "expected a value but found '" + describe(tok_) + "'";
      return false;
    }
    if (tok_.kind == Token::Kind::word && !tok_.index_parts.empty()) {
      error_ = "a value cannot have an index";
      return false;
    }
    out = tok_.text;
    return advance();
  }

  std::shared_ptr<const ExprNode> parse_match() {
    auto n = std::make_shared<ExprNode>();
    n->kind = ExprNode::Kind::match;
    if (tok_.kind != Token::Kind::word && tok_.kind != Token::Kind::string) {
      error_ = "expected a selector or value but found '" + describe(tok_) + "'";
      return nullptr;
    }
    Token first = tok_;
    if (!advance()) return nullptr;
    bool negated = false;
    if (is_word("not")) {
      negated = true;
      if (!advance()) return nullptr;
    }
    if (is_word("in")) {  // Val ["not"] in Sel
      if (first.kind == Token::Kind::word && !first.index_parts.empty()) {
        error_ = "a value cannot have an index";
        return nullptr;
      }
      n->value = first.text;
      n->op = negated ? Op::not_in : Op::in;
      if (!advance()) return nullptr;
      if (!valid_selector(tok_)) {
        error_ = "expected a selector after 'in' but found '" + describe(tok_) + "'";
        return nullptr;
      }
      n->selector = selector_of(tok_);
      if (!advance()) return nullptr;
      return n;
    }
    if (!valid_selector(first)) {
      error_ = "'" + first.text + "' is not a selector";
      return nullptr;
    }
    n->selector = selector_of(first);
    if (!negated && (tok_.kind == Token::Kind::eq || tok_.kind == Token::Kind::ne)) {
      n->op = tok_.kind == Token::Kind::eq ? Op::eq : Op::ne;
      if (!advance() || !read_value(n->value)) return nullptr;
      return n;
    }
    if (!negated && is_word("is")) {
      if (!advance()) return nullptr;
      bool is_not = false;
      if (is_word("not")) {
        is_not = true;
        if (!advance()) return nullptr;
      }
      if (!is_word("empty")) {
        error_ = "expected 'empty' after 'is' but found '" + describe(tok_) + "'";
        return nullptr;
      }
      n->op = is_not ? Op::is_not_empty : Op::is_empty;
      if (!advance()) return nullptr;
      return n;
    }
    if (is_word("contains") || is_word("matches")) {
      const bool contains = is_word("contains");
      n->op = contains ? (negated ? Op::not_contains : Op::contains) : (negated ? Op::not_matches : Op::matches);
      if (!advance() || !read_value(n->value)) return nullptr;
      if (!contains) {
        if (n->value.size() > kMaxRegexLength) {
          error_ = "regular expression too long (limit " + std::to_string(kMaxRegexLength) + ")";
          return nullptr;
        }
        // RE2: Go's regexp syntax (as go-bexpr uses) and linear-time matching, so a hostile
        // pattern cannot stall the loop the way a backtracking engine can.
        re2::RE2::Options options;
        options.set_log_errors(false);
        options.set_max_mem(1 << 20);
        auto re = std::make_shared<const re2::RE2>(n->value, options);
        if (!re->ok()) {
          error_ = "invalid regular expression \"" + n->value + "\": " + re->error();
          return nullptr;
        }
        n->regex = std::move(re);
      }
      return n;
    }
    error_ = "expected a match operator after '" + first.text + "' but found '" + describe(tok_) + "'";
    return nullptr;
  }

  Lexer lexer_;
  Token tok_;
  std::string error_;
};

std::string joined(const std::vector<std::string>& path) {
  std::string out;
  for (const auto& p : path) out += (out.empty() ? "" : ".") + p;
  return out;
}

// The typed comparison value for ==/!=, or an error for a value of the wrong type.
std::variant<bool, std::string> equals(const Value& field, const std::string& value, const std::vector<std::string>& sel) {
  if (const auto* s = std::get_if<std::string>(&field)) return *s == value;
  if (const auto* i = std::get_if<std::int64_t>(&field)) {
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || end != value.data() + value.size()) {
      return "value \"" + value + "\" is not a number, as " + joined(sel) + " is";
    }
    return *i == v;
  }
  if (const auto* b = std::get_if<bool>(&field)) {
    if (value != "true" && value != "false") return "value \"" + value + "\" is not true or false, as " + joined(sel) + " is";
    return *b == (value == "true");
  }
  return "cannot compare " + joined(sel) + " with == or !=; use 'in', 'contains' or 'is empty'";
}

std::variant<bool, std::string> evaluate(const ExprNode& n, const Lookup& lookup, int depth) {
  switch (n.kind) {
    case ExprNode::Kind::op_not: {
      auto r = evaluate(*n.left, lookup, depth + 1);
      if (auto* b = std::get_if<bool>(&r)) return !*b;
      return r;
    }
    case ExprNode::Kind::op_and:
    case ExprNode::Kind::op_or: {
      auto l = evaluate(*n.left, lookup, depth + 1);
      auto* lb = std::get_if<bool>(&l);
      if (!lb) return l;
      if (n.kind == ExprNode::Kind::op_and && !*lb) return false;
      if (n.kind == ExprNode::Kind::op_or && *lb) return true;
      return evaluate(*n.right, lookup, depth + 1);
    }
    case ExprNode::Kind::match: break;
  }
  FieldLookup f = lookup(n.selector);
  if (f.kind == FieldLookup::Kind::unknown_selector) return "Selector \"" + joined(n.selector) + "\" is not valid";
  const bool missing = f.kind == FieldLookup::Kind::missing_key;
  auto membership = [&]() -> std::variant<bool, std::string> {
    if (missing) return false;
    if (const auto* s = std::get_if<std::string>(&f.value)) return s->find(n.value) != std::string::npos;
    if (const auto* l = std::get_if<std::vector<std::string>>(&f.value)) {
      return std::find(l->begin(), l->end(), n.value) != l->end();
    }
    if (const auto* m = std::get_if<StringMap>(&f.value)) return m->count(n.value) > 0;
    return joined(n.selector) + " does not support 'in' or 'contains'";
  };
  auto negate = [](std::variant<bool, std::string> r) -> std::variant<bool, std::string> {
    if (auto* b = std::get_if<bool>(&r)) return !*b;
    return r;
  };
  switch (n.op) {
    case Op::eq: return missing ? std::variant<bool, std::string>(false) : equals(f.value, n.value, n.selector);
    case Op::ne: return missing ? std::variant<bool, std::string>(true) : negate(equals(f.value, n.value, n.selector));
    case Op::is_empty:
    case Op::is_not_empty: {
      bool empty = true;
      if (!missing) {
        if (const auto* s = std::get_if<std::string>(&f.value)) empty = s->empty();
        else if (const auto* l = std::get_if<std::vector<std::string>>(&f.value)) empty = l->empty();
        else if (const auto* m = std::get_if<StringMap>(&f.value)) empty = m->empty();
        else return joined(n.selector) + " does not support 'is empty'";
      }
      return n.op == Op::is_empty ? empty : !empty;
    }
    case Op::in:
    case Op::contains: return membership();
    case Op::not_in:
    case Op::not_contains: return negate(membership());
    case Op::matches:
    case Op::not_matches: {
      bool matched = false;
      if (!missing) {
        const auto* s = std::get_if<std::string>(&f.value);
        if (!s) return joined(n.selector) + " does not support 'matches'";
        matched = re2::RE2::PartialMatch(*s, *n.regex);
      }
      return n.op == Op::matches ? matched : !matched;
    }
  }
  return false;
}

}  // namespace

std::variant<Filter, std::string> Filter::parse(std::string_view text) {
  if (text.size() > kMaxExpressionLength) {
    return kPrefix + "expression too long (limit " + std::to_string(kMaxExpressionLength) + " bytes)";
  }
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return kPrefix + "empty expression";
  std::string error;
  auto root = Parser(text).parse(error);
  if (!root) return error;
  return Filter(std::move(root));
}

std::variant<bool, std::string> Filter::matches(const Lookup& lookup) const {
  try {
    return evaluate(*root_, lookup, 0);
  } catch (const std::exception& e) {
    return std::string("filter evaluation failed: ") + e.what();
  }
}

}  // namespace hearsay::catalog::filter
