// Config files, JSON or HCL (hcl.h turns HCL into the same JSON tree, so one reader checks
// both). Keys Consul knows but hearsay does not use (consul_keys.h) are ignored with one
// warning each; keys nobody knows are errors, as Consul treats them.
#include "agent/config_file.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include "acl/acl_config.h"
#include "agent/acl_setup.h"
#include "agent/consul_keys.h"
#include "catalog/hcl.h"
#include "catalog/duration.h"
#include "http-api/json_decode.h"

namespace hearsay::agent {
namespace {

// One warning per ignored key per process: a config dir that repeats `server = false` in ten
// files, or a reload, does not repeat it.
void warn_ignored(const std::string& source, const std::string& key, std::string_view why) {
  static std::mutex mutex;
  static std::set<std::string> warned;
  std::lock_guard lock(mutex);
  if (!warned.insert(key).second) return;
  spdlog::warn("{}: {} is not used by hearsay ({}); ignored", source, key, why);
}

// HCL decodes repeated blocks to arrays and single ones to objects, so `service`, `services`,
// `check` and `checks` each come as either; and a service's own `check` blocks likewise.
std::vector<const rapidjson::Value*> one_or_many(const rapidjson::Value& v) {
  std::vector<const rapidjson::Value*> out;
  if (v.IsArray()) {
    for (const auto& item : v.GetArray()) out.push_back(&item);
  } else {
    out.push_back(&v);
  }
  return out;
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string to_text(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

class FileReader {
 public:
  FileReader(std::string source, AgentConfig& config) : source_(std::move(source)), config_(config) {}

  void apply(const rapidjson::Value& root) {
    if (!root.IsObject()) fail("", "the top level must be a JSON object");
    for (auto it = root.MemberBegin(); it != root.MemberEnd(); ++it) {
      const std::string key(it->name.GetString(), it->name.GetStringLength());
      apply_key(key, it->value);
    }
  }

 private:
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw ConfigError(source_ + (key.empty() ? "" : ": " + key) + ": " + what);
  }
  std::string string_of(const std::string& key, const rapidjson::Value& v) const {
    if (!v.IsString()) fail(key, "must be a string");
    return std::string(v.GetString(), v.GetStringLength());
  }
  bool bool_of(const std::string& key, const rapidjson::Value& v) const {
    if (!v.IsBool()) fail(key, "must be true or false");
    return v.GetBool();
  }
  int port_of(const std::string& key, const rapidjson::Value& v) const {
    if (!v.IsInt() || v.GetInt() < -1 || v.GetInt() > 65535) fail(key, "must be a port number (0-65535, -1 disables)");
    return v.GetInt();
  }

  void add_service(const std::string& key, const rapidjson::Value& v) {
    if (!v.IsObject()) fail(key, "must be an object");
    auto decoded = http::decode_service_definition(to_text(service_checks_as_list(v)));
    if (!decoded) fail(key, decoded.error());
    catalog::ServiceDefinition def = std::move(decoded).value();
    if (auto error = catalog::normalize_service(def)) fail(key, *error);
    config_.services.push_back(std::move(def));
  }
  // A service's `check` given several times (HCL blocks) is its `checks`; a single `checks`
  // block is a one-element list.
  rapidjson::Document service_checks_as_list(const rapidjson::Value& v) const {
    rapidjson::Document copy;
    copy.CopyFrom(v, copy.GetAllocator());
    rapidjson::Value list(rapidjson::kArrayType);
    bool changed = false;
    for (auto it = copy.MemberBegin(); it != copy.MemberEnd();) {
      const std::string name(it->name.GetString(), it->name.GetStringLength());
      const bool several_checks = (name == "check" || name == "Check") && it->value.IsArray();
      const bool one_checks = (name == "checks" || name == "Checks") && it->value.IsObject();
      if (several_checks || one_checks || ((name == "checks" || name == "Checks") && it->value.IsArray())) {
        changed = changed || several_checks || one_checks;
        if (it->value.IsArray()) {
          for (auto& c : it->value.GetArray()) list.PushBack(c, copy.GetAllocator());
        } else {
          list.PushBack(it->value, copy.GetAllocator());
        }
        it = copy.EraseMember(it);
      } else {
        ++it;
      }
    }
    if (changed || !list.Empty()) copy.AddMember("checks", list, copy.GetAllocator());
    return copy;
  }

  void add_check(const std::string& key, const rapidjson::Value& v) {
    if (!v.IsObject()) fail(key, "must be an object");
    auto decoded = http::decode_check_definition(to_text(v));
    if (!decoded) fail(key, decoded.error());
    catalog::CheckDefinition def = std::move(decoded).value();
    if (auto error = catalog::normalize_check(def)) fail(key, *error);
    config_.checks.push_back(std::move(def));
  }

  std::uint32_t ttl_of(const std::string& key, const rapidjson::Value& v) const {
    auto d = catalog::parse_go_duration(string_of(key, v));
    if (!d || d->count() < 0) fail(key, "must be a duration such as \"30s\"");
    return static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(*d).count());
  }
  std::chrono::milliseconds duration_of(const std::string& key, const rapidjson::Value& v) const {
    auto d = catalog::parse_go_duration(string_of(key, v));
    if (!d || d->count() <= 0) fail(key, "must be a positive duration such as \"30s\"");
    return std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  }
  std::uint32_t uint_of(const std::string& key, const rapidjson::Value& v) const {
    if (!v.IsUint()) fail(key, "must be a non-negative integer");
    return v.GetUint();
  }

  // dns_config: the settings of consul-compat.md 3.1 that change answers.
  void apply_dns_config(const rapidjson::Value& v) {
    if (!v.IsObject()) fail("dns_config", "must be an object");
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      const std::string name(it->name.GetString());
      const std::string key = "dns_config." + name;
      const rapidjson::Value& value = it->value;
      dns::ResolverConfig& r = config_.dns;
      if (name == "node_ttl") r.node_ttl = ttl_of(key, value);
      else if (name == "service_ttl") {
        if (!value.IsObject()) fail(key, "must be an object of service name to duration");
        for (auto s = value.MemberBegin(); s != value.MemberEnd(); ++s) {
          const std::string service(s->name.GetString());
          const std::uint32_t ttl = ttl_of(key + "." + service, s->value);
          if (service == "*") r.service_ttl = ttl;  // Consul's wildcard default
          else r.service_ttls[service] = ttl;
        }
      } else if (name == "only_passing") r.only_passing = bool_of(key, value);
      else if (name == "a_record_limit") r.a_record_limit = uint_of(key, value);
      else if (name == "enable_additional_node_meta_txt") r.node_meta_txt = bool_of(key, value);
      else if (name == "udp_answer_limit") {
        config_.dns_serve.udp_answer_limit = uint_of(key, value);
        if (config_.dns_serve.udp_answer_limit == 0) fail(key, "must be at least 1");
      } else if (name == "enable_truncate") config_.dns_serve.enable_truncate = bool_of(key, value);
      else if (name == "recursor_timeout") config_.recursor_timeout = duration_of(key, value);
      else if (name == "soa") {
        if (!value.IsObject()) fail(key, "must be an object");
        for (auto f = value.MemberBegin(); f != value.MemberEnd(); ++f) {
          const std::string field(f->name.GetString());
          const std::uint32_t n = uint_of(key + "." + field, f->value);
          if (field == "refresh") r.soa_refresh = n;
          else if (field == "retry") r.soa_retry = n;
          else if (field == "expire") r.soa_expire = n;
          else if (field == "min_ttl") r.soa_min_ttl = n;
          else fail(key + "." + field, "unknown SOA field (refresh, retry, expire, min_ttl)");
        }
      } else if (auto why = ignored_consul_key(key)) {
        warn_ignored(source_, key, *why);
      } else {
        fail(key, "unknown config key");
      }
    }
  }

