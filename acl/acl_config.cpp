// Reading the `acl` block (acl_config.h). Consul's keys that matter only to servers or to token
// replication (down_policy, token_ttl, enable_token_persistence, ...) are accepted and unused.
#include "acl/acl_config.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <set>

namespace hearsay::acl {
namespace {

constexpr std::array<std::string_view, 11> kServerOnlyKeys = {
    "down_policy", "policy_ttl", "role_ttl", "token_ttl", "enable_token_persistence", "enable_key_list_policy",
    "enable_token_replication", "msp_bootstrap_token", "disabled_ttl", "enable_token_persistance", "replication"};

std::string text_of(const rapidjson::Value& v) { return std::string(v.GetString(), v.GetStringLength()); }

// A stable UUID-shaped accessor from the token's label (never from its secret): FNV-1a, twice.
std::string accessor_from_label(const std::string& label) {
  auto fnv = [&](std::uint64_t seed) {
    std::uint64_t h = seed;
    for (unsigned char c : label) h = (h ^ c) * 1099511628211ULL;
    return h;
  };
  const std::uint64_t a = fnv(14695981039346656037ULL), b = fnv(0x9e3779b97f4a7c15ULL);
  char out[37];
  std::snprintf(out, sizeof out, "%08x-%04x-4%03x-8%03x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>((b >> 48) & 0xfff), static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return out;
}

// `policy "name" { ... }` and `token "name" { ... }` decode to {"name": {...}} or, repeated, to
// an array of such objects.
template <typename Fn>
std::string each_labelled(const rapidjson::Value& v, const std::string& keyword, Fn&& fn) {
  if (v.IsArray()) {
    for (const auto& item : v.GetArray()) {
      if (auto error = each_labelled(item, keyword, fn); !error.empty()) return error;
    }
    return "";
  }
  if (!v.IsObject()) return "acl." + keyword + ": must be written as " + keyword + " \"NAME\" { ... }";
  for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
    if (!it->value.IsObject()) return "acl." + keyword + " \"" + text_of(it->name) + "\": must be a block";
    if (auto error = fn(text_of(it->name), it->value); !error.empty()) return error;
  }
  return "";
}

std::string read_policy(const std::string& name, const rapidjson::Value& body, AclConfig& config) {
  const std::string where = "acl.policy \"" + name + "\"";
  if (name.empty()) return where + ": a policy needs a name";
  PolicyDefinition def;
  def.name = name;
  bool has_rules = false;
  for (auto it = body.MemberBegin(); it != body.MemberEnd(); ++it) {
    const std::string key = text_of(it->name);
    if (key == "rules") {
      has_rules = true;
      std::string error = it->value.IsString() ? parse_rules(text_of(it->value), def.policy)
                          : it->value.IsObject() ? parse_rules_tree(it->value, def.policy)
                                                 : "must be a string (HCL or JSON rules) or an object";
      if (!error.empty()) return where + ": rules: " + error;
    } else if (key == "description" && it->value.IsString()) {
      def.description = text_of(it->value);
    } else {
      return where + ": unknown key \"" + key + "\" (a policy has rules and description)";
    }
  }
  if (!has_rules) return where + ": missing rules";
  for (auto& existing : config.policies) {
    if (existing.name == name) {
      existing = std::move(def);  // a later file redefines it
      return "";
    }
  }
  config.policies.push_back(std::move(def));
  return "";
}

std::string read_token(const std::string& label, const rapidjson::Value& body, AclConfig& config) {
  const std::string where = "acl.token \"" + label + "\"";
  TokenDefinition def;
  def.description = label;
  for (auto it = body.MemberBegin(); it != body.MemberEnd(); ++it) {
    const std::string key = text_of(it->name);
    const rapidjson::Value& v = it->value;
    if ((key == "secret_id" || key == "secret_file" || key == "accessor_id" || key == "description") && !v.IsString()) {
      return where + ": " + key + " must be a string";
    }
    if (key == "secret_id") def.secret_id = text_of(v);
    else if (key == "secret_file") def.secret_file = text_of(v);
    else if (key == "accessor_id") def.accessor_id = text_of(v);
    else if (key == "description") def.description = text_of(v);
    else if (key == "policies") {
      if (!v.IsArray()) return where + ": policies must be a list of policy names";
      for (const auto& p : v.GetArray()) {
        if (!p.IsString()) return where + ": policies must be a list of policy names";
        def.policies.push_back(text_of(p));
      }
    } else {
      return where + ": unknown key \"" + key + "\" (a token has secret_id or secret_file, accessor_id, description, policies)";
    }
  }
  if (def.secret_id.empty() == def.secret_file.empty()) return where + ": needs one of secret_id and secret_file";
  if (def.accessor_id.empty()) def.accessor_id = accessor_from_label(label);
  config.tokens.push_back(std::move(def));
  return "";
}

std::string read_tokens_block(const rapidjson::Value& v, AclConfig& config) {
  if (!v.IsObject()) return "acl.tokens: must be a block";
  for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
    const std::string key = text_of(it->name);
    if (!it->value.IsString()) return "acl.tokens." + key + ": must be a string";
    const std::string value = text_of(it->value);
    if (key == "initial_management" || key == "master") config.initial_management = value;
    else if (key == "agent_recovery" || key == "agent_master") config.agent_recovery = value;
    else if (key == "agent") config.agent_token = value;
    else if (key == "default") config.default_token = value;
    else if (key == "replication" || key == "config_file_service_registration" || key == "dns") continue;
    else return "acl.tokens: unknown key \"" + key + "\"";
  }
  return "";
}

}  // namespace

