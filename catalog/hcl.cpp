// HCL 1 subset -> JSON tree (hcl.h). A recursive-descent parser over a bounded cursor: every
// read checks the end first, nesting is capped, and the first error stops the parse with its
// line and column. Grammar (hashicorp/hcl v1 hcl/parser, as Consul's configs use it):
//   body   := { item [","] }
//   item   := key "=" value | key { key } "{" body "}"
//   key    := identifier | string
//   value  := string | heredoc | number | "true" | "false" | "[" [value {"," value} [","]] "]"
//           | "{" body "}"
#include "catalog/hcl.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <utility>
#include <vector>

namespace hearsay::catalog {
namespace {

using rapidjson::Value;

struct ParseError {
  std::size_t offset;
  std::string what;
};

class Parser {
 public:
  Parser(std::string_view text, rapidjson::Document::AllocatorType& alloc) : s_(text), alloc_(alloc) {}

  // The whole text as one body.
  Value top() {
    if (s_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // a UTF-8 byte order mark
    return parse_body(false, 0);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw ParseError{pos_, what}; }
  bool at_end() const { return pos_ >= s_.size(); }
  char peek(std::size_t ahead = 0) const { return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0'; }

  // Whitespace, newlines and comments (#, //, /* */) are all separators here.
  void skip_space() {
    while (!at_end()) {
      const char c = peek();
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        ++pos_;
      } else if (c == '#' || (c == '/' && peek(1) == '/')) {
        while (!at_end() && peek() != '\n') ++pos_;
      } else if (c == '/' && peek(1) == '*') {
        const std::size_t close = s_.find("*/", pos_ + 2);
        if (close == std::string_view::npos) fail("unterminated /* comment");
        pos_ = close + 2;
      } else {
        return;
      }
    }
  }

  static bool ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
  static bool ident_char(char c) { return ident_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.'; }

  std::string parse_identifier() {
    const std::size_t start = pos_;
    while (!at_end() && ident_char(peek())) ++pos_;
    return std::string(s_.substr(start, pos_ - start));
  }

  // A key or block label: an identifier or a quoted string.
  std::string parse_key() {
    if (peek() == '"') return parse_string();
    if (!ident_start(peek())) fail(at_end() ? "unexpected end of input, expected a key" : "expected a key");
    return parse_identifier();
  }

  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::uint32_t parse_hex(int digits) {
    std::uint32_t v = 0;
    for (int i = 0; i < digits; ++i) {
      const char c = peek();
      int d = -1;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      if (d < 0) fail("bad \\u escape: expected a hex digit");
      v = v * 16 + static_cast<std::uint32_t>(d);
      ++pos_;
    }
    return v;
  }

  // "..." with Go's escapes. ${...} interpolations are kept as written (Consul reads them as
  // text, as go-sockaddr's {{ }} templates), quotes inside them included.
  std::string parse_string() {
    ++pos_;  // the opening quote
    std::string out;
    while (true) {
      if (at_end() || peek() == '\n') fail("unterminated string");
      const char c = peek();
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c == '$' && peek(1) == '{') {
        out += "${";
        pos_ += 2;
        for (int depth = 1; depth > 0; ++pos_) {
          if (at_end() || peek() == '\n') fail("unterminated ${ } in a string");
          if (peek() == '{') ++depth;
          else if (peek() == '}') --depth;
          out += peek();
        }
        continue;
      }
      if (c != '\\') {
        out += c;
        ++pos_;
        continue;
      }
      ++pos_;
      const char e = peek();
      ++pos_;
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'v': out += '\v'; break;
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'u': append_utf8(out, parse_hex(4)); break;
        case 'U': {
          const std::uint32_t cp = parse_hex(8);
          if (cp > 0x10FFFF) fail("bad \\U escape: beyond Unicode");
          append_utf8(out, cp);
          break;
        }
        default: pos_ -= 2; fail(std::string("unknown escape \\") + (e ? std::string(1, e) : std::string()));
      }
    }
  }