  // limits: connection caps (config.h LimitsConfig); Consul's rate and RPC limits are ignored.
  void apply_limits(const rapidjson::Value& v) {
    if (!v.IsObject()) fail("limits", "must be an object");
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      const std::string name(it->name.GetString());
      const std::string key = "limits." + name;
      LimitsConfig& l = config_.limits;
      if (name == "http_max_conns_per_client") l.http_max_conns_per_client = uint_of(key, it->value);
      else if (name == "dns_max_conns_per_client") l.dns_max_conns_per_client = uint_of(key, it->value);
      else if (name == "serf_max_conns_per_client") l.serf_max_conns_per_client = uint_of(key, it->value);
      else if (name == "max_connections") l.max_connections = uint_of(key, it->value);
      else if (auto why = ignored_consul_key(key)) warn_ignored(source_, key, *why);
      else fail(key, "unknown config key");
    }
  }

  // ---- TLS (issue 18): Consul's tls { defaults, https } blocks and their legacy top-level keys.
  void apply_tls_field(const std::string& key, const std::string& name, const rapidjson::Value& v, TlsFiles& into) {
    static const std::set<std::string> ignored = {"verify_outgoing", "verify_server_hostname", "tls_min_version",
                                                  "tls_cipher_suites", "tls_prefer_server_cipher_suites",
                                                  "use_auto_cert"};
    if (name == "ca_file") into.ca_file = string_of(key, v);
    else if (name == "ca_path") into.ca_path = string_of(key, v);
    else if (name == "cert_file") into.cert_file = string_of(key, v);
    else if (name == "key_file") into.key_file = string_of(key, v);
    else if (name == "verify_incoming") into.verify_incoming = bool_of(key, v);
    else if (ignored.count(name)) spdlog::warn("{}: {} is not used by hearsay (TLS 1.2 or newer, mbedTLS's ciphers); ignored", source_, key);
    else fail(key, "unknown config key");
  }
  void apply_tls(const rapidjson::Value& v) {
    if (!v.IsObject()) fail("tls", "must be an object");
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      const std::string block(it->name.GetString());
      if (block != "defaults" && block != "https") {
        if (block == "internal_rpc" || block == "grpc") spdlog::warn("{}: tls.{} is not used by hearsay; ignored", source_, block);
        else fail("tls." + block, "unknown config key (defaults, https, internal_rpc, grpc)");
        continue;
      }
      if (!it->value.IsObject()) fail("tls." + block, "must be an object");
      TlsFiles& into = block == "https" ? config_.tls_https : config_.tls_defaults;
      for (auto f = it->value.MemberBegin(); f != it->value.MemberEnd(); ++f) {
        apply_tls_field("tls." + block + "." + f->name.GetString(), f->name.GetString(), f->value, into);
      }
    }
  }
  static bool is_legacy_tls_key(const std::string& key) {
    return key == "ca_file" || key == "ca_path" || key == "cert_file" || key == "key_file" ||
           key == "verify_incoming" || key == "verify_outgoing" || key == "verify_server_hostname" ||
           key == "tls_min_version" || key == "tls_cipher_suites";
  }

  void apply_key(const std::string& key, const rapidjson::Value& v) {
    if (key == "node_name") config_.node_name = string_of(key, v);
    else if (key == "node_id") config_.node_id = string_of(key, v);
    else if (key == "datacenter") config_.datacenter = string_of(key, v);
    else if (key == "data_dir") config_.data_dir = string_of(key, v);
    else if (key == "bind_addr") config_.bind_addr = string_of(key, v);
    else if (key == "advertise_addr") config_.advertise_addr = string_of(key, v);
    else if (key == "client_addr") config_.client_addr = string_of(key, v);
    else if (key == "log_level") config_.log_level = lower(string_of(key, v));  // Consul's configs say "INFO"
    else if (key == "log_json") config_.log_json = bool_of(key, v);
    else if (key == "enable_script_checks") config_.enable_script_checks = bool_of(key, v);
    else if (key == "enable_local_script_checks") config_.enable_local_script_checks = bool_of(key, v);
    else if (key == "check_output_max_size") {
      if (!v.IsInt() || v.GetInt() < 1) fail(key, "must be a positive number of bytes (Consul's discard_check_output drops output)");
      config_.check_output_max_size = v.GetInt();
    } else if (key == "enable_remote_script_checks") config_.enable_remote_script_checks = bool_of(key, v);
    else if (key == "acl") {
      if (std::string error = acl::apply_acl_block(v, config_.acl); !error.empty()) fail("", error);
      if (std::string error = load_secret_files(config_.acl); !error.empty()) fail("", error);
    } else if (key == "ports") {
      if (!v.IsObject()) fail(key, "must be an object");
      for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
        const std::string port(it->name.GetString());
        if (port == "http") config_.http_port = port_of("ports.http", it->value);
        else if (port == "dns") config_.dns_port = port_of("ports.dns", it->value);
        else if (port == "https") config_.https_port = port_of("ports.https", it->value);
        else if (port == "serf_lan") config_.serf_lan_port = port_of("ports.serf_lan", it->value);
        else if (auto why = ignored_consul_key("ports." + port)) warn_ignored(source_, "ports." + port, *why);
        else fail("ports." + port, "unknown config key");
      }
    } else if (key == "start_join" || key == "retry_join") {
      if (!v.IsArray()) fail(key, "must be an array of addresses");
      auto& into = key == "start_join" ? config_.join : config_.retry_join;
      for (const auto& a : v.GetArray()) into.push_back(string_of(key, a));
    } else if (key == "reconnect_timeout" || key == "reap_after") {
      config_.reap_after = duration_of(key, v);
    } else if (key == "tombstone_grace") {
      config_.tombstone_grace = duration_of(key, v);
    } else if (key == "retry_interval") {
      config_.retry_interval = duration_of(key, v);
    } else if (key == "retry_max") {
      config_.retry_max = static_cast<unsigned>(uint_of(key, v));
    } else if (key == "leave_on_terminate") {
      config_.leave_on_terminate = bool_of(key, v);
    } else if (key == "skip_leave_on_interrupt") {
      config_.skip_leave_on_interrupt = bool_of(key, v);
    } else if (key == "encrypt") {
      config_.encrypt = string_of(key, v);
    } else if (key == "domain") {
      config_.dns.domain = string_of(key, v);
    } else if (key == "recursors") {
      if (!v.IsArray()) fail(key, "must be an array of addresses");
      for (const auto& r : v.GetArray()) config_.recursors.push_back(string_of(key, r));
    } else if (key == "recursor") {
      config_.recursors.push_back(string_of(key, v));
    } else if (key == "dns_config") {
      apply_dns_config(v);
    } else if (key == "limits") {
      apply_limits(v);
    } else if (key == "tls") {
      apply_tls(v);
    } else if (is_legacy_tls_key(key)) {
      apply_tls_field(key, key, v, config_.tls_defaults);
    } else if (key == "verify_incoming_https") {
      apply_tls_field(key, "verify_incoming", v, config_.tls_https);
    } else if (key == "node_meta") {
      if (!v.IsObject()) fail(key, "must be an object of strings");
      for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
        config_.node_meta[it->name.GetString()] = string_of("node_meta." + std::string(it->name.GetString()), it->value);
      }
    } else if (key == "service" || key == "services") {
      for (const rapidjson::Value* s : one_or_many(v)) add_service(key, *s);
    } else if (key == "check" || key == "checks") {
      for (const rapidjson::Value* c : one_or_many(v)) add_check(key, *c);
    } else if (auto why = ignored_consul_key(key)) {
      warn_ignored(source_, key, *why);
    } else {
      fail(key, "unknown config key");
    }
  }

  std::string source_;
  AgentConfig& config_;
};

}  // namespace

