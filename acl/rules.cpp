// Rule text -> Policy: the text goes through the shared HCL parser (or RapidJSON) to one JSON
// tree, and the tree is read here, so HCL and JSON rules are one code path, as in Consul.
#include "acl/rules.h"

#include <array>
#include <utility>

#include "catalog/hcl.h"

namespace hearsay::acl {
namespace {

constexpr std::array<std::string_view, kResources> kResourceNames = {
    "service", "node", "agent", "key", "session", "query", "event", "operator", "keyring", "acl", "mesh", "peering"};

std::string text_of(const rapidjson::Value& v) { return std::string(v.GetString(), v.GetStringLength()); }

bool parse_access(const rapidjson::Value& v, Access& out) {
  if (!v.IsString()) return false;
  const std::string_view s(v.GetString(), v.GetStringLength());
  if (s == "read") out = Access::read;
  else if (s == "write") out = Access::write;
  else if (s == "deny") out = Access::deny;
  else if (s == "list") out = Access::list;
  else return false;
  return true;
}

// One `service "web" { policy = "write" }` body: {"policy": "write"} (`intentions` is Consul's
// mesh setting: accepted, not used).
std::string read_named_body(Resource resource, const std::string& keyword, const std::string& name,
                            const rapidjson::Value& body, bool prefix, Policy& out) {
  const std::string where = keyword + " \"" + name + "\"";
  if (!body.IsObject()) return where + ": must be a block { policy = \"read|write|deny\" }";
  Rule rule{resource, name, prefix, Access::none};
  for (auto it = body.MemberBegin(); it != body.MemberEnd(); ++it) {
    const std::string_view key(it->name.GetString(), it->name.GetStringLength());
    if (key == "policy") {
      if (!parse_access(it->value, rule.access)) return where + ": policy must be \"read\", \"write\", \"deny\" or \"list\"";
    } else if (key != "intentions") {
      return where + ": unknown key \"" + std::string(key) + "\"";
    }
  }
  if (rule.access == Access::none) return where + ": missing policy";
  out.rules.push_back(std::move(rule));
  return "";
}

// `service` / `service_prefix` (and the other named resources): an object of name -> body, or
// an array of such objects (HCL 1 decodes repeated blocks to an array).
std::string read_named(Resource resource, const std::string& keyword, bool prefix, const rapidjson::Value& v,
                       Policy& out) {
  if (v.IsArray()) {
    for (const auto& item : v.GetArray()) {
      if (auto error = read_named(resource, keyword, prefix, item, out); !error.empty()) return error;
    }
    return "";
  }
  if (!v.IsObject()) return keyword + ": must be written as " + keyword + " \"NAME\" { policy = \"...\" }";
  for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
    const std::string name = text_of(it->name);
    if (it->value.IsArray()) {
      for (const auto& body : it->value.GetArray()) {
        if (auto error = read_named_body(resource, keyword, name, body, prefix, out); !error.empty()) return error;
      }
    } else if (auto error = read_named_body(resource, keyword, name, it->value, prefix, out); !error.empty()) {
      return error;
    }
  }
  return "";
}

}  // namespace

std::string_view to_string(Access access) {
  constexpr std::array<std::string_view, 5> kNames = {"none", "deny", "read", "list", "write"};
  return kNames[static_cast<std::size_t>(access)];
}

std::string_view to_string(Resource resource) { return kResourceNames[static_cast<std::size_t>(resource)]; }

bool covers(Access granted, Access wanted) {
  switch (granted) {
    case Access::write: return true;
    case Access::list: return wanted == Access::list || wanted == Access::read;
    case Access::read: return wanted == Access::read;
    case Access::none:
    case Access::deny: return false;
  }
  return false;
}

std::string parse_rules_tree(const rapidjson::Value& tree, Policy& out) {
  if (!tree.IsObject()) return "rules must be an object of rule blocks";
  for (auto it = tree.MemberBegin(); it != tree.MemberEnd(); ++it) {
    const std::string keyword = text_of(it->name);
    const bool prefix = keyword.ends_with("_prefix");
    const std::string base = prefix ? keyword.substr(0, keyword.size() - 7) : keyword;
    std::size_t index = 0;
    while (index < kResources && kResourceNames[index] != base) ++index;
    if (index == kResources) return "unknown rule \"" + keyword + "\"";
    const auto resource = static_cast<Resource>(index);
    if (is_named(resource)) {
      if (auto error = read_named(resource, keyword, prefix, it->value, out); !error.empty()) return error;
      continue;
    }
    if (prefix) return "unknown rule \"" + keyword + "\"";
    Rule rule{resource, "", false, Access::none};
    if (!parse_access(it->value, rule.access)) {
      return keyword + ": must be \"read\", \"write\", \"deny\" or \"list\" (" + keyword + " = \"read\")";
    }
    out.rules.push_back(std::move(rule));
  }
  return "";
}

std::string parse_rules(std::string_view text, Policy& out) {
  std::size_t first = 0;
  while (first < text.size() && (text[first] == ' ' || text[first] == '\t' || text[first] == '\n' || text[first] == '\r')) {
    ++first;
  }
  if (first == text.size()) return "";
  rapidjson::Document tree;
  if (text[first] == '{') {
    tree.Parse(text.data(), text.size());
    if (tree.HasParseError()) return "rules: invalid JSON at offset " + std::to_string(tree.GetErrorOffset());
  } else if (auto error = catalog::parse_hcl(text, tree); !error.empty()) {
    return "rules: " + error;
  }
  return parse_rules_tree(tree, out);
}

}  // namespace hearsay::acl