std::string apply_acl_block(const rapidjson::Value& block, AclConfig& config) {
  if (block.IsArray()) {  // `acl { } acl { }` in one HCL file
    for (const auto& item : block.GetArray()) {
      if (auto error = apply_acl_block(item, config); !error.empty()) return error;
    }
    return "";
  }
  if (!block.IsObject()) return "acl: must be a block";
  for (auto it = block.MemberBegin(); it != block.MemberEnd(); ++it) {
    const std::string key = text_of(it->name);
    const rapidjson::Value& v = it->value;
    std::string error;
    if (key == "enabled") {
      if (!v.IsBool()) return "acl.enabled: must be true or false";
      config.enabled = v.GetBool();
    } else if (key == "default_policy") {
      const std::string policy = v.IsString() ? text_of(v) : "";
      if (policy != "allow" && policy != "deny") return "acl.default_policy: must be \"allow\" or \"deny\"";
      config.default_allow = policy == "allow";
    } else if (key == "tokens") {
      error = read_tokens_block(v, config);
    } else if (key == "policy") {
      error = each_labelled(v, "policy", [&](const std::string& n, const rapidjson::Value& b) { return read_policy(n, b, config); });
    } else if (key == "token") {
      error = each_labelled(v, "token", [&](const std::string& n, const rapidjson::Value& b) { return read_token(n, b, config); });
    } else if (std::find(kServerOnlyKeys.begin(), kServerOnlyKeys.end(), key) == kServerOnlyKeys.end()) {
      return "acl: unknown key \"" + key + "\"";
    }
    if (!error.empty()) return error;
  }
  return "";
}

std::string check_acl_config(const AclConfig& config) {
  std::set<std::string> secrets, accessors, policy_names{"global-management"};
  for (const auto& p : config.policies) policy_names.insert(p.name);
  for (const std::string* s : {&config.initial_management, &config.agent_recovery}) {
    if (!s->empty()) secrets.insert(*s);
  }
  for (const auto& t : config.tokens) {
    const std::string where = "acl.token \"" + t.description + "\"";
    if (!secrets.insert(t.secret_id).second) return where + ": its secret_id is used by another token";
    if (!accessors.insert(t.accessor_id).second) return where + ": its accessor_id is used by another token";
    for (const auto& p : t.policies) {
      if (!policy_names.count(p)) return where + ": unknown policy \"" + p + "\"";
    }
  }
  if (!config.default_token.empty() && !secrets.count(config.default_token)) {
    return "acl.tokens.default: no token has that secret_id";
  }
  return "";
}

}  // namespace hearsay::acl