void apply_config_text(const std::string& text, const std::string& source_name, AgentConfig& config,
                       ConfigFormat format) {
  rapidjson::Document doc;
  if (format == ConfigFormat::hcl) {
    const std::string error = catalog::parse_hcl(text, doc);
    if (!error.empty()) throw ConfigError(source_name + ": invalid HCL at " + error);
  } else {
    doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseCommentsFlag>(text.c_str(), text.size());
    if (doc.HasParseError()) {
      throw ConfigError(source_name + ": invalid JSON at offset " + std::to_string(doc.GetErrorOffset()) + ": " +
                        rapidjson::GetParseError_En(doc.GetParseError()));
    }
  }
  FileReader(source_name, config).apply(doc);
}

static ConfigFormat format_of(const std::filesystem::path& file, const std::string& text) {
  if (file.extension() == ".hcl") return ConfigFormat::hcl;
  if (file.extension() == ".json") return ConfigFormat::json;
  // Another name (-config-file /etc/hearsay.conf): JSON when it looks like an object.
  const auto first = text.find_first_not_of(" \t\r\n");
  return first != std::string::npos && text[first] == '{' ? ConfigFormat::json : ConfigFormat::hcl;
}

void apply_config_file(const std::filesystem::path& file, AgentConfig& config) {
  std::ifstream in(file);
  if (!in) throw ConfigError("cannot read config file " + file.string());
  std::stringstream text;
  text << in.rdbuf();
  const std::string content = text.str();
  apply_config_text(content, file.string(), config, format_of(file, content));
}

void apply_config_dir(const std::filesystem::path& dir, AgentConfig& config) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) throw ConfigError("config dir " + dir.string() + " is not a directory");
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const auto ext = entry.path().extension();
    if (entry.is_regular_file() && (ext == ".json" || ext == ".hcl")) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) apply_config_file(f, config);
}

}  // namespace hearsay::agent