  // <<EOF ... EOF, or <<-EOF whose lines lose their common indentation. The text keeps its
  // final newline, as HCL's does.
  std::string parse_heredoc() {
    pos_ += 2;
    const bool indented = peek() == '-';
    if (indented) ++pos_;
    const std::string anchor = parse_identifier();
    if (anchor.empty()) fail("expected a heredoc anchor after <<");
    if (peek() == '\r') ++pos_;
    if (peek() != '\n') fail("a heredoc anchor must end its line");
    ++pos_;
    std::vector<std::string_view> lines;
    while (true) {
      if (at_end()) fail("heredoc not closed by " + anchor);
      std::size_t eol = s_.find('\n', pos_);
      if (eol == std::string_view::npos) eol = s_.size();
      std::string_view line = s_.substr(pos_, eol - pos_);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      pos_ = eol < s_.size() ? eol + 1 : eol;
      const std::size_t first = line.find_first_not_of(" \t");
      if (first != std::string_view::npos && line.substr(first) == anchor) {
        if (pos_ > 0 && s_[pos_ - 1] == '\n') --pos_;  // the newline ends the item, not the heredoc
        break;
      }
      lines.push_back(line);
    }
    std::size_t indent = std::string_view::npos;
    if (indented) {
      for (std::string_view line : lines) {
        const std::size_t first = line.find_first_not_of(" \t");
        if (first != std::string_view::npos && first < indent) indent = first;
      }
    }
    std::string out;
    for (std::string_view line : lines) {
      if (indented && indent != std::string_view::npos) line.remove_prefix(std::min(indent, line.size()));
      out.append(line);
      out += '\n';
    }
    return out;
  }

  Value parse_number() {
    const std::size_t start = pos_;
    if (peek() == '-' || peek() == '+') ++pos_;
    if (peek() == '0' && (peek(1) == 'x' || peek(1) == 'X')) {
      pos_ += 2;
      const std::size_t digits = pos_;
      while (!at_end() && std::isxdigit(static_cast<unsigned char>(peek()))) ++pos_;
      if (pos_ == digits || pos_ - digits > 15) fail("bad hex number");
      const std::string text(s_.substr(digits, pos_ - digits));
      const auto v = static_cast<std::int64_t>(std::strtoull(text.c_str(), nullptr, 16));
      return Value(s_[start] == '-' ? -v : v);
    }
    bool is_float = false;
    while (!at_end() && std::isdigit(static_cast<unsigned char>(peek()))) ++pos_;
    if (peek() == '.' && std::isdigit(static_cast<unsigned char>(peek(1)))) {
      is_float = true;
      ++pos_;
      while (!at_end() && std::isdigit(static_cast<unsigned char>(peek()))) ++pos_;
    }
    if (peek() == 'e' || peek() == 'E') {
      is_float = true;
      ++pos_;
      if (peek() == '-' || peek() == '+') ++pos_;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("bad number exponent");
      while (!at_end() && std::isdigit(static_cast<unsigned char>(peek()))) ++pos_;
    }
    const std::string text(s_.substr(start, pos_ - start));
    if (text == "-" || text == "+" || text.empty()) fail("expected a number");
    if (ident_start(peek())) fail("unexpected text after a number");
    if (!is_float) {
      errno = 0;
      const long long v = std::strtoll(text.c_str(), nullptr, 10);
      if (errno == 0) return Value(static_cast<std::int64_t>(v));
    }
    const double d = std::strtod(text.c_str(), nullptr);  // also integers past 64 bits, as JSON
    if (!std::isfinite(d)) fail("number out of range");
    return Value(d);
  }

  Value parse_list(int depth) {
    ++pos_;  // [
    Value list(rapidjson::kArrayType);
    while (true) {
      skip_space();
      if (at_end()) fail("list not closed by ]");
      if (peek() == ']') {
        ++pos_;
        return list;
      }
      list.PushBack(parse_value(depth + 1), alloc_);
      skip_space();
      if (at_end()) fail("list not closed by ]");
      if (peek() == ',') ++pos_;
      else if (peek() != ']') fail("expected , or ] in a list");
    }
  }

  Value parse_value(int depth) {
    if (depth > kMaxHclDepth) fail("nested deeper than " + std::to_string(kMaxHclDepth) + " levels");
    skip_space();
    const char c = peek();
    if (at_end()) fail("unexpected end of input, expected a value");
    if (c == '"') {
      const std::string text = parse_string();
      return Value(text.c_str(), static_cast<rapidjson::SizeType>(text.size()), alloc_);
    }
    if (c == '<' && peek(1) == '<') {
      const std::string text = parse_heredoc();
      return Value(text.c_str(), static_cast<rapidjson::SizeType>(text.size()), alloc_);
    }
    if (c == '[') return parse_list(depth);
    if (c == '{') {
      ++pos_;
      return parse_body(true, depth + 1);
    }
    if (c == '-' || c == '+' || std::isdigit(static_cast<unsigned char>(c))) return parse_number();
    if (ident_start(c)) {
      const std::size_t start = pos_;
      const std::string word = parse_identifier();
      if (word == "true") return Value(true);
      if (word == "false") return Value(false);
      pos_ = start;
      fail("unquoted text \"" + word + "\" (strings need quotes; booleans are true and false)");
    }
    fail(std::string("unexpected character '") + c + "'");
  }

  // A key's values in order of appearance; folded into the object at the body's end.
  struct Entry {
    std::string key;
    std::vector<Value> values;
  };

  Value fold(std::vector<Entry>& entries) {
    Value object(rapidjson::kObjectType);
    for (Entry& e : entries) {
      Value name(e.key.c_str(), static_cast<rapidjson::SizeType>(e.key.size()), alloc_);
      if (e.values.size() == 1) {
        object.AddMember(name, e.values.front(), alloc_);
        continue;
      }
      bool all_lists = true;
      for (const Value& v : e.values) all_lists = all_lists && v.IsArray();
      Value list(rapidjson::kArrayType);
      for (Value& v : e.values) {
        if (all_lists) {
          for (Value& item : v.GetArray()) list.PushBack(item, alloc_);
        } else {
          list.PushBack(v, alloc_);
        }
      }
      object.AddMember(name, list, alloc_);
    }
    return object;
  }

  // Items up to the closing brace (nested) or the end of the text (top level).
  Value parse_body(bool nested, int depth) {
    if (depth > kMaxHclDepth) fail("nested deeper than " + std::to_string(kMaxHclDepth) + " levels");
    std::vector<Entry> entries;
    auto add = [&](std::string key, Value value) {
      for (Entry& e : entries) {
        if (e.key == key) {
          e.values.push_back(std::move(value));
          return;
        }
      }
      entries.push_back(Entry{std::move(key), {}});
      entries.back().values.push_back(std::move(value));
    };
    while (true) {
      skip_space();
      if (at_end()) {
        if (nested) fail("block not closed by }");
        return fold(entries);
      }
      if (peek() == '}') {
        if (!nested) fail("unexpected }");
        ++pos_;
        return fold(entries);
      }
      std::string key = parse_key();
      skip_space();
      if (peek() == '=' || peek() == ':') {  // HCL 1 takes ':' too (JSON-like objects)
        ++pos_;
        add(std::move(key), parse_value(depth + 1));
      } else {
        // A block, with zero or more labels: key "a" "b" { } = key { a { b { } } }.
        std::vector<std::string> labels;
        while (peek() != '{') {
          if (at_end()) fail("expected = or { after \"" + key + "\"");
          if (peek() != '"' && !ident_start(peek())) fail("expected = or { after \"" + key + "\"");
          if (labels.size() >= 8) fail("too many block labels");
          labels.push_back(parse_key());
          skip_space();
        }
        ++pos_;
        Value block = parse_body(true, depth + 1);
        for (auto label = labels.rbegin(); label != labels.rend(); ++label) {
          Value wrapper(rapidjson::kObjectType);
          wrapper.AddMember(Value(label->c_str(), static_cast<rapidjson::SizeType>(label->size()), alloc_), block,
                            alloc_);
          block = std::move(wrapper);
        }
        add(std::move(key), std::move(block));
      }
      skip_space();
      if (peek() == ',') ++pos_;
    }
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  rapidjson::Document::AllocatorType& alloc_;
};

std::string position(std::string_view text, std::size_t offset) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

}  // namespace

std::string parse_hcl(std::string_view text, rapidjson::Document& out) {
  out.SetObject();
  try {
    Parser parser(text, out.GetAllocator());
    static_cast<Value&>(out) = parser.top();  // moves the tree in; its strings live in out's allocator
  } catch (const ParseError& e) {
    out.SetObject();
    return position(text, e.offset) + ": " + e.what;
  }
  return {};
}

}  // namespace hearsay::catalog
